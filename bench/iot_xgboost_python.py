#!/usr/bin/python3
"""Python xgboost baseline for iot.train (README, the IoT workflow's figures).

Reads the readings of an iot.simulate database with sqlite3, computes the same
features as plugins/iot/iot_train.cc (power, temperature difference, wear x
torque and its share of the type's overstrain limit, the type one-hot), makes
its own seeded stratified 20% held-out split (or, with --split-of MODEL_DIR,
holds out the very rows iot.train held out: those of MODEL_DIR/holdout.csv),
trains Python's xgboost with the given parameters and prints {"f1",
"precision", "recall", "train_s", ...} as JSON. Usage: iot_xgboost_python.py
DATABASE [--max-depth 6 --rounds 200 --eta 0.1 --subsample 0.9 --pos-weight 1
--threshold 0.5 --seed 42 --threads 2 --split-of MODEL_DIR]
"""
import argparse
import json
import math
import os
import sqlite3
import time

import numpy as np
import xgboost as xgb

LIMIT = {"L": 11000.0, "M": 12000.0, "H": 13000.0}
RAW = ["air_temp_k", "process_temp_k", "rpm", "torque_nm", "tool_wear_min"]


def features(db):
    cols = "type, air_temp_k, process_temp_k, rpm, torque_nm, tool_wear_min, machine_failure"
    if not os.path.isfile(db):
        raise SystemExit(f"no database {db}; give the database artifact of iot.simulate")
    try:
        rows = sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("SELECT " + cols + " FROM readings").fetchall()
    except sqlite3.Error as e:
        raise SystemExit(f"{db}: {e}; give the database artifact of iot.simulate (table readings)")
    x = np.array([[a, p, r, t, w, t * r * 2 * math.pi / 60, p - a, w * t, w * t / LIMIT[ty],
                   ty == "L", ty == "M", ty == "H"] for ty, a, p, r, t, w, _ in rows], dtype=np.float32)
    y = np.array([f for *_, f in rows], dtype=np.float32)
    return x, y


def split_of(model_dir, x):
    """The rows of X that iot.train held out: those of MODEL_DIR/holdout.csv, matched by their raw readings."""
    path = os.path.join(model_dir, "holdout.csv")
    if not os.path.isfile(path):
        raise SystemExit(f"--split-of: no {path}; give the model artifact folder of iot.train"
                         " (ctflow get RUN: steps train, artifacts model, path)")
    h = np.genfromtxt(path, delimiter=",", names=True)
    held = {tuple(np.float32(r[n]).item() for n in RAW) for r in h}
    test = np.array([tuple(v.item() for v in row[:5]) in held for row in x])
    if test.sum() != len(h):
        raise SystemExit(f"{model_dir}/holdout.csv has {len(h)} rows but {int(test.sum())} rows of the database match"
                         " them; give the model artifact of a run on this database")
    return test


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("database")
    ap.add_argument("--max-depth", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--eta", type=float, default=0.1)
    ap.add_argument("--subsample", type=float, default=0.9)
    ap.add_argument("--pos-weight", type=float, default=1.0)
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--split-of", metavar="MODEL_DIR", help="hold out the rows iot.train held out (its holdout.csv)")
    a = ap.parse_args()
    x, y = features(a.database)
    if a.split_of:
        test = split_of(a.split_of, x)
    else:
        rng = np.random.default_rng(a.seed)
        test = np.zeros(len(y), dtype=bool)
        for cls in (0, 1):
            idx = np.flatnonzero(y == cls)
            rng.shuffle(idx)
            test[idx[len(idx) - round(len(idx) * 0.2):]] = True
    ytr = y[~test]
    spw = a.pos_weight if a.pos_weight > 0 else float((ytr == 0).sum() / (ytr == 1).sum())
    params = {"objective": "binary:logistic", "eval_metric": "aucpr", "max_depth": a.max_depth, "eta": a.eta,
              "subsample": a.subsample, "seed": a.seed, "nthread": a.threads, "tree_method": "hist",
              "scale_pos_weight": spw}
    t0 = time.perf_counter()
    booster = xgb.train(params, xgb.DMatrix(x[~test], label=ytr), num_boost_round=a.rounds)
    train_s = time.perf_counter() - t0
    p = booster.predict(xgb.DMatrix(x[test])) >= a.threshold
    yt = y[test] > 0.5
    tp, fp, fn = int((p & yt).sum()), int((p & ~yt).sum()), int((~p & yt).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    print(json.dumps({"f1": round(f1, 4), "precision": round(prec, 4), "recall": round(rec, 4), "tp": tp, "fp": fp,
                      "fn": fn, "test_rows": int(test.sum()), "train_s": round(train_s, 3),
                      "xgboost": xgb.__version__, "params": params, "rounds": a.rounds,
                      "split": "iot.train's (" + a.split_of + ")" if a.split_of else "own, seed " + str(a.seed)}))


if __name__ == "__main__":
    main()
