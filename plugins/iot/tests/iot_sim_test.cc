// The AI4I 2020 generator against the published counts (10,000 rows, 339
// failures: TWF 46, HDF 115, PWF 95, OSF 98, RNF 19), over a large seeded sample.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <unistd.h>

#include "iot_sim.h"

namespace iot = ctflow::iot;

namespace {
double pct(int64_t n, int64_t rows) { return 100.0 * static_cast<double>(n) / static_cast<double>(rows); }
}  // namespace

TEST_CASE("failure-mode rates match the published AI4I 2020 counts within a few tenths of a percent") {
  iot::SimOptions o;
  o.rows = 400000;
  o.seed = 7;
  const auto c = iot::count_failures(iot::simulate(o));
  MESSAGE("failures " << pct(c.failures, c.rows) << "% TWF " << pct(c.twf, c.rows) << "% HDF " << pct(c.hdf, c.rows)
                      << "% PWF " << pct(c.pwf, c.rows) << "% OSF " << pct(c.osf, c.rows) << "% RNF "
                      << pct(c.rnf, c.rows) << "%");
  // Published rates in percent of 10,000 rows; tolerance: 0.2 points a mode.
  // The total is checked to 0.35: the published set marks only 1 of its 19
  // random failures as a machine failure, where the process (and this
  // generator) fails the machine on every one.
  const std::map<std::string, std::pair<int64_t, double>> want = {
      {"failures", {c.failures, 3.39}}, {"TWF", {c.twf, 0.46}}, {"HDF", {c.hdf, 1.15}},
      {"PWF", {c.pwf, 0.95}},           {"OSF", {c.osf, 0.98}}, {"RNF", {c.rnf, 0.19}}};
  for (const auto& [name, v] : want) {
    INFO(name << ": " << pct(v.first, c.rows) << "% against " << v.second << "% published");
    CHECK(std::abs(pct(v.first, c.rows) - v.second) < (name == "failures" ? 0.35 : 0.2));
  }
}

TEST_CASE("the generator is seeded, typed and physical") {
  iot::SimOptions o;
  o.rows = 20000;
  const auto a = iot::simulate(o), b = iot::simulate(o);
  REQUIRE(a.size() == 20000);
  std::map<char, int64_t> types;
  double torque_min = 1e9;
  for (size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].rpm == b[i].rpm);  // same seed, same rows
    ++types[a[i].type];
    torque_min = std::min(torque_min, a[i].torque_nm);
    CHECK(a[i].tool_wear_min <= 245);
  }
  CHECK(torque_min >= 0);
  CHECK(std::abs(pct(types['L'], 20000) - 50) < 2);
  CHECK(std::abs(pct(types['M'], 20000) - 30) < 2);
  CHECK(std::abs(pct(types['H'], 20000) - 20) < 2);
  o.seed = 43;
  CHECK(iot::simulate(o)[5].rpm != a[5].rpm);
}

TEST_CASE("a drift period moves the process temperature and the product mix") {
  iot::SimOptions o;
  o.rows = 20000;
  o.drift_rows = 10000;
  o.drift_offset = 3.0;
  o.drift_h_share = 0.6;
  const auto r = iot::simulate(o);
  o.drift_rows = 0;
  const auto base = iot::simulate(o);  // the same seed without the drift
  int64_t h1 = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    CHECK(r[i].process_temp_k - base[i].process_temp_k == doctest::Approx(i < 10000 ? 0.0 : 3.0));
    if (i >= 10000) h1 += r[i].type == 'H';
  }
  CHECK(std::abs(pct(h1, 10000) - 60) < 2);
}

TEST_CASE("the SQL source holds every reading, and an existing file is an error") {
  const auto dir = std::filesystem::temp_directory_path() / ("iot_sim_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string db = (dir / "raw.db").string();
  iot::SimOptions o;
  o.rows = 2000;
  const auto r = iot::simulate(o);
  iot::write_sqlite(db, r);
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, "SELECT count(*), sum(machine_failure) FROM readings", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK(sqlite3_column_int64(st, 0) == 2000);
  CHECK(sqlite3_column_int64(st, 1) == iot::count_failures(r).failures);
  sqlite3_finalize(st);
  sqlite3_close(h);
  CHECK_THROWS_WITH(iot::write_sqlite(db, r), doctest::Contains("already exists"));
  std::filesystem::remove_all(dir);
}
