// Drift statistics (base/drift.h) on inputs whose answers are derived by hand
// in the comments: PSI with Evidently's zero fill and threshold, the two-sample
// KS statistic and its asymptotic p-value, and profile comparison.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "base/drift.h"

using namespace ctflow::drift;
using Json = nlohmann::json;

TEST_CASE("PSI of shares, by hand") {
  // shares (0.5, 0.5) -> (0.25, 0.75): (0.25-0.5) ln(0.25/0.5) + (0.75-0.5) ln(0.75/0.5)
  //   = 0.25 ln 2 + 0.25 ln 1.5 = 0.25 ln 3
  CHECK(psi({50, 50}, {25, 75}) == doctest::Approx(0.25 * std::log(3.0)));
  CHECK(psi({1, 1}, {1, 3}) == doctest::Approx(0.25 * std::log(3.0)));  // counts are normalised
  CHECK(psi({3, 5, 2}, {30, 50, 20}) == doctest::Approx(0.0));
  // PSI is symmetric: (c - r) ln(c / r) = (r - c) ln(r / c)
  CHECK(psi({25, 75}, {50, 50}) == doctest::Approx(psi({50, 50}, {25, 75})));
  // An empty bin counts as a share of 0.0001 (Evidently): (1, 0) -> (0, 1):
  //   (1e-4 - 1) ln(1e-4) + (1 - 1e-4) ln(1e4) = 2 (1 - 1e-4) ln(1e4)
  CHECK(psi({1, 0}, {0, 1}) == doctest::Approx(2 * (1 - 1e-4) * std::log(1e4)));
  CHECK(psi({0, 0}, {1, 1}) == 0.0);  // nothing to compare
}

TEST_CASE("KS statistic and p-value, by hand") {
  // ECDFs of {1,2,3,4} and {3,4,5,6} at 1..6: a = .25 .5 .75 1 1 1, b = 0 0 .25 .5 .75 1;
  // the largest gap is 0.5. n m / (n + m) = 2, lambda = sqrt(2) / 2;
  // Q(lambda) = 2 (e^-1 - e^-4 + e^-9 - e^-16 ...)
  auto r = ks_2samp({1, 2, 3, 4}, {3, 4, 5, 6});
  CHECK(r.statistic == doctest::Approx(0.5));
  const double q = 2 * (std::exp(-1.0) - std::exp(-4.0) + std::exp(-9.0) - std::exp(-16.0));
  CHECK(r.p_value == doctest::Approx(q).epsilon(1e-9));
  // Ties: every value equal to x is counted before the gap is measured.
  CHECK(ks_2samp({1, 1, 2, 2}, {1, 2}).statistic == doctest::Approx(0.0));
  CHECK(ks_2samp({1, 2, 3}, {1, 2, 3}).p_value == doctest::Approx(1.0));
  CHECK(ks_2samp({1, 2, 3}, {4, 5, 6}).statistic == doctest::Approx(1.0));
  // Published values of the Kolmogorov distribution: Q(1.3581) = 0.05 (the 5 %
  // critical value in Smirnov's table), Q(1) = 0.27.
  CHECK(kolmogorov_sf(1.3581) == doctest::Approx(0.05).epsilon(1e-3));
  CHECK(kolmogorov_sf(1.0) == doctest::Approx(0.27).epsilon(1e-3));
  CHECK(kolmogorov_sf(0.0) == 1.0);
  CHECK(kolmogorov_sf(10.0) < 1e-80);
}

TEST_CASE("KS on larger samples: a shift of the mean is found, a sample of the same values is not") {
  std::vector<double> ref, same, shifted;
  for (int i = 0; i < 1000; ++i) ref.push_back(i / 1000.0);
  for (int i = 0; i < 500; ++i) same.push_back((2 * i + 1) / 1000.0);
  for (int i = 0; i < 500; ++i) shifted.push_back((2 * i + 1) / 1000.0 * 0.5 + 0.5);  // uniform on [0.5, 1]
  CHECK(ks_2samp(ref, same).p_value > 0.9);
  // D = 0.5 (at x = 0.5 the reference is half done, the shifted sample has not started)
  CHECK(ks_2samp(ref, shifted).statistic == doctest::Approx(0.5).epsilon(1e-2));
  CHECK(ks_2samp(ref, shifted).p_value < 1e-20);
}

