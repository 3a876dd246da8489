// The inference server's request decoding (web/serve/input.h): PNG through
// libpng in every colour type, resizing, the JSON forms, and the messages.
#include <doctest/doctest.h>
#include <png.h>

#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "web/serve/input.h"

using namespace ctflow::serve;

namespace {

// Encodes W x H pixels of FORMAT (libpng's simplified API) into a PNG in memory.
std::string encode(const std::vector<uint8_t>& px, int w, int h, uint32_t format) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(w);
  img.height = static_cast<png_uint_32>(h);
  img.format = format;
  png_alloc_size_t size = 0;
  REQUIRE(png_image_write_to_memory(&img, nullptr, &size, 0, px.data(), 0, nullptr));
  std::string out(size, '\0');
  REQUIRE(png_image_write_to_memory(&img, out.data(), &size, 0, px.data(), 0, nullptr));
  out.resize(size);
  return out;
}

std::vector<uint8_t> digit() {  // a 28 x 28 test pattern
  std::vector<uint8_t> p(784);
  for (int i = 0; i < 784; ++i) p[static_cast<size_t>(i)] = static_cast<uint8_t>((i * 37) % 256);
  return p;
}

}  // namespace

TEST_CASE("a 28 x 28 grayscale PNG decodes to the same pixels as JSON numbers") {
  const auto p = digit();
  Inputs a, b;
  DecodeError e;
  REQUIRE(decode_inputs("image/png", encode(p, 28, 28, PNG_FORMAT_GRAY), 28, 28, 8, a, e));
  nlohmann::json j = {{"data", p}};
  REQUIRE(decode_inputs("application/json", j.dump(), 28, 28, 8, b, e));
  CHECK(a.n == 1);
  CHECK_FALSE(a.batch);
  CHECK(a.pixels == b.pixels);
  CHECK(a.pixels[1] == doctest::Approx(37 / 255.0));
}

TEST_CASE("colour PNGs become grayscale, and other sizes are resized by area") {
  const auto p = digit();
  std::vector<uint8_t> rgb, big;
  for (uint8_t v : p) rgb.insert(rgb.end(), {v, v, v});
  for (int y = 0; y < 56; ++y)
    for (int x = 0; x < 56; ++x) big.push_back(p[static_cast<size_t>((y / 2) * 28 + x / 2)]);
  Inputs gray, colour, resized;
  DecodeError e;
  REQUIRE(decode_inputs("", encode(p, 28, 28, PNG_FORMAT_GRAY), 28, 28, 8, gray, e));
  REQUIRE(decode_inputs("", encode(rgb, 28, 28, PNG_FORMAT_RGB), 28, 28, 8, colour, e));
  REQUIRE(decode_inputs("", encode(big, 56, 56, PNG_FORMAT_GRAY), 28, 28, 8, resized, e));
  for (size_t i = 0; i < 784; ++i) {
    CHECK(colour.pixels[i] == doctest::Approx(gray.pixels[i]).epsilon(0.01));
    CHECK(resized.pixels[i] == doctest::Approx(gray.pixels[i]).epsilon(1e-5));
  }
}

TEST_CASE("instances: a batch, flat or as rows, in [0, 1] or [0, 255]") {
  nlohmann::json rows = nlohmann::json::array();
  for (int r = 0; r < 28; ++r) rows.push_back(std::vector<int>(28, 255));
  nlohmann::json j = {{"instances", {std::vector<double>(784, 0.5), rows, {{"data", std::vector<int>(784, 0)}}}}};
  Inputs in;
  DecodeError e;
  REQUIRE(decode_inputs("application/json", j.dump(), 28, 28, 8, in, e));
  CHECK(in.batch);
  REQUIRE(in.n == 3);
  CHECK(in.pixels[0] == doctest::Approx(0.5 / 255));  // one value above 1: the whole request is 0..255
  CHECK(in.pixels[784] == doctest::Approx(1.0));
  CHECK(in.pixels[2 * 784] == 0.0f);
}

TEST_CASE("bad bodies get a status and a message that says what to send") {
  auto err = [](std::string_view type, std::string body) {
    Inputs in;
    DecodeError e;
    CHECK_FALSE(decode_inputs(type, body, 28, 28, 4, in, e));
    return e;
  };
  auto e = err("application/json", R"({"data": [1, 2, 3]})");
  CHECK(e.status == 400);
  CHECK(e.message == "\"data\" has 3 numbers; the model takes 784");
  e = err("application/json", "{\"data\": [" + std::string(783 * 2, ' ') + "]}");
  CHECK(e.message == "\"data\" has 0 numbers; the model takes 784");
  CHECK(err("application/json", R"({"data": ["a"]})").message == "\"data\" holds string where a number belongs");
  CHECK(err("application/json", R"({"data": [-1]})").message == "\"data\" holds -1; pixel values are in [0, 1] or [0, 255]");
  CHECK(err("", R"({"pixels": []})").message == "the JSON body has neither \"data\" nor \"instances\"; send {\"data\": [784 numbers]}");
  CHECK(err("", R"([1, 2])").message == "the JSON body must be an object: {\"data\": [...]} or {\"instances\": [[...], ...]}");
  CHECK(err("", R"({"instances": [[0], [0], [0], [0], [0]]})").message ==
        "\"instances\" holds 5 inputs; at most 4 per request (--max-request-batch)");
  CHECK(err("", R"({"instances": [[0]]})").message == "\"instances\"[0] has 1 numbers; the model takes 784");
  e = err("image/jpeg", "\xff\xd8\xff\xe0 jpeg");
  CHECK(e.status == 415);
  CHECK(e.message.rfind("the body is not a PNG (image/jpeg)", 0) == 0);
  CHECK(err("", "nonsense").message.rfind("the body is neither a PNG nor JSON (", 0) == 0);
  CHECK(err("", "8888888888e888").message.rfind("the body is neither a PNG nor JSON (", 0) == 0);  // a number too big
  CHECK(err("", R"({"data": [1e999]})").message.rfind("the body is neither a PNG nor JSON (", 0) == 0);
  std::string png = encode(digit(), 28, 28, PNG_FORMAT_GRAY);
  CHECK(err("image/png", png.substr(0, 50)).message.rfind("the PNG ", 0) == 0);
  CHECK(err("image/png", png.substr(0, 60) + std::string(20, '\0')).message.rfind("the PNG is damaged: ", 0) == 0);
  std::string wide = png;  // claims 100000 x 28: refused before any pixel is allocated
  wide[16] = 0;
  wide[17] = 1;
  wide[18] = static_cast<char>(0x86);
  wide[19] = static_cast<char>(0xa0);
  CHECK(err("image/png", wide).message.find("the PNG") == 0);
}

