// ctflow: the command line. Each verb lives in a cmd_* function (cli.h).
#include <malloc.h>

#include <iostream>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/cli.h"
#include "web/dashboard.h"
#include "web/serve/serve.h"

using namespace ctflow::cli;  // NOLINT: the verbs, in this file only

int main(int argc, char** argv) {
  spdlog::set_pattern("ctflow: %l: %v");
  CLI::App app{"ctflow: a workflow engine for ML continuous training, on one machine (see README.md)"};
  app.require_subcommand(1);
  Global g;
  app.add_option("--store", g.store, "the store folder (default: ./.ctflow, or $CTFLOW_STORE)");
  int rc = 0;

  RunArgs run;
  auto* c_run = app.add_subcommand("run", "validate, then run a workflow locally");
  c_run->add_option("file", run.file, "the workflow YAML")->required();
  c_run->add_option("-p,--param", run.params, "NAME=VALUE, a workflow param")->take_all()->allow_extra_args(false);
  c_run->add_option("-f,--params-file", run.params_file, "a YAML or JSON mapping of param to value (-p wins over it)");
  c_run->add_option("--junit", run.junit, "write JUnit XML here when the run ends: one test case per step instance");
  c_run->add_option("--parallelism", run.parallelism, "at most N steps at once");
  c_run->add_option("--cpus", run.cpus, "CPU cores this host offers (default: detected)");
  c_run->add_option("--gpus", run.gpus, "GPUs this host offers (default: detected)");
  c_run->add_option("--memory", run.memory, "memory this host offers, e.g. 16Gi (default: detected)");
  c_run->add_flag("--no-cache", run.no_cache, "run every step, ignoring the step cache");
  c_run->add_option("--executor", run.executor, "Argo workflows: run container and script templates on the host (default) or with podman or docker")->check(CLI::IsMember({"host", "podman", "docker"}));
  c_run->add_flag("--resume-suspended", run.resume_suspended, "Argo workflows: a suspend template waits out its duration (one without continues at once) instead of being an error");
  c_run->add_option("--trigger-event", run.trigger_event, "the JSON event of the trigger firing that starts this run (set by ctflow daemon)");
  c_run->add_option("-o,--output", run.output, "json: print only the final run document")->check(CLI::IsMember({"json", ""}));
  c_run->callback([&] { rc = cmd_run(g, run); });

  std::vector<std::string> lint_files;
  double lint_cpus = 0;
  int lint_gpus = -1;
  bool lint_strict = false;
  auto* c_lint = app.add_subcommand("lint", "validate workflows without running them");
  c_lint->add_option("files", lint_files, "workflow files")->required();
  c_lint->add_option("--cpus", lint_cpus, "CPU cores to check resources against");
  c_lint->add_option("--gpus", lint_gpus, "GPUs to check resources against");
  c_lint->add_flag("--strict", lint_strict, "warnings are errors (exit 2), for pre-merge checks");
  std::vector<std::string> lint_params;
  c_lint->add_option("-p,--param", lint_params, "NAME=VALUE: what a run would be given (resources read from params)")
      ->take_all()
      ->allow_extra_args(false);
  c_lint->callback([&] { rc = cmd_lint(lint_files, lint_cpus, lint_gpus, lint_strict, lint_params); });

  std::string output, status_filter, workflow_filter;
  auto* c_list = app.add_subcommand("list", "runs, newest first");
  c_list->add_option("-o,--output", output, "json")->check(CLI::IsMember({"json", ""}));
  c_list->add_option("--status", status_filter, "only runs with this status");
  c_list->add_option("--workflow", workflow_filter, "only runs of this workflow");
  c_list->callback([&] { rc = cmd_list(g, output, status_filter, workflow_filter); });

  std::string run_ref, step_name;
  auto* c_get = app.add_subcommand("get", "one run: params, steps, outputs, artifacts");
  c_get->add_option("run", run_ref, "run id, unique prefix, or @latest")->required();
  c_get->add_option("-o,--output", output, "json")->check(CLI::IsMember({"json", ""}));
  c_get->callback([&] { rc = cmd_get(g, run_ref, output); });

  bool follow = false;
  auto* c_logs = app.add_subcommand("logs", "a step's log (all steps without STEP)");
  c_logs->add_option("run", run_ref, "run id, unique prefix, or @latest")->required();
  c_logs->add_option("step", step_name, "the step (instance) name");
  c_logs->add_flag("-f,--follow", follow, "follow a running step");
  c_logs->callback([&] { rc = cmd_logs(g, run_ref, step_name, follow); });

  auto* c_resume = app.add_subcommand("resume", "continue an interrupted or failed run");
  c_resume->add_option("run", run_ref, "run id, unique prefix, or @latest")->required();
  c_resume->add_option("-o,--output", output, "json")->check(CLI::IsMember({"json", ""}));
  c_resume->callback([&] { rc = cmd_resume(g, run_ref, output); });

  std::string plugin_name;
  auto* c_plugins = app.add_subcommand("plugins", "the plugins found; with NAME, its parameters and outputs");
  c_plugins->add_option("name", plugin_name, "a plugin name");
  c_plugins->add_option("-o,--output", output, "json")->check(CLI::IsMember({"json", ""}));
  c_plugins->callback([&] { rc = cmd_plugins(plugin_name, output); });

  auto* c_metrics = app.add_subcommand("metrics", "a run's metrics");
  c_metrics->add_option("run", run_ref, "run id, unique prefix, or @latest")->required();
  c_metrics->add_option("step", step_name, "only this step");
  c_metrics->add_option("-o,--output", output, "json or csv")->check(CLI::IsMember({"json", "csv", ""}));
  c_metrics->callback([&] { rc = cmd_metrics(g, run_ref, step_name, output); });

  std::vector<std::string> model_args;
  auto* c_models = app.add_subcommand("models", "the model registry: list [NAME] | get NAME[:VERSION] | promote NAME:VERSION STAGE");
  c_models->add_option("args", model_args, "verb and arguments");
  c_models->add_option("-o,--output", output, "json")->check(CLI::IsMember({"json", ""}));
  c_models->callback([&] { rc = cmd_models(g, model_args, output); });

  std::string artifact_name, out_path;
  auto* c_art = app.add_subcommand("artifacts", "get an artifact out of the store");
  c_art->add_option("run", run_ref, "run id")->required();
  c_art->add_option("step", step_name, "step")->required();
  c_art->add_option("name", artifact_name, "artifact name")->required();
  c_art->add_option("-o,--out", out_path, "copy it here (default: print its read-only path)");
  c_art->callback([&] { rc = cmd_artifacts(g, run_ref, step_name, artifact_name, out_path); });

  StepArgs step;
  auto* c_step = app.add_subcommand("step", "run one plugin step in this process (used by isolation, containers, pods)");
  c_step->add_option("--plugin", step.plugin, "plugin name")->required();
  c_step->add_option("--params", step.params_file, "a JSON file with the resolved parameters");
  c_step->add_option("--params-json", step.params_json, "the resolved parameters as JSON text");
  c_step->add_option("--param", step.param_texts, "KEY=TEXT, one parameter as text (typed by the plugin)");
  c_step->add_option("--publish-param", step.publish_params, "NAME=FILE: also write output NAME there");
  c_step->add_option("--publish-artifact", step.publish_artifacts, "NAME=PATH: also copy artifact NAME there");
  c_step->add_option("--out", step.out, "output folder: result.json, outputs/NAME, artifacts/NAME")->required();
  c_step->add_option("--work", step.work, "working folder (default: OUT/work)");
  c_step->add_option("--store", step.store, "store folder, for plugins that use the registry");
  c_step->add_option("--run-id", step.run_id, "run id");
  c_step->add_option("--step", step.step, "step name");
  c_step->add_option("--cpus", step.cpus, "CPU threads for the plugin");
  c_step->add_option("--gpus", step.gpus, "GPUs for the plugin");
  c_step->callback([&] { rc = cmd_step(step); });

  ctflow::web::DashboardOptions ui;
  std::string ui_workflows = "workflows";
  auto* c_ui = app.add_subcommand("ui", "the web dashboard and its JSON API over the store");
  c_ui->add_option("--addr", ui.addr, "HOST:PORT to listen on (default 127.0.0.1:8080)");
  c_ui->add_option("--token", ui.token, "bearer token for changes (made up and printed when bound beyond loopback)");
  c_ui->add_option("--workflows", ui_workflows, "the folder of workflows that can be submitted (default ./workflows)");
  c_ui->callback([&] {
    ui.store_dir = g.store_dir();
    ui.workflows_dir = ui_workflows;
    ui.ctflow_bin = self_path();
    ui.run_document = [](ctflow::RunStore& s, const std::string& id) { return run_document(s, id); };
    rc = ctflow::web::run_dashboard(ui);
  });

  ctflow::serve::ServeOptions serve;
  int64_t serve_delay_us = 2000;
  auto* c_serve = app.add_subcommand("serve", "the inference server: registered models over a TorchServe-style HTTP API");
  c_serve->add_option("--addr", serve.addr, "HOST:PORT to listen on (default 127.0.0.1:8081)");
  c_serve->add_option("-m,--model", serve.models, "NAME or NAME:VERSION to load (default: every Production model)");
  c_serve->add_option("--handler", serve.handler, "the model handler, when the registry does not record one (e.g. mnist.knn)");
  c_serve->add_option("--token", serve.token, "bearer token of the management API (made up and printed when bound beyond loopback)");
  c_serve->add_option("--max-batch", serve.max_batch, "inputs per forward pass (default 32)")->check(CLI::Range(1, 4096));
  c_serve->add_option("--max-delay", serve_delay_us, "microseconds a batch may wait to fill, under load (default 2000)")
      ->check(CLI::Range(0, 10000000));
  c_serve->add_option("--max-body", serve.max_body, "largest request body in bytes (default 8 MiB)");
  c_serve->add_option("--threads", serve.threads, "compute threads per model (default 1)")->check(CLI::Range(1, 256));
  c_serve->add_option("--io-threads", serve.io_threads, "HTTP threads (default 1)")->check(CLI::Range(1, 256));
  c_serve->add_option("--warmup", serve.warmup, "warm-up passes before a version takes traffic (default 3)")->check(CLI::Range(0, 1000));
  c_serve->add_option("--drift-window", serve.drift_window, "inputs per model in the drift window, compared with the version's profile (default 500)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  c_serve->add_flag("--cuda", serve.cuda, "run the models on the GPU");
  c_serve->callback([&] {
    serve.store_dir = g.store_dir();
    serve.max_delay = std::chrono::microseconds(serve_delay_us);
    rc = ctflow::serve::run_serve(serve);
  });

  std::string lineage_ref;
  auto* c_lineage = app.add_subcommand("lineage", "which data, params and code produced an artifact or a model");
  c_lineage->add_option("ref", lineage_ref, "sha256:DIGEST or MODEL:VERSION")->required();
  c_lineage->add_option("-o,--output", output, "json")->check(CLI::IsMember({"json", ""}));
  c_lineage->callback([&] { rc = cmd_lineage(g, lineage_ref, output); });

  std::vector<std::string> data_args;
  auto* c_data = app.add_subcommand("data", "data versions: tag DIGEST NAME@VERSION | get NAME@VERSION");
  c_data->add_option("args", data_args, "verb and arguments")->required();
  c_data->callback([&] { rc = cmd_data(g, data_args); });

  std::vector<std::string> compare_refs;
  auto* c_compare = app.add_subcommand("compare", "params and final metrics of runs side by side");
  c_compare->add_option("runs", compare_refs, "run ids")->required();
  std::string compare_sweep;
  c_compare->add_option("--sweep", compare_sweep, "STEP: the trials of this sweep step of the one run, side by side");
  c_compare->add_option("-o,--output", output, "json")->check(CLI::IsMember({"json", ""}));
  c_compare->callback([&] { rc = cmd_compare(g, compare_refs, compare_sweep, output); });

  std::vector<std::string> daemon_files;
  std::string daemon_addr = "127.0.0.1:8090";
  auto* c_daemon = app.add_subcommand("daemon", "run the workflows' triggers (schedules, watched folders, webhooks, drift) until stopped");
  c_daemon->add_option("files", daemon_files, "workflow files with triggers")->required();
  c_daemon->add_option("--addr", daemon_addr, "HOST:PORT for webhooks and /metrics (default 127.0.0.1:8090)");
  c_daemon->callback([&] { rc = cmd_daemon(g, daemon_files, daemon_addr); });

  std::vector<std::string> trigger_files;
  int trigger_limit = 20;
  auto* c_triggers = app.add_subcommand("triggers", "triggers with their next firings and their history (from the store)");
  c_triggers->add_option("files", trigger_files, "workflow files (default: every trigger the store has firings of)");
  c_triggers->add_option("--limit", trigger_limit, "firings of history per trigger (default 20)");
  c_triggers->add_option("-o,--output", output, "json")->check(CLI::IsMember({"json", ""}));
  c_triggers->callback([&] { rc = cmd_triggers(g, trigger_files, output, trigger_limit); });

  ExportArgs exp;
  auto* c_export = app.add_subcommand("export", "compile a workflow to Argo (argo) or Kubeflow Pipelines v2 (kfp)");
  c_export->add_option("target", exp.target, "argo or kfp")->required()->check(CLI::IsMember({"argo", "kfp"}));
  c_export->add_option("file", exp.file, "the workflow YAML")->required();
  c_export->add_option("-p,--param", exp.params, "NAME=VALUE, a workflow param");
  c_export->add_option("--out", exp.out, "write here instead of stdout");
  c_export->add_option("--image", exp.image, "the ctflow image for plugin steps (default localhost/ctflow:latest)");
  c_export->add_option("--artifacts", exp.artifacts, "pvc (default) or s3: how artifacts pass between tasks")
      ->check(CLI::IsMember({"pvc", "s3"}));
  c_export->add_option("--pvc", exp.pvc, "an existing PersistentVolumeClaim (default: one per run)");
  c_export->add_flag("--sweep-as-fanout", exp.sweep_as_fanout,
                     "export a TPE or early-stopping sweep as seeded random trials, each run to the end");
  c_export->add_flag("--skip-triggers", exp.skip_triggers, "argo: leave out triggers a CronWorkflow cannot express (watch, webhook, drift)");
  c_export->callback([&] { rc = cmd_export(exp); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : kExitUsage;
  }
  return rc;
}
