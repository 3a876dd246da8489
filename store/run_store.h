// RunStore: the record of runs, steps, attempts, artifacts, metrics, the step
// cache and the model registry, in one SQLite database (.ctflow/ctflow.db, WAL).
//
// Thread safety: one RunStore is one SQLite connection; use it from one thread
// at a time. Several processes may open the same store at once (WAL, busy
// timeout, retries on SQLITE_BUSY). Every write is its own short transaction
// unless wrapped in a Transaction.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/json_text.h"
#include "base/status.h"
#include "base/time.h"

namespace ctflow {

class SqliteConnection;  // store/sqlite_util.h, private to the store
class Statement;
namespace testing {
struct StoreInternals;  // store/testing/store_internals.h: the store's own tests peek inside
}

struct RunRecord {
  std::string id;          // "r-20261123-0001a3f9"
  std::string workflow;    // metadata.name
  std::string file;        // the workflow file as given
  std::string status;      // Running, Succeeded, Failed, Errored, Cancelled
  Json params = Json::object();
  std::string source;      // the workflow text, so a run can be resumed as it was
  int64_t started_at = 0;
  int64_t finished_at = 0;  // 0 while running
  std::string message;
  int64_t owner_pid = 0;    // the engine process running it, 0 when none
  int64_t heartbeat_at = 0;
};

struct StepRecord {
  std::string run_id;
  std::string name;        // instance name: "train", "shard[2]"
  std::string step;        // the step it is an instance of: "train", "shard"
  std::string status;      // Pending, Running, Succeeded, Failed, Errored, Skipped, Omitted, Cancelled
  int attempts = 0;
  bool cached = false;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  Json outputs = Json::object();  // output parameters (typed JSON)
  std::string message;
  std::string log_path;     // the log of the latest attempt
  int exit_code = 0;
  std::string cache_key;
  // What the step ran with: {"with": resolved params, "plugin": name, "version": v,
  // "argv": [...], "image": ...}. An empty object keeps what was recorded before.
  Json inputs = Json::object();
  // The latest progress the step reported ({"done", "total", "message", "at"}),
  // null when none; written by set_progress, never by upsert_step.
  Json progress;
};

struct AttemptRecord {
  std::string run_id;
  std::string step;         // instance name
  int attempt = 1;
  std::string status;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int exit_code = 0;
  std::string message;
  std::string log_path;
};

struct ArtifactRecord {
  std::string run_id;
  std::string step;         // instance name
  std::string name;
  std::string digest;       // "sha256:..."
  int64_t size = 0;         // bytes (for a directory: the sum of its files)
  std::string kind;         // "file" or "dir"
  std::string role;         // "output" or "input"
  std::string path;         // read-only local path of the blob (filled by queries)
};

// A data version: TAG ("NAME@VERSION") names DIGEST since CREATED_AT (ms).
struct DataTag {
  std::string tag;
  std::string digest;
  int64_t created_at = 0;
};

struct MetricPoint {
  std::string run_id;
  std::string step;
  std::string name;
  std::string kind;         // "scalar" or "series"
  int64_t index = 0;        // series: step/epoch; scalar: 0
  double value = 0;
  int64_t ts = 0;           // ms
};

struct ConfusionRecord {
  std::string run_id;
  std::string step;
  std::string name;
  std::vector<std::string> labels;
  std::vector<int64_t> counts;  // labels.size()^2, row = true, column = predicted
};

struct CacheEntry {
  std::string key;
  std::string run_id;       // the run whose step produced it
  std::string step;
  Json outputs = Json::object();
  Json artifacts = Json::object();  // name -> {"digest":..., "size":..., "kind":...}
  int64_t created_at = 0;
};

struct ModelVersion {
  std::string name;
  int version = 0;
  std::string stage;        // None, Staging, Production, Archived
  std::string run_id;
  std::string step;
  Json artifacts = Json::object();  // name -> digest
  Json metrics = Json::object();
  Json params = Json::object();
  int64_t created_at = 0;
};

// How register_and_promote decides: the new version becomes Production when
// no version is, when the Production one has no number for METRIC, or when the
// new value is strictly better; otherwise it goes to Staging.
struct PromotionRule {
  std::string metric = "accuracy";
  bool higher_is_better = true;
};

struct Promotion {
  ModelVersion version;                 // as registered (its stage: Production or Staging)
  std::optional<ModelVersion> previous;  // the Production version it was compared with
  bool promoted = false;
};

// One firing of a trigger (ctflow daemon), keyed by (workflow, trigger, slot).
struct TriggerFiring {
  std::string workflow, trigger;
  std::string slot;          // schedule: the slot's UTC time; watch: path@mtime; webhook/drift: an id
  int64_t slot_time = 0;     // ms: the slot, or when the event came
  int64_t fired_at = 0;      // ms: when the daemon decided
  Json event = Json::object();
  std::string outcome;       // pending, started, skipped, missed, failed, baseline
  std::string reason;        // why no run started (or what it replaced)
  std::string run_id;
  int64_t pid = 0;           // the `ctflow run` process started for it
};

// One drift score a daemon's drift trigger read from `ctflow serve`.
struct DriftSample {
  std::string workflow, trigger, model;
  int version = 0;
  int64_t at = 0;           // ms
  double score = 0;         // overall
  double above = 0;         // the trigger's threshold
  Json signals = Json::object();  // signal -> {score, threshold, drifted, method}
};

// What the Prometheus /metrics of `ctflow ui` and `ctflow daemon` count.
struct EngineCounts {
  struct Runs { std::string workflow, status; int64_t count = 0; };
  struct LastSuccess { std::string workflow; int64_t finished_at = 0; };
  struct Firings { std::string workflow, trigger, outcome; int64_t count = 0; };
  struct Durations {
    std::string workflow;
    std::vector<int64_t> le;  // cumulative counts, one per bucket bound
    int64_t count = 0;
    double sum_s = 0;
  };
  std::vector<Runs> runs;
  std::vector<LastSuccess> last_success;
  std::vector<Firings> firings;
  std::vector<Durations> step_durations;
};

class RunStore {
 public:
  // Opens (creating when missing) the store in DIR: DIR/ctflow.db, DIR/blobs/,
  // DIR/logs/, DIR/work/. Applies pending schema migrations. Fails with a clear
  // message for a foreign or corrupt file, or a folder that cannot be written.
  static Result<std::unique_ptr<RunStore>> open(const std::filesystem::path& dir);
  // Test hook: as open(), but applies schema migrations only up to MAX_MIGRATION
  // (to build a store as an older ctflow left it).
  static Result<std::unique_ptr<RunStore>> open(const std::filesystem::path& dir, int max_migration);
  // The schema version this build writes (the number of migrations it knows).
  static int latest_schema_version();
  // A run whose owner has not sent a heartbeat for this long may be taken over.
  static constexpr int64_t kHeartbeatStaleMs = 10000;
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path blobs_dir() const { return dir_ / "blobs"; }
  std::filesystem::path logs_dir() const { return dir_ / "logs"; }
  std::filesystem::path work_dir() const { return dir_ / "work"; }
  int schema_version();

