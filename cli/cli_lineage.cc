// lineage, data, compare: questions answered across runs.
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <set>

#include "cli/cli.h"

namespace ctflow::cli {

namespace {

// Where DIGEST came from: the step attempt that produced it, what that step ran
// with, and recursively where its own inputs came from.
// SEEN memoises whole subtrees by digest: an artifact reached twice (a model
// is an input of both the index and the deploy step) shows its full lineage
// both times. An artifact on the current path is not followed again.
Value lineage_of(RunStore& store, const std::string& digest, std::map<std::string, Value>& seen, int depth) {
  if (auto it = seen.find(digest); it != seen.end()) return it->second;
  seen[digest] = Value{{"digest", digest}};  // while it is being built: a cycle ends here
  Value node = {{"digest", digest}};
  auto uses = store.artifact_uses(digest);
  if (!uses) return node;
  Value consumers = Value::array();
  const ArtifactRecord* producer = nullptr;
  for (const auto& u : *uses) {
    if (u.role == "output") producer = &u;  // the latest run that made it
    if (u.role == "input") consumers.push_back({{"run", u.run_id}, {"step", u.step}});
  }
  node["consumed_by"] = consumers;
  if (!producer) return seen[digest] = node;
  node["size"] = producer->size;
  node["kind"] = producer->kind;
  node["name"] = producer->name;
  Value made = {{"run", producer->run_id}, {"step", producer->step}};
  if (auto run = store.get_run(producer->run_id)) {
    made["workflow"] = run->workflow;
    made["run_params"] = run->params;
    made["run_started_at"] = iso8601(run->started_at);
    if (auto f = store.firing_for_run(producer->run_id); f.ok() && *f) made["trigger"] = (*f)->event;
  }
  if (auto steps = store.get_steps(producer->run_id))
    for (const auto& s : *steps)
      if (s.name == producer->step) {
        made["inputs"] = s.inputs;
        made["cached"] = s.cached;
      }
  node["produced_by"] = made;
  Value inputs = Value::array();
  if (depth < 32) {
    if (auto arts = store.get_artifacts(producer->run_id, producer->step))
      for (const auto& a : *arts)
        if (a.role == "input") inputs.push_back(lineage_of(store, a.digest, seen, depth + 1));
  }
  node["inputs"] = inputs;
  seen[digest] = node;
  return node;
}

void print_tree(const Value& n, int indent) {
  std::string pad(indent * 2, ' ');
  std::printf("%s%s", pad.c_str(), n["digest"].get<std::string>().c_str());
  if (n.contains("name")) std::printf("  (%s, %lld bytes)", n["name"].get<std::string>().c_str(), static_cast<long long>(n.value("size", int64_t{0})));
  std::printf("\n");
  if (n.contains("produced_by")) {
    const Value& p = n["produced_by"];
    std::printf("%s  made by run %s step %s (workflow %s)%s\n", pad.c_str(), p["run"].get<std::string>().c_str(),
                p["step"].get<std::string>().c_str(), p.value("workflow", std::string("?")).c_str(),
                p.value("cached", false) ? " [cache hit]" : "");
    if (p.contains("inputs") && p["inputs"].contains("plugin"))
      std::printf("%s  code: %s %s\n", pad.c_str(), p["inputs"]["plugin"].get<std::string>().c_str(),
                  p["inputs"]["version"].get<std::string>().c_str());
    else if (p.contains("inputs") && p["inputs"].contains("argv"))
      std::printf("%s  code: %s\n", pad.c_str(), p["inputs"]["argv"].dump().c_str());
    if (p.contains("inputs") && p["inputs"].contains("with"))
      std::printf("%s  with: %s\n", pad.c_str(), p["inputs"]["with"].dump().c_str());
    if (p.contains("run_params")) std::printf("%s  run params: %s\n", pad.c_str(), p["run_params"].dump().c_str());
    if (p.contains("trigger")) std::printf("%s  started by: %s\n", pad.c_str(), p["trigger"].dump().c_str());
  } else {
    std::printf("%s  (not produced by a recorded step: an external input)\n", pad.c_str());
  }
  for (const auto& i : n.value("inputs", Value::array())) print_tree(i, indent + 1);
}

}  // namespace

int cmd_lineage(const Global& g, const std::string& ref, const std::string& output) {
  auto store = open_store(g);
  if (!store) return kExitUsage;
  Value doc;
  std::map<std::string, Value> seen;
  if (ref.rfind("sha256:", 0) == 0) {
    doc = lineage_of(*store, ref, seen, 0);
    if (!doc.contains("produced_by") && doc["consumed_by"].empty()) {
      print_error("no artifact " + ref + " in this store");
      return kExitUsage;
    }
  } else {
    size_t colon = ref.find(':');
    std::string name = ref.substr(0, colon);
    int version = colon == std::string::npos ? 0 : std::atoi(ref.c_str() + colon + 1);
    auto m = store->get_model(name, version);
    if (!m) {
      print_error(m.message() + " (give a digest sha256:... or MODEL:VERSION)");
      return kExitUsage;
    }
    Value arts = Value::object();
    for (auto it = m->artifacts.begin(); it != m->artifacts.end(); ++it)
      if (it.value().is_string()) arts[it.key()] = lineage_of(*store, it.value().get<std::string>(), seen, 0);
    doc = {{"model", m->name}, {"version", m->version}, {"stage", m->stage}, {"run", m->run_id}, {"step", m->step},
           {"metrics", m->metrics}, {"params", m->params}, {"artifacts", arts}};
    if (auto f = store->firing_for_run(m->run_id); f.ok() && *f) doc["trigger"] = (*f)->event;
  }
  if (output == "json") {
    std::cout << doc.dump(2) << "\n";
    return kExitOk;
  }
  if (doc.contains("model")) {
    std::printf("%s:%d (%s) registered by run %s step %s\n  metrics: %s\n  params: %s\n",
                doc["model"].get<std::string>().c_str(), doc["version"].get<int>(), doc["stage"].get<std::string>().c_str(),
                doc["run"].get<std::string>().c_str(), doc["step"].get<std::string>().c_str(), doc["metrics"].dump().c_str(),
                doc["params"].dump().c_str());
    if (doc.contains("trigger")) std::printf("  started by: %s\n", doc["trigger"].dump().c_str());
    for (auto it = doc["artifacts"].begin(); it != doc["artifacts"].end(); ++it) {
      std::printf("artifact %s:\n", it.key().c_str());
      print_tree(it.value(), 1);
    }
  } else {
    print_tree(doc, 0);
  }
  return kExitOk;
}

int cmd_data(const Global& g, const std::vector<std::string>& args) {
  auto store = open_store(g);
  if (!store) return kExitUsage;
  if (args.size() == 3 && args[0] == "tag") {
    if (auto st = store->tag_data(args[2], args[1]); !st.ok()) {
      print_error(st.message());
      return kExitUsage;
    }
    std::printf("%s -> %s\n", args[2].c_str(), args[1].c_str());
    return kExitOk;
  }
  if (args.size() == 2 && args[0] == "get") {
    auto d = store->resolve_data_tag(args[1]);
    if (!d) {
      print_error(d.message());
      return kExitUsage;
    }
    auto uses = store->artifact_uses(*d);
    std::string path;
    if (uses)
      for (const auto& u : *uses)
        if (!u.path.empty()) path = u.path;
    std::printf("%s\t%s\n", d->c_str(), path.c_str());
    return kExitOk;
  }
  print_error("usage: ctflow data tag DIGEST NAME@VERSION | ctflow data get NAME@VERSION");
  return kExitUsage;
}

namespace {

std::string number_cell(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string text_cell(const Value& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Rows of cells, one column per id, in the order rows were first put.
struct SideBySide {
  std::vector<std::string> ids;
  std::map<std::string, std::map<std::string, std::string>> rows;  // row -> id -> value
  std::vector<std::string> order;
  void put(const std::string& row, const std::string& id, const std::string& v) {
    if (!rows.count(row)) order.push_back(row);
    rows[row][id] = v;
  }
  void print() {
    std::printf("%-28s", "");
    for (const auto& id : ids) std::printf("  %-20s", id.c_str());
    std::printf("\n");
    for (const auto& row : order) {
      std::printf("%-28s", row.c_str());
      for (const auto& id : ids) {
        auto it = rows[row].find(id);
        std::printf("  %-20s", it == rows[row].end() ? "-" : it->second.c_str());
      }
      std::printf("\n");
    }
  }
};

// The trials of sweep STEP of run ID: status, parameters, objective and each
// metric's final value, one column per trial.
int compare_trials(RunStore& store, const std::string& id, const std::string& step, const std::string& output) {
  Value rd = run_document(store, id);
  SideBySide t;
  Value doc = Value::array();
  const std::string prefix = step + "[";
  bool is_sweep = false;
  for (const auto& s : rd["steps"]) {
    const std::string name = s["name"].get<std::string>();
    if (name == step && s.contains("outputs") && s["outputs"].contains("best_trial")) is_sweep = true;
    if (name.rfind(prefix, 0) != 0 || !s.contains("trial")) continue;
    t.ids.push_back(name);
    Value row = {{"trial", name}, {"status", s["status"]}, {"params", s["trial"]}, {"objective", nullptr},
                 {"metrics", Value::object()}};
    t.put("status", name, s["status"].get<std::string>());
    for (auto it = s["trial"].begin(); it != s["trial"].end(); ++it) t.put("param " + it.key(), name, text_cell(it.value()));
    if (s.contains("outputs") && s["outputs"].contains("objective") && s["outputs"]["objective"].is_number()) {
      row["objective"] = s["outputs"]["objective"];
      t.put("objective", name, number_cell(s["outputs"]["objective"].get<double>()));
    }
    for (auto it = s["metrics"].begin(); it != s["metrics"].end(); ++it) {
      t.put(it.key(), name, number_cell(it.value().get<double>()));
      row["metrics"][it.key()] = it.value();
    }
    doc.push_back(std::move(row));
  }
  if (t.ids.empty()) {
    print_error("run " + id + " has no trials of a sweep step '" + step + "'" +
                (is_sweep ? " (it ran none)" : "") + ": name a sweep step of it (ctflow get " + id + " lists them)");
    return kExitUsage;
  }
  if (output == "json") std::cout << doc.dump(2) << "\n";
  else t.print();
  return kExitOk;
}

}  // namespace

int cmd_compare(const Global& g, const std::vector<std::string>& refs, const std::string& sweep,
                const std::string& output) {
  auto store = open_store(g);
  if (!store) return kExitUsage;
  if (!sweep.empty()) {
    if (refs.size() != 1) {
      print_error("compare --sweep " + sweep + " compares the trials of one run; name one run, not " +
                  std::to_string(refs.size()));
      return kExitUsage;
    }
    auto id = resolve_run(*store, refs[0]);
    if (!id) return kExitUsage;
    return compare_trials(*store, *id, sweep, output);
  }
  SideBySide t;
  std::vector<std::string>& ids = t.ids;
  auto put = [&](const std::string& row, const std::string& id, const std::string& v) { t.put(row, id, v); };
  Value doc = Value::array();
  for (const auto& r : refs) {
    auto id = resolve_run(*store, r);
    if (!id) return kExitUsage;
    ids.push_back(*id);
    Value rd = run_document(*store, *id);
    doc.push_back({{"id", *id}, {"status", rd["status"]}, {"params", rd["params"]}, {"metrics", Value::object()}});
    put("status", *id, rd["status"].get<std::string>());
    for (auto it = rd["params"].begin(); it != rd["params"].end(); ++it)
      put("param " + it.key(), *id, text_cell(it.value()));
    for (const auto& s : rd["steps"])
      for (auto it = s["metrics"].begin(); it != s["metrics"].end(); ++it) {
        put(s["name"].get<std::string>() + "." + it.key(), *id, number_cell(it.value().get<double>()));
        doc.back()["metrics"][s["name"].get<std::string>() + "." + it.key()] = it.value();
      }
  }
  if (output == "json") {
    std::cout << doc.dump(2) << "\n";
    return kExitOk;
  }
  t.print();
  return kExitOk;
}

}  // namespace ctflow::cli
