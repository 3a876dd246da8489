// What the HTTP servers (`ctflow ui`, `ctflow serve`) share: parsing --addr,
// making a token, binding. Header-light: only Asio's TCP types.
#pragma once

#include <cstdint>
#include <string>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <boost/asio/ip/tcp.hpp>

#include "base/status.h"

namespace ctflow::web {

// Splits "HOST:PORT" (or "[v6]:PORT", or ":PORT" for 127.0.0.1).
bool split_addr(const std::string& addr, std::string& host, uint16_t& port);
// Whether a request with this Host header may be served by a server bound to
// LOOPBACK or not. Bound to loopback, only loopback names are accepted: a page
// on another site whose DNS name rebinds to 127.0.0.1 gets nothing. An empty
// Host (HTTP/1.0) is accepted.
bool host_header_allowed(bool loopback, std::string host);
// 48 random hex digits.
std::string make_token();
// Opens, binds and listens on ADDR ("HOST:PORT"; port 0 picks one). Sets
// LOOPBACK and PORT.
Status listen_on(boost::asio::ip::tcp::acceptor& acceptor, const std::string& addr, bool& loopback, uint16_t& port);

}  // namespace ctflow::web
