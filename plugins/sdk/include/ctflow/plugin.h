/* ctflow plugin ABI, version 1.
 *
 * A plugin library exports one entry point, `ctflow_plugins_v1`, that hands the
 * host a list of plugin descriptors. The host calls a plugin's `run` with an
 * opaque context and a table of host functions. Rules that keep this stable:
 *   - Only C types cross this boundary; no exception may escape `run`.
 *   - Structs start with {abi_version, size}; new fields and new host functions
 *     are only ever appended. A plugin checks `host->size` before using a
 *     function added after version 1 (see CTFLOW_HOST_HAS).
 *   - Strings handed to the plugin stay valid until `run` returns.
 *   - Values (params, outputs) are JSON text: typed, never pasted text.
 */
#ifndef CTFLOW_PLUGIN_H_
#define CTFLOW_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CTFLOW_PLUGIN_ABI_VERSION 1u

typedef struct ctflow_ctx ctflow_ctx; /* opaque, owned by the host */

enum ctflow_log_level { CTFLOW_LOG_DEBUG = 0, CTFLOW_LOG_INFO = 1, CTFLOW_LOG_WARN = 2, CTFLOW_LOG_ERROR = 3 };

typedef struct ctflow_host_api {
  uint32_t abi_version; /* CTFLOW_PLUGIN_ABI_VERSION of the host */
  uint32_t size;        /* sizeof(ctflow_host_api) as the host knows it */

  /* The resolved value of parameter NAME as JSON text ("3", "\"abc\"", "[1,2]"),
   * the declared default when it was not given, or NULL when it has neither. */
  const char* (*param)(ctflow_ctx* ctx, const char* name);

  /* Sets output parameter NAME to JSON_VALUE (JSON text). Returns 0, or -1 when
   * NAME is not a declared output or JSON_VALUE does not parse. */
  int (*set_output)(ctflow_ctx* ctx, const char* name, const char* json_value);

  /* The path where the plugin must write artifact NAME: a file or a directory,
   * as the plugin likes. The parent exists; the path itself does not. After
   * `run` succeeds the host stores it by content. NULL when NAME is not a
   * declared artifact output. */
  const char* (*artifact_path)(ctflow_ctx* ctx, const char* name);

  /* The step's private working directory (scratch space, deleted by the host). */
  const char* (*work_dir)(ctflow_ctx* ctx);

  /* A line for the step's log. */
  void (*log)(ctflow_ctx* ctx, int level, const char* message);

  /* Metrics, recorded with the run. Series are indexed by step (or epoch). */
  int (*metric_scalar)(ctflow_ctx* ctx, const char* name, double value);
  int (*metric_series)(ctflow_ctx* ctx, const char* name, int64_t step, double value);
  /* An N x N confusion matrix, row = true label, column = predicted; row-major. */
  int (*metric_confusion)(ctflow_ctx* ctx, const char* name, int n, const char* const* labels,
                          const int64_t* counts);

  /* Non-zero once the host asks the step to stop (timeout, Ctrl-C). A long
   * plugin should poll this between batches and return early. */
  int (*cancelled)(ctflow_ctx* ctx);

  /* The CPU threads and GPUs granted to this step (from `resources`). */
  int (*cpu_threads)(ctflow_ctx* ctx);
  int (*gpus)(ctflow_ctx* ctx);

  /* The run's store directory (".ctflow/"), for plugins that use the model
   * registry (mnist.deploy). */
  const char* (*store_dir)(ctflow_ctx* ctx);

  /* Identity of the run and step, for lineage. */
  const char* (*run_id)(ctflow_ctx* ctx);
  const char* (*step_name)(ctflow_ctx* ctx);
  /* Append new host functions below this line only. */

  /* --- Added after version 1: check CTFLOW_HOST_HAS(host, field) first. --- */

  /* The model registry of the run's store. Strings returned stay valid until
   * `run` returns. A model version as JSON is {"name", "version", "stage",
   * "run_id", "step", "artifacts", "metrics", "params", "created_at"}. */

  /* The Production version of model NAME as JSON text; "null" when NAME has no
   * Production version; NULL when the registry cannot be read (the reason goes
   * to the step's log). */
  const char* (*model_current)(ctflow_ctx* ctx, const char* name);

  /* Registers a new version of a model, recorded as made by this run and step,
   * and promotes it when it beats the Production version, in ONE store
   * transaction (two deploys at once never promote the worse one).
   * REQUEST_JSON: {"name": "...", "artifacts": {NAME: "sha256:..."},
   *   "metrics": {...}, "params": {...},
   *   "compare": {"metric": "accuracy", "higher_is_better": true}}  ("compare"
   *   may be left out: accuracy, higher is better).
   * It becomes Production when no version is, when the Production one has no
   * number for the metric, or when its own value is strictly better; Staging
   * otherwise. Returns 0 and sets *RESULT_JSON to {"name", "version", "stage",
   * "promoted", "previous": {"version", "metrics"} or null}; returns -1 and sets
   * *RESULT_JSON to {"error": "..."} when the request is wrong or the store fails. */
  int (*model_register_promote)(ctflow_ctx* ctx, const char* request_json, const char** result_json);

  /* The content digest ("sha256:<hex>") the run's store gives the regular file
   * at PATH, or NULL when it cannot be read (the reason goes to the step's log). */
  const char* (*artifact_digest)(ctflow_ctx* ctx, const char* path);

  /* Progress of long work, for the person watching the run: DONE of TOTAL units
   * (TOTAL <= 0: not known) and a short MESSAGE ("epoch 3/4 loss 0.81"; NULL or
   * "" for none). Cheap enough to call after every batch: the host records at
   * most a few reports a second, always the latest one when the step ends.
   * Returns 0, or -1 when DONE or TOTAL is not a finite number. */
  int (*progress)(ctflow_ctx* ctx, double done, double total, const char* message);

  /* Names a version of a data set in the run's store, as `ctflow data tag`
   * does: TAG ("NAME@VERSION") names DIGEST ("sha256:<hex>", e.g. from
   * artifact_digest of an output artifact) from now on, replacing what it named.
   * Returns 0, or -1 when TAG is empty, DIGEST malformed or the store fails (the
   * reason goes to the step's log). */
  int (*data_tag)(ctflow_ctx* ctx, const char* tag, const char* digest);

  /* What REF names in the run's store, as JSON text: REF is a data version
   * ("NAME@VERSION", e.g. "dataset@latest"), or the path of a stored artifact
   * (as {{steps.S.artifacts.NAME}} gives it). The JSON: {"ref", "digest",
   * "kind": "file" or "dir", "size", "path": the read-only blob, "tags": every
   * tag naming the digest, newest first, as [{"tag", "created_at" (ms)}],
   * "made_by": {"run_id", "step"} of the first run that output it, or null}.
   * "null" when REF names nothing (no such tag; a path outside the store's
   * blobs); NULL when REF is malformed or the store fails (the reason goes to
   * the step's log). */
  const char* (*data_resolve)(ctflow_ctx* ctx, const char* ref);
} ctflow_host_api;

