#!/usr/bin/env bash
# deploy/monitoring with Debian's Prometheus: promtool checks the scrape
# configuration and the alert rules, runs the rules' unit tests (series that
# fire the drift, no-success, 5xx and latency alerts), and parses every query
# of the Grafana dashboard. Then a real Prometheus on loopback (a free port,
# its own data folder, a 1 s scrape interval) scrapes a real `ctflow serve`
# that has seen inputs unlike its training data, and its HTTP API answers with
# the ctflow drift series and the drift alert pending.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

need_tool promtool prometheus
need_tool prometheus prometheus
need_tool curl
MON="$CTFLOW_SOURCE_DIR/deploy/monitoring"

promtool check config "$MON/prometheus.yml" >"$T/check.out" 2>&1 || fail "promtool check config: $(cat "$T/check.out")"
promtool check rules "$MON/alerts.yml" >"$T/check.out" 2>&1 || fail "promtool check rules: $(cat "$T/check.out")"
(cd "$MON" && promtool test rules alerts_test.yml) >"$T/check.out" 2>&1 || fail "promtool test rules: $(cat "$T/check.out")"
pass "promtool: the configuration, the rules and their tests"

# Every dashboard query, with Grafana's variables filled in, as a recording rule.
"$PY" - "$MON/grafana/ctflow-dashboard.json" "$T/dashboard_rules.yml" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exprs = [t["expr"] for p in d["panels"] for t in p.get("targets", [])]
assert len(exprs) >= 15, len(exprs)
for need in ("ctflow_serve_drift_overall", "ctflow_serve_drift_score", "ctflow_serve_request_duration_seconds_bucket",
             "ctflow_serve_batch_size_bucket", "ctflow_serve_model_default_version", "ctflow_runs_total",
             "ctflow_step_duration_seconds_bucket", "ctflow_workflow_last_success_timestamp_seconds", "ctflow_trigger_firings_total"):
    assert any(need in e for e in exprs), "the dashboard has no panel on " + need
with open(sys.argv[2], "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "1m").replace("$serve", ".*").replace("$engine", ".*")
        f.write("      - record: dashboard:q%d\n        expr: %s\n" % (i, json.dumps(e)))
PY
promtool check rules "$T/dashboard_rules.yml" >"$T/check.out" 2>&1 || fail "a dashboard query does not parse: $(cat "$T/check.out")"
pass "every query of the Grafana dashboard parses"

# --- a real ctflow serve with drift, scraped by a real Prometheus
use_mnist
id=$(ctflow run "$WF" -p data="$DATA" -p limit=800 -p epochs=1 -p threshold=0 2>"$T/err") || fail "run: $(cat "$T/err")"
start_serve serve --drift-window 100
"$PY" - "$URL" <<'PY'
import http.client, json, sys, urllib.parse
import numpy as np
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
noise = np.random.default_rng(1).integers(0, 256, size=(100, 784)).tolist()
c.request("POST", "/predictions/mnist-embedder", json.dumps({"instances": noise}), {"Content-Type": "application/json"})
r = c.getresponse()
assert r.status == 200, (r.status, r.read())
r.read()
c.request("GET", "/models/mnist-embedder/drift")
d = json.loads(c.getresponse().read())
assert d["drifted"] is True, d
PY
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SERVE_HOSTPORT=${URL#http://}
cat > "$T/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ["$MON/alerts.yml"]
scrape_configs:
  - job_name: ctflow-serve
    static_configs: [{targets: ["$SERVE_HOSTPORT"]}]
YML
prometheus --config.file="$T/prometheus.yml" --web.listen-address="127.0.0.1:$PORT" --storage.tsdb.path="$T/prom-data" \
  --log.level=warn >"$T/prom.out" 2>&1 &
_BG_PIDS+=("$!")
PROM="http://127.0.0.1:$PORT"
wait_for 30 curl -fsS -o /dev/null "$PROM/-/ready" || fail "Prometheus did not start: $(tail -20 "$T/prom.out")"

query() { curl -fsS --get "$PROM/api/v1/query" --data-urlencode "query=$1"; }
has_series() { query "$1" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["data"]["result"] else 1)'; }
wait_for 30 has_series 'ctflow_serve_drift_overall{model="mnist-embedder"}' || fail "no drift series in Prometheus: $(query 'up')"
r=$(query 'ctflow_serve_drift_score{job="ctflow-serve"}')
for sig in intensity class_balance neighbor_distance; do assert_contains "$r" "\"signal\":\"$sig\"" "the $sig score in Prometheus"; done
assert_contains "$(query 'ctflow_serve_drift_overall')" '"value":[' "the overall drift in Prometheus"
assert_contains "$(query 'ctflow_serve_model_default_version')" '"model":"mnist-embedder"' "the served version in Prometheus"
pass "Prometheus scraped the ctflow drift series from ctflow serve"

alert_active() {
  curl -fsS "$PROM/api/v1/alerts" | "$PY" -c '
import json, sys
a = [x for x in json.load(sys.stdin)["data"]["alerts"] if x["labels"]["alertname"] == "CtflowModelDrift"]
sys.exit(0 if a and a[0]["labels"]["model"] == "mnist-embedder" and a[0]["state"] in ("pending", "firing") else 1)'
}
wait_for 30 alert_active || fail "CtflowModelDrift is not pending: $(curl -fsS "$PROM/api/v1/alerts")"
pass "the drift alert is pending in Prometheus"
