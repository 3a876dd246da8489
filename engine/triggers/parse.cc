// Trigger keys are documented in docs/workflow-format.md like kStepKeys (the
// docs_reference test reads the k...Keys lists of this file too).
#include "engine/triggers/parse.h"

#include <regex>
#include <set>

#include "engine/template.h"
#include "engine/triggers/cron.h"
#include "engine/yaml_util.h"

namespace ctflow {

const char* to_string(TriggerKind k) {
  switch (k) {
    case TriggerKind::Schedule: return "schedule";
    case TriggerKind::Watch: return "watch";
    case TriggerKind::Webhook: return "webhook";
    case TriggerKind::Drift: return "drift";
  }
  return "?";
}

namespace triggers {
namespace {

const std::vector<std::string> kTriggerKeys = {"schedule", "timezone", "concurrency", "starting_deadline", "catchup",
                                               "max_active", "watch", "settle", "webhook", "drift", "cooldown",
                                               "params"};
const std::vector<std::string> kWebhookKeys = {"token_env"};
const std::vector<std::string> kDriftKeys = {"server", "model", "above", "every"};

const std::regex kTriggerName("[a-z0-9]([-_a-z0-9]*[a-z0-9])?");
const std::regex kEnvName("[A-Za-z_][A-Za-z0-9_]*");

class TriggerParser {
 public:
  TriggerParser(const std::string& file, Workflow& wf, Diagnostics& d) : file_(file), wf_(wf), d_(d) {}

  void parse(const YAML::Node& n) {
    if (!n.IsMap()) {
      error(n, "'triggers' must be a map of trigger name to trigger, like 'nightly: {schedule: \"0 3 * * *\"}'; got " +
                   yaml_kind(n));
      return;
    }
    std::set<std::string> seen;
    for (const auto& kv : n) {
      if (!kv.first.IsScalar()) {
        error(kv.first, "trigger names must be plain names");
        continue;
      }
      const std::string name = kv.first.Scalar();
      if (!seen.insert(name).second) {
        error(kv.first, "duplicate trigger '" + name + "' in 'triggers'");
        continue;
      }
      if (!std::regex_match(name, kTriggerName) || name.size() > 63)
        error(kv.first, "bad trigger name '" + name +
                            "': use lower-case letters, digits, '-' and '_', starting and ending with a letter or digit");
      Trigger t;
      t.name = name;
      t.pos = pos(kv.first);
      if (parse_one(kv.second, t)) wf_.triggers.push_back(std::move(t));
    }
  }

 private:
  SourcePos pos(const YAML::Node& n) const { return yaml_pos(file_, n); }
  void error(const YAML::Node& n, std::string m) { d_.error(pos(n), std::move(m)); }
  static std::string shown(const YAML::Node& n) { return n.IsScalar() ? "'" + n.Scalar() + "'" : yaml_kind(n); }

  void check_keys(const YAML::Node& m, const std::vector<std::string>& allowed, const std::string& where) {
    std::set<std::string> seen;
    for (const auto& kv : m) {
      if (!kv.first.IsScalar()) continue;
      const std::string& k = kv.first.Scalar();
      if (!seen.insert(k).second) error(kv.first, "duplicate key '" + k + "' " + where);
      else if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
        error(kv.first, "unknown key '" + k + "' " + where + did_you_mean(k, allowed));
    }
  }

  std::string string(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar() && !n.Scalar().empty()) return n.Scalar();
    error(n, what + " must be a non-empty string; got " + shown(n));
    return "";
  }

  double duration(const YAML::Node& n, const std::string& what) {
    if (n.IsScalar())
      if (auto d = parse_duration(n.Scalar()); d && *d > 0) return *d;
    error(n, what + " must be a duration like 30s, 5m, 2h or 1h30m; got " + shown(n));
    return 0;
  }

