// Rolling a registered model version out to a running `ctflow serve`, over its
// management API (web/serve): the deploy plugins (mnist.deploy, iot.deploy)
// share this, so a rollout never drops a request: the new version is loaded
// (and warmed up) beside the old one, made the default in one switch, and only
// then are the versions before the one it replaced unloaded. Only Boost.Beast
// and nlohmann_json: plugin libraries may link it.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

namespace ctflow::rollout {

// Thrown when the server cannot be reached or refuses; the message is for the user.
class RolloutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One HTTP/1.1 request to the server at BASE (http://HOST:PORT), with the
// bearer token $CTFLOW_SERVE_TOKEN when it is set; returns {status, body}.
std::pair<int, std::string> http_call(const std::string& base, const std::string& method, const std::string& path);

// Loads VERSION of model NAME into the server at SERVER, makes it the default,
// and unloads the versions before the one it replaces (that one stays loaded:
// set-default back is an instant rollback). Loading a version that is loaded
// already, or making the default the default again, is not an error.
void roll_out(const std::string& server, const std::string& name, int version);

}  // namespace ctflow::rollout
