// A workflow with schedule triggers exports as an Argo CronWorkflow: the
// Workflow's spec becomes workflowSpec; the schedules (Argo's `schedules`
// list), timezone (UTC when not given, never the controller's local time),
// concurrencyPolicy and startingDeadlineSeconds come from the triggers.
// What a CronWorkflow cannot say (watch, webhook and drift triggers, catchup
// other than latest, cooldown, params from events, schedules that disagree on
// zone or policy) is an error with the trigger's position, unless SKIP leaves
// the non-schedule triggers out.
#pragma once

#include "base/status.h"
#include "engine/export/yaml_emit.h"
#include "engine/ir.h"

namespace ctflow::export_detail {

// WORKFLOW_DOC: the exported Workflow. Returns it unchanged when WF has no
// schedule triggers (and nothing else, or SKIP).
Result<yaml_emit::Doc> cron_workflow(const Workflow& wf, yaml_emit::Doc workflow_doc, bool skip_triggers);

}  // namespace ctflow::export_detail
