#include "iot_data.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace ctflow::iot {

namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr const char* kWanted = "type, air_temp_k, process_temp_k, rpm, torque_nm, tool_wear_min, machine_failure";

std::string features_header() {
  std::string h;
  for (const auto& n : feature_names()) h += n + ",";
  return h + "machine_failure";
}

// The comma-separated fields of LINE.
std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line);
  for (std::string f; std::getline(ss, f, ',');) out.push_back(f);
  if (!line.empty() && line.back() == ',') out.emplace_back();
  return out;
}

double number(const std::string& field, const std::string& where) {
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(field, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != field.size()) throw std::runtime_error(where + ": '" + field + "' is not a number");
  return v;
}

}  // namespace

void row_features(char type, const double v[5], float* out) {
  const double power = v[3] * v[2] * 2 * kPi / 60.0, strain = v[4] * v[3];
  const double limit = type == 'L' ? 11000 : type == 'M' ? 12000 : 13000;  // the overstrain limit of the type
  const float f[] = {float(v[0]), float(v[1]), float(v[2]), float(v[3]), float(v[4]), float(power),
                     float(v[1] - v[0]), float(strain), float(strain / limit), type == 'L' ? 1.f : 0.f,
                     type == 'M' ? 1.f : 0.f, type == 'H' ? 1.f : 0.f};
  static_assert(sizeof(f) / sizeof(f[0]) == kFeatureCount);
  std::copy(std::begin(f), std::end(f), out);
}

void for_each_row(const std::string& db, const std::string& query,
                  const std::function<void(char, const double[5], bool)>& row) {
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    const std::string m = h ? sqlite3_errmsg(h) : "out of memory";
    sqlite3_close(h);
    throw std::runtime_error("cannot open the SQLite file '" + db + "': " + m);
  }
  sqlite3_stmt* st = nullptr;
  auto fail = [&](const std::string& m) {
    sqlite3_finalize(st);
    sqlite3_close(h);
    throw std::runtime_error(m);
  };
  if (sqlite3_prepare_v2(h, query.c_str(), -1, &st, nullptr) != SQLITE_OK)
    fail("the query '" + query + "' is not valid SQL for '" + db + "': " + sqlite3_errmsg(h) +
         "; the table is readings (udi, ts, product_id, " + kWanted + ", twf, hdf, pwf, osf, rnf)");
  const char* want[] = {"type", "air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min", "machine_failure"};
  int col[7];
  for (int k = 0; k < 7; ++k) {
    col[k] = -1;
    for (int c = 0; c < sqlite3_column_count(st); ++c)
      if (std::string(sqlite3_column_name(st, c)) == want[k]) col[k] = c;
    if (col[k] < 0) fail("the query '" + query + "' returns no column '" + want[k] + "'; select " + kWanted);
  }
  int64_t n = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    ++n;
    const unsigned char* ty = sqlite3_column_text(st, col[0]);
    const std::string type = ty ? reinterpret_cast<const char*>(ty) : "";
    double v[5];
    for (int k = 0; k < 5; ++k) {
      if (sqlite3_column_type(st, col[k + 1]) == SQLITE_NULL)
        fail("row " + std::to_string(n) + " of the query has NULL in '" + want[k + 1] + "'");
      v[k] = sqlite3_column_double(st, col[k + 1]);
    }
    if (type != "L" && type != "M" && type != "H")
      fail("row " + std::to_string(n) + " has product type '" + type + "'; types are L, M, H");
    row(type[0], v, sqlite3_column_int(st, col[6]) != 0);
  }
  if (rc != SQLITE_DONE) fail("the query '" + query + "' failed: " + sqlite3_errmsg(h));
  sqlite3_finalize(st);
  sqlite3_close(h);
  if (n == 0) throw std::runtime_error("the query '" + query + "' returned no rows");
}

Table load_features(const std::string& db, const std::string& query) {
  Table t;
  for_each_row(db, query, [&](char type, const double v[5], bool failure) {
    const size_t at = t.x.size();
    t.x.resize(at + feature_names().size());
    row_features(type, v, t.x.data() + at);
    t.y.push_back(failure ? 1.f : 0.f);
    ++t.rows;
  });
  return t;
}

