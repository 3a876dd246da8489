// For the store's own tests: the SQLite connection behind a RunStore, to check
// the schema and constraints as they are on disk. Nothing outside store tests
// may include this (the connection is not part of the store's interface).
#pragma once

#include <sqlite3.h>

#include "store/run_store.h"
#include "store/sqlite_util.h"

namespace ctflow::testing {

struct StoreInternals {
  static sqlite3* db(RunStore& store) { return store.conn_->db(); }
};

}  // namespace ctflow::testing