  // Groups the writes made while it lives into one transaction (BEGIN IMMEDIATE).
  class Transaction {
   public:
    explicit Transaction(RunStore& store);
    ~Transaction();  // rolls back unless committed
    Status commit();
   private:
    RunStore& store_;
    bool done_ = false;
    Status begun_;  // why BEGIN failed, if it did
  };

  // --- runs ---
  Result<std::string> create_run(const std::string& workflow, const std::string& file, const Json& params,
                                 const std::string& source);
  Status finish_run(const std::string& run_id, const std::string& status, const std::string& message);
  Status set_run_status(const std::string& run_id, const std::string& status);
  // Takes the run for this process: fails when another live engine holds it.
  Status claim_run(const std::string& run_id, int64_t pid);
  // Fails when PID no longer holds the run (another process took it over).
  Status heartbeat(const std::string& run_id, int64_t pid);
  // Gives the run up (owner_pid = 0) if PID holds it. finish_run also releases.
  Status release_run(const std::string& run_id, int64_t pid);
  Result<RunRecord> get_run(const std::string& run_id);
  // A full id, a unique prefix, or "@latest".
  Result<std::string> resolve_run_id(const std::string& ref);
  Result<std::vector<RunRecord>> list_runs(int limit = 1000, const std::string& status = "",
                                           const std::string& workflow = "");

  // --- steps and attempts ---
  Status upsert_step(const StepRecord& step);
  Status add_attempt(const AttemptRecord& attempt);
  Result<std::vector<StepRecord>> get_steps(const std::string& run_id);
  // Sets the progress of step row NAME of RUN_ID (a no-op when the row is not there yet).
  Status set_progress(const std::string& run_id, const std::string& name, const Json& progress);
  Result<std::vector<AttemptRecord>> get_attempts(const std::string& run_id, const std::string& step = "");

