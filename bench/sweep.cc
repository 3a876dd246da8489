// Early stopping as an algorithm, not as the engine runs it: a full grid run
// to the end against ASHA over the same configurations, on a synthetic family
// of learning curves whose shape is known in closed form (noise from a seed).
// Prints one JSON object: for each seed, the trial-epochs each spent and the
// best final objective each found. Targets (issue 13): ASHA spends at most
// half the trial-epochs and finds an objective within 1% of the grid's best.
// ASHA runs twice: with its first rung after 1 epoch and after 3.
// In the same run, "engine": the per-trial overhead of the real scheduler
// (store, runner, metrics files) on sweeps of trivial trials: in-process
// core.noop (random and tpe) and shell trials that only append their objective
// to $CTFLOW_METRICS. Target: under 10 ms per trial, 100 trials under 1 s.
// Usage: sweep [SEEDS] [PARALLELISM] [TRIALS]   (10, 4 and 100)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "engine/frontend_v1.h"
#include "engine/plugin_registry.h"
#include "engine/scheduler.h"
#include "engine/sweep/pruner.h"
#include "engine/sweep/sampler.h"
#include "engine/validate.h"
#include "store/run_store.h"

namespace {

using namespace ctflow;
using namespace ctflow::sweep;

constexpr int kMaxEpochs = 27;  // ASHA's rungs at 1, 3, 9 (reduction 3) and the end

// The learning curve of configuration P: accuracy after EPOCH epochs rises
// from 0.1 towards a plateau that peaks at lr = 3e-3, width 128 and dropout
// 0.1; a smaller learning rate learns more slowly (time constant from 2
// epochs at lr 0.1 to 3.5 at 1e-4), so a fast learner leads early and a
// better one overtakes it later. Noise ~ N(0, 0.003) per epoch.
double accuracy(const Value& p, int epoch, Rng& noise) {
  const double lr = p["lr"].get<double>(), width = p["width"].get<double>(), dropout = p["dropout"].get<double>();
  const double d_lr = std::log10(lr) - std::log10(3e-3);
  const double plateau = 0.95 - 0.06 * d_lr * d_lr - 0.01 * std::abs(std::log2(width / 128)) -
                         0.4 * (dropout - 0.1) * (dropout - 0.1);
  const double tau = 2.0 + 0.5 * std::log10(1e-1 / lr);  // epochs to get 63% of the way
  return plateau - (plateau - 0.1) * std::exp(-epoch / tau) + 0.003 * noise.normal();
}

SweepSpec space() {
  SweepSpec s;
  s.method = SweepMethod::Grid;
  s.metric = "val_accuracy";
  s.goal = SweepGoal::Maximize;
  SweepParam lr;
  lr.name = "lr";
  lr.min = 1e-4;
  lr.max = 1e-1;
  lr.log = true;
  lr.count = 9;
  SweepParam width;
  width.name = "width";
  width.kind = SweepParam::Kind::Categorical;
  width.values = {32, 64, 128, 256};
  SweepParam dropout;
  dropout.name = "dropout";
  dropout.kind = SweepParam::Kind::Categorical;
  dropout.values = {0.0, 0.1, 0.3};
  s.parameters = {lr, width, dropout};
  return s;
}

struct Outcome {
  long trial_epochs = 0;
  double best = -INFINITY;  // the best final objective of a trial that ran to the end
  int completed = 0;
  int trials = 0;
};

// The grid's configurations in its own order (the last parameter varies fastest).
std::vector<Value> grid_configurations(const SweepSpec& spec) {
  auto sampler = make_sampler(spec);
  if (!sampler.ok()) {
    std::fprintf(stderr, "sweep: %s\n", sampler.message().c_str());
    std::exit(1);
  }
  std::vector<Value> out;
  std::vector<TrialRecord> history;
  while (auto p = (*sampler)->suggest(history)) {
    out.push_back(*p);
    history.emplace_back();
  }
  return out;
}

// The indices 0..N-1 in grid order, or when SEED is given, in an order drawn from it (Fisher-Yates).
std::vector<size_t> order(size_t n, std::optional<uint64_t> seed) {
  std::vector<size_t> out(n);
  for (size_t i = 0; i < n; ++i) out[i] = i;
  if (!seed) return out;
  Rng rng(*seed);
  for (size_t i = n; i > 1; --i) std::swap(out[i - 1], out[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(i) - 1))]);
  return out;
}

