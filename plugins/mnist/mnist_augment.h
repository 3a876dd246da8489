// Data augmentation for mnist.train, in plain C++ on the batch (no libtorch): a
// random small affine map per image (rotation, scale, shift), bilinear, zeros
// outside. A batch of 128 MNIST images costs well under a millisecond.
#pragma once

#include <cstdint>
#include <random>

namespace ctflow::mnist {

struct AugmentOptions {
  double shift = 2;    // pixels, each axis uniform in [-shift, shift]
  double rotate = 10;  // degrees, uniform in [-rotate, rotate]
  double scale = 0;    // zoom uniform in [1 - scale, 1 + scale]
};

// Writes B images of ROWS x COLS floats in [0, 1] to OUT (B x ROWS x COLS): image
// IDX[i] of IMAGES (uint8 0..255, or float 0..1), each moved by its own map drawn
// from RNG. With all three options 0 it is the plain copy.
void augment_batch(const uint8_t* images, const int64_t* idx, int64_t b, int rows, int cols, float* out,
                   std::mt19937_64& rng, const AugmentOptions& o);
void augment_batch(const float* images, const int64_t* idx, int64_t b, int rows, int cols, float* out,
                   std::mt19937_64& rng, const AugmentOptions& o);

}  // namespace ctflow::mnist