TEST_CASE("rows of named fields: one or a batch; a bad row's message names the row and the field") {
  // A decoder of two-field rows {"a": number, "b": number}, as a tabular
  // handler's decode_row is: "" or what is wrong with the row.
  const RowDecoder two = [](const std::string& row, float* out) -> std::string {
    const auto j = nlohmann::json::parse(row);
    for (int k = 0; k < 2; ++k) {
      const char* name = k == 0 ? "a" : "b";
      if (!j.contains(name)) return std::string("field '") + name + "' is missing";
      if (!j[name].is_number()) return std::string("field '") + name + "' must be a number";
      out[k] = j[name].get<float>();
    }
    return "";
  };
  Inputs in;
  DecodeError e;
  REQUIRE(decode_rows(R"({"a": 1, "b": 2.5})", 2, 4, two, in, e));
  CHECK(in.n == 1);
  CHECK_FALSE(in.batch);
  CHECK(in.pixels == std::vector<float>{1.f, 2.5f});
  REQUIRE(decode_rows(R"({"data": {"a": 3, "b": 4}})", 2, 4, two, in, e));
  CHECK(in.pixels == std::vector<float>{3.f, 4.f});
  REQUIRE(decode_rows(R"({"instances": [{"a": 1, "b": 2}, {"b": 4, "a": 3}]})", 2, 4, two, in, e));
  CHECK(in.n == 2);
  CHECK(in.batch);
  CHECK(in.pixels == std::vector<float>{1.f, 2.f, 3.f, 4.f});

  auto err = [&](const std::string& body) {
    Inputs bad;
    DecodeError de;
    CHECK_FALSE(decode_rows(body, 2, 2, two, bad, de));
    CHECK(de.status == 400);
    return de.message;
  };
  CHECK(err(R"({"instances": [{"a": 1, "b": 2}, {"a": 1}]})") == "\"instances\"[1]: field 'b' is missing");
  CHECK(err(R"({"a": "x", "b": 2})") == "field 'a' must be a number");
  CHECK(err(R"({"instances": [{}, {}, {}]})") == "\"instances\" holds 3 rows; at most 2 per request (--max-request-batch)");
  CHECK(err(R"({"instances": []})") == "\"instances\" must be a non-empty array of rows");
  CHECK(err("[1, 2]") == "the body must be a JSON object: one row, or {\"instances\": [{...}, ...]}");
  CHECK(err("a=1&b=2").rfind("the body is not JSON (", 0) == 0);
}

#include "web/serve/route.h"

TEST_CASE("routes: TorchServe's paths, and what a wrong one gets") {
  auto r = route("POST", "/predictions/mnist-embedder");
  CHECK(r.endpoint == Endpoint::kPredict);
  CHECK(r.model == "mnist-embedder");
  CHECK(r.version == 0);
  CHECK_FALSE(r.management);
  CHECK(route("POST", "/predictions/m/12?x=1").version == 12);
  CHECK(route("PUT", "/models/m/3/set-default").endpoint == Endpoint::kSetDefault);
  CHECK(route("DELETE", "/models/m/3").endpoint == Endpoint::kUnload);
  CHECK(route("POST", "/models/m/3").endpoint == Endpoint::kLoad);
  CHECK(route("GET", "/models/m").endpoint == Endpoint::kDescribe);
  CHECK(route("GET", "/models").management);
  CHECK(route("GET", "/ping").endpoint == Endpoint::kPing);
  r = route("GET", "/predictions/m");
  CHECK(r.status == 405);
  CHECK(r.message == "predictions take POST");
  r = route("POST", "/predictions/m/0");
  CHECK(r.status == 400);
  CHECK(r.message == "version '0' is not a positive number");
  r = route("PATCH", "/models/m/1");
  CHECK(r.status == 405);
  CHECK(r.management);
  r = route("GET", "/nowhere");
  CHECK(r.status == 404);
  CHECK(r.message == "no such endpoint: /nowhere; see /predictions/{model}, /models, /ping, /metrics");
}
