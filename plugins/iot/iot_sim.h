// The AI4I 2020 predictive-maintenance process (Matzka, 2020; UCI data set
// 601), as a seeded generator: the SQL source of workflows/iot-maintenance.yaml.
// No XGBoost and no ctflow here, so the unit test reaches it alone.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ctflow::iot {

struct SimOptions {
  int64_t rows = 10000;
  uint64_t seed = 42;
  int64_t start_epoch = 1577836800;  // 2020-01-01T00:00:00Z; one process a minute
  // A later period in which a sensor drifts: the last DRIFT_ROWS rows read the
  // process temperature DRIFT_OFFSET kelvin higher and have H products at
  // DRIFT_H_SHARE (L and M keep their 5:3 ratio). 0 rows: no drift.
  int64_t drift_rows = 0;
  double drift_offset = 0.0;
  double drift_h_share = 0.2;
  double random_failure_rate = 0.0019;  // RNF: 19 in the published 10,000 rows
};

struct Reading {
  int64_t udi = 0, ts = 0;
  std::string product_id;  // "L12345"
  char type = 'L';         // L, M, H
  double air_temp_k = 0, process_temp_k = 0, rpm = 0, torque_nm = 0, tool_wear_min = 0;
  bool twf = false, hdf = false, pwf = false, osf = false, rnf = false;
  bool failure() const { return twf || hdf || pwf || osf || rnf; }
};

std::vector<Reading> simulate(const SimOptions& o);

// Writes READINGS as table `readings` into a new SQLite file at PATH (which
// must not exist). Throws std::runtime_error naming the file on failure.
void write_sqlite(const std::string& path, const std::vector<Reading>& readings);

struct FailureCounts {
  int64_t rows = 0, failures = 0, twf = 0, hdf = 0, pwf = 0, osf = 0, rnf = 0;
};
FailureCounts count_failures(const std::vector<Reading>& readings);

}  // namespace ctflow::iot
