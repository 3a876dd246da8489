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

namespace iot = ctflow::iot;
namespace fs = std::filesystem;

TEST_CASE("features: power, temperature difference, wear x torque, type one-hot; bad queries named") {
  const fs::path dir = fs::temp_directory_path() / ("iot_features_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string db = (dir / "raw.db").string();
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
  CHECK_THROWS_WITH(iot::load_features((dir / "none.db").string(), "SELECT 1"), doctest::Contains("cannot open"));
  fs::remove_all(dir);
}
