// The data stages of the iot family: the SQL source read in chunks (extract),
// the engineered features of a chunk (preprocess: power, temperature
// difference, wear x torque and its share of the product type's overstrain
// limit, the product type one-hot) and the chunks' features as one data set
// (merge). SQLite only, no XGBoost: iot_features_test reaches it alone.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace ctflow::iot {

inline constexpr int kFeatureCount = 12;  // feature_names().size(), the width a served row has
inline const std::vector<std::string>& feature_names() {
  static const std::vector<std::string> k = {"air_temp_k", "process_temp_k", "rpm",      "torque_nm", "tool_wear_min",
                                             "power_w",    "temp_diff_k",    "strain",   "strain_ratio", "type_l",
                                             "type_m",     "type_h"};
  return k;
}

// The raw readings a row needs, in this order (and `type`, L, M or H).
inline const std::vector<std::string>& raw_columns() {
  static const std::vector<std::string> k = {"air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min"};
  return k;
}

// The features of one row (feature_names().size() floats at OUT) from its
// product TYPE ('L', 'M' or 'H') and RAW readings (raw_columns() order).
void row_features(char type, const double raw[5], float* out);

struct Table {
  std::vector<float> x;  // rows x feature_names().size(), row-major
  std::vector<float> y;  // machine_failure 0/1
  int64_t rows = 0;
};

// Runs QUERY against the SQLite file DB and calls ROW for each row with its
// product type, raw readings (raw_columns() order) and machine_failure. The
// query must return the columns type, air_temp_k, process_temp_k, rpm,
// torque_nm, tool_wear_min, machine_failure. Throws std::runtime_error naming
// the query and the fix for SQL that does not run, a missing column, a NULL or
// an unknown product type; and for a query that returns no rows.
void for_each_row(const std::string& db, const std::string& query,
                  const std::function<void(char type, const double raw[5], bool failure)>& row);

// The features of the rows of QUERY (for_each_row).
Table load_features(const std::string& db, const std::string& query);

// Writes the rows of QUERY (for_each_row) as CSV files of at most CHUNK_ROWS
// rows each (header: type, the raw columns, machine_failure) into DIR:
// part-00000.csv, part-00001.csv, ... Returns their names, in order.
std::vector<std::string> extract_chunks(const std::string& db, const std::string& query, int64_t chunk_rows,
                                        const std::string& dir, int64_t* rows = nullptr);

// The features of a chunk of extract_chunks. Throws std::runtime_error naming
// the file and line of a bad row.
Table chunk_features(const std::string& raw_csv);

// A table as CSV (header: feature_names(), machine_failure), and back; reading
// checks the header and names the file and line of a bad row.
void write_features_csv(const Table& t, const std::string& path);
Table read_features_csv(const std::string& path);

// The tables at PARTS, in order, as one.
Table merge_tables(const std::vector<std::string>& parts);

}  // namespace ctflow::iot
