// Fuzzes what the inference server does with raw bytes from a socket: Beast's
// HTTP/1.1 request parser (with the server's body limit), then the routing
// table (web/serve/route.h), then, for predictions, the body decoding.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>

#include "web/serve/input.h"
#include "web/serve/route.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.body_limit(1 << 16);
  parser.eager(true);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(data, size), ec);
  if (ec || !parser.is_done()) return 0;
  const auto& req = parser.get();
  const auto m = req.method_string();
  const auto t = req.target();
  const auto r = ctflow::serve::route(std::string_view(m.data(), m.size()), std::string_view(t.data(), t.size()));
  if (r.endpoint == ctflow::serve::Endpoint::kError && (r.status < 400 || r.message.empty())) __builtin_trap();
  if (r.endpoint == ctflow::serve::Endpoint::kPredict) {
    ctflow::serve::Inputs in;
    ctflow::serve::DecodeError err;
    const auto ct = req[http::field::content_type];
    (void)ctflow::serve::decode_inputs(std::string_view(ct.data(), ct.size()), req.body(), 28, 28, 64, in, err);
  }
  return 0;
}
