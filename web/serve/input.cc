#include "web/serve/input.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include <nlohmann/json.hpp>

namespace ctflow::serve {

namespace {

constexpr png_uint_32 kMaxSide = 8192;
constexpr uint64_t kMaxPixels = 16u << 20;  // 16 Mpixel: a PNG bomb stops here

bool is_png(std::string_view b) { return b.size() >= 8 && std::memcmp(b.data(), "\x89PNG\r\n\x1a\n", 8) == 0; }

// Appends one input from a JSON array (flat, or rows). Returns an error text or "".
std::string append_numbers(const nlohmann::json& a, size_t want, std::vector<float>& out, bool& above_one) {
  const size_t start = out.size();
  auto add = [&](const nlohmann::json& v) -> std::string {
    if (!v.is_number()) return "holds " + std::string(v.type_name()) + " where a number belongs";
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < 0 || x > 255) return "holds " + v.dump() + "; pixel values are in [0, 1] or [0, 255]";
    if (x > 1) above_one = true;
    out.push_back(static_cast<float>(x));
    return "";
  };
  if (!a.is_array()) return "is " + std::string(a.type_name()) + ", not an array of numbers";
  for (const auto& v : a) {
    if (out.size() - start > want) break;
    if (v.is_array()) {
      for (const auto& x : v) {
        if (out.size() - start > want) break;
        if (auto e = add(x); !e.empty()) return e;
      }
    } else if (auto e = add(v); !e.empty()) {
      return e;
    }
  }
  if (out.size() - start != want)
    return "has " + std::string(out.size() - start > want ? "more than " : "") + std::to_string(out.size() - start) +
           " numbers; the model takes " + std::to_string(want);
  return "";
}

// "" when INST is a non-empty array of at most MAX_BATCH WHAT ("inputs", "rows").
std::string check_instances(const nlohmann::json& inst, size_t max_batch, const char* what) {
  if (!inst.is_array() || inst.empty()) return std::string("\"instances\" must be a non-empty array of ") + what;
  if (inst.size() > max_batch)
    return "\"instances\" holds " + std::to_string(inst.size()) + " " + what + "; at most " + std::to_string(max_batch) +
           " per request (--max-request-batch)";
  return "";
}

}  // namespace

void resize_area(const uint8_t* src, int sh, int sw, int dh, int dw, float* out) {
  if (sh == dh && sw == dw) {
    for (int i = 0; i < dh * dw; ++i) out[i] = static_cast<float>(src[i]) / 255.0f;
    return;
  }
  const double fy = static_cast<double>(sh) / dh, fx = static_cast<double>(sw) / dw;
  for (int oy = 0; oy < dh; ++oy) {
    const double y0 = oy * fy, y1 = (oy + 1) * fy;
    for (int ox = 0; ox < dw; ++ox) {
      const double x0 = ox * fx, x1 = (ox + 1) * fx;
      double acc = 0, area = 0;
      for (int y = static_cast<int>(y0); y < std::min<int>(sh, static_cast<int>(std::ceil(y1))); ++y) {
        const double wy = std::min<double>(y + 1, y1) - std::max<double>(y, y0);
        if (wy <= 0) continue;
        for (int x = static_cast<int>(x0); x < std::min<int>(sw, static_cast<int>(std::ceil(x1))); ++x) {
          const double wx = std::min<double>(x + 1, x1) - std::max<double>(x, x0);
          if (wx <= 0) continue;
          acc += wy * wx * src[static_cast<size_t>(y) * static_cast<size_t>(sw) + static_cast<size_t>(x)];
          area += wy * wx;
        }
      }
      out[oy * dw + ox] = area > 0 ? static_cast<float>(acc / area / 255.0) : 0.0f;
    }
  }
}

Status decode_png(std::string_view bytes, int height, int width, float* out) {
  png_image img;
  std::memset(&img, 0, sizeof img);
  img.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&img, bytes.data(), bytes.size()))
    return Status::Error(std::string("the PNG cannot be read: ") + img.message);
  std::unique_ptr<png_image, void (*)(png_image*)> guard(&img, [](png_image* p) { png_image_free(p); });
  if (img.width == 0 || img.height == 0 || img.width > kMaxSide || img.height > kMaxSide ||
      static_cast<uint64_t>(img.width) * img.height > kMaxPixels)
    return Status::Error("the PNG is " + std::to_string(img.width) + " x " + std::to_string(img.height) +
                         " pixels; at most " + std::to_string(kMaxSide) + " a side and 16 Mpixel are accepted");
  img.format = PNG_FORMAT_GRAY;  // any colour type and depth, composited on black
  std::vector<uint8_t> gray(PNG_IMAGE_SIZE(img));
  if (!png_image_finish_read(&img, nullptr, gray.data(), 0, nullptr))
    return Status::Error(std::string("the PNG is damaged: ") + img.message);
  resize_area(gray.data(), static_cast<int>(img.height), static_cast<int>(img.width), height, width, out);
  return Status::Ok();
}

