// The dashboard's static files (web/static/*), built into the binary by
// web/embed_static.cmake so that `ctflow ui` needs nothing on disk or network.
#pragma once

#include <string_view>

namespace ctflow::web {

struct StaticAsset {
  std::string_view path;          // "/index.html", "/app.js"
  std::string_view content_type;
  std::string_view data;
};

// The asset served at PATH ("/" is "/index.html"), or nullptr.
const StaticAsset* find_static_asset(std::string_view path);

}  // namespace ctflow::web