  bool parse_one(const YAML::Node& n, Trigger& t) {
    const std::string where = "in trigger '" + t.name + "'";
    if (!n.IsMap()) {
      error(n, "trigger '" + t.name + "' must be a map with one of schedule, watch, webhook or drift; got " + yaml_kind(n));
      return false;
    }
    check_keys(n, kTriggerKeys, where);
    const MapView m(n);
    std::vector<std::string> kinds;
    for (const char* k : {"schedule", "watch", "webhook", "drift"})
      if (m[k]) kinds.push_back(k);
    if (kinds.empty()) {
      error(n, "trigger '" + t.name + "' says nothing about when it fires: add one of 'schedule: \"0 3 * * *\"', "
               "'watch: FOLDER', 'webhook: {}' or 'drift: {server: URL, model: NAME, above: 0.2}'");
      return false;
    }
    if (kinds.size() > 1)
      error(m[kinds[1]], "trigger '" + t.name + "' has both '" + kinds[0] + "' and '" + kinds[1] +
                             "': a trigger has exactly one of schedule, watch, webhook or drift");
    if (YAML::Node s = m["schedule"]) parse_schedule(s, m, t);
    else if (YAML::Node w = m["watch"]) {
      t.kind = TriggerKind::Watch;
      t.kind_pos = pos(w);
      t.watch = string(w, "'watch'");
      if (YAML::Node st = m["settle"]) t.settle_s = duration(st, "'settle'");
    } else if (YAML::Node h = m["webhook"]) {
      t.kind = TriggerKind::Webhook;
      t.kind_pos = pos(h);
      if (h.IsMap()) {
        check_keys(h, kWebhookKeys, "in 'webhook' (allowed: token_env)");
        if (YAML::Node te = h["token_env"]) {
          t.token_env = string(te, "'webhook.token_env'");
          if (!t.token_env.empty() && !std::regex_match(t.token_env, kEnvName))
            error(te, "'webhook.token_env' must name an environment variable, like CTFLOW_WEBHOOK_TOKEN");
        }
      } else if (!h.IsNull() && !(h.IsScalar() && (h.Scalar() == "true" || h.Scalar().empty()))) {
        error(h, "'webhook' takes a map, like 'webhook: {token_env: CTFLOW_WEBHOOK_TOKEN}' or 'webhook: {}'");
      }
    } else if (YAML::Node dr = m["drift"]) {
      parse_drift(dr, t);
    }
    only_for(m, t, "timezone", TriggerKind::Schedule);
    only_for(m, t, "starting_deadline", TriggerKind::Schedule);
    only_for(m, t, "catchup", TriggerKind::Schedule);
    only_for(m, t, "settle", TriggerKind::Watch);
    if (YAML::Node c = m["cooldown"]) t.cooldown_s = duration(c, "'cooldown'");
    if (YAML::Node c = m["concurrency"]) {
      const std::string v = c.IsScalar() ? c.Scalar() : "";
      if (v == "allow") t.concurrency = Concurrency::Allow;
      else if (v == "forbid") t.concurrency = Concurrency::Forbid;
      else if (v == "replace") t.concurrency = Concurrency::Replace;
      else error(c, "'concurrency' must be allow, forbid or replace (as Argo's concurrencyPolicy); got " + shown(c) +
                        did_you_mean(v, {"allow", "forbid", "replace"}));
    }
    if (YAML::Node ma = m["max_active"]) {
      Value v = yaml_to_value(ma);
      if (v.is_number_integer() && v.get<int64_t>() >= 1 && v.get<int64_t>() <= 1000)
        t.max_active = static_cast<int>(v.get<int64_t>());
      else error(ma, "'max_active' must be a whole number from 1 to 1000; got " + shown(ma));
    }
    if (YAML::Node p = m["params"]) parse_params(p, t);
    return true;
  }

  void only_for(const MapView& m, const Trigger& t, const char* key, TriggerKind kind) {
    if (YAML::Node n = m[key]; n && t.kind != kind)
      error(n, std::string("'") + key + "' belongs to a " + to_string(kind) + " trigger; trigger '" + t.name +
                   "' is a " + to_string(t.kind) + " trigger");
  }

  void parse_schedule(const YAML::Node& s, const MapView& m, Trigger& t) {
    t.kind = TriggerKind::Schedule;
    t.kind_pos = pos(s);
    std::shared_ptr<const TimeZone> zone = TimeZone::utc();
    if (YAML::Node tz = m["timezone"]) {
      t.timezone = string(tz, "'timezone'");
      t.timezone_pos = pos(tz);
      if (!t.timezone.empty()) {
        auto z = TimeZone::load(t.timezone);
        if (z) zone = *z;
        else error(tz, z.message());
      }
    }
    std::vector<YAML::Node> items;
    if (s.IsSequence()) {
      if (s.size() == 0) error(s, "'schedule' is an empty list: give at least one cron expression");
      for (const auto& x : s) items.push_back(x);
    } else {
      items.push_back(s);
    }
    for (const auto& x : items) {
      const std::string text = string(x, "'schedule'");
      if (text.empty()) continue;
      if (std::string problem = schedule_problem(text, zone); !problem.empty()) error(x, problem);
      t.schedules.push_back(text);
    }
    if (YAML::Node sd = m["starting_deadline"]) t.starting_deadline_s = duration(sd, "'starting_deadline'");
    if (YAML::Node c = m["catchup"]) {
      const std::string v = c.IsScalar() ? c.Scalar() : "";
      if (v == "latest") t.catchup = Catchup::Latest;
      else if (v == "all") t.catchup = Catchup::All;
      else if (v == "none") t.catchup = Catchup::None;
      else error(c, "'catchup' must be latest, all or none; got " + shown(c) + did_you_mean(v, {"latest", "all", "none"}));
    }
  }

