#include "iot_validate.h"

#include <sqlite3.h>

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "base/drift.h"

namespace ctflow::iot {

namespace {

// The plausible range of each raw column: what a working sensor can read.
const std::pair<const char*, std::pair<double, double>> kRanges[] = {{"air_temp_k", {250, 350}},
                                                                     {"process_temp_k", {250, 370}},
                                                                     {"rpm", {0, 5000}},
                                                                     {"torque_nm", {0, 200}},
                                                                     {"tool_wear_min", {0, 400}}};

}  // namespace

nlohmann::json check_source(const std::string& db, const std::string& query) {
  std::string sql = "SELECT COUNT(*), SUM(type IS NULL), SUM(type NOT IN ('L', 'M', 'H'))";
  for (const auto& [col, range] : kRanges)
    sql += std::string(", SUM(") + col + " IS NULL), MIN(" + col + "), MAX(" + col + ")";
  sql += " FROM (" + query + ")";
  sqlite3* h = nullptr;
  sqlite3_stmt* st = nullptr;
  auto fail = [&](const std::string& what) {
    const std::string m = h ? sqlite3_errmsg(h) : "out of memory";
    sqlite3_finalize(st);
    sqlite3_close(h);
    throw std::runtime_error(what + ": " + m);
  };
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
    fail("cannot open the SQLite file '" + db + "'");
  nlohmann::json out = {{"errors", nlohmann::json::array()}, {"columns", nlohmann::json::object()}};
  if (sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    const std::string m = sqlite3_errmsg(h);
    // A column the query does not return is a schema error, not bad SQL.
    if (m.rfind("no such column: ", 0) == 0) {
      sqlite3_close(h);
      out["errors"].push_back("the query '" + query + "' returns no column '" + m.substr(16) +
                              "'; select type, air_temp_k, process_temp_k, rpm, torque_nm, tool_wear_min, machine_failure");
      out["rows"] = 0;
      return out;
    }
    fail("the query '" + query + "' is not valid SQL for '" + db + "'");
  }
  if (sqlite3_step(st) != SQLITE_ROW) fail("the query '" + query + "' failed");
  out["rows"] = sqlite3_column_int64(st, 0);
  if (const int64_t n = sqlite3_column_int64(st, 1); n > 0)
    out["errors"].push_back("column 'type': " + std::to_string(n) + " NULLs");
  if (const int64_t n = sqlite3_column_int64(st, 2); n > 0)
    out["errors"].push_back("column 'type': " + std::to_string(n) + " rows with a product type other than L, M, H");
  int at = 3;
  for (const auto& [col, range] : kRanges) {
    const int64_t nulls = sqlite3_column_int64(st, at);
    const bool empty = sqlite3_column_type(st, at + 1) == SQLITE_NULL;
    const double lo = sqlite3_column_double(st, at + 1), hi = sqlite3_column_double(st, at + 2);
    at += 3;
    out["columns"][col] = {{"nulls", nulls}, {"min", empty ? nlohmann::json() : nlohmann::json(lo)},
                           {"max", empty ? nlohmann::json() : nlohmann::json(hi)}, {"range", {range.first, range.second}}};
    const std::string where = "column '" + std::string(col) + "': ";
    if (nulls > 0) out["errors"].push_back(where + std::to_string(nulls) + " NULLs");
    if (!empty && (lo < range.first || hi > range.second))
      out["errors"].push_back(where + "values from " + std::to_string(lo) + " to " + std::to_string(hi) +
                              " leave the plausible range [" + std::to_string(range.first) + ", " +
                              std::to_string(range.second) + "]");
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  if (out["rows"] == 0) out["errors"].push_back("the query '" + query + "' returned no rows");
  return out;
}

nlohmann::json feature_drift(const Table& t, const nlohmann::json& profile) {
  const size_t nf = feature_names().size();
  const auto& ref = profile.at("features");
  nlohmann::json features = nlohmann::json::object();
  int drifted = 0, compared = 0;
  for (size_t k = 0; k < nf; ++k) {
    const std::string& name = feature_names()[k];
    if (!ref.contains(name) || !ref[name].is_array() || ref[name].empty()) continue;
    const auto r = ref[name].get<std::vector<double>>();
    std::vector<double> cur(static_cast<size_t>(t.rows));
    for (int64_t i = 0; i < t.rows; ++i) cur[static_cast<size_t>(i)] = t.x[static_cast<size_t>(i) * nf + k];
    // Evidently's PSI bins: equal width over the reference and current values together.
    const auto [rmin, rmax] = std::minmax_element(r.begin(), r.end());
    const auto [cmin, cmax] = std::minmax_element(cur.begin(), cur.end());
    const double lo = std::min(*rmin, *cmin), hi = std::max(*rmax, *cmax);
    const int bins = drift::kIntensityBins;
    std::vector<double> hr(bins, 0.0), hc(bins, 0.0);
    auto bin = [&](double v) { return hi > lo ? drift::intensity_bin((v - lo) / (hi - lo), bins) : 0; };
    for (double v : r) ++hr[static_cast<size_t>(bin(v))];
    for (double v : cur) ++hc[static_cast<size_t>(bin(v))];
    const double p = drift::psi(hr, hc);
    const auto ks = drift::ks_2samp(r, cur);
    const bool d = p >= drift::kPsiThreshold;
    drifted += d;
    ++compared;
    features[name] = {{"psi", p}, {"ks_statistic", ks.statistic}, {"ks_p_value", ks.p_value}, {"drifted", d}};
  }
  const double share = compared ? double(drifted) / compared : 0.0;
  return {{"score", compared ? nlohmann::json(share) : nlohmann::json()},
          {"drifted", compared > 0 && share >= drift::kDriftShare},
          {"features", features}};
}

}  // namespace ctflow::iot
