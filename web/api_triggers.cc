// The dashboard's Triggers and Drift pages: GET /api/v1/triggers, /api/v1/drift.
#include <filesystem>
#include <map>

#include "base/time.h"
#include "engine/frontend_v1.h"
#include "engine/triggers/logic.h"
#include "web/api.h"

namespace ctflow::web {
namespace fs = std::filesystem;
using Json = nlohmann::json;

// The triggers of the workflows folder's files, with their next firings, and
// those the store has firings of (ctflow daemon), each with its latest firings.
ApiResponse Api::get_triggers() {
  auto firings = store_.list_firings("", "", 2000);
  if (!firings) return error_response(500, firings.message());
  Json out = Json::array();
  std::map<std::pair<std::string, std::string>, size_t> at;
  const int64_t now_s = now_ms() / 1000;
  for (const auto& f : workflow_files(options_.workflows_dir)) {
    LoadResult lr = load_workflow_file(f.string());
    if (!lr.ok() || !lr.workflow) continue;
    for (const auto& t : lr.workflow->triggers) {
      if (at.count({lr.workflow->name, t.name})) continue;
      at.emplace(std::make_pair(lr.workflow->name, t.name), out.size());
      out.push_back({{"workflow", lr.workflow->name}, {"trigger", t.name}, {"type", to_string(t.kind)},
                     {"file", f.filename().string()}, {"next", triggers::next_firings(t, now_s)}, {"history", Json::array()}});
    }
  }
  for (const auto& f : *firings) {
    auto key = std::make_pair(f.workflow, f.trigger);
    auto it = at.find(key);
    if (it == at.end()) {
      it = at.emplace(key, out.size()).first;
      out.push_back({{"workflow", f.workflow}, {"trigger", f.trigger}, {"type", f.event.value("type", "")},
                     {"next", Json::array()}, {"history", Json::array()}});
    }
    Json& h = out[it->second]["history"];
    if (h.size() < 50)
      h.push_back({{"slot", f.slot}, {"time", iso8601(f.slot_time)}, {"outcome", f.outcome}, {"reason", f.reason},
                   {"run_id", f.run_id}, {"event", f.event}});
  }
  return json_response(200, out);
}

// Per model, the drift scores the daemon's drift triggers read (oldest
// first): overall and per signal, with the trigger's threshold.
ApiResponse Api::get_drift() {
  auto samples = store_.list_drift_samples("", 500);
  if (!samples) return error_response(500, samples.message());
  Json out = Json::array();
  for (const auto& d : *samples) {
    if (out.empty() || out.back()["model"] != d.model)
      out.push_back({{"model", d.model}, {"signals", Json::object()}, {"samples", Json::array()}});
    Json& m = out.back();
    m["above"] = d.above;  // the latest sample's
    m["workflow"] = d.workflow;
    m["trigger"] = d.trigger;
    Json sig = Json::object();
    for (auto it = d.signals.begin(); it != d.signals.end(); ++it) {
      sig[it.key()] = it.value().value("score", 0.0);
      m["signals"][it.key()] = {{"threshold", it.value().value("threshold", Json())},
                                {"method", it.value().value("method", "")}};
    }
    m["samples"].push_back(
        {{"time", iso8601(d.at)}, {"at", d.at}, {"version", d.version}, {"score", d.score}, {"signals", sig}});
  }
  return json_response(200, out);
}

}  // namespace ctflow::web
