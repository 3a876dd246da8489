// How fast RunStore::add_metrics records points: 1,000,000 points in batches of
// 10,000 (one transaction each), into a fresh store in a temporary folder.
// Prints {"bench":"metrics_ingest","points":N,"seconds":S,"points_per_second":X}.
// Usage: metrics_ingest [POINTS] [BATCH]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "store/run_store.h"
#include "store/testing/scratch_dir.h"

int main(int argc, char** argv) {
  using namespace ctflow;
  long total = argc > 1 ? std::atol(argv[1]) : 1000000;
  long batch = argc > 2 ? std::atol(argv[2]) : 10000;
  testing::ScratchDir dir;
  auto store = RunStore::open(dir / ".ctflow");
  if (!store.ok()) {
    std::fprintf(stderr, "metrics_ingest: %s\n", store.message().c_str());
    return 1;
  }
  auto run = (*store)->create_run("bench", "bench.yaml", Json::object(), "");
  if (!run.ok()) {
    std::fprintf(stderr, "metrics_ingest: %s\n", run.message().c_str());
    return 1;
  }
  std::vector<MetricPoint> points(static_cast<size_t>(batch));
  auto start = std::chrono::steady_clock::now();
  long written = 0;
  for (long b = 0; written < total; ++b) {
    points.resize(static_cast<size_t>(std::min(batch, total - written)));
    for (size_t i = 0; i < points.size(); ++i)
      points[i] = {*run, "train", "loss/" + std::to_string(b), "series", static_cast<int64_t>(i), 1.0 / (i + 1), 0};
    if (Status s = (*store)->add_metrics(points); !s) {
      std::fprintf(stderr, "metrics_ingest: %s\n", s.message().c_str());
      return 1;
    }
    written += static_cast<long>(points.size());
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("{\"bench\":\"metrics_ingest\",\"points\":%ld,\"batch\":%ld,\"seconds\":%.3f,\"points_per_second\":%.0f}\n",
              written, batch, seconds, written / seconds);
  return 0;
}
