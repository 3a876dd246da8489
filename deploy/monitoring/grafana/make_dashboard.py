#!/usr/bin/env python3
"""Writes ctflow-dashboard.json (Grafana 9+ dashboard JSON) next to this file.
Edit the panels here and rerun: python3 deploy/monitoring/grafana/make_dashboard.py"""
import json, pathlib

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
panels, y = [], 0

def row(title):
    global y
    panels.append({"type": "row", "title": title, "collapsed": False, "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                   "id": len(panels) + 1, "panels": []})
    y += 1

def panel(title, targets, x, w, unit="short", kind="timeseries", h=8, thresholds=None, desc=""):
    p = {"id": len(panels) + 1, "type": kind, "title": title, "description": desc, "datasource": DS,
         "gridPos": {"h": h, "w": w, "x": x, "y": y},
         "targets": [{"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": l} for i, (e, l) in enumerate(targets)],
         "fieldConfig": {"defaults": {"unit": unit}, "overrides": []}, "options": {}}
    if thresholds:
        p["fieldConfig"]["defaults"]["thresholds"] = {"mode": "absolute", "steps": [
            {"color": "green", "value": None}] + [{"color": c, "value": v} for v, c in thresholds]}
        if kind == "timeseries":
            p["fieldConfig"]["defaults"]["custom"] = {"thresholdsStyle": {"mode": "line"}}
    panels.append(p)

def next_row(h=8):
    global y
    y += h

row("Serving (ctflow serve)")
panel("Requests by status", [('sum by (code) (rate(ctflow_serve_requests_total{job=~"$serve"}[$__rate_interval]))', "{{code}}")], 0, 8, "reqps")
panel("Latency percentiles", [(f'histogram_quantile({q}, sum by (le) (rate(ctflow_serve_request_duration_seconds_bucket{{job=~"$serve"}}[$__rate_interval])))', f"p{int(q * 100)}")
                              for q in (0.5, 0.9, 0.99)], 8, 8, "s", thresholds=[(0.25, "red")])
panel("Batch sizes", [('histogram_quantile(0.5, sum by (le) (rate(ctflow_serve_batch_size_bucket{job=~"$serve"}[$__rate_interval])))', "median"),
                      ('histogram_quantile(0.99, sum by (le) (rate(ctflow_serve_batch_size_bucket{job=~"$serve"}[$__rate_interval])))', "p99"),
                      ('sum(rate(ctflow_serve_batch_size_sum{job=~"$serve"}[$__rate_interval])) / sum(rate(ctflow_serve_batch_size_count{job=~"$serve"}[$__rate_interval]))', "mean")], 16, 8)
next_row()
panel("Served version", [('ctflow_serve_model_default_version{job=~"$serve"}', "{{model}}")], 0, 6, kind="stat",
      desc="The version that takes each model's traffic (set-default switches it).")
panel("Answers by version", [('sum by (model, version) (rate(ctflow_serve_model_answers_total{job=~"$serve"}[$__rate_interval]))', "{{model}} v{{version}}")], 6, 9, "ops")
panel("Queue depth", [('ctflow_serve_queue_depth{job=~"$serve"}', "{{instance}}")], 15, 9)
next_row()
row("Drift (against the profile of the served version)")
panel("Overall drift (share of signals that drift)", [('ctflow_serve_drift_overall{job=~"$serve"}', "{{model}}")], 0, 8, "percentunit",
      thresholds=[(0.5, "red")], desc="Evidently's dataset drift share: the model drifts at 0.5 and above (the CtflowModelDrift alert).")
panel("Drift score per signal", [('ctflow_serve_drift_score{job=~"$serve"}', "{{model}} {{signal}}")], 8, 8, thresholds=[(0.1, "orange")],
      desc="PSI for intensity and class balance (drift at 0.1); the KS statistic D for the neighbour distance (drift when its p-value < 0.05).")
panel("Signals drifting", [('ctflow_serve_drift_signal_drifted{job=~"$serve"}', "{{model}} {{signal}}")], 16, 8, kind="state-timeline")
next_row()
panel("Predicted classes", [('sum by (class) (rate(ctflow_serve_predictions_total{job=~"$serve"}[$__rate_interval]))', "{{class}}")], 0, 12, "ops")
panel("Input intensity", [('ctflow_serve_input_intensity_mean{job=~"$serve"}', "mean"), ('ctflow_serve_input_ink_ratio{job=~"$serve"}', "ink ratio")], 12, 12)
next_row()
row("Workflows (ctflow ui, ctflow daemon)")
panel("Run outcomes", [('sum by (workflow, status) (increase(ctflow_runs_total{job=~"$engine"}[1h]))', "{{workflow}} {{status}}")], 0, 8,
      desc="Runs finished in the last hour, by status.")
panel("Step durations", [('histogram_quantile(0.5, sum by (workflow, le) (rate(ctflow_step_duration_seconds_bucket{job=~"$engine"}[1h])))', "{{workflow}} median"),
                         ('histogram_quantile(0.95, sum by (workflow, le) (rate(ctflow_step_duration_seconds_bucket{job=~"$engine"}[1h])))', "{{workflow}} p95")], 8, 8, "s")
panel("Since the last success", [('time() - max by (workflow) (ctflow_workflow_last_success_timestamp_seconds{job=~"$engine"})', "{{workflow}}")], 16, 8, "s",
      kind="stat", thresholds=[(86400, "red")])
next_row()
panel("Trigger firings", [('sum by (workflow, trigger, outcome) (increase(ctflow_trigger_firings_total{job=~"$engine"}[1h]))', "{{workflow}}/{{trigger}} {{outcome}}")], 0, 24)
next_row()

var = lambda name, label, regex: {"name": name, "label": label, "type": "query", "datasource": DS, "query": "label_values(up, job)",
                                   "refresh": 1, "regex": regex, "includeAll": True, "multi": True, "current": {"text": "All", "value": "$__all"}}
dash = {
    "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
    "title": "ctflow", "uid": "ctflow", "tags": ["ctflow"], "timezone": "browser", "schemaVersion": 38, "version": 1,
    "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [var("serve", "serve jobs", "/ctflow-serve.*/"), var("engine", "engine jobs", "/ctflow-(ui|daemon).*/")]},
    "panels": panels,
}
out = pathlib.Path(__file__).with_name("ctflow-dashboard.json")
out.write_text(json.dumps(dash, indent=2) + "\n")
print(out)
