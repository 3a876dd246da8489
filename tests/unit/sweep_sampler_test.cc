// Sweep samplers: the grid's order, seeded reproducibility, and TPE finding
// better points than random search on a known function.
#include "engine/sweep/sampler.h"
#include "engine/sweep/tpe.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

using namespace ctflow;
using namespace ctflow::sweep;

namespace {

SweepParam range(const std::string& name, double min, double max, bool log = false) {
  SweepParam p;
  p.name = name;
  p.kind = SweepParam::Kind::Float;
  p.min = min;
  p.max = max;
  p.log = log;
  return p;
}

SweepParam int_range(const std::string& name, double min, double max, bool log = false) {
  SweepParam p = range(name, min, max, log);
  p.kind = SweepParam::Kind::Int;
  return p;
}

SweepParam values(const std::string& name, std::vector<Value> v) {
  SweepParam p;
  p.name = name;
  p.kind = SweepParam::Kind::Categorical;
  p.values = std::move(v);
  return p;
}

SweepSpec spec(SweepMethod method, std::vector<SweepParam> params, uint64_t seed = 0, int trials = 0) {
  SweepSpec s;
  s.method = method;
  s.parameters = std::move(params);
  s.seed = seed;
  s.trials = trials;
  s.metric = "objective";
  return s;
}

using Objective = std::function<double(const Value&)>;

// Runs trials one after another (each finishes before the next is suggested).
std::vector<TrialRecord> run_sequential(const Sampler& sampler, int n, const Objective& f) {
  std::vector<TrialRecord> history;
  for (int i = 0; i < n; ++i) {
    auto params = sampler.suggest(history);
    if (!params) break;
    history.push_back({*params, f(*params), TrialStatus::Succeeded});
  }
  return history;
}

std::vector<Value> suggestions(const Sampler& sampler, int n) {
  std::vector<Value> out;
  for (const auto& t : run_sequential(sampler, n, [](const Value&) { return 0.0; })) out.push_back(t.params);
  return out;
}

std::unique_ptr<Sampler> sampler_for(const SweepSpec& s) {
  auto r = make_sampler(s);
  REQUIRE(r.ok());
  return std::move(*r);
}

// Branin on x in [-5, 10], y in [0, 15]; its minimum is 0.397887.
double branin(const Value& p) {
  const double x = p["x"].get<double>(), y = p["y"].get<double>();
  const double pi = 3.14159265358979323846;
  const double b = 5.1 / (4 * pi * pi), c = 5 / pi, t = 1 / (8 * pi);
  return std::pow(y - b * x * x + c * x - 6, 2) + 10 * (1 - t) * std::cos(x) + 10;
}

double best_of(const std::vector<TrialRecord>& h) {
  double best = INFINITY;
  for (const auto& t : h) best = std::min(best, *t.objective);
  return best;
}

}  // namespace

TEST_CASE("SweepSampler.GridVisitsEveryCombinationLastParameterFastest") {
  auto s = sampler_for(spec(SweepMethod::Grid, {values("dim", {32, 64}), int_range("layers", 1, 3)}));
  auto got = suggestions(*s, 100);
  REQUIRE(got.size() == 6);  // 2 x 3, then the grid is exhausted
  const std::vector<std::pair<int, int>> expected = {{32, 1}, {32, 2}, {32, 3}, {64, 1}, {64, 2}, {64, 3}};
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i]["dim"] == expected[i].first);
    CHECK(got[i]["layers"] == expected[i].second);
    CHECK(got[i]["layers"].is_number_integer());
  }
  CHECK_FALSE(s->suggest(std::vector<TrialRecord>(6)).has_value());
}

TEST_CASE("SweepSampler.GridTrialsCapsTheCombinations") {
  SweepSpec sp = spec(SweepMethod::Grid, {values("a", {1, 2, 3}), values("b", {"x", "y"})}, 0, 4);
  auto got = suggestions(*sampler_for(sp), 100);
  REQUIRE(got.size() == 4);
  CHECK(got[3] == Value({{"a", 2}, {"b", "y"}}));
  CHECK(*trial_budget(sp) == 4);
  sp.trials = 0;
  CHECK(*trial_budget(sp) == 6);
}

TEST_CASE("SweepSampler.GridPointsOfRanges") {
  SweepParam lin = range("m", 0.1, 0.5);
  lin.step = 0.1;
  CHECK(*grid_values(lin) == std::vector<Value>{0.1, 0.2, 0.3, 0.4, 0.5});  // no 0.30000000000000004
  SweepParam lg = range("lr", 1e-4, 1e-2, true);
  lg.count = 3;
  CHECK(*grid_values(lg) == std::vector<Value>{1e-4, 1e-3, 1e-2});
  SweepParam counted = range("m", 0, 1);
  counted.count = 5;
  CHECK(*grid_values(counted) == std::vector<Value>{0.0, 0.25, 0.5, 0.75, 1.0});
  SweepParam ints = int_range("n", 2, 10);
  ints.step = 4;
  CHECK(*grid_values(ints) == std::vector<Value>{2, 6, 10});
  SweepParam log_ints = int_range("dim", 1, 4, true);
  log_ints.count = 4;  // 1, 1.59, 2.52, 4 round to 1, 2, 3, 4
  CHECK(*grid_values(log_ints) == std::vector<Value>{1, 2, 3, 4});
}

