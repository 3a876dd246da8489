// Data checks of the iot family's validate stage: schema, NULLs and plausible
// ranges of the raw readings a query returns, and the drift of the engineered
// features against a model's reference profile (profile.json of iot.train),
// per feature, with Evidently's defaults (base/drift.h): PSI over 30
// equal-width bins of the reference and current values together, drift at
// PSI >= 0.1; a two-sample KS test beside it (p-value, drift at p < 0.05); the
// data set drifts when at least half the features do.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "iot_train.h"

namespace ctflow::iot {

// Runs QUERY against DB wrapped in one aggregate: its rows, and per raw column
// the NULL count, min and max. Returns {"rows", "columns": {NAME: {"nulls",
// "min", "max", "range": [lo, hi]}}, "errors": [...]}: a missing column, NULLs
// or values outside the plausible range are errors that name the column.
// Throws std::runtime_error for SQL that does not run (naming the query).
nlohmann::json check_source(const std::string& db, const std::string& query);

// The drift of the features of T against PROFILE ({"features": {NAME: [sample]}}):
// {"score": share of drifted features, "drifted", "features": {NAME: {"psi",
// "ks_statistic", "ks_p_value", "drifted"}}}.
nlohmann::json feature_drift(const Table& t, const nlohmann::json& profile);

}  // namespace ctflow::iot
