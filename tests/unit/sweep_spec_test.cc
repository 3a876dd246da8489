// The `sweep:` block of a ctflow/v1 step: what it reads into SweepSpec, and
// the message (position and fix) for each mistake.
#include "engine/frontend_v1.h"

#include <doctest/doctest.h>

#include "diag_lines.h"

using namespace ctflow;

namespace {

// A workflow whose step 'tune' (line 5) has the sweep block SWEEP, each of
// its lines indented under "    sweep:" (line 6), so the block starts on line 7.
LoadResult parse_sweep(const std::string& sweep, const std::string& extra = "") {
  return parse_workflow_text(
      "apiVersion: ctflow/v1\n"
      "kind: Workflow\n"
      "metadata: {name: t}\n"
      "steps:\n"
      "  tune:\n"
      "    sweep:\n" + sweep +
      "    run: [echo, x]\n" + extra,
      "wf.yaml");
}

// A valid sweep block reads without a diagnostic.
const char* kValid = "";

std::string with_objective(const std::string& rest) {
  return rest + "      objective: {metric: acc, goal: maximize}\n";
}

}  // namespace

TEST_CASE("SweepSpec.ReadsTheIssuesExample") {
  auto r = parse_sweep(
      "      parameters:\n"
      "        lr:     {min: 1.0e-4, max: 1.0e-2, scale: log}\n"
      "        margin: {min: 0.1, max: 0.5}\n"
      "        dim:    {values: [32, 64, 128]}\n"
      "        layers: {min: 1, max: 4}\n"
      "      method: tpe\n"
      "      trials: 16\n"
      "      parallelism: 2\n"
      "      seed: 7\n"
      "      objective: {metric: val_accuracy, goal: maximize}\n"
      "      early_stop: {method: asha, min_steps: 1, reduction: 3}\n");
  CHECK(diag_lines(r) == kValid);
  REQUIRE(r.workflow);
  const Step& s = r.workflow->steps.at(0);
  REQUIRE(s.sweep);
  const SweepSpec& sw = *s.sweep;
  CHECK(sw.method == SweepMethod::Tpe);
  CHECK(sw.trials == 16);
  CHECK(sw.parallelism == 2);
  CHECK(sw.seed == 7);
  CHECK(sw.metric == "val_accuracy");
  CHECK(sw.goal == SweepGoal::Maximize);
  REQUIRE(sw.early_stop);
  CHECK(sw.early_stop->method == EarlyStopMethod::Asha);
  CHECK(sw.early_stop->min_steps == 1);
  CHECK(sw.early_stop->reduction == 3);
  REQUIRE(sw.parameters.size() == 4);  // in file order
  CHECK(sw.parameters[0].name == "lr");
  CHECK(sw.parameters[0].kind == SweepParam::Kind::Float);
  CHECK(sw.parameters[0].log);
  CHECK(sw.parameters[0].min == 1e-4);
  CHECK(sw.parameters[1].name == "margin");
  CHECK_FALSE(sw.parameters[1].log);
  CHECK(sw.parameters[2].kind == SweepParam::Kind::Categorical);
  CHECK(sw.parameters[2].values == std::vector<Value>{32, 64, 128});
  CHECK(sw.parameters[3].kind == SweepParam::Kind::Int);  // integer min and max
  CHECK(sw.parameters[3].pos.line == 11);
  CHECK(sw.parameters[3].pos.col == 9);
}

TEST_CASE("SweepSpec.GridAndMedianSettings") {
  auto r = parse_sweep(with_objective(
      "      parameters:\n"
      "        m: {min: 0.1, max: 0.5, step: 0.1}\n"
      "        lr: {min: 1.0e-4, max: 1.0e-2, scale: log, count: 3}\n"
      "        n: {min: 1, max: 8, type: float, count: 2}\n"
      "      method: grid\n"
      "      early_stop: {method: median, min_steps: 2, warmup: 3}\n"));
  CHECK(diag_lines(r) == kValid);
  const SweepSpec& sw = *r.workflow->steps.at(0).sweep;
  CHECK(sw.method == SweepMethod::Grid);
  CHECK(sw.trials == 0);  // every combination
  CHECK(sw.parameters[0].step == 0.1);
  CHECK(sw.parameters[1].count == 3);
  CHECK(sw.parameters[2].kind == SweepParam::Kind::Float);  // type: float over integer bounds
  CHECK(sw.early_stop->method == EarlyStopMethod::Median);
  CHECK(sw.early_stop->min_steps == 2);
  CHECK(sw.early_stop->warmup_trials == 3);
}

