// Several engine processes writing to one store at once: every write lands,
// none fails on a locked database, and the database stays intact.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "store/run_store.h"
#include "store/testing/scratch_dir.h"

using namespace ctflow;
using ctflow::testing::ScratchDir;

namespace {

constexpr int kProcesses = 4;
constexpr int kWrites = 200;

// One child's work: KWRITES rounds of create_run, upsert_step, add_metrics.
// Returns the exit status for the parent: 0 when everything succeeded.
int child_writes(const std::filesystem::path& dir, int child) {
  auto store = RunStore::open(dir);
  if (!store.ok()) return 10;
  for (int i = 0; i < kWrites; ++i) {
    auto id = (*store)->create_run("wf-" + std::to_string(child), "wf.yaml", Json{{"i", i}}, "");
    if (!id.ok()) return 11;
    StepRecord step;
    step.run_id = *id;
    step.name = "train";
    step.step = "train";
    step.status = "Succeeded";
    if (!(*store)->upsert_step(step).ok()) return 12;
    std::vector<MetricPoint> points;
    for (int k = 0; k < 10; ++k) points.push_back({*id, "train", "loss", "series", k, 1.0 / (k + 1), 0});
    if (!(*store)->add_metrics(points).ok()) return 13;
  }
  return 0;
}

}  // namespace

TEST_CASE("RunStoreConcurrency.FourProcessesWritingAtOnceAllSucceed") {
  ScratchDir dir;
  auto path = dir / ".ctflow";
  { REQUIRE(RunStore::open(path).ok()); }  // created before the children race

  std::vector<pid_t> children;
  for (int c = 0; c < kProcesses; ++c) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) ::_exit(child_writes(path, c));
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }

  auto store = RunStore::open(path);
  REQUIRE(store.ok());
  CHECK((*store)->check_integrity().ok());
  auto runs = (*store)->list_runs(100000);
  REQUIRE(runs.ok());
  CHECK(runs->size() == kProcesses * kWrites);
  for (int c = 0; c < kProcesses; ++c)
    CHECK((*store)->list_runs(100000, "", "wf-" + std::to_string(c))->size() == kWrites);
  size_t points = 0;
  for (const auto& r : *runs) points += (*store)->get_metrics(r.id)->size();
  CHECK(points == static_cast<size_t>(kProcesses * kWrites * 10));
}

TEST_CASE("RunStoreConcurrency.FourProcessesCreatingTheStoreAtOnce") {
  ScratchDir dir;
  auto path = dir / ".ctflow";
  std::vector<pid_t> children;
  for (int c = 0; c < kProcesses; ++c) {
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      auto store = RunStore::open(path);
      ::_exit(store.ok() && (*store)->create_run("wf", "", Json::object(), "").ok() ? 0 : 1);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WEXITSTATUS(status) == 0);
  }
  auto store = RunStore::open(path);
  REQUIRE(store.ok());
  CHECK((*store)->schema_version() == RunStore::latest_schema_version());
  CHECK((*store)->list_runs()->size() == kProcesses);
}