#define CTFLOW_HOST_HAS(host, field) \
  ((host)->size >= offsetof(ctflow_host_api, field) + sizeof((host)->field) && (host)->field != NULL)

typedef struct ctflow_param_decl {
  const char* name;
  const char* type;         /* "string", "int", "float", "bool", "path", "json" */
  const char* default_json; /* JSON text, or NULL for a required parameter */
  const char* description;
} ctflow_param_decl;

typedef struct ctflow_output_decl {
  const char* name;
  const char* kind; /* "parameter" or "artifact" */
  const char* description;
} ctflow_output_decl;

/* Runs the plugin. Returns 0 on success. On failure returns non-zero and may set
 * *error to a message allocated with malloc (the host frees it with free). */
typedef int (*ctflow_run_fn)(ctflow_ctx* ctx, const ctflow_host_api* host, char** error);

typedef struct ctflow_plugin_desc {
  uint32_t abi_version; /* CTFLOW_PLUGIN_ABI_VERSION the plugin was built with */
  uint32_t size;        /* sizeof(ctflow_plugin_desc) */
  const char* name;     /* "family.name", e.g. "core.echo" */
  const char* version;  /* semantic version; part of the step cache key */
  const char* description;
  const ctflow_param_decl* params;
  size_t n_params;
  const ctflow_output_decl* outputs;
  size_t n_outputs;
  ctflow_run_fn run;
} ctflow_plugin_desc;

/* The entry point every plugin library exports. HOST_ABI is the host's ABI
 * version. Sets *plugins to an array of *count descriptors with static storage.
 * Returns 0, or non-zero when the library cannot serve this host. */
typedef int (*ctflow_plugins_v1_fn)(uint32_t host_abi, const ctflow_plugin_desc* const** plugins,
                                    size_t* count);
#define CTFLOW_PLUGIN_ENTRY "ctflow_plugins_v1"

#ifdef __cplusplus
}
#endif

#endif /* CTFLOW_PLUGIN_H_ */
