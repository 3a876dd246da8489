// The dashboard's JSON API as a plain function from request to response: no
// sockets here (web/http_server.cc carries requests to it), so it is easy to
// read and to test. Every answer is JSON, errors included: {"error": "..."}.
//
// Thread safety: an Api uses its RunStore from one thread at a time.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/artifact_store.h"
#include "store/run_store.h"
#include "web/dashboard.h"

namespace ctflow::web {

struct ApiRequest {
  std::string method;             // GET, POST, ...
  std::string path;               // "/api/v1/runs" (as sent: percent-encoded, no query)
  std::map<std::string, std::string> query;  // decoded ?k=v
  std::string body;
  std::string authorization;      // the Authorization header
  std::string content_type;
};

struct ApiResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Set instead of BODY for an artifact: the verified blob to send as it is.
  std::filesystem::path file;
  std::string download_name;      // Content-Disposition filename for FILE
};

ApiResponse json_response(int status, const nlohmann::json& body);
ApiResponse error_response(int status, const std::string& message);
// The .yaml and .yml files of DIR, sorted (none when DIR is empty or unreadable).
std::vector<std::filesystem::path> workflow_files(const std::filesystem::path& dir);

// Splits "/a/b?x=1&y=%20" into the path (left encoded) and the decoded query.
void split_target(const std::string& target, std::string& path, std::map<std::string, std::string>& query);
std::string url_decode(const std::string& text);
// "sha256:" and exactly 64 lowercase hex digits.
bool is_valid_digest(const std::string& digest);

class Api {
 public:
  // STORE must outlive the Api.
  Api(RunStore& store, const DashboardOptions& options, std::string token, bool require_token);

  ApiResponse handle(const ApiRequest& request);

  // The run document with the DAG and attempts; null when the run is unknown.
  nlohmann::json run_view(const std::string& run_id);
  // A short fingerprint of a run's state: changes whenever anything shown does.
  std::string run_fingerprint(const std::string& run_id);
  // The same for the runs list (newest runs and their statuses).
  std::string runs_fingerprint();
  nlohmann::json runs_list(const std::string& status, const std::string& workflow, int limit);
  // Reaps finished child processes (submit/resume) without blocking.
  void reap_children();

 private:
  ApiResponse get_runs(const ApiRequest& r);
  ApiResponse get_run(const std::string& id);
  ApiResponse get_log(const std::string& id, const std::string& step, const ApiRequest& r);
  ApiResponse get_metrics(const std::string& id);
  ApiResponse get_artifact(const std::string& digest);
  ApiResponse get_models();
  ApiResponse get_triggers();
  ApiResponse get_drift();
  ApiResponse get_workflows();
  ApiResponse post_stage(const std::string& name, const std::string& version, const ApiRequest& r);
  ApiResponse post_submit(const ApiRequest& r);
  ApiResponse post_cancel(const std::string& id);
  ApiResponse post_resume(const std::string& id);
  // The full id of a run given in a URL, or why not (404).
  Result<std::string> lookup_run(const std::string& ref);
  // Starts `ctflow --store DIR ARGS...` in its own session; its stdout and stderr
  // go to a file under the store. Returns that file.
  Result<std::filesystem::path> spawn(const std::vector<std::string>& args, int& pid);

  RunStore& store_;
  ArtifactStore artifacts_;
  DashboardOptions options_;
  std::string token_;
  bool require_token_;
  std::vector<int> children_;
  // The last runs lists and run documents answered, valid while the database is
  // unchanged (PRAGMA data_version) and for at most a second (running durations).
  struct CachedList {
    int64_t data_version = -1;
    int64_t at_ms = 0;
    std::string body;
  };
  std::map<std::string, CachedList> list_cache_;
  int64_t data_version();
  std::string run_fingerprint_uncached(const std::string& run_id);
  std::map<std::string, std::pair<int64_t, std::string>> fingerprints_;  // run id ("" the list) -> version, fingerprint
};

}  // namespace ctflow::web
