// The JSON API over the store: runs, steps, logs, metrics, artifacts, models,
// workflows; submit, cancel, resume.
#include "web/api.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <chrono>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include "base/json_text.h"
#include "engine/frontend_v1.h"
#include "engine/validate.h"
#include "web/sweep_view.h"

namespace ctflow::web {
namespace fs = std::filesystem;
using Json = nlohmann::json;

std::string url_decode(const std::string& text);

namespace {

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(url_decode(path.substr(i, j - i)));  // %2F stays inside its segment
    i = j + 1;
  }
  return parts;
}

// Run ids and step instance names as the engine makes them; anything else is
// not looked up at all.
bool is_plain_name(const std::string& s, size_t max = 200) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' || c == '[' || c == ']' ||
          c == '@' || c == ':'))
      return false;
  return s != "." && s != "..";
}

int64_t duration_ms(int64_t start, int64_t end) {
  if (start == 0) return 0;
  return (end > 0 ? end : now_ms()) - start;
}

Json basic_run_document(RunStore& store, const std::string& id) {
  auto run = store.get_run(id);
  if (!run) return Json::object();
  Json doc = {{"id", run->id},         {"workflow", run->workflow},
              {"file", run->file},     {"status", run->status},
              {"started_at", iso8601(run->started_at)}, {"finished_at", iso8601(run->finished_at)},
              {"message", run->message}, {"params", run->params},
              {"steps", Json::array()}};
  auto steps = store.get_steps(id);
  auto arts = store.get_artifacts(id);
  if (!steps) return doc;
  for (const auto& s : *steps) {
    Json artifacts = Json::object();
    if (arts)
      for (const auto& a : *arts)
        if (a.step == s.name && a.role == "output")
          artifacts[a.name] = {{"digest", a.digest}, {"size", a.size}, {"kind", a.kind}};
    doc["steps"].push_back({{"name", s.name}, {"step", s.step}, {"status", s.status}, {"attempts", s.attempts},
                            {"cached", s.cached}, {"started_at", iso8601(s.started_at)},
                            {"finished_at", iso8601(s.finished_at)}, {"outputs", s.outputs},
                            {"metrics", Json::object()}, {"artifacts", artifacts}, {"exit_code", s.exit_code},
                            {"message", s.message}});
    if (s.inputs.is_object() && s.inputs.contains("trial")) doc["steps"].back()["trial"] = s.inputs["trial"];
  }
  return doc;
}

// The status one DAG node shows for all the instances of its step.
std::string node_status(const std::vector<std::string>& statuses) {
  if (statuses.empty()) return "Pending";
  for (const char* s : {"Running", "Failed", "Errored", "Cancelled", "Pending"})
    if (std::find(statuses.begin(), statuses.end(), s) != statuses.end()) return s;
  for (const char* s : {"Succeeded", "Skipped", "Omitted"})
    if (std::all_of(statuses.begin(), statuses.end(), [&](const std::string& x) { return x == s; })) return s;
  return "Succeeded";  // a mix of Succeeded, Skipped, Omitted
}

Json param_decls(const Workflow& wf) {
  Json out = Json::array();
  for (const auto& p : wf.params) {
    Json d = {{"name", p.name}, {"type", to_string(p.type)}, {"description", p.description}, {"required", !p.default_value.has_value()}};
    d["default"] = p.default_value ? *p.default_value : Json(nullptr);
    out.push_back(d);
  }
  return out;
}

}  // namespace

ApiResponse json_response(int status, const Json& body) {
  ApiResponse r;
  r.status = status;
  r.body = json_text(body);
  return r;
}

ApiResponse error_response(int status, const std::string& message) {
  return json_response(status, Json{{"error", message}});
}