TEST_CASE("SweepSpec.MistakesNameTheirPlaceAndTheFix") {
  auto r = parse_sweep(
      "      parameters:\n"
      "        a: {min: 0.5, max: 0.1}\n"                   // 8
      "        b: {min: 0, max: 1, scale: log}\n"           // 9
      "        c: {values: []}\n"                           // 10
      "        d: {values: [1, 1]}\n"                       // 11
      "        e: {min: 1, max: 2, step: 1}\n"              // 12
      "        f: {mn: 1, max: 2}\n"                        // 13
      "        g: 3\n"                                      // 14
      "        h: {values: [1], min: 0}\n"                  // 15
      "        i: {min: 0.5, max: 2, type: int}\n"          // 16
      "      method: bayes\n"                               // 17
      "      trials: 0\n"                                   // 18
      "      parallelism: -1\n"                             // 19
      "      objective: {goal: maximise}\n"                 // 20
      "      early_stop: {method: hyperband, warmup: 2}\n"  // 21
      "      seeds: 3\n");                                  // 22
  CHECK(diag_lines(r) ==
        "22:7: unknown key 'seeds' in 'sweep' (did you mean 'seed'?)\n"
        "17:15: unknown sweep method 'bayes': use grid, random or tpe\n"
        "18:15: 'trials' must be at least 1, or a param: \"{{params.trials}}\"; got '0'\n"
        "19:20: 'parallelism' must be 0 (as many at once as resources allow) or more; got '-1'\n"
        "20:18: 'objective' needs 'metric': the name of the metric the trials report, e.g. metric: val_accuracy\n"
        "20:25: unknown objective goal 'maximise' (did you mean 'maximize'?): use maximize or minimize\n"
        "21:28: unknown early_stop method 'hyperband': use asha or median\n"
        "21:47: 'warmup' is the median rule's: ASHA takes min_steps and reduction\n"
        "8:28: parameter 'a': min (0.5) must be less than max (0.1)\n"
        "9:18: parameter 'b' has a log scale, so min must be above 0; got 0 (use a small positive min like "
        "1.0e-6, or scale: linear)\n"
        "10:21: 'values' of parameter 'c' must be a non-empty list of choices, e.g. values: [32, 64, 128]\n"
        "11:25: value 1 of parameter 'd' is listed twice\n"
        "12:35: 'step' sets a grid's points; a random or tpe sweep draws from the whole range: remove it\n"
        "13:13: unknown key 'mn' in parameter 'f' (allowed: min, max, scale, type, step, count, values, default) "
        "(did you mean 'min'?)\n"
        "13:12: parameter 'f' needs 'min' and 'max' (a range) or 'values' (a list of choices)\n"
        "14:12: parameter 'g' must be a range like {min: 0.1, max: 0.5} or choices like {values: [32, 64]}; got a "
        "number\n"
        "15:31: parameter 'h' has both 'values' and 'min': give a list of choices or a range, not both\n"
        "16:37: parameter 'i' is 'type: int' but its min or max is not an integer\n");
}

TEST_CASE("SweepSpec.RequiredParts") {
  CHECK(diag_lines(parse_sweep("      method: tpe\n")) ==
        "7:7: a tpe sweep needs 'trials: N', how many trials to run\n"
        "7:7: a sweep needs 'objective', e.g. objective: {metric: val_accuracy, goal: maximize}\n"
        "7:7: a sweep needs 'parameters', e.g. parameters: {lr: {min: 1.0e-4, max: 1.0e-2, scale: log}}\n");
  CHECK(diag_lines(parse_sweep(with_objective("      parameters: {x: {values: [1]}}\n"))) ==
        "7:7: a sweep needs 'method': grid, random or tpe\n");
  CHECK(diag_lines(parse_sweep("      parameters: {x: {values: [1]}}\n      method: grid\n"
                               "      objective: {metric: acc}\n")) ==
        "9:18: 'objective' needs 'goal: maximize' or 'goal: minimize'\n");
  CHECK(diag_lines(parse_sweep("      parameters: {}\n      method: grid\n"
                               "      objective: {metric: acc, goal: minimize}\n"
                               "      early_stop: {min_steps: 0}\n")) ==
        "10:19: 'early_stop' needs 'method: asha' or 'method: median'\n"
        "10:31: 'min_steps' must be at least 1; got '0'\n"
        "7:19: 'parameters' must be a map of name to range or values, e.g. {lr: {min: 1.0e-4, max: 1.0e-2}}; got "
        "an empty map\n");
}

