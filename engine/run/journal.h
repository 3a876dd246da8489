// RunJournal: everything the scheduler records about a run or reads back (the
// claim and heartbeat, step, attempt, artifact, metric and confusion rows, the
// step cache, what an earlier attempt of the run left for resume, the run's
// end) and the artifact blobs. The SQLite RunStore and the ArtifactStore
// implement it (StoreJournal); a unit test's fake keeps it in memory.
//
// Threads: the scheduler calls it from its strand, one call at a time, except
// put_blob, which runs on a worker thread while the strand records (the blob
// store must allow that).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "store/artifact_store.h"
#include "store/run_store.h"

namespace ctflow {

class RunJournal {
 public:
  virtual ~RunJournal() = default;

  // Where the run's files go: DIR (given to isolated plugins and containers),
  // DIR/work/RUN (working folders), DIR/logs/RUN (logs), DIR/blobs (artifacts).
  virtual std::filesystem::path dir() const = 0;
  virtual std::filesystem::path work_dir() const = 0;
  virtual std::filesystem::path logs_dir() const = 0;
  virtual std::filesystem::path blobs_dir() const = 0;

  // --- the run ---
  virtual Status claim(const std::string& run_id, int64_t pid) = 0;
  virtual Status heartbeat(const std::string& run_id, int64_t pid) = 0;
  virtual Status finish(const std::string& run_id, const std::string& status, const std::string& message) = 0;

  // --- rows ---
  virtual Status upsert_step(const StepRecord& step) = 0;
  virtual Status add_attempt(const AttemptRecord& attempt) = 0;
  virtual Status add_artifact(const ArtifactRecord& artifact) = 0;
  virtual Status add_metrics(const std::vector<MetricPoint>& points) = 0;
  virtual Status add_confusion(const ConfusionRecord& confusion) = 0;
  // The latest progress of step row NAME ({"done", "total", "message", "at"}).
  virtual Status set_progress(const std::string& run_id, const std::string& name, const Json& progress) {
    (void)run_id, (void)name, (void)progress;
    return Status::Ok();
  }
  // Runs WRITES (calls of the methods above) as one transaction.
  virtual Status transaction(const std::function<void()>& writes) = 0;

  // --- resume: what earlier attempts of the run recorded ---
  virtual Result<std::vector<StepRecord>> steps(const std::string& run_id) = 0;
  virtual Result<std::vector<ArtifactRecord>> artifacts(const std::string& run_id) = 0;

  // --- the step cache ---
  virtual Result<std::optional<CacheEntry>> cache_lookup(const std::string& key) = 0;
  virtual Status cache_store(const CacheEntry& entry) = 0;

  // --- artifact blobs ---
  // Stores the file or folder at PATH (moving it in); safe from any thread.
  virtual Result<StoredArtifact> put_blob(const std::filesystem::path& path) = 0;
  virtual Result<StoredArtifact> get_blob(const std::string& digest) = 0;
};

// The journal over a RunStore and its ArtifactStore (the store's blobs folder).
class StoreJournal final : public RunJournal {
 public:
  explicit StoreJournal(RunStore& store);

  std::filesystem::path dir() const override { return dir_; }
  std::filesystem::path work_dir() const override { return dir_ / "work"; }
  std::filesystem::path logs_dir() const override { return dir_ / "logs"; }
  std::filesystem::path blobs_dir() const override { return dir_ / "blobs"; }

  Status claim(const std::string& run_id, int64_t pid) override { return store_.claim_run(run_id, pid); }
  Status heartbeat(const std::string& run_id, int64_t pid) override { return store_.heartbeat(run_id, pid); }
  Status finish(const std::string& run_id, const std::string& status, const std::string& message) override {
    return store_.finish_run(run_id, status, message);
  }
  Status upsert_step(const StepRecord& step) override { return store_.upsert_step(step); }
  Status add_attempt(const AttemptRecord& attempt) override { return store_.add_attempt(attempt); }
  Status add_artifact(const ArtifactRecord& artifact) override { return store_.add_artifact(artifact); }
  Status add_metrics(const std::vector<MetricPoint>& points) override { return store_.add_metrics(points); }
  Status add_confusion(const ConfusionRecord& confusion) override { return store_.add_confusion(confusion); }
  Status set_progress(const std::string& run_id, const std::string& name, const Json& progress) override {
    return store_.set_progress(run_id, name, progress);
  }
  Status transaction(const std::function<void()>& writes) override;
  Result<std::vector<StepRecord>> steps(const std::string& run_id) override { return store_.get_steps(run_id); }
  Result<std::vector<ArtifactRecord>> artifacts(const std::string& run_id) override {
    return store_.get_artifacts(run_id);
  }
  Result<std::optional<CacheEntry>> cache_lookup(const std::string& key) override { return store_.cache_lookup(key); }
  Status cache_store(const CacheEntry& entry) override { return store_.cache_store(entry); }
  Result<StoredArtifact> put_blob(const std::filesystem::path& path) override { return blobs_.put(path); }
  Result<StoredArtifact> get_blob(const std::string& digest) override { return blobs_.get(digest); }

 private:
  RunStore& store_;
  // Absolute: steps run in their own working folders, so a store given as a
  // relative path (--store .ctflow) must not reach them as one.
  std::filesystem::path dir_;
  ArtifactStore blobs_;
};

}  // namespace ctflow
