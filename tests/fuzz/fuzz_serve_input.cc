// Fuzzes the inference server's request decoding (web/serve/input.h): PNG
// through libpng (any size, resized), and the JSON forms. The first byte picks
// the content type the request claims.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "web/serve/input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  static const char* kTypes[] = {"application/json", "image/png", "image/jpeg", ""};
  const std::string_view type = kTypes[data[0] % 4];
  const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  ctflow::serve::Inputs in;
  ctflow::serve::DecodeError err;
  if (ctflow::serve::decode_inputs(type, body, 28, 28, 64, in, err)) {
    if (in.n < 1 || in.pixels.size() != static_cast<size_t>(in.n) * 784) __builtin_trap();
    for (float v : in.pixels)
      if (!(v >= 0.0f && v <= 1.0f)) __builtin_trap();
  } else if (err.message.empty()) {
    __builtin_trap();
  }
  return 0;
}
