#include "engine/export/argo_cron.h"

#include "engine/export/common.h"
#include "engine/template.h"

namespace ctflow::export_detail {

using yaml_emit::Doc;

namespace {

const char* policy(Concurrency c) {
  switch (c) {
    case Concurrency::Allow: return "Allow";
    case Concurrency::Forbid: return "Forbid";
    case Concurrency::Replace: return "Replace";
  }
  return "Allow";
}

}  // namespace

Result<Doc> cron_workflow(const Workflow& wf, Doc doc, bool skip) {
  std::vector<const Trigger*> schedules;
  for (const auto& t : wf.triggers) {
    if (t.kind == TriggerKind::Schedule) {
      schedules.push_back(&t);
      continue;
    }
    if (!skip)
      return error_at(t.pos, wf.file,
                      "trigger '" + t.name + "' is a " + to_string(t.kind) +
                          " trigger, which an Argo CronWorkflow cannot express (Argo Events can); "
                          "export with --skip-triggers to leave it out, or run it with ctflow daemon");
  }
  if (schedules.empty()) return doc;
  const Trigger& first = *schedules.front();
  Doc list = Doc::array();
  for (const Trigger* t : schedules) {
    auto differs = [&](const char* what) {
      return error_at(t->pos, wf.file,
                      "trigger '" + t->name + "' has another " + what + " than trigger '" + first.name +
                          "': one CronWorkflow has one " + what + " for all its schedules");
    };
    if (t->timezone != first.timezone) return differs("timezone");
    if (t->concurrency != first.concurrency) return differs("concurrency");
    if (t->starting_deadline_s != first.starting_deadline_s) return differs("starting_deadline");
    if (t->params != first.params) return differs("params");
    if (t->catchup != Catchup::Latest)
      return error_at(t->pos, wf.file, "trigger '" + t->name + "': Argo runs only the latest missed slot; catchup " +
                                           (t->catchup == Catchup::All ? "all" : "none") +
                                           " has no CronWorkflow form (leave catchup out)");
    if (t->cooldown_s > 0)
      return error_at(t->pos, wf.file, "trigger '" + t->name + "': a CronWorkflow has no cooldown");
    for (const auto& s : t->schedules) list.push_back(s);
  }
  Doc spec = doc["spec"];
  // The trigger's params are constants for a schedule: they become the arguments' values.
  for (const auto& [name, text] : first.params) {
    auto refs = tmpl::refs(text);
    if (auto* r = std::get_if<std::vector<std::string>>(&refs); !r || !r->empty())
      return error_at(first.param_pos.at(name), wf.file,
                      "param '" + name + "' of trigger '" + first.name + "' uses the event, which a CronWorkflow has not");
    for (auto& p : spec["arguments"]["parameters"])
      if (p["name"] == name) p["value"] = text;
  }
  Doc cron;
  cron["apiVersion"] = "argoproj.io/v1alpha1";
  cron["kind"] = "CronWorkflow";
  Doc meta = doc["metadata"];
  meta.erase("generateName");
  meta["name"] = wf.name.empty() ? std::string("ctflow") : wf.name;
  cron["metadata"] = meta;
  Doc cs;
  cs["schedules"] = list;
  cs["timezone"] = first.timezone.empty() ? "UTC" : first.timezone;
  cs["concurrencyPolicy"] = policy(first.concurrency);
  if (first.starting_deadline_s > 0) cs["startingDeadlineSeconds"] = static_cast<int64_t>(first.starting_deadline_s);
  cs["workflowMetadata"] = Doc{{"labels", doc["metadata"]["labels"]}};
  cs["workflowSpec"] = spec;
  cron["spec"] = cs;
  return cron;
}

}  // namespace ctflow::export_detail
