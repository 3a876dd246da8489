// A tiny blocking HTTP/1.1 client for tests of the servers (dashboard,
// inference) in process on 127.0.0.1: no Beast, so tests stay quick to build.
#pragma once

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace ctflow::testing::http {

struct HttpResponse {
  int status = 0;
  std::string headers;
  std::string body;
  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
};

inline int connect_to(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

inline void send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    REQUIRE(n > 0);
    off += static_cast<size_t>(n);
  }
}

inline std::string build_request(const std::string& method, const std::string& target, const std::string& body,
                          const std::vector<std::string>& extra, uint16_t port) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n";
  bool has_type = false;
  for (const auto& h : extra) {
    req += h + "\r\n";
    if (h.rfind("Content-Type:", 0) == 0) has_type = true;
  }
  if (method == "POST" && !has_type) req += "Content-Type: application/json\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return req;
}

inline HttpResponse request(uint16_t port, const std::string& method, const std::string& target, const std::string& body = "",
                     const std::vector<std::string>& extra = {}) {
  int fd = connect_to(port);
  send_all(fd, build_request(method, target, body, extra, port));
  std::string raw;
  char buf[65536];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  HttpResponse r;
  size_t end = raw.find("\r\n\r\n");
  REQUIRE_MESSAGE(end != std::string::npos, "no HTTP response: " << raw);
  r.headers = raw.substr(0, end);
  r.body = raw.substr(end + 4);
  r.status = std::stoi(raw.substr(9, 3));
  return r;
}

}  // namespace ctflow::testing::http
