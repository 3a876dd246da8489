// JSON text: one way to turn a JSON value into text everywhere (the store,
// plugins, the HTTP APIs), so bytes that are not UTF-8 never throw.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ctflow {

using Json = nlohmann::json;

// Compact JSON text. Bytes that are not UTF-8 (a step's stdout may hold any)
// become U+FFFD instead of making dump() throw.
inline std::string json_text(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Indented JSON text for people (`-o json`), with the same replacement.
inline std::string json_pretty(const Json& j) { return j.dump(2, ' ', false, Json::error_handler_t::replace); }

// Parses JSON text; a value that is_discarded() when the text is not JSON.
inline Json json_parse(std::string_view text) { return Json::parse(text, nullptr, false); }

}  // namespace ctflow