TEST_CASE("SweepSpec.GridsNeedPointsAndABound") {
  auto r = parse_sweep(with_objective(
      "      parameters:\n"
      "        m: {min: 0.1, max: 0.5}\n"
      "        lr: {min: 1.0e-4, max: 1.0e-2, scale: log, step: 2}\n"
      "        n: {min: 0, max: 1000000}\n"
      "      method: grid\n"));
  CHECK(diag_lines(r) ==
        "8:12: parameter 'm': a grid over a float range needs 'step' or 'count', e.g. step: 0.1 or count: 5\n"
        "9:58: 'step' is for a linear scale: a grid over a log scale takes 'count', e.g. count: 5\n"
        "10:12: parameter 'n': the grid has too many points (over 1000000): use a larger step\n");
  auto big = parse_sweep(with_objective(
      "      parameters:\n"
      "        a: {min: 0, max: 999}\n"
      "        b: {min: 0, max: 999}\n"
      "      method: grid\n"));
  CHECK(diag_lines(big) ==
        "8:9: the grid has 1000000 combinations, over 100000: give 'trials' to cap it, or fewer points (a larger "
        "step, a smaller count)\n");
  auto capped = parse_sweep(with_objective(
      "      parameters:\n"
      "        a: {min: 0, max: 999}\n"
      "        b: {min: 0, max: 999}\n"
      "      method: grid\n"
      "      trials: 50\n"));
  CHECK(diag_lines(capped) == kValid);
}

TEST_CASE("SweepSpec.NotWithForEach") {
  auto r = parse_sweep(with_objective("      parameters: {x: {values: [1, 2]}}\n      method: grid\n"),
                       "    for_each: [1, 2]\n");
  CHECK(diag_lines(r) ==
        "7:7: step 'tune' has both 'sweep' and 'for_each': a sweep makes its own instances, one per trial; use one "
        "of them\n");
}

TEST_CASE("SweepSpec.TrialsFromAParamAndDefaults") {
  auto r = parse_sweep(with_objective(
      "      parameters:\n"
      "        lr: {min: 1.0e-4, max: 1.0e-2, scale: log, default: 0.003}\n"  // 8
      "        dim: {values: [32, 64], default: 64}\n"                       // 9
      "        n: {min: 1, max: 4, default: 2}\n"                            // 10
      "      method: tpe\n"
      "      trials: \"{{params.trials}}\"\n"));
  REQUIRE(diag_lines(r) == "");
  const SweepSpec& s = *r.workflow->steps[0].sweep;
  CHECK(s.trials_param == "trials");
  CHECK(s.trials == 0);
  CHECK(*s.parameters[0].default_value == Value(0.003));
  CHECK(*s.parameters[1].default_value == Value(64));
  CHECK(s.parameters[2].default_value->is_number_integer());

  auto bad = parse_sweep(with_objective(
      "      parameters:\n"
      "        lr: {min: 1.0e-4, max: 1.0e-2, default: 0.5}\n"   // 8
      "        dim: {values: [32, 64], default: 16}\n"           // 9
      "        n: {min: 1, max: 4, default: 2.5}\n"              // 10
      "      method: random\n"
      "      trials: \"{{steps.a.outputs.n}}\"\n"));           // 12
  CHECK(diag_lines(bad) ==
        "12:15: 'trials' must be a number or exactly one param reference like \"{{params.trials}}\"; got "
        "'{{steps.a.outputs.n}}'\n"
        "8:49: the default of parameter 'lr' must be a number from 0.0001 to 0.01; got '0.5'\n"
        "9:42: the default 16 of parameter 'dim' is not one of its values\n"
        "10:38: the default of parameter 'n' must be a whole number from 1 to 4; got '2.5'\n");
}