TEST_CASE("SweepSampler.GridOverAFloatRangeNeedsStepOrCount") {
  auto r = grid_values(range("margin", 0.1, 0.5));
  REQUIRE_FALSE(r.ok());
  CHECK(r.code() == StatusCode::kInvalidArgument);
  CHECK(r.message() == "parameter 'margin': a grid over a float range needs 'step' or 'count', e.g. step: 0.1 or count: 5");
  auto lg = grid_values(range("lr", 1e-4, 1e-2, true));
  REQUIRE_FALSE(lg.ok());
  CHECK(lg.message().find("needs 'count'") != std::string::npos);
  CHECK_FALSE(make_sampler(spec(SweepMethod::Grid, {range("margin", 0.1, 0.5)})).ok());
}

TEST_CASE("SweepSampler.RandomIsReproducibleFromItsSeed") {
  const std::vector<SweepParam> params = {range("lr", 1e-4, 1e-2, true), range("m", 0.1, 0.5),
                                          int_range("n", 1, 100), values("dim", {32, 64, 128})};
  auto a = suggestions(*sampler_for(spec(SweepMethod::Random, params, 7)), 20);
  auto b = suggestions(*sampler_for(spec(SweepMethod::Random, params, 7)), 20);
  auto c = suggestions(*sampler_for(spec(SweepMethod::Random, params, 8)), 20);
  CHECK(a == b);
  CHECK(a != c);
  std::set<std::string> distinct;
  for (const auto& p : a) {
    distinct.insert(p.dump());
    CHECK(p["lr"].get<double>() >= 1e-4);
    CHECK(p["lr"].get<double>() <= 1e-2);
    CHECK(p["n"].is_number_integer());
    CHECK(p["n"].get<int>() >= 1);
    CHECK(p["n"].get<int>() <= 100);
    CHECK((p["dim"] == 32 || p["dim"] == 64 || p["dim"] == 128));
  }
  CHECK(distinct.size() == 20);
  // A suggestion depends on the trial number, not on what came before it:
  // a resumed sweep continues the same sequence.
  auto s = sampler_for(spec(SweepMethod::Random, params, 7));
  CHECK(*s->suggest(std::vector<TrialRecord>(13)) == a[13]);
}

TEST_CASE("SweepSampler.RandomDrawsLogScaleLogUniformly") {
  auto s = sampler_for(spec(SweepMethod::Random, {range("lr", 1e-4, 1e-2, true)}, 3));
  std::vector<TrialRecord> history;
  int below = 0;
  const int n = 4000;
  for (int i = 0; i < n; ++i) {
    if (s->suggest(history).value()["lr"].get<double>() < 1e-3) ++below;  // 1e-3: the middle in log space
    history.emplace_back();
  }
  CHECK(below > n * 0.46);
  CHECK(below < n * 0.54);  // uniform on a linear scale would put ~9% below
}

TEST_CASE("SweepSampler.RngDistributions") {
  Rng rng(11);
  std::vector<int> counts(5, 0);
  double sum = 0, sum2 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    ++counts[static_cast<size_t>(rng.uniform_int(0, 4))];
    const double z = rng.normal();
    sum += z;
    sum2 += z * z;
  }
  for (int c : counts) CHECK(std::abs(c - n / 5) < n / 50);
  CHECK(std::abs(sum / n) < 0.03);
  CHECK(std::abs(sum2 / n - 1) < 0.05);
  CHECK(rng.choose({0, 0, 1}) == 2);
}

TEST_CASE("SweepSampler.TpeIsReproducibleAndStaysInTheSpace") {
  const std::vector<SweepParam> params = {range("x", -5, 10), int_range("n", 1, 64, true), values("act", {"relu", "tanh"})};
  auto f = [](const Value& p) { return -std::abs(p["x"].get<double>() - 2) - (p["act"] == "tanh" ? 1 : 0); };
  auto run = [&](uint64_t seed) {
    SweepSpec sp = spec(SweepMethod::Tpe, params, seed);
    return run_sequential(*sampler_for(sp), 30, f);
  };
  auto a = run(1), b = run(1), c = run(2);
  REQUIRE(a.size() == 30);
  for (size_t i = 0; i < a.size(); ++i) CHECK(a[i].params == b[i].params);
  bool differs = false;
  for (size_t i = 0; i < a.size(); ++i) differs = differs || a[i].params != c[i].params;
  CHECK(differs);
  for (const auto& t : a) {
    CHECK(t.params["x"].get<double>() >= -5);
    CHECK(t.params["x"].get<double>() <= 10);
    CHECK(t.params["n"].is_number_integer());
    CHECK(t.params["n"].get<int>() >= 1);
    CHECK(t.params["n"].get<int>() <= 64);
  }
}

