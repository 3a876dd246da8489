// The engineered features of iot.train and its clear errors for bad SQL,
// missing columns and bad rows.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "iot_sim.h"
#include "iot_train.h"
#include "iot_validate.h"

namespace iot = ctflow::iot;
namespace fs = std::filesystem;

namespace {

// A scratch folder with the path of a SQLite file in it, removed at the end.
struct Scratch {
  fs::path dir;
  std::string db;
  explicit Scratch(const std::string& name)
      : dir(fs::temp_directory_path() / (name + "_" + std::to_string(::getpid()))), db((dir / "raw.db").string()) {
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
};

}  // namespace

TEST_CASE("features: power, temperature difference, wear x torque, type one-hot; bad queries named") {
  const Scratch scratch("iot_features_test");
  const std::string& db = scratch.db;
  iot::Reading r;
  r.udi = 1;
  r.product_id = "M10001";
  r.type = 'M';
  r.air_temp_k = 300.0;
  r.process_temp_k = 308.0;
  r.rpm = 1500;
  r.torque_nm = 40.0;
  r.tool_wear_min = 100;
  iot::write_sqlite(db, {r});
  const auto t = iot::load_features(db, "SELECT * FROM readings");
  REQUIRE(t.rows == 1);
  const auto& names = iot::feature_names();
  auto f = [&](const char* n) { return t.x[size_t(std::find(names.begin(), names.end(), n) - names.begin())]; };
  CHECK(f("power_w") == doctest::Approx(40.0 * 1500 * 2 * M_PI / 60).epsilon(1e-5));
  CHECK(f("temp_diff_k") == doctest::Approx(8.0));
  CHECK(f("strain") == doctest::Approx(4000.0));
  CHECK(f("strain_ratio") == doctest::Approx(4000.0 / 12000.0));  // M's overstrain limit: 12,000 min Nm
  CHECK(f("type_m") == 1.0f);
  CHECK(f("type_l") == 0.0f);
  CHECK(t.y[0] == 0.0f);

  CHECK_THROWS_WITH(iot::load_features(db, "SELEC * FROM readings"), doctest::Contains("is not valid SQL"));
  CHECK_THROWS_WITH(iot::load_features(db, "SELECT type FROM readings"), doctest::Contains("no column 'air_temp_k'"));
  CHECK_THROWS_WITH(iot::load_features(db, "SELECT * FROM readings WHERE udi > 5"), doctest::Contains("no rows"));
  CHECK_THROWS_WITH(iot::load_features(db, "SELECT 'X' AS type, air_temp_k, process_temp_k, rpm, torque_nm, tool_wear_min, "
                                           "machine_failure FROM readings"),
                    doctest::Contains("product type 'X'"));
  CHECK_THROWS_WITH(iot::load_features(db, "SELECT type, NULL AS air_temp_k, process_temp_k, rpm, torque_nm, tool_wear_min, "
                                           "machine_failure FROM readings"),
                    doctest::Contains("NULL in 'air_temp_k'"));
  CHECK_THROWS_WITH(iot::load_features((scratch.dir / "none.db").string(), "SELECT 1"), doctest::Contains("cannot open"));
}

TEST_CASE("score: F1 at the threshold, average precision, ROC-AUC and curves from (0,0) to (1,1)") {
  const auto m = iot::score({0.9f, 0.8f, 0.3f, 0.1f}, {1, 0, 1, 0}, 0.5);
  CHECK(m["confusion"] == nlohmann::json::parse("[[1, 1], [1, 1]]"));
  CHECK(m["f1"].get<double>() == doctest::Approx(0.5));
  CHECK(m["roc_auc"].get<double>() == doctest::Approx(0.75));           // 3 of the 4 (failure, ok) pairs ranked right
  CHECK(m["pr_auc"].get<double>() == doctest::Approx((1.0 + 2.0 / 3.0) / 2));
  CHECK(m["roc"].front()[0] == 0.0);
  CHECK(m["roc"].back()[0] == 1.0);
  CHECK(m["roc"].back()[1] == 1.0);
  // A lower threshold finds both failures and raises one more false alarm.
  CHECK(iot::score({0.9f, 0.8f, 0.3f, 0.1f}, {1, 0, 1, 0}, 0.2)["recall"].get<double>() == doctest::Approx(1.0));
}

TEST_CASE("validate: NULLs, ranges and missing columns named; drift per feature against a profile") {
  const Scratch scratch("iot_validate_test");
  const std::string& db = scratch.db;
  iot::SimOptions o;
  o.rows = 3000;
  o.drift_rows = 1000;
  o.drift_offset = 3.0;  // the last 1,000 rows read the process temperature 3 K higher
  iot::write_sqlite(db, iot::simulate(o));
  const auto ok = iot::check_source(db, "SELECT * FROM readings");
  CHECK(ok["errors"].empty());
  CHECK(ok["rows"] == 3000);
  CHECK(ok["columns"]["rpm"]["nulls"] == 0);

  const auto bad = iot::check_source(db, "SELECT type, air_temp_k, process_temp_k, -rpm AS rpm, torque_nm, "
                                         "CASE WHEN udi = 7 THEN NULL ELSE tool_wear_min END AS tool_wear_min FROM readings");
  const std::string errors = bad["errors"].dump();
  CHECK(errors.find("column 'tool_wear_min': 1 NULLs") != std::string::npos);
  CHECK(errors.find("column 'rpm': values from -") != std::string::npos);
  CHECK(iot::check_source(db, "SELECT type FROM readings")["errors"].dump().find("no column 'air_temp_k'") != std::string::npos);
  CHECK_THROWS_WITH(iot::check_source(db, "SELEC * FROM readings"), doctest::Contains("is not valid SQL"));

  // The profile of the first 2,000 rows: the same rows do not drift; the
  // drifted period's temperature difference and process temperature do.
  const auto first = iot::load_features(db, "SELECT * FROM readings WHERE udi <= 2000");
  nlohmann::json features = nlohmann::json::object();
  for (size_t k = 0; k < iot::feature_names().size(); ++k) {
    std::vector<double> v;
    for (int64_t i = 0; i < first.rows; ++i) v.push_back(first.x[size_t(i) * iot::feature_names().size() + k]);
    features[iot::feature_names()[k]] = v;
  }
  const nlohmann::json profile = {{"features", features}};
  const auto same = iot::feature_drift(first, profile);
  CHECK(same["score"].get<double>() == 0.0);
  CHECK(same["features"]["temp_diff_k"]["ks_p_value"].get<double>() > 0.99);
  const auto later = iot::feature_drift(iot::load_features(db, "SELECT * FROM readings WHERE udi > 2000"), profile);
  CHECK(later["features"]["temp_diff_k"]["drifted"] == true);
  CHECK(later["features"]["temp_diff_k"]["psi"].get<double>() >= 0.1);
  CHECK(later["features"]["temp_diff_k"]["ks_p_value"].get<double>() < 0.05);
  CHECK(later["features"]["type_h"]["drifted"] == false);
}