std::string url_decode(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

void split_target(const std::string& target, std::string& path, std::map<std::string, std::string>& query) {
  size_t q = target.find('?');
  path = target.substr(0, q);  // segments are decoded one by one (split_path)
  if (q == std::string::npos) return;
  std::string qs = target.substr(q + 1);
  size_t i = 0;
  while (i <= qs.size()) {
    size_t j = qs.find('&', i);
    if (j == std::string::npos) j = qs.size();
    std::string kv = qs.substr(i, j - i);
    if (!kv.empty()) {
      size_t eq = kv.find('=');
      query[url_decode(kv.substr(0, eq))] = eq == std::string::npos ? "" : url_decode(kv.substr(eq + 1));
    }
    i = j + 1;
  }
}

bool is_valid_digest(const std::string& digest) {
  if (digest.size() != 7 + 64 || digest.compare(0, 7, "sha256:") != 0) return false;
  return std::all_of(digest.begin() + 7, digest.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Api::Api(RunStore& store, const DashboardOptions& options, std::string token, bool require_token)
    : store_(store), artifacts_(store.blobs_dir()), options_(options), token_(std::move(token)),
      require_token_(require_token) {
  if (!options_.run_document) options_.run_document = basic_run_document;
}

ApiResponse Api::handle(const ApiRequest& r) {
  auto p = split_path(r.path);
  if (p.size() < 2 || p[0] != "api" || p[1] != "v1") return error_response(404, "no such endpoint: " + r.path);
  p.erase(p.begin(), p.begin() + 2);
  const size_t n = p.size();

  if (r.method == "POST") {
    if (require_token_ && r.authorization != "Bearer " + token_)
      return error_response(401, "this dashboard needs 'Authorization: Bearer TOKEN' for changes (the token "
                                 "printed by 'ctflow ui', or given with --token)");
    // A JSON content type cannot be sent cross-site without a CORS preflight,
    // which this server never grants.
    if (r.content_type.rfind("application/json", 0) != 0)
      return error_response(415, "POST bodies must be sent as application/json");
    if (n == 1 && p[0] == "runs") return post_submit(r);
    if (n == 3 && p[0] == "runs" && p[2] == "cancel") return post_cancel(p[1]);
    if (n == 3 && p[0] == "runs" && p[2] == "resume") return post_resume(p[1]);
    if (n == 4 && p[0] == "models" && p[3] == "stage") return post_stage(p[1], p[2], r);
    return error_response(404, "no such endpoint: POST " + r.path);
  }
  if (r.method != "GET" && r.method != "HEAD") return error_response(405, "method not allowed: " + r.method);
  if (n == 1 && p[0] == "runs") return get_runs(r);
  if (n == 2 && p[0] == "runs") return get_run(p[1]);
  if (n == 3 && p[0] == "runs" && p[2] == "metrics") return get_metrics(p[1]);
  if (n == 5 && p[0] == "runs" && p[2] == "steps" && p[4] == "log") return get_log(p[1], p[3], r);
  if (n == 2 && p[0] == "artifacts") return get_artifact(p[1]);
  if (n == 1 && p[0] == "models") return get_models();
  if (n == 1 && p[0] == "triggers") return get_triggers();
  if (n == 1 && p[0] == "drift") return get_drift();
  if (n == 1 && p[0] == "workflows") return get_workflows();
  return error_response(404, "no such endpoint: " + r.path);
}

Result<std::string> Api::lookup_run(const std::string& ref) {
  if (!is_plain_name(ref, 100)) return Status::Error("no such run: " + ref);
  auto id = store_.resolve_run_id(ref);
  if (!id) return Status::Error("no such run: " + ref);
  return id;
}

Json Api::runs_list(const std::string& status, const std::string& workflow, int limit) {
  Json out = Json::array();
  auto runs = store_.list_runs(limit, status, workflow);
  if (!runs) return out;
  for (const auto& r : *runs)
    out.push_back({{"id", r.id},
                   {"workflow", r.workflow},
                   {"file", r.file},
                   {"status", r.status},
                   {"started_at", iso8601(r.started_at)},
                   {"finished_at", iso8601(r.finished_at)},
                   {"duration_s", duration_ms(r.started_at, r.finished_at) / 1000.0},
                   {"params", r.params},
                   {"message", r.message}});
  return out;
}

ApiResponse Api::get_runs(const ApiRequest& r) {
  int limit = 1000;
  if (auto it = r.query.find("limit"); it != r.query.end() && !it->second.empty()) {
    try {
      limit = std::stoi(it->second);
    } catch (...) {
      return error_response(400, "limit must be a number, not '" + it->second + "'");
    }
    if (limit < 1 || limit > 100000) return error_response(400, "limit must be between 1 and 100000");
  }
  auto q = [&](const char* k) {
    auto it = r.query.find(k);
    return it == r.query.end() ? std::string() : it->second;
  };
  std::string key = q("status") + '\n' + q("workflow") + '\n' + std::to_string(limit);
  int64_t version = data_version(), now = now_ms();
  if (list_cache_.size() > 64) list_cache_.clear();
  auto& cached = list_cache_[key];
  if (version < 0 || cached.data_version != version || now - cached.at_ms > 1000)
    cached = {version, now, json_text(runs_list(q("status"), q("workflow"), limit))};
  ApiResponse res;
  res.body = cached.body;
  return res;
}

int64_t Api::data_version() {
  // Changes whenever another connection commits; this one's own writes (model
  // stages) do not touch the runs. -1 when it cannot be read: no caching then.
  auto v = store_.data_version();
  return v.ok() ? *v : -1;
}

Json Api::run_view(const std::string& id) {
  auto run = store_.get_run(id);
  if (!run) return nullptr;
  Json doc = options_.run_document(store_, id);
  doc["duration_s"] = duration_ms(run->started_at, run->finished_at) / 1000.0;
  doc["owner_pid"] = run->owner_pid;
  // Attempts per step instance, and no local paths in what the browser sees.
  auto attempts = store_.get_attempts(id);
  for (auto& s : doc["steps"]) {
    Json list = Json::array();
    if (attempts)
      for (const auto& a : *attempts)
        if (a.step == s.value("name", ""))
          list.push_back({{"attempt", a.attempt}, {"status", a.status}, {"started_at", iso8601(a.started_at)},
                          {"finished_at", iso8601(a.finished_at)}, {"exit_code", a.exit_code},
                          {"message", a.message}});
    s["attempt_list"] = list;
    s.erase("log");
    if (s.contains("artifacts"))
      for (auto& a : s["artifacts"]) a.erase("path");
  }
  // The DAG, from the workflow text stored with the run.
  std::map<std::string, std::vector<std::string>> instance_status;
  std::map<std::string, std::vector<std::string>> instances;
  std::map<std::string, Json> progress;  // a running instance's latest report, per node
  // A sweep's node shows the sweep's own status: a failed or stopped trial does not fail it.
  std::set<std::string> swept;
  std::map<std::string, std::string> own_status;
  auto status_of = [&](const std::string& step) {
    auto own = own_status.find(step);
    return swept.count(step) && own != own_status.end() ? own->second : node_status(instance_status[step]);
  };
  for (const auto& s : doc["steps"]) {
    std::string step = s.value("step", s.value("name", ""));
    instance_status[step].push_back(s.value("status", ""));
    if (s.contains("trial")) swept.insert(step);
    if (s.value("name", "") == step) own_status[step] = s.value("status", "");
    instances[step].push_back(s.value("name", ""));
    if (s.value("status", "") == "Running" && s.contains("progress") && s["progress"].is_object() &&
        !progress.contains(step))
      progress[step] = s["progress"];
  }
  auto progress_of = [&](const std::string& step) {
    auto it = progress.find(step);
    return it == progress.end() ? Json(nullptr) : it->second;
  };
  Json nodes = Json::array(), edges = Json::array();
  LoadResult parsed = parse_workflow_text(run->source, run->file, shape_params(run->params));
  std::set<std::string> seen;
  auto add_node = [&](const Step& st, bool on_exit) {
    seen.insert(st.name);
    std::string kind = st.kind == StepKind::Plugin ? st.uses
                       : st.kind == StepKind::Call ? "call " + st.call
                                                   : (st.kind == StepKind::Shell ? "shell" : "run");
    nodes.push_back({{"id", st.name}, {"kind", kind}, {"on_exit", on_exit},
                     {"status", status_of(st.name)}, {"instances", instances[st.name]},
                     {"progress", progress_of(st.name)}, {"with", st.with}, {"when", st.when},
                     {"depends", st.depends}});
    for (const auto& d : direct_dependencies(st)) edges.push_back({{"from", d}, {"to", st.name}});
  };
  if (parsed.workflow) {
    for (const auto& st : parsed.workflow->steps) add_node(st, false);
    for (const auto& st : parsed.workflow->on_exit) add_node(st, true);
  }
  for (const auto& [step, names] : instances)  // steps the text did not give (an old or foreign run)
    if (!seen.count(step))
      nodes.push_back({{"id", step}, {"kind", ""}, {"on_exit", false}, {"status", status_of(step)},
                       {"instances", names}, {"progress", progress_of(step)}, {"with", Json::object()}, {"when", ""},
                       {"depends", ""}});
  doc["dag"] = {{"nodes", nodes}, {"edges", edges}};
  // Sweeps: their search space, best trial and trials (with what the store has of their metrics).
  doc["sweeps"] = Json::array();
  const auto& st = doc["steps"];
  if (std::any_of(st.begin(), st.end(), [](const Json& s) { return s.contains("trial"); })) {
    auto metrics = store_.get_metrics(id);
    doc["sweeps"] = sweeps_view(st, parsed.workflow ? &*parsed.workflow : nullptr,
                                metrics ? *metrics : std::vector<MetricPoint>{});
  }
  return doc;
}

ApiResponse Api::get_run(const std::string& ref) {
  auto id = lookup_run(ref);
  if (!id) return error_response(404, id.message());
  int64_t version = data_version(), now = now_ms();
  if (list_cache_.size() > 64) list_cache_.clear();
  auto& cached = list_cache_["run\n" + *id];
  if (version < 0 || cached.data_version != version || now - cached.at_ms > 1000) {
    Json doc = run_view(*id);
    if (doc.is_null()) return error_response(404, "no such run: " + ref);
    cached = {version, now, json_text(doc)};
  }
  ApiResponse res;
  res.body = cached.body;
  return res;
}

std::string Api::run_fingerprint(const std::string& id) {
  // Event streams ask every few hundred ms: nothing to read while no other
  // connection has committed.
  int64_t version = data_version();
  if (fingerprints_.size() > 256) fingerprints_.clear();
  auto& memo = fingerprints_[id];
  if (version >= 0 && memo.first == version) return memo.second;
  memo = {version, run_fingerprint_uncached(id)};
  return memo.second;
}

std::string Api::run_fingerprint_uncached(const std::string& id) {
  auto run = store_.get_run(id);
  if (!run) return "";
  std::string f = run->status + "|" + std::to_string(run->finished_at) + "|" + run->message;
  if (auto steps = store_.get_steps(id))
    for (const auto& s : *steps)
      f += "|" + s.name + ":" + s.status + ":" + std::to_string(s.attempts) + ":" + std::to_string(s.finished_at) +
           ":" + std::to_string(s.started_at) + (s.progress.is_null() ? "" : ":" + s.progress.dump());
  if (auto m = store_.get_metrics(id)) f += "|m" + std::to_string(m->size());
  return f;
}

std::string Api::runs_fingerprint() {
  int64_t version = data_version();
  auto& memo = fingerprints_[""];
  if (version >= 0 && memo.first == version) return memo.second;
  std::string f;
  if (auto runs = store_.list_runs(200))
    for (const auto& r : *runs) f += r.id + ":" + r.status + "|";
  memo = {version, f};
  return f;
}

ApiResponse Api::get_log(const std::string& ref, const std::string& step, const ApiRequest& r) {
  auto id = lookup_run(ref);
  if (!id) return error_response(404, id.message());
  auto steps = store_.get_steps(*id);
  if (!steps) return error_response(500, steps.message());
  const StepRecord* rec = nullptr;
  for (const auto& s : *steps)
    if (s.name == step) rec = &s;
  if (!rec) return error_response(404, "run " + *id + " has no step '" + step + "'");
  int64_t offset = 0;
  if (auto it = r.query.find("offset"); it != r.query.end() && !it->second.empty()) {
    try {
      offset = std::stoll(it->second);
    } catch (...) {
      return error_response(400, "offset must be a number, not '" + it->second + "'");
    }
    if (offset < 0) return error_response(400, "offset must not be negative");
  }
  bool done = rec->status != "Running" && rec->status != "Pending";
  Json out = {{"step", rec->name}, {"status", rec->status}, {"offset", offset}, {"text", ""}, {"done", done}};
  // The path comes from the store (the engine wrote it), never from the request.
  if (rec->log_path.empty()) return json_response(200, out);
  std::ifstream in(rec->log_path, std::ios::binary);
  if (!in) return json_response(200, out);
  in.seekg(0, std::ios::end);
  int64_t size = in.tellg();
  if (offset > size) offset = size;
  constexpr int64_t kMaxChunk = 1 << 20;
  int64_t len = std::min(size - offset, kMaxChunk);
  std::string text(static_cast<size_t>(len), '\0');
  in.seekg(offset);
  in.read(text.data(), len);
  out["text"] = text;
  out["offset"] = offset + len;
  out["size"] = size;
  out["done"] = done && offset + len >= size;
  return json_response(200, out);
}

ApiResponse Api::get_metrics(const std::string& ref) {
  auto id = lookup_run(ref);
  if (!id) return error_response(404, id.message());
  Json points = Json::array(), confusions = Json::array();
  if (auto m = store_.get_metrics(*id))
    for (const auto& p : *m)
      points.push_back({{"step", p.step}, {"name", p.name}, {"kind", p.kind}, {"index", p.index}, {"value", p.value}});
  if (auto c = store_.get_confusions(*id))
    for (const auto& x : *c)
      confusions.push_back({{"step", x.step}, {"name", x.name}, {"labels", x.labels}, {"counts", x.counts}});
  auto run = store_.get_run(*id);
  return json_response(200, Json{{"run", *id}, {"params", run ? run->params : Json::object()},
                                 {"points", points}, {"confusions", confusions}});
}

ApiResponse Api::get_artifact(const std::string& digest) {
  if (!is_valid_digest(digest))
    return error_response(400, "a digest is 'sha256:' and 64 lowercase hex digits");
  auto a = artifacts_.get(digest);
  if (!a) return error_response(404, "no artifact " + digest);
  if (a->kind == "dir") {
    // A directory: its file list (each file is itself a blob, downloadable by digest).
    Json files = Json::array();
    std::error_code ec;
    for (fs::recursive_directory_iterator it(a->path, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file())
        files.push_back({{"path", fs::relative(it->path(), a->path).string()}, {"size", it->file_size()}});
    return json_response(200, Json{{"digest", digest}, {"kind", "dir"}, {"size", a->size}, {"files", files}});
  }
  ApiResponse r;
  r.content_type = "application/octet-stream";
  r.file = a->path;
  r.download_name = digest.substr(7, 12);
  return r;
}

ApiResponse Api::get_models() {
  auto models = store_.list_models();
  if (!models) return error_response(500, models.message());
  Json out = Json::array();
  for (const auto& m : *models)
    out.push_back({{"name", m.name}, {"version", m.version}, {"stage", m.stage}, {"run_id", m.run_id},
                   {"step", m.step}, {"artifacts", m.artifacts}, {"metrics", m.metrics}, {"params", m.params},
                   {"created_at", iso8601(m.created_at)}});
  return json_response(200, out);
}

ApiResponse Api::post_stage(const std::string& name, const std::string& version, const ApiRequest& r) {
  int v = 0;
  try {
    v = std::stoi(version);
  } catch (...) {
    return error_response(400, "a model version is a number, not '" + version + "'");
  }
  Json body = Json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("stage") || !body["stage"].is_string())
    return error_response(400, "send {\"stage\": \"Staging\" | \"Production\" | \"Archived\" | \"None\"}");
  std::string stage = body["stage"];
  static const std::set<std::string> kStages = {"None", "Staging", "Production", "Archived"};
  if (!kStages.count(stage)) return error_response(400, "unknown stage '" + stage + "'");
  if (!store_.get_model(name, v)) return error_response(404, "no model " + name + ":" + version);
  if (auto st = store_.set_model_stage(name, v, stage); !st) return error_response(400, st.message());
  auto m = store_.get_model(name, v);
  return json_response(200, Json{{"name", name}, {"version", v}, {"stage", m ? m->stage : stage}});
}

std::vector<fs::path> workflow_files(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> files;
  if (dir.empty()) return files;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    auto ext = it->path().extension();
    if (it->is_regular_file() && (ext == ".yaml" || ext == ".yml")) files.push_back(it->path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

ApiResponse Api::get_workflows() {
  Json out = Json::array();
  for (const auto& f : workflow_files(options_.workflows_dir)) {
    LoadResult lr = load_workflow_file(f.string());
    Json w = {{"file", f.filename().string()}, {"valid", lr.ok()}};
    if (!lr.diags.empty()) w["problems"] = lr.diags.render();
    if (lr.workflow) {
      w["name"] = lr.workflow->name;
      w["description"] = lr.workflow->description;
      w["params"] = param_decls(*lr.workflow);
    }
    out.push_back(w);
  }
  return json_response(200, out);
}

Result<fs::path> Api::spawn(const std::vector<std::string>& args, int& pid) {
  if (options_.ctflow_bin.empty()) return Status::Error("this server does not know where the ctflow binary is");
  fs::path dir = store_.dir() / "ui";
  std::error_code ec;
  fs::create_directories(dir, ec);
  static int counter = 0;
  fs::path out = dir / ("spawn-" + std::to_string(now_ms()) + "-" + std::to_string(++counter) + ".log");
  std::vector<std::string> argv = {options_.ctflow_bin, "--store", store_.dir().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  pid = fork();
  if (pid < 0) return Status::Error("cannot start ctflow: fork failed");
  if (pid == 0) {
    setsid();
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    for (int i = 3; i < 1024; ++i) close(i);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  children_.push_back(pid);
  return out;
}

void Api::reap_children() {
  children_.erase(std::remove_if(children_.begin(), children_.end(),
                                 [](int pid) { return waitpid(pid, nullptr, WNOHANG) != 0; }),
                  children_.end());
}

namespace {

// Waits (briefly) for the spawned ctflow to print its run id as its first line.
Result<std::string> wait_for_run_id(const fs::path& out, int pid, int timeout_ms) {
  static const std::regex kRunId("^(r-[0-9]{8}-[0-9a-f]+)\\s");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    std::ifstream in(out);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::smatch m;
    if (std::regex_search(text, m, kRunId)) return m[1].str();
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      std::ifstream again(out);
      std::string all((std::istreambuf_iterator<char>(again)), std::istreambuf_iterator<char>());
      if (std::regex_search(all, m, kRunId)) return m[1].str();
      return Status::Error(all.empty() ? "ctflow exited without starting a run" : all);
    }
    if (std::chrono::steady_clock::now() > deadline) return Status::Error("ctflow did not report a run id in time");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace

ApiResponse Api::post_submit(const ApiRequest& r) {
  Json body = Json::parse(r.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("workflow") || !body["workflow"].is_string())
    return error_response(400, "send {\"workflow\": \"FILE.yaml\", \"params\": {...}}");
  std::string name = body["workflow"];
  // Only a file listed in the workflows folder, by its bare name.
  fs::path file;
  std::error_code ec;
  for (fs::directory_iterator it(options_.workflows_dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file() && it->path().filename().string() == name) file = it->path();
  if (file.empty()) return error_response(404, "no workflow '" + name + "' in " + options_.workflows_dir.string());
  std::vector<std::string> args = {"run", fs::absolute(file).string()};
  if (body.contains("params")) {
    if (!body["params"].is_object()) return error_response(400, "params must be an object of NAME: VALUE");
    for (const auto& [k, v] : body["params"].items()) {
      if (!is_plain_name(k, 100)) return error_response(400, "bad param name '" + k + "'");
      args.push_back("-p");
      args.push_back(k + "=" + (v.is_string() ? v.get<std::string>() : v.dump()));
    }
  }
  int pid = 0;
  auto out = spawn(args, pid);
  if (!out) return error_response(500, out.message());
  auto id = wait_for_run_id(*out, pid, 10000);
  if (!id) return error_response(400, id.message());
  return json_response(202, Json{{"id", *id}, {"pid", pid}});
}

ApiResponse Api::post_cancel(const std::string& ref) {
  auto id = lookup_run(ref);
  if (!id) return error_response(404, id.message());
  auto run = store_.get_run(*id);
  if (!run) return error_response(404, run.message());
  if (run->status != "Running" || run->owner_pid <= 0)
    return error_response(409, "run " + *id + " is " + run->status + ", not running");
  if (now_ms() - run->heartbeat_at > RunStore::kHeartbeatStaleMs)
    return error_response(409, "the engine of run " + *id + " has stopped answering; resume it instead");
  if (kill(static_cast<pid_t>(run->owner_pid), SIGINT) != 0)
    return error_response(409, "cannot signal the engine of run " + *id);
  return json_response(202, Json{{"id", *id}, {"cancelling", true}});
}

ApiResponse Api::post_resume(const std::string& ref) {
  auto id = lookup_run(ref);
  if (!id) return error_response(404, id.message());
  auto run = store_.get_run(*id);
  if (!run) return error_response(404, run.message());
  if (run->status == "Running" && run->owner_pid > 0 && now_ms() - run->heartbeat_at <= RunStore::kHeartbeatStaleMs)
    return error_response(409, "run " + *id + " is still running");
  if (run->status == "Succeeded") return error_response(409, "run " + *id + " already Succeeded");
  int pid = 0;
  auto out = spawn({"resume", *id}, pid);
  if (!out) return error_response(500, out.message());
  return json_response(202, Json{{"id", *id}, {"pid", pid}});
}

}  // namespace ctflow::web
