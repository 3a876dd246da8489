// The iot plugin family. This file is only glue between the plugin SDK and the
// plain functions in iot_sim.h.
#include <string>

#include "ctflow/plugin.hpp"
#include "iot_sim.h"

namespace {

using ctflow::sdk::Context;
using ctflow::sdk::PluginError;
namespace iot = ctflow::iot;

void simulate(const Context& c) {
  try {
    iot::SimOptions o;
    o.rows = c.integer("rows");
    o.seed = static_cast<uint64_t>(c.integer("seed"));
    o.drift_rows = c.integer("drift_rows");
    o.drift_offset = c.number("drift_offset");
    o.drift_h_share = c.number("drift_h_share");
    if (o.drift_rows < 0 || o.drift_rows > o.rows)
      throw PluginError("parameter 'drift_rows' must be between 0 and rows (" + std::to_string(o.rows) + "), got " +
                        std::to_string(o.drift_rows));
    if (o.drift_h_share < 0 || o.drift_h_share > 1)
      throw PluginError("parameter 'drift_h_share' must be in [0, 1]");
    const auto readings = iot::simulate(o);
    const std::string db = c.artifact_path("database");
    iot::write_sqlite(db, readings);
    const auto n = iot::count_failures(readings);
    c.output("rows", n.rows);
    c.output("failures", n.failures);
    c.scalar("failure_rate", static_cast<double>(n.failures) / static_cast<double>(n.rows));
    c.info("wrote " + std::to_string(n.rows) + " readings (" + std::to_string(n.failures) + " failures: TWF " +
           std::to_string(n.twf) + ", HDF " + std::to_string(n.hdf) + ", PWF " + std::to_string(n.pwf) + ", OSF " +
           std::to_string(n.osf) + ", RNF " + std::to_string(n.rnf) + ") to table readings of " + db);
  } catch (const PluginError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(e.what());
  }
}

const ctflow_param_decl kSimulateParams[] = {
    {"rows", "int", "10000", "readings to generate, one process a minute"},
    {"seed", "int", "42", "seed of the generator"},
    {"drift_rows", "int", "0", "the last N rows drift (0: none)"},
    {"drift_offset", "float", "0", "kelvin added to the process temperature in the drift period"},
    {"drift_h_share", "float", "0.2", "share of H products in the drift period (L:M stay 5:3)"}};
const ctflow_output_decl kSimulateOutputs[] = {
    {"database", "artifact", "SQLite file with table readings (the AI4I 2020 columns and a timestamp ts)"},
    {"rows", "parameter", "readings written"},
    {"failures", "parameter", "readings with a machine failure"}};

const ctflow_plugin_desc kSimulate = {CTFLOW_PLUGIN_ABI_VERSION,
                                      sizeof(ctflow_plugin_desc),
                                      "iot.simulate",
                                      "1.0.0",
                                      "generates AI4I 2020 predictive-maintenance readings (seeded) into SQLite",
                                      kSimulateParams,
                                      sizeof(kSimulateParams) / sizeof(kSimulateParams[0]),
                                      kSimulateOutputs,
                                      sizeof(kSimulateOutputs) / sizeof(kSimulateOutputs[0]),
                                      ctflow::sdk::run_adapter<simulate>};

}  // namespace

CTFLOW_EXPORT_PLUGINS(&kSimulate)
