// Internal to the store: the schema, as migrations numbered in order from 1.
// Migration N is applied at most once and recorded in schema_migrations; a
// migration, once released, is never edited: changes go into a new one.
#pragma once

#include <sqlite3.h>

#include <string>

#include "base/status.h"

namespace ctflow {

// The number of migrations this build knows (its schema version).
int latest_schema_version();

// The version recorded in DB's schema_migrations (0 for an empty database).
Result<int> current_schema_version(sqlite3* db);

// Applies the migrations after the current version, up to and including
// MAX_VERSION, in one write transaction. Fails when the store is newer than
// this build.
Status apply_migrations(sqlite3* db, int max_version);

}  // namespace ctflow
