// The search space of a sweep: a portable random source, drawing a parameter
// uniformly, and the points of a grid. Pure functions: no clock, no I/O.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "engine/ir.h"
#include "base/status.h"

namespace ctflow::sweep {

// std::mt19937_64's output is fixed by the C++ standard; the distributions
// of <random> are not (libstdc++ and libc++ give different numbers), so the
// ones a sweep needs are here. Same seed, same numbers, on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  // The generator for trial number TRIAL of a sweep seeded with SEED: a
  // suggestion depends only on (seed, trial number, history), so a resumed
  // sweep suggests what the first run would have.
  static Rng for_trial(uint64_t seed, uint64_t trial);

  uint64_t next() { return gen_(); }
  double uniform();                              // [0, 1), 53 random bits
  double uniform(double lo, double hi);          // [lo, hi)
  int64_t uniform_int(int64_t lo, int64_t hi);   // [lo, hi], no modulo bias
  double normal();                               // standard normal (Box-Muller)
  // An index drawn with probability proportional to WEIGHTS (non-negative,
  // not all zero).
  size_t choose(const std::vector<double>& weights);

 private:
  std::mt19937_64 gen_;
};

// A parameter's value drawn uniformly from its range (log-uniformly on a log
// scale) or its values: a JSON integer for Int, a double for Float.
Value sample_uniform(const SweepParam& p, Rng& rng);

// A parameter's grid points in order: the values as written; a range's
// points from min to max by `step` (linear scale) or `count` points (evenly
// spaced, in log space on a log scale); an Int range without either steps by 1.
// Errors say which of step or count to add.
Result<std::vector<Value>> grid_values(const SweepParam& p);

// The grid's combinations in order: the first parameter outermost, the last
// varying fastest (as nested loops over the parameters in the order they are
// written, or Python's itertools.product).
class Grid {
 public:
  static Result<Grid> make(const std::vector<SweepParam>& params);
  uint64_t size() const { return size_; }   // saturates at UINT64_MAX
  Value point(uint64_t index) const;        // index < size()

 private:
  std::vector<std::string> names_;
  std::vector<std::vector<Value>> axes_;
  uint64_t size_ = 0;
};

// Numeric value of a JSON parameter value (int or float); false when not a number.
bool as_number(const Value& v, double* out);

}  // namespace ctflow::sweep
