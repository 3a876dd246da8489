#include "engine/sweep/space.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace ctflow::sweep {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr uint64_t kMaxAxisPoints = 1000000;

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// X with 12 significant digits: 0.1 + 2 * 0.1 is 0.3 on the grid, not 0.30000000000000004.
double tidy(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::general, 12);
  double out = x;
  std::from_chars(buf, r.ptr, out);
  return out;
}

std::string short_number(double x) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, x, std::chars_format::general, 3);
  return std::string(buf, r.ptr);
}

Value number_value(const SweepParam& p, double x) {
  if (p.kind == SweepParam::Kind::Int)
    return Value(static_cast<int64_t>(std::llround(std::clamp(x, p.min, p.max))));
  return Value(std::clamp(x, p.min, p.max));
}

}  // namespace

Rng Rng::for_trial(uint64_t seed, uint64_t trial) { return Rng(splitmix64(splitmix64(seed) ^ trial)); }

double Rng::uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }

double Rng::uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }

int64_t Rng::uniform_int(int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  const uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;  // 0: the whole range
  uint64_t x = gen_();
  if (range != 0) {
    const uint64_t limit = std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
    while (x >= limit) x = gen_();
    x %= range;
  }
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x);
}

double Rng::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

size_t Rng::choose(const std::vector<double>& weights) {
  double total = 0;
  for (double w : weights) total += w;
  double r = uniform() * total;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (r < weights[i]) return i;
    r -= weights[i];
  }
  // Rounding left R at the top: the last index with weight.
  for (size_t i = weights.size(); i-- > 0;)
    if (weights[i] > 0) return i;
  return 0;
}

Value sample_uniform(const SweepParam& p, Rng& rng) {
  switch (p.kind) {
    case SweepParam::Kind::Categorical:
      if (p.values.empty()) return Value();
      return p.values[static_cast<size_t>(rng.uniform_int(0, static_cast<int64_t>(p.values.size()) - 1))];
    case SweepParam::Kind::Int:
      if (!p.log) return Value(rng.uniform_int(static_cast<int64_t>(p.min), static_cast<int64_t>(p.max)));
      // Log-uniform over [min - 0.5, max + 0.5), rounded: each integer gets
      // the mass of its half-open neighbourhood, as Optuna's log IntDistribution.
      return number_value(p, std::exp(rng.uniform(std::log(p.min - 0.5), std::log(p.max + 0.5))));
    case SweepParam::Kind::Float:
      if (!p.log) return number_value(p, rng.uniform(p.min, p.max));
      return number_value(p, std::exp(rng.uniform(std::log(p.min), std::log(p.max))));
  }
  return Value();
}

Result<std::vector<Value>> grid_values(const SweepParam& p) {
  const std::string where = "parameter '" + p.name + "'";
  if (p.kind == SweepParam::Kind::Categorical) {
    if (p.values.empty()) return Status::InvalidArgument(where + " has no values");
    return p.values;
  }
  if (!(p.min < p.max)) return Status::InvalidArgument(where + ": min must be less than max");
  std::vector<Value> out;
  auto push = [&](double x) {
    Value v = number_value(p, p.kind == SweepParam::Kind::Float ? tidy(x) : x);
    if (out.empty() || out.back() != v) out.push_back(std::move(v));  // an Int log grid can round twice to one value
  };
  if (p.count >= 2) {
    if (static_cast<uint64_t>(p.count) > kMaxAxisPoints) return Status::InvalidArgument(where + ": count is too large");
    const double lo = p.log ? std::log(p.min) : p.min, hi = p.log ? std::log(p.max) : p.max;
    for (int i = 0; i < p.count; ++i) {
      double t = lo + (hi - lo) * i / (p.count - 1);
      if (i == p.count - 1) t = hi;
      push(p.log ? (i == 0 ? p.min : i == p.count - 1 ? p.max : std::exp(t)) : t);
    }
    return out;
  }
  if (p.log)
    return Status::InvalidArgument(where + ": a grid over a log scale needs 'count' (how many points from min to max), "
                                 "e.g. count: 5");
  double step = p.step;
  if (step <= 0) {
    if (p.kind == SweepParam::Kind::Float)
      return Status::InvalidArgument(where + ": a grid over a float range needs 'step' or 'count', e.g. step: " +
                           short_number((p.max - p.min) / 4) + " or count: 5");
    step = 1;
  }
  const double n = std::floor((p.max - p.min) / step + 1e-9) + 1;
  if (!(n <= static_cast<double>(kMaxAxisPoints)))
    return Status::InvalidArgument(where + ": the grid has too many points (over " + std::to_string(kMaxAxisPoints) +
                         "): use a larger step");
  for (int64_t i = 0; i < static_cast<int64_t>(n); ++i) push(p.min + static_cast<double>(i) * step);
  return out;
}

Result<Grid> Grid::make(const std::vector<SweepParam>& params) {
  if (params.empty()) return Status::InvalidArgument("a grid needs at least one parameter");
  Grid g;
  g.size_ = 1;
  for (const auto& p : params) {
    auto values = grid_values(p);
    if (!values.ok()) return values.status();
    const uint64_t n = values->size();
    g.size_ = g.size_ > std::numeric_limits<uint64_t>::max() / n ? std::numeric_limits<uint64_t>::max() : g.size_ * n;
    g.names_.push_back(p.name);
    g.axes_.push_back(std::move(*values));
  }
  return g;
}

Value Grid::point(uint64_t index) const {
  Value out = Value::object();
  for (size_t i = axes_.size(); i-- > 0;) {
    const uint64_t n = axes_[i].size();
    out[names_[i]] = axes_[i][index % n];
    index /= n;
  }
  return out;
}

bool as_number(const Value& v, double* out) {
  if (!v.is_number()) return false;
  *out = v.get<double>();
  return true;
}

}  // namespace ctflow::sweep
