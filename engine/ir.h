// The intermediate representation of a workflow: what the frontends (ctflow/v1,
// Argo) produce and the backends (local run, exporters) consume. It knows nothing
// of YAML. Values are JSON values (nlohmann::json): typed, never pasted text.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctflow {

using Value = nlohmann::json;

// A place in a source file, 1-based. line == 0 means "no position".
struct SourcePos {
  std::string file;
  int line = 0;
  int col = 0;
};

enum class ParamType { String, Int, Float, Bool, Path, Json };
const char* to_string(ParamType t);
std::optional<ParamType> param_type_from_string(const std::string& s);

struct ParamDecl {
  std::string name;
  ParamType type = ParamType::String;
  std::optional<Value> default_value;  // none: the param is required
  std::string description;
  SourcePos pos;
};

enum class StepKind { Plugin, Run, Shell, Call };
const char* to_string(StepKind k);

enum class Isolation { Process, None };

struct RetryPolicy {
  int limit = 0;              // attempts = limit + 1
  double backoff_s = 1.0;     // delay before the first retry
  double factor = 2.0;        // each later delay is multiplied by this
  double max_backoff_s = 0;   // 0: no cap
  bool on_failed = true;      // retry when the step exits non-zero / plugin error
  bool on_error = true;       // retry when the engine could not start it
  bool on_timeout = true;     // retry when an attempt timed out
  // Also needed for a retry, when not empty: a condition over lastRetry.exitCode,
  // lastRetry.status ("Failed", "Error"), lastRetry.duration (seconds) and
  // lastRetry.message; its {{refs}} are pasted as text first (Argo's
  // retryStrategy.expression).
  std::string expression;
  // Delay before attempt number `attempt` (1-based; attempt 1 has no delay).
  double delay_before(int attempt) const;
};

struct Resources {
  double cpu = 0;        // cores; 0 means "not stated" (counted as 1 slot? no: 0)
  int gpu = 0;
  int64_t memory = 0;    // bytes
  // Each resource ("cpu", "gpu", "memory") given as "{{params.NAME}}": NAME.
  // Its value above was read from the run's params when the file was.
  std::map<std::string, std::string> from_params;
};

struct OutputParamDecl {
  std::string path;                     // relative to the step's working dir (a plugin step: empty)
  std::optional<Value> default_value;   // used when the step is Skipped/Omitted or the file is missing
  // Or (path empty): an expression in expr-lang (expr::Syntax::ExprLang) over
  // references to other steps, evaluated when the step has succeeded; its
  // value, as text, is the output (the Argo frontend's valueFrom.expression).
  std::string expression;
};

struct OutputArtifactDecl {
  std::string path;  // file or directory, relative to the step's working dir (a plugin step: empty)
  std::optional<Value> default_value;  // what {{steps.S.artifacts.NAME}} gives when the step is Skipped/Omitted
};

// A hyperparameter sweep on a step (`sweep:`): the step runs as trials
// tune[0], tune[1], ..., each with parameters drawn from the search space
// (engine/sweep/ samples them and decides early stops).
struct SweepParam {
  enum class Kind { Float, Int, Categorical };
  std::string name;
  SourcePos pos;
  Kind kind = Kind::Float;
  double min = 0, max = 0;     // Float, Int: the closed range
  bool log = false;            // scale: log (min > 0)
  double step = 0;             // grid: spacing on a linear scale; 0: not given
  int count = 0;               // grid: points from min to max inclusive; 0: not given
  std::vector<Value> values;   // Categorical
  std::optional<Value> default_value;  // `best.NAME` when the sweep runs no trials
};

enum class SweepMethod { Grid, Random, Tpe };
enum class SweepGoal { Maximize, Minimize };
enum class EarlyStopMethod { Median, Asha };

struct EarlyStopSpec {
  EarlyStopMethod method = EarlyStopMethod::Asha;
  int min_steps = 1;         // no trial is stopped before this step; ASHA's first rung
  int reduction = 3;         // ASHA: rungs at min_steps * reduction^k, top 1/reduction go on
  int warmup_trials = 5;     // median: other trials needed at a step before it judges there
  SourcePos pos;
};

struct SweepSpec {
  std::vector<SweepParam> parameters;  // file order: the grid's order (the last varies fastest)
  SweepMethod method = SweepMethod::Random;
  int trials = 0;                      // 0: not given (grid: every combination)
  std::string trials_param;            // `trials: "{{params.NAME}}"`: NAME, read when the step starts
  int parallelism = 0;                 // trials at once; 0: as resource slots allow
  uint64_t seed = 0;
  std::string metric;                  // objective
  SweepGoal goal = SweepGoal::Maximize;
  std::optional<EarlyStopSpec> early_stop;
  SourcePos pos;                       // where `sweep:` was written
};

