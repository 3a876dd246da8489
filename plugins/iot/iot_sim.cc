#include "iot_sim.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <stdexcept>

namespace ctflow::iot {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr int64_t kBlock = 10000;

// A random walk of N steps, normalised to mean MEAN and standard deviation SD.
std::vector<double> random_walk(std::mt19937_64& rng, int64_t n, double mean, double sd) {
  std::normal_distribution<double> step(0.0, 1.0);
  std::vector<double> w(static_cast<size_t>(n));
  double x = 0, sum = 0, sq = 0;
  for (auto& v : w) {
    x += step(rng);
    v = x;
    sum += x;
  }
  const double mu = n > 0 ? sum / static_cast<double>(n) : 0.0;
  for (double v : w) sq += (v - mu) * (v - mu);
  const double s = n > 1 ? std::sqrt(sq / static_cast<double>(n)) : 1.0;
  for (auto& v : w) v = mean + sd * (s > 0 ? (v - mu) / s : 0.0);
  return w;
}

}  // namespace

std::vector<Reading> simulate(const SimOptions& o) {
  if (o.rows <= 0) throw std::runtime_error("iot.simulate: rows must be positive, got " + std::to_string(o.rows));
  std::mt19937_64 rng(o.seed);
  // The walks are normalised per block of 10,000 rows, the published set's size,
  // so a long sample is many published-like periods rather than one wide walk.
  std::vector<double> air, proc;
  for (int64_t at = 0; at < o.rows; at += kBlock) {
    const int64_t n = std::min<int64_t>(kBlock, o.rows - at);
    const auto a = random_walk(rng, n, 300.0, 2.0), p = random_walk(rng, n, 0.0, 1.0);
    air.insert(air.end(), a.begin(), a.end());
    proc.insert(proc.end(), p.begin(), p.end());
  }
  std::uniform_real_distribution<double> u01(0.0, 1.0), life(200.0, 240.0);
  std::normal_distribution<double> torque_d(40.0, 10.0), power_noise(0.0, 1.0);
  std::uniform_int_distribution<int> serial(10000, 99999);
  std::vector<Reading> out(static_cast<size_t>(o.rows));
  double wear = 0, tool_life = life(rng);
  for (int64_t i = 0; i < o.rows; ++i) {
    Reading& r = out[static_cast<size_t>(i)];
    const bool drifting = o.drift_rows > 0 && i >= o.rows - o.drift_rows;
    const double h_share = drifting ? o.drift_h_share : 0.2;
    const double q = u01(rng);
    r.type = q < h_share ? 'H' : q < h_share + (1 - h_share) * 0.375 ? 'M' : 'L';
    r.udi = i + 1;
    r.ts = o.start_epoch + 60 * i;
    r.product_id = std::string(1, r.type) + std::to_string(serial(rng));
    r.air_temp_k = air[static_cast<size_t>(i)];
    r.process_temp_k = r.air_temp_k + 10.0 + proc[static_cast<size_t>(i)] + (drifting ? o.drift_offset : 0.0);
    // Torque N(40, 10) Nm, never negative; the speed comes from the machine's
    // power (its nominal 2,860 W scaled to the published speeds, 1,538 rpm at
    // 40 Nm) with normal noise; the constants are calibrated so that each failure
    // mode's rate matches the published counts (tests/iot_sim_test.cc).
    r.torque_nm = std::max(3.8, torque_d(rng));
    const double base_w = 6442.0 * (1.0 + 0.03 * power_noise(rng));
    const double omega = base_w / (40.0 + 0.43 * (r.torque_nm - 40.0));
    r.rpm = std::round(omega * 60.0 / (2 * kPi));
    // Tool wear: +5/+3/+2 min for H/M/L. The tool is replaced, or fails, at a
    // random wear between 200 and 240 min.
    wear += r.type == 'H' ? 5 : r.type == 'M' ? 3 : 2;
    r.tool_wear_min = wear;
    if (wear >= tool_life) {
      r.twf = u01(rng) < 0.35;  // fails rather than being replaced: 46 in the published set
      wear = 0;
      tool_life = life(rng);
    }
    const double omega_rad = r.rpm * 2 * kPi / 60.0;
    r.hdf = (r.process_temp_k - r.air_temp_k) < 8.6 && r.rpm < 1380;
    const double power = r.torque_nm * omega_rad;
    r.pwf = power < 3500 || power > 9000;
    const double osf_limit = r.type == 'L' ? 11000 : r.type == 'M' ? 12000 : 13000;
    r.osf = r.tool_wear_min * r.torque_nm > osf_limit;
    r.rnf = u01(rng) < o.random_failure_rate;
  }
  return out;
}

FailureCounts count_failures(const std::vector<Reading>& readings) {
  FailureCounts c;
  for (const auto& r : readings) {
    ++c.rows;
    c.failures += r.failure();
    c.twf += r.twf;
    c.hdf += r.hdf;
    c.pwf += r.pwf;
    c.osf += r.osf;
    c.rnf += r.rnf;
  }
  return c;
}

void write_sqlite(const std::string& path, const std::vector<Reading>& readings) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) throw std::runtime_error("iot.simulate: '" + path + "' already exists");
  sqlite3* db = nullptr;
  auto fail = [&](const std::string& what) {
    std::string msg = "iot.simulate: cannot write '" + path + "': " + what + ": " + (db ? sqlite3_errmsg(db) : "");
    if (db) sqlite3_close(db);
    std::filesystem::remove(path, ec);
    throw std::runtime_error(msg);
  };
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) fail("open");
  const char* ddl =
      "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; BEGIN;"
      "CREATE TABLE readings (udi INTEGER PRIMARY KEY, ts INTEGER NOT NULL, product_id TEXT NOT NULL,"
      " type TEXT NOT NULL, air_temp_k REAL, process_temp_k REAL, rpm REAL, torque_nm REAL,"
      " tool_wear_min REAL, machine_failure INTEGER NOT NULL, twf INTEGER, hdf INTEGER, pwf INTEGER,"
      " osf INTEGER, rnf INTEGER);";
  if (sqlite3_exec(db, ddl, nullptr, nullptr, nullptr) != SQLITE_OK) fail("create table");
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO readings VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, nullptr) != SQLITE_OK)
    fail("prepare");
  for (const auto& r : readings) {
    const std::string type(1, r.type);
    sqlite3_bind_int64(st, 1, r.udi);
    sqlite3_bind_int64(st, 2, r.ts);
    sqlite3_bind_text(st, 3, r.product_id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, type.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 5, std::round(r.air_temp_k * 10) / 10);
    sqlite3_bind_double(st, 6, std::round(r.process_temp_k * 10) / 10);
    sqlite3_bind_double(st, 7, r.rpm);
    sqlite3_bind_double(st, 8, std::round(r.torque_nm * 10) / 10);
    sqlite3_bind_double(st, 9, r.tool_wear_min);
    const bool flags[] = {r.failure(), r.twf, r.hdf, r.pwf, r.osf, r.rnf};
    for (int k = 0; k < 6; ++k) sqlite3_bind_int(st, 10 + k, flags[k] ? 1 : 0);
    if (sqlite3_step(st) != SQLITE_DONE) {
      sqlite3_finalize(st);
      fail("insert");
    }
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  if (sqlite3_exec(db, "COMMIT;", nullptr, nullptr, nullptr) != SQLITE_OK) fail("commit");
  sqlite3_close(db);
}

}  // namespace ctflow::iot
