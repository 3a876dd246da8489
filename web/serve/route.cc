#include "web/serve/route.h"

#include <vector>

namespace ctflow::serve {

namespace {

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t at = 0;
  while (at < path.size() && out.size() < 8) {
    size_t next = path.find('/', at);
    if (next == std::string_view::npos) next = path.size();
    if (next > at) out.push_back(path.substr(at, next - at));
    at = next + 1;
  }
  return out;
}

Route fail(int status, std::string type, std::string message) {
  Route r;
  r.status = status;
  r.type = std::move(type);
  r.message = std::move(message);
  return r;
}

Route to(Endpoint e, std::string_view model = {}, int version = 0, bool management = false) {
  Route r;
  r.endpoint = e;
  r.model = std::string(model);
  r.version = version;
  r.management = management;
  return r;
}

}  // namespace

bool parse_version(std::string_view s, int& v) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v > 0;
}

Route route(std::string_view method, std::string_view target) {
  const std::string_view path = target.substr(0, target.find('?'));
  const auto seg = segments(path);
  const bool get = method == "GET", post = method == "POST";
  if (seg.size() == 1 && seg[0] == "ping" && get) return to(Endpoint::kPing);
  if (seg.size() == 1 && seg[0] == "metrics" && get) return to(Endpoint::kMetrics);
  int version = 0;
  auto bad_version = [&](std::string_view v) {
    return fail(400, "BadRequest", "version '" + std::string(v.substr(0, 40)) + "' is not a positive number");
  };
  if (!seg.empty() && seg[0] == "predictions") {
    if (!post) return fail(405, "MethodNotAllowed", "predictions take POST");
    if (seg.size() < 2 || seg.size() > 3)
      return fail(404, "NotFound", "use /predictions/{model} or /predictions/{model}/{version}");
    if (seg.size() == 3 && !parse_version(seg[2], version)) return bad_version(seg[2]);
    return to(Endpoint::kPredict, seg[1], version);
  }
  if (!seg.empty() && seg[0] == "models") {
    if (seg.size() == 1) {
      if (!get) return fail(405, "MethodNotAllowed", "GET /models lists the models");
      return to(Endpoint::kListModels, {}, 0, true);
    }
    if (seg.size() == 3 && seg[2] == "drift") {
      if (!get) return fail(405, "MethodNotAllowed", "GET /models/{model}/drift reports the model's drift");
      return to(Endpoint::kDrift, seg[1]);
    }
    if (seg.size() >= 3 && !parse_version(seg[2], version)) return bad_version(seg[2]);
    if (seg.size() <= 3 && get) return to(Endpoint::kDescribe, seg[1], version, true);
    if (seg.size() == 3 && post) return to(Endpoint::kLoad, seg[1], version, true);
    if (seg.size() == 4 && seg[3] == "set-default" && method == "PUT") return to(Endpoint::kSetDefault, seg[1], version, true);
    if (seg.size() == 3 && method == "DELETE") return to(Endpoint::kUnload, seg[1], version, true);
    Route r = fail(405, "MethodNotAllowed",
                   "the management API: GET /models[/{model}[/{version}]], GET /models/{model}/drift, POST /models/{model}/{version}, "
                   "PUT /models/{model}/{version}/set-default, DELETE /models/{model}/{version}");
    r.management = true;
    return r;
  }
  return fail(404, "NotFound", "no such endpoint: " + std::string(path.substr(0, 200)) +
                                   "; see /predictions/{model}, /models, /ping, /metrics");
}

}  // namespace ctflow::serve