struct Step {
  std::string name;
  SourcePos pos;
  StepKind kind = StepKind::Run;
  std::string uses;                 // Plugin
  std::string call;                 // Call: the template it expands (docs/dag-growth.md)
  std::vector<std::string> run;     // Run: argv, each element templated alone
  std::string shell;                // Shell: script for /bin/sh -c
  std::string image;                // optional: run in this OCI image
  SourcePos kind_pos;               // where uses/run/shell was written
  SourcePos image_pos;
  bool network = false;             // container steps: allow network
  Value with = Value::object();     // plugin params / env for run+shell (templated)
  std::map<std::string, SourcePos> with_pos;  // where each `with` key was written
  std::vector<std::string> needs;
  std::string depends;              // Argo enhanced-depends expression, or empty
  SourcePos depends_pos;
  std::string when;                 // expression, or empty
  SourcePos when_pos;
  std::optional<Value> for_each;    // a JSON list, or a string holding one {{ref}}
  SourcePos for_each_pos;
  int parallelism = 0;              // fan-out: instances at once (0: unbounded)
  std::map<std::string, OutputParamDecl> output_params;
  std::map<std::string, OutputArtifactDecl> output_artifacts;
  RetryPolicy retry;
  double timeout_s = 0;             // per attempt; 0: none
  Resources resources;
  std::optional<bool> cache;        // unset: true for plugins, false for run/shell
  Isolation isolation = Isolation::Process;
  std::map<std::string, std::string> env;  // extra environment (Argo importer)
  std::optional<SweepSpec> sweep;   // a hyperparameter sweep over this step

  bool cache_enabled() const { return cache.value_or(kind == StepKind::Plugin); }
};

// A group of steps a `call` step expands when it starts (docs/dag-growth.md).
// Its steps refer to {{params.X}} (the template's params) and to each other.
struct TemplateDef {
  std::string name;
  SourcePos pos;
  std::vector<ParamDecl> params;
  std::vector<Step> steps;                          // in file order
  std::map<std::string, std::string> outputs;       // NAME -> "{{steps.x.outputs.y}}"
  std::map<std::string, SourcePos> output_pos;

  const ParamDecl* find_param(const std::string& name) const;
};

// What starts a workflow without a person (`triggers:`; ctflow daemon runs them).
enum class TriggerKind { Schedule, Watch, Webhook, Drift };
const char* to_string(TriggerKind k);
enum class Concurrency { Allow, Forbid, Replace };
enum class Catchup { Latest, All, None };

struct Trigger {
  std::string name;
  SourcePos pos;
  TriggerKind kind = TriggerKind::Schedule;
  SourcePos kind_pos;                    // where schedule/watch/webhook/drift was written
  std::vector<std::string> schedules;    // Schedule: cron expressions (one or a list)
  std::string timezone;                  // Schedule: IANA name; "" is UTC
  SourcePos timezone_pos;
  double starting_deadline_s = 0;        // Schedule: 0: no deadline
  Catchup catchup = Catchup::Latest;
  std::string watch;                     // Watch: the folder
  double settle_s = 5;                   // Watch: quiet time before firing
  std::string token_env;                 // Webhook: the env var holding the bearer token
  std::string drift_server, drift_model; // Drift
  double drift_above = 0;
  double drift_every_s = 30;             // Drift: how often to ask the server
  double cooldown_s = 0;                 // at most one started run per cooldown; 0: none
  Concurrency concurrency = Concurrency::Allow;
  int max_active = 3;                    // runs of the workflow started by triggers at once
  std::map<std::string, std::string> params;  // param -> template over {{event.*}}
  std::map<std::string, SourcePos> param_pos;
};

struct Workflow {
  std::string file;            // where it was read from (for messages)
  std::string api_version = "ctflow/v1";
  std::string name;
  std::string description;
  std::vector<ParamDecl> params;
  int parallelism = 0;         // 0: unbounded
  bool fail_fast = true;
  std::vector<Step> steps;     // in file order
  std::vector<Step> on_exit;   // run after the DAG, whatever its outcome
  std::map<std::string, TemplateDef> templates;  // what `call` steps expand
  int max_depth = 10;          // how deep calls may nest
  std::vector<Trigger> triggers;  // in file order

  const Step* find_step(const std::string& name) const;
  const ParamDecl* find_param(const std::string& name) const;
};

// Parses "30s", "5m", "2h", "1h30m", "500ms", or a bare number of seconds.
std::optional<double> parse_duration(const std::string& text);
// Parses "4Gi", "512Mi", "1G", "1000" into bytes.
std::optional<int64_t> parse_size(const std::string& text);

}  // namespace ctflow