TEST_CASE("intensity bins and reference samples") {
  std::vector<double> h;
  const float px[] = {0.0f, 0.01f, 0.5f, 0.999f, 1.0f};
  add_intensity(px, 1, 5, h);
  REQUIRE(h.size() == static_cast<size_t>(kIntensityBins));
  CHECK(h[0] == 2);   // 0 and 0.01 (< 1/30)
  CHECK(h[15] == 1);  // 0.5 * 30 = 15
  CHECK(h[29] == 2);  // 0.999 and 1.0 (the last bin is closed)
  std::vector<double> v;
  for (int i = 9999; i >= 0; --i) v.push_back(i);
  auto s = quantile_sample(v, 1000);
  REQUIRE(s.size() == 1000);
  CHECK(s.front() == 5);   // the 0.05 % quantile of 0..9999
  CHECK(s.back() == 9995);
  CHECK(quantile_sample({3, 1, 2}, 1000) == std::vector<double>{1, 2, 3});
}

TEST_CASE("a profile compared with what was observed") {
  Json profile = {{"format", kProfileFormat},
                  {"intensity", {{"counts", {80, 10, 10}}}},
                  {"class_balance", {{"names", {"0", "1"}}, {"predicted", {50, 50}}, {"labels", {50, 50}}}},
                  {"neighbor_distance", {{"sample", {0.1, 0.2, 0.3, 0.4}}}}};
  Observed same{100, {800, 100, 100}, {49, 51}, {0.1, 0.2, 0.3, 0.4}};
  Json r = compare(profile, same, "predicted");
  CHECK(r["score"].get<double>() == 0.0);
  CHECK(r["drifted"] == false);
  CHECK(r["signals"]["intensity"]["method"] == "psi");
  CHECK(r["signals"]["neighbor_distance"]["method"] == "ks");
  // Inverted images and one class: two of three signals drift (share 2/3 >= 0.5).
  Observed inverted{100, {10, 10, 80}, {100, 0}, {0.1, 0.2, 0.3, 0.4}};
  r = compare(profile, inverted, "predicted");
  CHECK(r["signals"]["intensity"]["drifted"] == true);
  CHECK(r["signals"]["class_balance"]["drifted"] == true);
  CHECK(r["signals"]["neighbor_distance"]["drifted"] == false);
  CHECK(r["score"].get<double>() == doctest::Approx(2.0 / 3.0));
  CHECK(r["drifted"] == true);
  // Below and above Evidently's 0.1. Shares (0.5, 0.5) -> (0.5 - x, 0.5 + x):
  //   PSI = x ln((0.5 - x) / 0.5) * -1 + x ln((0.5 + x) / 0.5) = x ln((0.5 + x) / (0.5 - x))
  // x = 0.1: 0.1 ln 1.5 = 0.041 (no drift); x = 0.2: 0.2 ln(7/3) = 0.169 (drift).
  Json one = {{"format", kProfileFormat}, {"class_balance", {{"predicted", {50, 50}}}}};
  r = compare(one, Observed{100, {}, {40, 60}, {}}, "predicted");
  CHECK(r["signals"]["class_balance"]["score"].get<double>() == doctest::Approx(0.1 * std::log(1.5)));
  CHECK(r["drifted"] == false);
  r = compare(one, Observed{100, {}, {30, 70}, {}}, "predicted");
  CHECK(r["signals"]["class_balance"]["score"].get<double>() == doctest::Approx(0.2 * std::log(7.0 / 3.0)));
  CHECK(r["drifted"] == true);
  CHECK(r["score"].get<double>() == 1.0);
  // Nothing in common, or no usable profile: a null score and the reason.
  r = compare(one, Observed{100, {1, 2}, {}, {}}, "predicted");
  CHECK(r["score"].is_null());
  CHECK(r["reason"].get<std::string>().find("no signal") != std::string::npos);
  r = compare(Json{{"format", "other"}}, same, "predicted");
  CHECK(r["score"].is_null());
  CHECK(r["reason"].get<std::string>().find("format") != std::string::npos);
}
