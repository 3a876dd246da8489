// Wall-clock time as the store records it.
#pragma once

#include <cstdint>
#include <string>

namespace ctflow {

// Milliseconds since the Unix epoch.
int64_t now_ms();
// "2026-11-23T10:00:00Z" (UTC); "" for 0.
std::string iso8601(int64_t ms);

}  // namespace ctflow
