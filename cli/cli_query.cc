// list, get, logs, plugins, metrics, models, artifacts: queries over the store.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "cli/cli.h"
#include "engine/plugin_registry.h"
#include "store/artifact_store.h"

namespace ctflow::cli {
namespace fs = std::filesystem;

namespace {

std::string duration_text(int64_t start, int64_t end) {
  if (start == 0) return "-";
  int64_t ms = (end > 0 ? end : now_ms()) - start;
  char buf[32];
  if (ms < 60000) std::snprintf(buf, sizeof buf, "%.1fs", ms / 1000.0);
  else std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(ms / 60000),
                     static_cast<long long>((ms / 1000) % 60));
  return buf;
}

Value metrics_summary(const std::vector<MetricPoint>& pts) {
  // The last value of each metric (a series' final point).
  Value out = Value::object();
  std::map<std::string, std::pair<int64_t, double>> last;
  for (const auto& p : pts) {
    auto it = last.find(p.name);
    if (it == last.end() || p.index >= it->second.first) last[p.name] = {p.index, p.value};
  }
  for (const auto& [n, v] : last) out[n] = v.second;
  return out;
}

// Each sweep of the run as a table of its trials: parameters, objective, status, steps reached.
void print_sweeps(const Value& doc) {
  std::map<std::string, std::vector<const Value*>> trials;
  std::vector<std::string> order;
  for (const auto& s : doc["steps"])
    if (s.contains("trial")) {
      const std::string step = s["step"].get<std::string>();
      if (!trials.count(step)) order.push_back(step);
      trials[step].push_back(&s);
    }
  for (const auto& step : order) {
    std::string best;
    for (const auto& s : doc["steps"])
      if (s["name"] == step && s["outputs"].contains("best_trial"))
        best = step + "[" + s["outputs"]["best_trial"].dump() + "]";
    std::printf("\nSweep %s (%zu trials)\n%-4s %-12s  %-10s  %-12s  %-6s  %s\n", step.c_str(), trials[step].size(), "",
                "TRIAL", "STATUS", "OBJECTIVE", "STEPS", "PARAMETERS");
    for (const Value* t : trials[step]) {
      const Value& o = (*t)["outputs"];
      const std::string obj = o.contains("objective") && o["objective"].is_number() ? o["objective"].dump() : "-";
      const std::string steps = o.contains("objective_step") ? o["objective_step"].dump() : "-";
      const std::string name = (*t)["name"].get<std::string>();
      std::printf("%-4s %-12s  %-10s  %-12s  %-6s  %s\n", name == best ? "best" : "", name.c_str(),
                  (*t)["status"].get<std::string>().c_str(), obj.c_str(), steps.c_str(), (*t)["trial"].dump().c_str());
    }
  }
}

}  // namespace

Value run_document(RunStore& store, const std::string& id) {
  auto run = store.get_run(id);
  if (!run) return Value::object();
  Value doc = {{"id", run->id},
               {"workflow", run->workflow},
               {"file", run->file},
               {"status", run->status},
               {"started_at", iso8601(run->started_at)},
               {"finished_at", iso8601(run->finished_at)},
               {"message", run->message},
               {"params", run->params},
               {"steps", Value::array()}};
  if (auto f = store.firing_for_run(id); f.ok() && *f) doc["trigger"] = (*f)->event;
  auto steps = store.get_steps(id);
  auto arts = store.get_artifacts(id);
  auto metrics = store.get_metrics(id);
  if (!steps) return doc;
  std::vector<StepRecord> sorted = *steps;
  std::stable_sort(sorted.begin(), sorted.end(), [](const StepRecord& a, const StepRecord& b) {
    int64_t sa = a.started_at ? a.started_at : INT64_MAX, sb = b.started_at ? b.started_at : INT64_MAX;
    return sa < sb;
  });
  for (const auto& s : sorted) {
    Value artifacts = Value::object();
    if (arts)
      for (const auto& a : *arts)
        if (a.step == s.name && a.role == "output")
          artifacts[a.name] = {{"digest", a.digest}, {"size", a.size}, {"kind", a.kind}, {"path", a.path}};
    std::vector<MetricPoint> mine;
    if (metrics)
      for (const auto& m : *metrics)
        if (m.step == s.name) mine.push_back(m);
    Value outputs = s.outputs;
    doc["steps"].push_back({{"name", s.name},
                            {"step", s.step},
                            {"status", s.status},
                            {"attempts", s.attempts},
                            {"cached", s.cached},
                            {"started_at", iso8601(s.started_at)},
                            {"finished_at", iso8601(s.finished_at)},
                            {"outputs", outputs},
                            {"metrics", metrics_summary(mine)},
                            {"artifacts", artifacts},
                            {"exit_code", s.exit_code},
                            {"log", s.log_path},
                            {"message", s.message}});
    Value& row = doc["steps"].back();
    if (s.inputs.is_object() && s.inputs.contains("trial")) row["trial"] = s.inputs["trial"];
    if (!s.progress.is_null()) row["progress"] = s.progress;
  }
  return doc;
}

