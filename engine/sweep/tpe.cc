#include "engine/sweep/tpe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace ctflow::sweep {
namespace {

constexpr double kLogSqrt2Pi = 0.91893853320467274178;  // log(sqrt(2 pi))

double normal_cdf(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

double log_sum_exp(const std::vector<double>& xs) {
  double m = -std::numeric_limits<double>::infinity();
  for (double x : xs) m = std::max(m, x);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double x : xs) s += std::exp(x - m);
  return m + std::log(s);
}

struct Observation {
  size_t trial;
  double objective;
  bool stopped;
};

// The finished trials split into good (the best gamma(n), Succeeded ranked
// before Stopped) and bad, each in trial order.
void split(const std::vector<TrialRecord>& history, SweepGoal goal, std::vector<size_t>* good,
           std::vector<size_t>* bad) {
  std::vector<Observation> obs;
  for (size_t i = 0; i < history.size(); ++i) {
    const auto& t = history[i];
    if (!t.objective || !std::isfinite(*t.objective)) continue;
    if (t.status != TrialStatus::Succeeded && t.status != TrialStatus::Stopped) continue;
    obs.push_back({i, goal == SweepGoal::Maximize ? -*t.objective : *t.objective, t.status == TrialStatus::Stopped});
  }
  std::stable_sort(obs.begin(), obs.end(), [](const Observation& a, const Observation& b) {
    if (a.stopped != b.stopped) return !a.stopped;
    return a.objective < b.objective;
  });
  const size_t n_good = static_cast<size_t>(tpe_gamma(static_cast<int>(obs.size())));
  for (size_t i = 0; i < obs.size(); ++i) (i < n_good ? good : bad)->push_back(obs[i].trial);
  std::sort(good->begin(), good->end());
  std::sort(bad->begin(), bad->end());
}

// The range of a numeric parameter in the space the estimator works in:
// log on a log scale; an Int's integers own [k - 0.5, k + 0.5].
void numeric_bounds(const SweepParam& p, double* lo, double* hi) {
  const double pad = p.kind == SweepParam::Kind::Int ? 0.5 : 0.0;
  *lo = p.min - pad;
  *hi = p.max + pad;
  if (p.log) {
    *lo = std::log(*lo);
    *hi = std::log(*hi);
  }
}

// Where trial TRIALS[i] put P, in the estimator's space; trials without a
// usable value (a space changed under a resumed sweep) are left out.
void numeric_observations(const SweepParam& p, const std::vector<TrialRecord>& history,
                          const std::vector<size_t>& trials, std::vector<double>* xs, std::vector<double>* ws) {
  const std::vector<double> weights = tpe_weights(static_cast<int>(trials.size()));
  for (size_t i = 0; i < trials.size(); ++i) {
    const Value& params = history[trials[i]].params;
    double x = 0;
    if (!params.is_object() || !params.contains(p.name) || !as_number(params[p.name], &x)) continue;
    if (x < p.min || x > p.max || (p.log && x <= 0)) continue;
    xs->push_back(p.log ? std::log(x) : x);
    ws->push_back(weights[i]);
  }
}

Value suggest_numeric(const SweepParam& p, const std::vector<TrialRecord>& history, const std::vector<size_t>& good,
                      const std::vector<size_t>& bad, const TpeOptions& o, Rng& rng) {
  double lo = 0, hi = 0;
  numeric_bounds(p, &lo, &hi);
  std::vector<double> gx, gw, bx, bw;
  numeric_observations(p, history, good, &gx, &gw);
  numeric_observations(p, history, bad, &bx, &bw);
  const Parzen l = Parzen::fit(gx, gw, lo, hi, o.prior_weight);
  const Parzen g = Parzen::fit(bx, bw, lo, hi, o.prior_weight);
  double best_x = l.sample(rng);
  double best_score = l.log_pdf(best_x) - g.log_pdf(best_x);
  for (int i = 1; i < o.n_ei_candidates; ++i) {
    const double x = l.sample(rng);
    const double score = l.log_pdf(x) - g.log_pdf(x);
    if (score > best_score) {
      best_score = score;
      best_x = x;
    }
  }
  double x = p.log ? std::exp(best_x) : best_x;
  x = std::clamp(x, p.min, p.max);
  if (p.kind == SweepParam::Kind::Int) return Value(static_cast<int64_t>(std::clamp(std::round(x), p.min, p.max)));
  return Value(x);
}

// A weighted histogram over the values: the prior spreads PRIOR_WEIGHT evenly.
std::vector<double> categorical_probs(const SweepParam& p, const std::vector<TrialRecord>& history,
                                      const std::vector<size_t>& trials, double prior_weight) {
  const size_t k = p.values.size();
  std::vector<double> probs(k, prior_weight / static_cast<double>(k));
  const std::vector<double> weights = tpe_weights(static_cast<int>(trials.size()));
  for (size_t i = 0; i < trials.size(); ++i) {
    const Value& params = history[trials[i]].params;
    if (!params.is_object() || !params.contains(p.name)) continue;
    auto it = std::find(p.values.begin(), p.values.end(), params[p.name]);
    if (it != p.values.end()) probs[static_cast<size_t>(it - p.values.begin())] += weights[i];
  }
  const double total = std::accumulate(probs.begin(), probs.end(), 0.0);
  for (double& q : probs) q /= total;
  return probs;
}

Value suggest_categorical(const SweepParam& p, const std::vector<TrialRecord>& history,
                          const std::vector<size_t>& good, const std::vector<size_t>& bad, const TpeOptions& o,
                          Rng& rng) {
  if (p.values.empty()) return Value();
  const std::vector<double> l = categorical_probs(p, history, good, o.prior_weight);
  const std::vector<double> g = categorical_probs(p, history, bad, o.prior_weight);
  size_t best = rng.choose(l);
  double best_score = std::log(l[best]) - std::log(g[best]);
  for (int i = 1; i < o.n_ei_candidates; ++i) {
    const size_t c = rng.choose(l);
    const double score = std::log(l[c]) - std::log(g[c]);
    if (score > best_score) {
      best_score = score;
      best = c;
    }
  }
  return p.values[best];
}

}  // namespace