bool decode_inputs(std::string_view content_type, std::string_view body, int height, int width, size_t max_batch,
                   Inputs& out, DecodeError& err) {
  const size_t px = static_cast<size_t>(height) * static_cast<size_t>(width);
  out = Inputs{};
  if (is_png(body)) {
    out.pixels.resize(px);
    if (auto st = decode_png(body, height, width, out.pixels.data()); !st) {
      err = {400, st.message()};
      return false;
    }
    out.n = 1;
    return true;
  }
  if (content_type.rfind("image/", 0) == 0) {
    err = {415, "the body is not a PNG (" + std::string(content_type.substr(0, 60)) +
                    "); send a PNG, or JSON {\"data\": [" + std::to_string(px) + " numbers]}"};
    return false;
  }
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::exception& e) {  // parse_error, and out_of_range for 1e999 (found by fuzz_serve_http)
    std::string what = e.what();
    err = {400, "the body is neither a PNG nor JSON (" + what.substr(what.find(']') == std::string::npos ? 0 : what.find(']') + 2) +
                    "); send a PNG, or JSON {\"data\": [" + std::to_string(px) + " numbers]}"};
    return false;
  }
  bool above_one = false;
  auto fail = [&](const std::string& m) {
    err = {400, m};
    return false;
  };
  if (!doc.is_object()) return fail("the JSON body must be an object: {\"data\": [...]} or {\"instances\": [[...], ...]}");
  if (doc.contains("instances")) {
    const auto& inst = doc["instances"];
    if (auto e = check_instances(inst, max_batch, "inputs"); !e.empty()) return fail(e);
    out.pixels.reserve(px * inst.size());
    for (size_t i = 0; i < inst.size(); ++i) {
      const auto& one = inst[i].is_object() && inst[i].contains("data") ? inst[i]["data"] : inst[i];
      if (auto e = append_numbers(one, px, out.pixels, above_one); !e.empty())
        return fail("\"instances\"[" + std::to_string(i) + "] " + e);
    }
    out.n = static_cast<int64_t>(inst.size());
    out.batch = true;
  } else if (doc.contains("data")) {
    if (auto e = append_numbers(doc["data"], px, out.pixels, above_one); !e.empty()) return fail("\"data\" " + e);
    out.n = 1;
  } else {
    return fail("the JSON body has neither \"data\" nor \"instances\"; send {\"data\": [" + std::to_string(px) + " numbers]}");
  }
  if (above_one)
    for (auto& v : out.pixels) v /= 255.0f;
  return true;
}

bool decode_rows(std::string_view body, int width, size_t max_batch, const RowDecoder& decode_row, Inputs& out,
                 DecodeError& err) {
  out = Inputs{};
  auto fail = [&](const std::string& m) {
    err = {400, m};
    return false;
  };
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(body.begin(), body.end());
  } catch (const nlohmann::json::exception& e) {
    return fail(std::string("the body is not JSON (") + e.what() +
                "); send a row as a JSON object of named fields, or {\"instances\": [{...}, ...]}");
  }
  if (!doc.is_object()) return fail("the body must be a JSON object: one row, or {\"instances\": [{...}, ...]}");
  std::vector<const nlohmann::json*> rows;
  std::vector<std::string> where;
  if (doc.contains("instances")) {
    const auto& inst = doc["instances"];
    if (auto e = check_instances(inst, max_batch, "rows"); !e.empty()) return fail(e);
    for (size_t i = 0; i < inst.size(); ++i) {
      rows.push_back(&inst[i]);
      where.push_back("\"instances\"[" + std::to_string(i) + "]: ");
    }
    out.batch = true;
  } else {
    rows.push_back(doc.contains("data") ? &doc["data"] : &doc);
    where.push_back("");
  }
  out.pixels.resize(rows.size() * static_cast<size_t>(width));
  for (size_t i = 0; i < rows.size(); ++i)
    if (auto e = decode_row(rows[i]->dump(), out.pixels.data() + i * static_cast<size_t>(width)); !e.empty())
      return fail(where[i] + e);
  out.n = static_cast<int64_t>(rows.size());
  return true;
}

}  // namespace ctflow::serve