int cmd_list(const Global& g, const std::string& output, const std::string& status, const std::string& workflow) {
  auto store = open_store(g);
  if (!store) return kExitUsage;
  auto runs = store->list_runs(1000, status, workflow);
  if (!runs) {
    print_error(runs.message());
    return kExitUsage;
  }
  if (output == "json") {
    Value out = Value::array();
    for (const auto& r : *runs)
      out.push_back({{"id", r.id}, {"workflow", r.workflow}, {"status", r.status}, {"started_at", iso8601(r.started_at)},
                     {"finished_at", iso8601(r.finished_at)}, {"duration_s", r.started_at ? ((r.finished_at ? r.finished_at : now_ms()) - r.started_at) / 1000.0 : 0}});
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("%-20s  %-20s  %-10s  %-20s  %s\n", "ID", "WORKFLOW", "STATUS", "STARTED", "DURATION");
  for (const auto& r : *runs)
    std::printf("%-20s  %-20s  %-10s  %-20s  %s\n", r.id.c_str(), r.workflow.c_str(), r.status.c_str(),
                iso8601(r.started_at).c_str(), duration_text(r.started_at, r.finished_at).c_str());
  return kExitOk;
}

int cmd_get(const Global& g, const std::string& ref, const std::string& output) {
  auto store = open_store(g);
  if (!store) return kExitUsage;
  auto id = resolve_run(*store, ref);
  if (!id) return kExitUsage;
  Value doc = run_document(*store, *id);
  if (output == "json") {
    std::cout << doc.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("Run:       %s\nWorkflow:  %s\nStatus:    %s\nStarted:   %s\nFinished:  %s\n", doc["id"].get<std::string>().c_str(),
              doc["workflow"].get<std::string>().c_str(), doc["status"].get<std::string>().c_str(),
              doc["started_at"].get<std::string>().c_str(), doc["finished_at"].get<std::string>().c_str());
  if (!doc["message"].get<std::string>().empty()) std::printf("Message:   %s\n", doc["message"].get<std::string>().c_str());
  std::printf("Params:    %s\n", doc["params"].dump().c_str());
  if (doc.contains("trigger"))
    std::printf("Trigger:   %s (%s %s)\n", doc["trigger"].value("trigger", "").c_str(),
                doc["trigger"].value("type", "").c_str(), doc["trigger"].value("slot", "").c_str());
  std::printf("\n");
  std::printf("%-24s  %-10s  %-8s  %-6s  %s\n", "STEP", "STATUS", "ATTEMPTS", "CACHED", "OUTPUTS / MESSAGE");
  for (const auto& s : doc["steps"]) {
    Value outs = s["outputs"];
    if (outs.contains("result") && outs["result"].is_string() && outs["result"].get<std::string>().size() > 40)
      outs["result"] = outs["result"].get<std::string>().substr(0, 40) + "...";
    std::string extra = outs.empty() ? "" : outs.dump();
    if (!s["message"].get<std::string>().empty()) extra += (extra.empty() ? "" : "  ") + s["message"].get<std::string>();
    std::printf("%-24s  %-10s  %-8d  %-6s  %s\n", s["name"].get<std::string>().c_str(), s["status"].get<std::string>().c_str(),
                s["attempts"].get<int>(), s["cached"].get<bool>() ? "yes" : "no", extra.c_str());
    for (auto it = s["artifacts"].begin(); it != s["artifacts"].end(); ++it)
      std::printf("%-24s  artifact %s  %s  %lld bytes\n", "", it.key().c_str(), it.value()["digest"].get<std::string>().c_str(),
                  static_cast<long long>(it.value()["size"].get<int64_t>()));
  }
  print_sweeps(doc);
  return kExitOk;
}

int cmd_logs(const Global& g, const std::string& ref, const std::string& step, bool follow) {
  auto store = open_store(g);
  if (!store) return kExitUsage;
  auto id = resolve_run(*store, ref);
  if (!id) return kExitUsage;
  auto steps = store->get_steps(*id);
  if (!steps) {
    print_error(steps.message());
    return kExitUsage;
  }
  std::vector<StepRecord> chosen;
  for (const auto& s : *steps)
    if (step.empty() ? !s.log_path.empty() : (s.name == step)) chosen.push_back(s);
  if (!step.empty() && chosen.empty()) {
    print_error("run " + *id + " has no step '" + step + "' (see 'ctflow get " + *id + "')");
    return kExitUsage;
  }
  std::sort(chosen.begin(), chosen.end(), [](const StepRecord& a, const StepRecord& b) { return a.started_at < b.started_at; });
  for (const auto& s : chosen) {
    std::ifstream in(s.log_path);
    std::string line;
    while (std::getline(in, line)) {
      if (step.empty()) std::cout << s.name << ": ";
      std::cout << line << "\n";
    }
    if (follow && !step.empty()) {
      // Follow until the step ends, then print what is left.
      while (true) {
        std::cout.flush();
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        in.clear();
        while (std::getline(in, line)) std::cout << line << "\n";
        auto now = store->get_steps(*id);
        bool running = false;
        if (now)
          for (const auto& x : *now)
            if (x.name == s.name && (x.status == "Running" || x.status == "Pending")) running = true;
        if (!running) {
          in.clear();
          while (std::getline(in, line)) std::cout << line << "\n";
          break;
        }
      }
    }
  }
  return kExitOk;
}

int cmd_plugins(const std::string& name, const std::string& output) {
  PluginRegistry reg;
  if (!name.empty()) {
    const PluginInfo* p = reg.find(name);
    if (!p) {
      print_error("unknown plugin '" + name + "'");
      return kExitUsage;
    }
    if (output == "json") {
      Value params = Value::array(), outs = Value::array();
      for (const auto& x : p->params)
        params.push_back({{"name", x.name}, {"type", to_string(x.type)}, {"default", x.default_value ? *x.default_value : Value()},
                          {"required", !x.default_value.has_value()}, {"description", x.description}});
      for (const auto& o : p->outputs)
        outs.push_back({{"name", o.name}, {"kind", o.artifact ? "artifact" : "parameter"}, {"description", o.description}});
      std::cout << Value{{"name", p->name}, {"version", p->version}, {"description", p->description},
                         {"library", p->library.string()}, {"params", params}, {"outputs", outs}}.dump(2) << "\n";
      return kExitOk;
    }
    std::printf("%s %s\n  %s\n  library: %s\n\nParameters:\n", p->name.c_str(), p->version.c_str(), p->description.c_str(),
                p->library.c_str());
    for (const auto& x : p->params)
      std::printf("  %-16s %-7s %-12s %s\n", x.name.c_str(), to_string(x.type),
                  x.default_value ? ("= " + x.default_value->dump()).c_str() : "(required)", x.description.c_str());
    std::printf("\nOutputs:\n");
    for (const auto& o : p->outputs)
      std::printf("  %-16s %-9s %s\n", o.name.c_str(), o.artifact ? "artifact" : "parameter", o.description.c_str());
    return kExitOk;
  }
  auto all = reg.all();
  if (output == "json") {
    Value out = Value::array();
    for (const auto* p : all) out.push_back({{"name", p->name}, {"version", p->version}, {"description", p->description}});
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto* p : all) std::printf("%-20s %-8s %s\n", p->name.c_str(), p->version.c_str(), p->description.c_str());
  }
  for (const auto& e : reg.load_errors()) std::cerr << "ctflow: warning: " << e << "\n";
  return kExitOk;
}

int cmd_metrics(const Global& g, const std::string& ref, const std::string& step, const std::string& output) {
  auto store = open_store(g);
  if (!store) return kExitUsage;
  auto id = resolve_run(*store, ref);
  if (!id) return kExitUsage;
  auto pts = store->get_metrics(*id, step);
  if (!pts) {
    print_error(pts.message());
    return kExitUsage;
  }
  if (output == "json") {
    Value out = Value::array();
    for (const auto& p : *pts)
      out.push_back({{"step", p.step}, {"name", p.name}, {"kind", p.kind}, {"index", p.index}, {"value", p.value}});
    auto conf = store->get_confusions(*id, step);
    Value c = Value::array();
    if (conf)
      for (const auto& x : *conf) c.push_back({{"step", x.step}, {"name", x.name}, {"labels", x.labels}, {"counts", x.counts}});
    std::cout << Value{{"run", *id}, {"metrics", out}, {"confusions", c}}.dump(2) << "\n";
  } else if (output == "csv") {
    std::printf("step,name,kind,index,value\n");
    for (const auto& p : *pts) std::printf("%s,%s,%s,%lld,%.10g\n", p.step.c_str(), p.name.c_str(), p.kind.c_str(), static_cast<long long>(p.index), p.value);
  } else {
    std::printf("%-16s  %-24s  %-7s  %8s  %s\n", "STEP", "METRIC", "KIND", "INDEX", "VALUE");
    for (const auto& p : *pts)
      std::printf("%-16s  %-24s  %-7s  %8lld  %.6g\n", p.step.c_str(), p.name.c_str(), p.kind.c_str(), static_cast<long long>(p.index), p.value);
  }
  return kExitOk;
}

int cmd_models(const Global& g, const std::vector<std::string>& args, const std::string& output) {
  auto store = open_store(g);
  if (!store) return kExitUsage;
  std::string verb = args.empty() ? "list" : args[0];
  auto show = [&](const ModelVersion& m) {
    return Value{{"name", m.name}, {"version", m.version}, {"stage", m.stage}, {"run_id", m.run_id}, {"step", m.step},
                 {"artifacts", m.artifacts}, {"metrics", m.metrics}, {"params", m.params}, {"created_at", iso8601(m.created_at)}};
  };
  auto split = [](const std::string& ref) -> std::pair<std::string, int> {
    size_t c = ref.find(':');
    if (c == std::string::npos) return {ref, 0};
    return {ref.substr(0, c), std::atoi(ref.c_str() + c + 1)};
  };
  if (verb == "list") {
    auto ms = store->list_models(args.size() > 1 ? args[1] : "");
    if (!ms) {
      print_error(ms.message());
      return kExitUsage;
    }
    if (output == "json") {
      Value out = Value::array();
      for (const auto& m : *ms) out.push_back(show(m));
      std::cout << out.dump(2) << "\n";
    } else {
      std::printf("%-20s  %-7s  %-10s  %-20s  %s\n", "MODEL", "VERSION", "STAGE", "RUN", "METRICS");
      for (const auto& m : *ms)
        std::printf("%-20s  %-7d  %-10s  %-20s  %s\n", m.name.c_str(), m.version, m.stage.c_str(), m.run_id.c_str(), m.metrics.dump().c_str());
    }
    return kExitOk;
  }
  if (verb == "get" && args.size() == 2) {
    auto [name, version] = split(args[1]);
    auto m = store->get_model(name, version);
    if (!m) {
      print_error(m.message());
      return kExitUsage;
    }
    std::cout << show(*m).dump(2) << "\n";
    return kExitOk;
  }
  if (verb == "promote" && args.size() == 3) {
    auto [name, version] = split(args[1]);
    if (version <= 0) {
      print_error("write the version to promote as NAME:VERSION, e.g. mnist-embedder:3");
      return kExitUsage;
    }
    if (auto st = store->set_model_stage(name, version, args[2]); !st.ok()) {
      print_error(st.message());
      return kExitUsage;
    }
    std::printf("%s:%d is now %s\n", name.c_str(), version, args[2].c_str());
    return kExitOk;
  }
  print_error("usage: ctflow models [list [NAME] | get NAME[:VERSION] | promote NAME:VERSION STAGE]");
  return kExitUsage;
}

int cmd_artifacts(const Global& g, const std::string& ref, const std::string& step, const std::string& name,
                  const std::string& out) {
  auto store = open_store(g);
  if (!store) return kExitUsage;
  auto id = resolve_run(*store, ref);
  if (!id) return kExitUsage;
  auto arts = store->get_artifacts(*id, step);
  if (!arts) {
    print_error(arts.message());
    return kExitUsage;
  }
  for (const auto& a : *arts) {
    if (a.name != name || a.role != "output") continue;
    ArtifactStore blobs(store->blobs_dir());
    if (auto st = blobs.verify(a.digest); !st.ok()) {
      print_error(st.message());
      return kExitRunFailed;
    }
    auto blob = blobs.get(a.digest);
    if (!blob) {
      print_error(blob.message());
      return kExitRunFailed;
    }
    if (out.empty()) {
      std::cout << blob->path.string() << "\n";
      return kExitOk;
    }
    std::error_code ec;
    fs::copy(blob->path, out, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
    if (ec) {
      print_error("cannot copy " + a.digest + " to " + out + ": " + ec.message());
      return kExitRunFailed;
    }
    std::cerr << a.digest << " -> " << out << "\n";
    return kExitOk;
  }
  print_error("step '" + step + "' of run " + *id + " has no artifact '" + name + "'");
  return kExitUsage;
}

}  // namespace ctflow::cli