// Runs the configurations CONFIGS[ORDER[0]], CONFIGS[ORDER[1]], ...,
// PARALLELISM at a time, one epoch per tick; each epoch's value goes to
// PRUNER (when given) as it is reported. A configuration's noise depends
// only on SEED and its place in the grid.
Outcome simulate(const std::vector<Value>& configs, const std::vector<size_t>& order, Pruner* pruner,
                 int parallelism, uint64_t seed) {
  struct Running {
    int trial;  // its place in ORDER
    int epoch;
    Rng noise;
  };
  std::vector<Running> running;
  Outcome out;
  size_t next = 0;
  while (true) {
    for (; next < order.size() && static_cast<int>(running.size()) < parallelism; ++next)
      running.push_back({static_cast<int>(next), 0, Rng::for_trial(seed, order[next])});
    if (running.empty()) break;
    for (auto it = running.begin(); it != running.end();) {
      ++it->epoch;
      ++out.trial_epochs;
      const double value = accuracy(configs[order[static_cast<size_t>(it->trial)]], it->epoch, it->noise);
      const bool stop = pruner && pruner->report(it->trial, it->epoch, value) == Decision::Stop;
      if (it->epoch == kMaxEpochs) {
        out.best = std::max(out.best, value);
        ++out.completed;
      } else if (!stop) {
        ++it;
        continue;
      }
      it = running.erase(it);
    }
  }
  out.trials = static_cast<int>(order.size());
  return out;
}

nlohmann::json to_json(const Outcome& o) {
  return {{"trials", o.trials}, {"trial_epochs", o.trial_epochs}, {"completed", o.completed}, {"best", o.best}};
}

struct AshaSummary {
  nlohmann::json per_seed = nlohmann::json::array();
  double sum_ratio = 0, sum_gap = 0, worst_ratio = 0, worst_gap = 0;
  double sum_ratio_grid_order = 0;
  void add(uint64_t seed, const Outcome& full, const Outcome& early, const Outcome& in_grid_order) {
    const double ratio = static_cast<double>(early.trial_epochs) / static_cast<double>(full.trial_epochs);
    const double gap = (full.best - early.best) / full.best;  // > 0: ASHA's best is worse
    sum_ratio += ratio;
    sum_gap += gap;
    worst_ratio = std::max(worst_ratio, ratio);
    worst_gap = std::max(worst_gap, gap);
    sum_ratio_grid_order += static_cast<double>(in_grid_order.trial_epochs) / static_cast<double>(full.trial_epochs);
    per_seed.push_back({{"seed", seed}, {"grid", to_json(full)}, {"asha", to_json(early)},
                        {"trial_epochs_ratio", ratio}, {"best_gap", gap},
                        {"asha_in_grid_order", to_json(in_grid_order)}});
  }
};

// --- the engine's own cost per trial, through the real scheduler

// A workflow of one sweep step of TRIALS trivial trials of BODY (the step's
// body keys), each reporting its objective "obj".
std::string sweep_yaml(const std::string& body, const std::string& method, int trials, int parallelism) {
  return "apiVersion: ctflow/v1\nkind: Workflow\nmetadata: {name: bench-sweep}\nsteps:\n  tune:\n" + body +
         "    sweep:\n      parameters: {x: {min: 0.0, max: 1.0}, y: {min: 1.0e-3, max: 1.0, scale: log}}\n"
         "      method: " + method + "\n      trials: " + std::to_string(trials) +
         "\n      parallelism: " + std::to_string(parallelism) +
         "\n      seed: 1\n      objective: {metric: obj, goal: maximize}\n";
}