TEST_CASE("SweepSampler.TpeFollowsTheGoal") {
  // f(x) = x on [0, 1]: after the 10 random start-up trials, TPE's
  // suggestions move to the end the goal asks for, and to the better value.
  for (SweepGoal goal : {SweepGoal::Maximize, SweepGoal::Minimize}) {
    double late_sum = 0;
    int tanh = 0;
    for (uint64_t seed = 0; seed < 10; ++seed) {
      SweepSpec sp = spec(SweepMethod::Tpe, {range("x", 0, 1), values("act", {"relu", "tanh", "gelu"})}, seed);
      sp.goal = goal;
      auto h = run_sequential(*sampler_for(sp), 40, [](const Value& p) {
        return p["x"].get<double>() + (p["act"] == "tanh" ? 0.5 : 0.0);
      });
      for (size_t i = 30; i < 40; ++i) {
        late_sum += h[i].params["x"].get<double>();
        tanh += h[i].params["act"] == "tanh";
      }
    }
    const double late_mean = late_sum / 100;
    if (goal == SweepGoal::Maximize) {
      CHECK(late_mean > 0.75);
      CHECK(tanh > 60);  // random: about 33 of 100
    } else {
      CHECK(late_mean < 0.25);
      CHECK(tanh < 15);
    }
  }
}

TEST_CASE("SweepSampler.TpeBeatsRandomOnBranin") {
  // The mean over 20 seeds of the best Branin value (minimum 0.398) after 50
  // trials, the first 10 of TPE's random. When written, random search
  // averaged 1.34 and TPE 0.83 (after 30 trials 1.85 and 1.70: TPE needs
  // trials past its start-up to pull ahead); seeds 100..119 gave 1.58 and 0.81.
  const std::vector<SweepParam> params = {range("x", -5, 10), range("y", 0, 15)};
  double tpe = 0, random = 0;
  const int seeds = 20;
  for (uint64_t seed = 0; seed < seeds; ++seed) {
    SweepSpec sp = spec(SweepMethod::Tpe, params, seed);
    sp.goal = SweepGoal::Minimize;
    tpe += best_of(run_sequential(*sampler_for(sp), 50, branin));
    sp.method = SweepMethod::Random;
    random += best_of(run_sequential(*sampler_for(sp), 50, branin));
  }
  tpe /= seeds;
  random /= seeds;
  MESSAGE("mean best after 50 trials: tpe " << tpe << ", random " << random);
  CHECK(tpe < 0.8 * random);
}

TEST_CASE("SweepSampler.TpeWeightsAndGamma") {
  CHECK(tpe_gamma(1) == 1);
  CHECK(tpe_gamma(10) == 1);
  CHECK(tpe_gamma(11) == 2);
  CHECK(tpe_gamma(1000) == 25);
  CHECK(tpe_weights(3) == std::vector<double>{1, 1, 1});
  auto w = tpe_weights(30);  // 5 ramping from 1/30 to 1, then 25 ones
  CHECK(w.size() == 30);
  CHECK(w[0] == doctest::Approx(1.0 / 30));
  CHECK(w[4] == doctest::Approx(1.0));
  CHECK(w[2] == doctest::Approx((1.0 / 30 + 1) / 2));
  CHECK(w[29] == 1);
}

TEST_CASE("SweepSampler.ParzenIsADensityOverTheRange") {
  Parzen p = Parzen::fit({0.2, 0.25, 0.9}, {1, 1, 1}, 0, 1, 1.0);
  // Integrates to 1 over [lo, hi] and peaks near the cluster of observations.
  double integral = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) integral += std::exp(p.log_pdf((i + 0.5) / n)) / n;
  CHECK(integral == doctest::Approx(1.0).epsilon(0.01));
  CHECK(p.log_pdf(0.22) > p.log_pdf(0.6));
  Rng rng(1);
  for (int i = 0; i < 1000; ++i) {
    const double x = p.sample(rng);
    CHECK(x >= 0);
    CHECK(x <= 1);
  }
}

TEST_CASE("SweepSampler.BestTrialIsTheBestThatSucceeded") {
  const std::vector<TrialRecord> h = {
      {Value::object(), 0.7, TrialStatus::Succeeded},
      {Value::object(), 0.9, TrialStatus::Stopped},    // stopped early: not final
      {Value::object(), std::nullopt, TrialStatus::Failed},
      {Value::object(), 0.8, TrialStatus::Succeeded},
      {Value::object(), 0.8, TrialStatus::Succeeded},  // equal: the first stays
      {Value::object(), 0.95, TrialStatus::Running},
  };
  CHECK(best_trial(h, SweepGoal::Maximize) == 3);
  CHECK(best_trial(h, SweepGoal::Minimize) == 0);
  CHECK_FALSE(best_trial({h[1], h[2], h[5]}, SweepGoal::Maximize).has_value());
}