  void parse_drift(const YAML::Node& dr, Trigger& t) {
    t.kind = TriggerKind::Drift;
    t.kind_pos = pos(dr);
    if (!dr.IsMap()) {
      error(dr, "'drift' takes a map like {server: \"http://127.0.0.1:8081\", model: mnist-embedder, above: 0.2}");
      return;
    }
    check_keys(dr, kDriftKeys, "in 'drift' (allowed: server, model, above, every)");
    if (YAML::Node s = dr["server"]) {
      t.drift_server = string(s, "'drift.server'");
      if (!t.drift_server.empty() && t.drift_server.rfind("http://", 0) != 0)
        error(s, "'drift.server' must be an http:// URL of a ctflow serve, like http://127.0.0.1:8081");
    } else error(dr, "'drift' needs 'server': the URL of the ctflow serve that scores the model");
    if (YAML::Node md = dr["model"]) t.drift_model = string(md, "'drift.model'");
    else error(dr, "'drift' needs 'model': the served model's name");
    if (YAML::Node a = dr["above"]) {
      Value v = yaml_to_value(a);
      if (v.is_number() && v.get<double>() >= 0) t.drift_above = v.get<double>();
      else error(a, "'drift.above' must be a non-negative number (the drift score that fires); got " + shown(a));
    } else error(dr, "'drift' needs 'above': the drift score above which it fires, like 0.2");
    if (YAML::Node e = dr["every"]) t.drift_every_s = duration(e, "'drift.every'");
  }

  void parse_params(const YAML::Node& p, Trigger& t) {
    if (!p.IsMap()) {
      error(p, "a trigger's 'params' must be a map of workflow param to value, like {data: \"{{event.path}}\"}");
      return;
    }
    std::vector<std::string> declared;
    for (const auto& d : wf_.params) declared.push_back(d.name);
    for (const auto& kv : p) {
      if (!kv.first.IsScalar()) continue;
      const std::string name = kv.first.Scalar();
      if (!wf_.find_param(name))
        error(kv.first, "trigger '" + t.name + "' sets param '" + name + "', which the workflow does not declare" +
                            did_you_mean(name, declared));
      if (!kv.second.IsScalar()) {
        error(kv.second, "param '" + name + "' of a trigger takes a value or a template like \"{{event.path}}\"");
        continue;
      }
      const std::string text = kv.second.Scalar();
      t.params[name] = text;
      t.param_pos[name] = pos(kv.second);
      auto r = tmpl::refs(text);
      if (auto* e = std::get_if<tmpl::TemplateError>(&r)) {
        error(kv.second, e->message);
        continue;
      }
      for (const auto& ref : std::get<std::vector<std::string>>(r))
        if (!event_ref_allowed(t.kind, ref))
          error(kv.second, "'{{" + ref + "}}' is not known to a " + std::string(to_string(t.kind)) + " trigger: use " +
                               (t.kind == TriggerKind::Watch     ? "{{event.path}}, "
                                : t.kind == TriggerKind::Webhook ? "{{event.body.FIELD}}, "
                                : t.kind == TriggerKind::Drift   ? "{{event.score}}, {{event.version}}, "
                                                                 : "{{event.slot}}, ") +
                               "{{event.time}} or {{event.trigger}}");
    }
  }

  const std::string& file_;
  Workflow& wf_;
  Diagnostics& d_;
};

}  // namespace

bool event_ref_allowed(TriggerKind kind, const std::string& ref) {
  if (ref == "event.time" || ref == "event.trigger" || ref == "event.slot" || ref == "event.workflow") return true;
  switch (kind) {
    case TriggerKind::Watch: return ref == "event.path";
    case TriggerKind::Webhook: return ref == "event.body" || ref.rfind("event.body.", 0) == 0;
    case TriggerKind::Drift: return ref == "event.score" || ref == "event.version" || ref == "event.model";
    case TriggerKind::Schedule: return false;
  }
  return false;
}

void parse_triggers(const YAML::Node& node, const std::string& file, Workflow& wf, Diagnostics& d) {
  TriggerParser(file, wf, d).parse(node);
}

}  // namespace triggers
}  // namespace ctflow
