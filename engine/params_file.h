// A params file: `ctflow run --params-file FILE` (-f), as Argo's --parameter-file.
// A YAML or JSON mapping of param name to value:
//
//   epochs: 3
//   data: data/mnist-digits
//   layers: [64, 32]
//
// Values are typed by the workflow's param declarations, as -p values are
// (`who: 007` for a string param is "007"); a json param takes a list or map as
// it is written (and an Argo workflow's parameter its JSON text, as Argo does).
// -p NAME=VALUE wins over the file.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "engine/diag.h"
#include "engine/ir.h"
#include "base/status.h"

namespace ctflow {

struct ParamsFile {
  struct Entry {
    std::string name;
    Value value;       // a scalar as its text (typed later by the declaration); a list or map as JSON
    bool structured = false;  // written as a list or map
    SourcePos key_pos, value_pos;
  };
  std::string path;
  std::string source;  // the file's text, for diagnostics
  std::vector<Entry> entries;

  // NAME=TEXT for each entry, as -p would give it (for frontends that reshape a
  // workflow by its params before they are typed).
  std::vector<std::string> assignments() const;
};

// Reads PATH. A file that cannot be read, is not YAML/JSON, is not a mapping, or
// names a param twice is reported into `d` (its source set) with its position.
std::optional<ParamsFile> read_params_file(const std::string& path, Diagnostics& d);

// The run's params: WF's defaults, then FILE's values, then -p ASSIGNMENTS (which
// win). A param WF does not declare, or a value of the wrong type, in the file is
// reported into `d` with the file's line and column; a bad -p or a required param
// left without a value is the returned error.
Result<Value> bind_params(const Workflow& wf, const ParamsFile& file, const std::vector<std::string>& assignments,
                          Diagnostics& d);

}  // namespace ctflow