int tpe_gamma(int n) { return std::min(static_cast<int>(std::ceil(0.1 * n)), 25); }

std::vector<double> tpe_weights(int n) {
  std::vector<double> w(static_cast<size_t>(std::max(n, 0)), 1.0);
  if (n < 25) return w;
  const int ramp = n - 25;  // linspace(1/n, 1, ramp)
  for (int i = 0; i < ramp; ++i)
    w[static_cast<size_t>(i)] = ramp == 1 ? 1.0 / n : 1.0 / n + (1.0 - 1.0 / n) * i / (ramp - 1);
  return w;
}

Parzen Parzen::fit(const std::vector<double>& observations, const std::vector<double>& weights, double lo, double hi,
                   double prior_weight) {
  Parzen p;
  p.lo = lo;
  p.hi = hi;
  const size_t n = observations.size();
  p.mus = observations;
  p.sigmas.assign(n, hi - lo);
  if (n > 0) {
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return observations[a] < observations[b]; });
    std::vector<double> s = {lo};  // sorted, with the ends
    for (size_t i : order) s.push_back(observations[i]);
    s.push_back(hi);
    for (size_t j = 1; j <= n; ++j) {
      double sigma = std::max(s[j] - s[j - 1], s[j + 1] - s[j]);
      // consider_endpoints=False: the outermost trials look inward only.
      if (n >= 2 && j == 1) sigma = s[2] - s[1];
      if (n >= 2 && j == n) sigma = s[n] - s[n - 1];
      p.sigmas[order[j - 1]] = sigma;
    }
  }
  const double max_sigma = hi - lo;
  const double min_sigma = (hi - lo) / std::min(100.0, 1.0 + static_cast<double>(n + 1));
  for (double& s : p.sigmas) s = std::clamp(s, min_sigma, max_sigma);
  p.weights = weights;
  p.weights.resize(n, 1.0);
  p.mus.push_back(0.5 * (lo + hi));
  p.sigmas.push_back(hi - lo);
  p.weights.push_back(prior_weight);
  const double total = std::accumulate(p.weights.begin(), p.weights.end(), 0.0);
  for (double& w : p.weights) w /= total;
  return p;
}

double Parzen::sample(Rng& rng) const {
  const size_t k = rng.choose(weights);
  for (int tries = 0; tries < 100; ++tries) {
    const double x = mus[k] + sigmas[k] * rng.normal();
    if (x >= lo && x <= hi) return x;
  }
  return std::clamp(mus[k], lo, hi);
}

double Parzen::log_pdf(double x) const {
  std::vector<double> terms(mus.size());
  for (size_t k = 0; k < mus.size(); ++k) {
    const double z = (x - mus[k]) / sigmas[k];
    const double mass = std::max(normal_cdf((hi - mus[k]) / sigmas[k]) - normal_cdf((lo - mus[k]) / sigmas[k]), 1e-300);
    terms[k] = std::log(weights[k]) - 0.5 * z * z - kLogSqrt2Pi - std::log(sigmas[k]) - std::log(mass);
  }
  return log_sum_exp(terms);
}

std::optional<Value> TpeSampler::suggest(const std::vector<TrialRecord>& history) const {
  Rng rng = Rng::for_trial(seed_, history.size());
  std::vector<size_t> good, bad;
  split(history, options_.goal, &good, &bad);
  Value out = Value::object();
  const bool startup = static_cast<int>(good.size() + bad.size()) < options_.n_startup_trials;
  for (const auto& p : params_) {
    if (startup) out[p.name] = sample_uniform(p, rng);
    else if (p.kind == SweepParam::Kind::Categorical) out[p.name] = suggest_categorical(p, history, good, bad, options_, rng);
    else out[p.name] = suggest_numeric(p, history, good, bad, options_, rng);
  }
  return out;
}

}  // namespace ctflow::sweep
