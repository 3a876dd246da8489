#include "mnist_augment.h"

#include <cmath>

namespace ctflow::mnist {

namespace {

// A uniform draw in [-r, r] (0 without drawing when r is 0, so that turning one
// option off leaves the others' draws as they were).
double draw(std::mt19937_64& rng, double r) {
  if (r <= 0) return 0;
  return std::uniform_real_distribution<double>(-r, r)(rng);
}

template <class T>
void warp(const T* src, int rows, int cols, float* out, double angle, double zoom, double tx, double ty) {
  constexpr float kScale = sizeof(T) == 1 ? 1.0f / 255.0f : 1.0f;
  // The inverse map: output pixel (u, v) reads the source at
  // R(-angle) (p - centre - t) / zoom + centre.
  const double cy = (rows - 1) / 2.0, cx = (cols - 1) / 2.0;
  const double c = std::cos(angle) / zoom, s = std::sin(angle) / zoom;
  for (int v = 0; v < rows; ++v) {
    const double dy = v - cy - ty;
    for (int u = 0; u < cols; ++u) {
      const double dx = u - cx - tx;
      const double xs = c * dx + s * dy + cx, ys = -s * dx + c * dy + cy;
      const double fx = std::floor(xs), fy = std::floor(ys);
      const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
      const float ax = static_cast<float>(xs - fx), ay = static_cast<float>(ys - fy);
      auto at = [&](int y, int x) -> float {
        return y < 0 || y >= rows || x < 0 || x >= cols ? 0.0f : static_cast<float>(src[y * cols + x]);
      };
      const float top = at(y0, x0) + ax * (at(y0, x0 + 1) - at(y0, x0));
      const float bottom = at(y0 + 1, x0) + ax * (at(y0 + 1, x0 + 1) - at(y0 + 1, x0));
      out[v * cols + u] = (top + ay * (bottom - top)) * kScale;
    }
  }
}

template <class T>
void augment(const T* images, const int64_t* idx, int64_t b, int rows, int cols, float* out, std::mt19937_64& rng,
             const AugmentOptions& o) {
  const int64_t px = static_cast<int64_t>(rows) * cols;
  for (int64_t i = 0; i < b; ++i) {
    const double angle = draw(rng, o.rotate) * M_PI / 180.0;
    const double zoom = 1.0 + draw(rng, o.scale);
    const double tx = draw(rng, o.shift), ty = draw(rng, o.shift);
    warp(images + idx[i] * px, rows, cols, out + i * px, angle, zoom, tx, ty);
  }
}

}  // namespace

void augment_batch(const uint8_t* images, const int64_t* idx, int64_t b, int rows, int cols, float* out,
                   std::mt19937_64& rng, const AugmentOptions& o) {
  augment(images, idx, b, rows, cols, out, rng, o);
}

void augment_batch(const float* images, const int64_t* idx, int64_t b, int rows, int cols, float* out,
                   std::mt19937_64& rng, const AugmentOptions& o) {
  augment(images, idx, b, rows, cols, out, rng, o);
}

}  // namespace ctflow::mnist
