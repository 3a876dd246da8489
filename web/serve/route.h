// The inference server's routing table: method and target to an endpoint, or
// to an error with its status. Pure, so tests/fuzz/fuzz_serve_http.cc reaches it
// after Beast's request parser.
#pragma once

#include <string>
#include <string_view>

namespace ctflow::serve {

enum class Endpoint { kPing, kMetrics, kPredict, kListModels, kDescribe, kLoad, kSetDefault, kUnload, kDrift, kError };

struct Route {
  Endpoint endpoint = Endpoint::kError;
  bool management = false;  // under /models: Host check, and the token for changes
  std::string model;
  int version = 0;          // 0: the default version (or all, for kDescribe)
  int status = 0;           // kError: the HTTP status
  std::string type, message;  // kError: TorchServe's error type and a message
};

Route route(std::string_view method, std::string_view target);

// "1".."999999999"; false for anything else.
bool parse_version(std::string_view s, int& v);

}  // namespace ctflow::serve