  // --- artifacts ---
  Status add_artifact(const ArtifactRecord& artifact);
  Result<std::vector<ArtifactRecord>> get_artifacts(const std::string& run_id, const std::string& step = "");
  Result<std::vector<ArtifactRecord>> artifact_uses(const std::string& digest);  // lineage
  Status tag_data(const std::string& tag, const std::string& digest);
  Result<std::string> resolve_data_tag(const std::string& tag);
  // Every tag that names DIGEST now, newest first.
  Result<std::vector<DataTag>> data_tags_of(const std::string& digest);

  // --- metrics ---
  Status add_metrics(const std::vector<MetricPoint>& points);  // one transaction
  Status add_confusion(const ConfusionRecord& confusion);
  Result<std::vector<MetricPoint>> get_metrics(const std::string& run_id, const std::string& step = "");
  Result<std::vector<ConfusionRecord>> get_confusions(const std::string& run_id, const std::string& step = "");

  // --- step cache ---
  Result<std::optional<CacheEntry>> cache_lookup(const std::string& key);
  Status cache_store(const CacheEntry& entry);

  // --- model registry ---
  Result<ModelVersion> register_model(ModelVersion version);  // assigns the next version number
  Result<std::vector<ModelVersion>> list_models(const std::string& name = "");
  Result<ModelVersion> get_model(const std::string& name, int version);  // version 0: the Production one, else latest
  Status set_model_stage(const std::string& name, int version, const std::string& stage);
  // The Production version of NAME; nullopt when it has none.
  Result<std::optional<ModelVersion>> production_model(const std::string& name);
  // Compares VERSION with the Production version of its name by RULE, registers
  // it and promotes it (archiving the one before) in ONE write transaction: two
  // deploys at once, in one process or several, never promote the worse one.
  Result<Promotion> register_and_promote(ModelVersion version, const PromotionRule& rule);

  // --- trigger firings (store/trigger_firings.cc) ---
  // Records F; false (and nothing written) when its key is already recorded.
  Result<bool> record_firing(const TriggerFiring& f);
  Status update_firing(const TriggerFiring& f);  // outcome, reason, run_id, pid, event by key
  // Names RUN_ID as the run of the firing; false when the firing already has
  // another run (a second process for one firing) or is not recorded.
  Result<bool> attach_firing_run(const std::string& workflow, const std::string& trigger, const std::string& slot,
                                 const std::string& run_id);
  Result<std::optional<TriggerFiring>> get_firing(const std::string& workflow, const std::string& trigger,
                                                  const std::string& slot);
  // Newest first; empty WORKFLOW/TRIGGER: all.
  Result<std::vector<TriggerFiring>> list_firings(const std::string& workflow = "", const std::string& trigger = "",
                                                  int limit = 100);
  // The firing with the latest slot_time (OUTCOME "" for any outcome but baseline).
  Result<std::optional<TriggerFiring>> latest_firing(const std::string& workflow, const std::string& trigger,
                                                     const std::string& outcome = "");
  Result<std::optional<TriggerFiring>> firing_for_run(const std::string& run_id);
  // Firings of WORKFLOW still pending or whose run is Pending or Running.
  Result<std::vector<TriggerFiring>> open_firings(const std::string& workflow);
  // --- drift samples (store/trigger_firings.cc) ---
  Status record_drift_sample(const DriftSample& s);
  // Oldest first; the last LIMIT samples of each model (empty MODEL: all).
  Result<std::vector<DriftSample>> list_drift_samples(const std::string& model = "", int limit = 500);
  // Counts for /metrics; BUCKETS are the step-duration histogram's bounds (s).
  Result<EngineCounts> engine_counts(const std::vector<double>& buckets);

  // PRAGMA integrity_check: OK, or the problems it lists.
  Status check_integrity();
  // A number that changes whenever another connection (another process, or
  // another RunStore) commits to the database; this connection's own writes do
  // not change it. Cheap: for caches of what others write.
  Result<int64_t> data_version();

 private:
  friend struct testing::StoreInternals;
  RunStore(std::filesystem::path dir, std::unique_ptr<SqliteConnection> conn);
  // The cached prepared statement for SQL, ready to bind.
  Result<Statement> prepare(std::string_view sql);
  Status write(const std::function<Status()>& fn);  // one write transaction (nests)

  std::filesystem::path dir_;
  std::unique_ptr<SqliteConnection> conn_;
};

}  // namespace ctflow
