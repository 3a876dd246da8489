// Request bodies of the inference API, decoded into model inputs: grayscale
// float32 pixels in [0, 1], HEIGHT x WIDTH each. No HTTP here, so the fuzzers
// (tests/fuzz/fuzz_serve_input.cc) reach all of it.
//   - a PNG (any colour type or bit depth; any size, resized by area averaging)
//   - JSON {"data": [H*W numbers]}: one input
//   - JSON {"instances": [[H*W numbers], ...]}: a batch (each may also be
//     {"data": [...]})
// Numbers are pixel intensities in [0, 1], or in [0, 255] when any is above 1.
// Nested rows ([[28 numbers] x 28]) are flattened.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace ctflow::serve {

struct Inputs {
  std::vector<float> pixels;  // n * height * width
  int64_t n = 0;
  bool batch = false;  // the "instances" form: the answer is {"predictions": [...]}
  // Summary statistics for the drift metrics, per input: mean intensity and the
  // fraction of pixels above 0.5.
};

struct DecodeError {
  int status = 400;  // 400 bad input, 415 unsupported media type
  std::string message;
};

// Decodes BODY. On failure returns false and fills ERR with a message that
// names the problem and the fix.
bool decode_inputs(std::string_view content_type, std::string_view body, int height, int width, size_t max_batch,
                   Inputs& out, DecodeError& err);

// Rows of named fields for a tabular model: JSON {"instances": [{...}, ...]} (a
// batch) or one object {...} (or {"data": {...}}). DECODE_ROW turns the JSON
// text of one row into WIDTH floats at its OUT and returns "" or what is wrong
// with the row (a field named), which becomes the 400 answer.
using RowDecoder = std::function<std::string(const std::string& row_json, float* out)>;
bool decode_rows(std::string_view body, int width, size_t max_batch, const RowDecoder& decode_row, Inputs& out,
                 DecodeError& err);

// Decodes a PNG into HEIGHT x WIDTH floats at OUT (resizing when needed).
Status decode_png(std::string_view bytes, int height, int width, float* out);

// Resizes a grayscale 8-bit image by area averaging (box filter), to floats in [0, 1].
void resize_area(const uint8_t* src, int sh, int sw, int dh, int dw, float* out);

}  // namespace ctflow::serve