double cpu_seconds(int who) {
  rusage u{};
  getrusage(who, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Runs the sweep of KIND in a new store under DIR; wall and CPU seconds per trial.
nlohmann::json engine_overhead(const std::filesystem::path& dir, const std::string& kind, const std::string& method,
                               int trials, int parallelism) {
  const std::string body =
      kind == "inproc" ? "    uses: core.noop\n    isolation: none\n    cache: false\n    with: {metrics: {obj: \"{{trial.x}}\"}}\n"
                       : "    shell: |\n      echo '{\"name\": \"obj\", \"value\": {{trial.x}}}' >> \"$CTFLOW_METRICS\"\n";
  LoadResult loaded = parse_workflow_text(sweep_yaml(body, method, trials, parallelism), "bench-sweep.yaml");
  if (!loaded.ok()) {
    const std::string why = loaded.diags.empty() ? "?" : loaded.diags.items()[0].message;
    std::fprintf(stderr, "sweep: the bench workflow does not load: %s\n", why.c_str());
    std::exit(1);
  }
  const Workflow& wf = *loaded.workflow;
  auto params = bind_params(wf, {});
  auto store = RunStore::open(dir / (kind + "-" + method) / ".ctflow");
  if (!params || !store) {
    std::fprintf(stderr, "sweep: %s\n", !params ? params.message().c_str() : store.message().c_str());
    std::exit(1);
  }
  auto run_id = (*store)->create_run(wf.name, "bench-sweep.yaml", *params, "");
  if (!run_id) {
    std::fprintf(stderr, "sweep: %s\n", run_id.message().c_str());
    std::exit(1);
  }
  // The plugins built beside this binary's folder (build/plugins), then the usual places.
  auto path = PluginRegistry::default_search_path();
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) path.insert(path.begin(), exe.parent_path().parent_path() / "plugins");
  PluginRegistry plugins(path);
  RunOptions opt;
  opt.quiet = true;
  const double cpu0 = cpu_seconds(RUSAGE_SELF), child0 = cpu_seconds(RUSAGE_CHILDREN);
  const auto t0 = std::chrono::steady_clock::now();
  std::string status;
  {
    Scheduler sched(wf, *params, **store, plugins, opt);
    status = sched.run(*run_id);
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds(RUSAGE_SELF) - cpu0, child = cpu_seconds(RUSAGE_CHILDREN) - child0;
  return {{"kind", kind == "inproc" ? "in-process core.noop" : "shell echo >> $CTFLOW_METRICS"},
          {"method", method}, {"trials", trials}, {"parallelism", parallelism}, {"status", status},
          {"wall_s", wall}, {"wall_ms_per_trial", 1e3 * wall / trials},
          {"engine_cpu_s", cpu}, {"engine_cpu_ms_per_trial", 1e3 * cpu / trials},
          {"children_cpu_ms_per_trial", 1e3 * child / trials}};
}

nlohmann::json engine_figures(int trials, int parallelism) {
  char tmpl[] = "/tmp/ctflow-bench-sweep-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("sweep: mkdtemp");
    std::exit(1);
  }
  const std::filesystem::path dir = tmpl;
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& [kind, method] : {std::pair{"inproc", "random"}, std::pair{"inproc", "tpe"},
                                     std::pair{"shell", "random"}})
    runs.push_back(engine_overhead(dir, kind, method, trials, parallelism));
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  return {{"runs", runs}, {"load_average", {load[0], load[1], load[2]}},
          {"targets", {{"ms_per_trial_at_most", 10}, {"s_per_100_trials_at_most", 1}}}};
}

}  // namespace

int main(int argc, char** argv) {
  const int seeds = argc > 1 ? std::atoi(argv[1]) : 10;
  const int parallelism = argc > 2 ? std::atoi(argv[2]) : 4;
  const int engine_trials = argc > 3 ? std::atoi(argv[3]) : 100;
  const SweepSpec grid = space();
  const std::vector<Value> configs = grid_configurations(grid);
  nlohmann::json results = nlohmann::json::array();
  for (int min_steps : {1, 3}) {
    SweepSpec asha = grid;
    asha.early_stop = EarlyStopSpec{};
    asha.early_stop->method = EarlyStopMethod::Asha;
    asha.early_stop->min_steps = min_steps;
    asha.early_stop->reduction = 3;
    AshaSummary sum;
    for (int s = 1; s <= seeds; ++s) {
      const auto seed = static_cast<uint64_t>(s);
      const Outcome full = simulate(configs, order(configs.size(), std::nullopt), nullptr, parallelism, seed);
      // ASHA over the same configurations in a random order, as a random
      // search over the grid would start them; and in the grid's own order,
      // where each trial tends to beat the last (lr rises to its best): the
      // worst case for judging early arrivals against few others.
      auto pruner = make_pruner(asha);
      const Outcome early = simulate(configs, order(configs.size(), seed), pruner.get(), parallelism, seed);
      auto grid_order_pruner = make_pruner(asha);
      const Outcome in_grid_order =
          simulate(configs, order(configs.size(), std::nullopt), grid_order_pruner.get(), parallelism, seed);
      sum.add(seed, full, early, in_grid_order);
    }
    const bool this_met = sum.worst_ratio <= 0.5 && sum.worst_gap <= 0.01;
    results.push_back({{"asha", {{"min_steps", min_steps}, {"reduction", 3}}},
                       {"mean_trial_epochs_ratio", sum.sum_ratio / seeds},
                       {"mean_best_gap", sum.sum_gap / seeds},
                       {"worst_trial_epochs_ratio", sum.worst_ratio},
                       {"worst_best_gap", sum.worst_gap},
                       {"mean_trial_epochs_ratio_in_grid_order", sum.sum_ratio_grid_order / seeds},
                       {"targets_met_on_every_seed", this_met},
                       {"seeds", sum.per_seed}});
  }
  nlohmann::json out = {
      {"bench", "sweep"},
      {"space", {{"configurations", configs.size()}, {"max_epochs", kMaxEpochs}, {"parallelism", parallelism},
                 {"seeds", seeds}}},
      {"targets", {{"trial_epochs_ratio_at_most", 0.5}, {"best_gap_at_most", 0.01}}},
      {"results", results},
      {"engine", engine_figures(engine_trials, parallelism)},
  };
  std::printf("%s\n", out.dump(2).c_str());
  return 0;
}