std::vector<std::string> extract_chunks(const std::string& db, const std::string& query, int64_t chunk_rows,
                                        const std::string& dir, int64_t* rows) {
  if (chunk_rows < 1) throw std::runtime_error("chunk_rows must be at least 1, got " + std::to_string(chunk_rows));
  std::filesystem::create_directories(dir);
  std::vector<std::string> names;
  std::FILE* f = nullptr;
  int64_t n = 0;
  auto close = [&] {
    if (f != nullptr && std::fclose(f) != 0) throw std::runtime_error("cannot write '" + names.back() + "' in " + dir);
    f = nullptr;
  };
  try {
    for_each_row(db, query, [&](char type, const double v[5], bool failure) {
      if (n % chunk_rows == 0) {
        close();
        char name[32];
        std::snprintf(name, sizeof name, "part-%05zu.csv", names.size());
        names.emplace_back(name);
        f = std::fopen((std::filesystem::path(dir) / name).c_str(), "w");
        if (f == nullptr) throw std::runtime_error("cannot write '" + names.back() + "' in " + dir);
        std::fprintf(f, "type,air_temp_k,process_temp_k,rpm,torque_nm,tool_wear_min,machine_failure\n");
      }
      std::fprintf(f, "%c,%.17g,%.17g,%.17g,%.17g,%.17g,%d\n", type, v[0], v[1], v[2], v[3], v[4], failure ? 1 : 0);
      ++n;
    });
    close();
  } catch (...) {
    if (f != nullptr) std::fclose(f);
    throw;
  }
  if (rows != nullptr) *rows = n;
  return names;
}

Table chunk_features(const std::string& raw_csv) {
  std::ifstream in(raw_csv);
  if (!in) throw std::runtime_error("cannot read the chunk '" + raw_csv + "'");
  std::string line;
  const std::string want = "type,air_temp_k,process_temp_k,rpm,torque_nm,tool_wear_min,machine_failure";
  if (!std::getline(in, line) || line != want)
    throw std::runtime_error("'" + raw_csv + "' is not a chunk of iot.extract: its header is not " + want);
  Table t;
  for (int64_t ln = 2; std::getline(in, line); ++ln) {
    const std::string where = raw_csv + ":" + std::to_string(ln);
    const auto f = split(line);
    if (f.size() != 7) throw std::runtime_error(where + ": " + std::to_string(f.size()) + " fields, want 7");
    if (f[0] != "L" && f[0] != "M" && f[0] != "H")
      throw std::runtime_error(where + ": product type '" + f[0] + "'; types are L, M, H");
    double v[5];
    for (int k = 0; k < 5; ++k) v[k] = number(f[size_t(k) + 1], where);
    const size_t at = t.x.size();
    t.x.resize(at + feature_names().size());
    row_features(f[0][0], v, t.x.data() + at);
    t.y.push_back(number(f[6], where) != 0 ? 1.f : 0.f);
    ++t.rows;
  }
  return t;
}

void write_features_csv(const Table& t, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (f == nullptr) throw std::runtime_error("cannot write '" + path + "'");
  std::fprintf(f, "%s\n", features_header().c_str());
  const size_t nf = feature_names().size();
  for (int64_t i = 0; i < t.rows; ++i) {
    for (size_t k = 0; k < nf; ++k) std::fprintf(f, "%.9g,", double(t.x[size_t(i) * nf + k]));
    std::fprintf(f, "%d\n", t.y[size_t(i)] > 0.5f ? 1 : 0);
  }
  if (std::fclose(f) != 0) throw std::runtime_error("cannot write '" + path + "'");
}

Table read_features_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the features '" + path + "'");
  std::string line;
  if (!std::getline(in, line) || line != features_header())
    throw std::runtime_error("'" + path + "' is not a features file of iot.preprocess: its header is not " +
                             features_header());
  const size_t nf = feature_names().size();
  Table t;
  for (int64_t ln = 2; std::getline(in, line); ++ln) {
    const std::string where = path + ":" + std::to_string(ln);
    const auto f = split(line);
    if (f.size() != nf + 1)
      throw std::runtime_error(where + ": " + std::to_string(f.size()) + " fields, want " + std::to_string(nf + 1));
    for (size_t k = 0; k < nf; ++k) t.x.push_back(float(number(f[k], where)));
    t.y.push_back(number(f[nf], where) != 0 ? 1.f : 0.f);
    ++t.rows;
  }
  return t;
}

Table merge_tables(const std::vector<std::string>& parts) {
  Table all;
  for (const auto& p : parts) {
    Table t = read_features_csv(p);
    all.x.insert(all.x.end(), t.x.begin(), t.x.end());
    all.y.insert(all.y.end(), t.y.begin(), t.y.end());
    all.rows += t.rows;
  }
  return all;
}

}  // namespace ctflow::iot
