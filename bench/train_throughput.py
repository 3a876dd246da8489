#!/usr/bin/python3
"""Python PyTorch baseline for bench/train_throughput (the C++ bench runs it).

The same embedding CNN, ArcFace loss, Adam optimiser, per-step learning-rate
update and batch size as plugins/mnist/mnist_torch.cc, on images already in
memory. Prints {"images_per_s": ..., "cpu_us_per_image": ...} as JSON. Run it with the same threads and
the same malloc settings as the C++ loop (the C++ bench sets GLIBC_TUNABLES).
"""
import argparse
import gzip
import json
import math
import pathlib
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path, offset):
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def find(folder, prefix):
    return sorted(pathlib.Path(folder).glob(prefix + "*"))[0]


class Net(nn.Module):
    def __init__(self, dim, mean, std):
        super().__init__()
        self.register_buffer("in_mean", torch.full((1,), mean))
        self.register_buffer("in_std", torch.full((1,), std))
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.fc1 = nn.Linear(64 * 7 * 7, 128, bias=False)
        self.bn3 = nn.BatchNorm1d(128)
        self.fc2 = nn.Linear(128, dim)

    def forward(self, x):
        x = (x - self.in_mean) / self.in_std
        x = F.relu(self.bn1(F.max_pool2d(self.conv1(x), 2)))
        x = F.relu(self.bn2(F.max_pool2d(self.conv2(x), 2)))
        x = F.relu(self.bn3(self.fc1(torch.flatten(x, 1))))
        x = self.fc2(x)
        return x / torch.clamp_min(torch.norm(x, 2, 1, True), 1e-12)


def arcface(emb, w, y, s, m):
    wn = w / torch.clamp_min(torch.norm(w, 2, 1, True), 1e-12)
    cosine = emb @ wn.t()
    sine = torch.sqrt(torch.clamp(1.0 - cosine * cosine, 1e-7, 1.0))
    phi = cosine * math.cos(m) - sine * math.sin(m)
    phi = torch.where(cosine > math.cos(math.pi - m), phi, cosine - math.sin(math.pi - m) * m)
    onehot = torch.zeros_like(cosine).scatter_(1, y.view(-1, 1), 1.0)
    logits = (onehot * phi + (1.0 - onehot) * cosine) * s
    return F.cross_entropy(logits, y), cosine


def lr_at(lr, step, total):
    warm = max(1, total * 3 // 100)
    if step < warm:
        return lr * (step + 1) / warm
    p = (step - warm) / max(1, total - warm)
    return lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * p)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--lr", type=float, default=0.003)
    ap.add_argument("--planar", action="store_true", help="NCHW convolutions (default: channels-last, as mnist.train)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    images = read_idx(find(args.data, "train-images"), 16).reshape(-1, 28, 28)[: args.n]
    labels = read_idx(find(args.data, "train-labels"), 8)[: args.n]
    X = torch.from_numpy(images.copy())
    Y = torch.from_numpy(labels.astype(np.int64))
    net = Net(args.dim, 0.286, 0.353)
    if not args.planar:
        net = net.to(memory_format=torch.channels_last)  # conv1's weight too, despite its single channel
    head = nn.Parameter(torch.randn(10, args.dim) * math.sqrt(2.0 / (10 + args.dim)))
    opt = torch.optim.Adam(list(net.parameters()) + [head], lr=args.lr)
    net.train()
    n = X.shape[0]
    per_epoch = n // args.batch
    perm = torch.randperm(n)
    total = args.warmup + args.steps
    for s in range(total):
        if s == args.warmup:
            start = time.perf_counter()
            cpu0 = time.process_time()
        b = s % per_epoch
        idx = perm[b * args.batch:(b + 1) * args.batch]
        x = X[idx].float().mul_(1.0 / 255.0).view(-1, 1, 28, 28)
        y = Y[idx]
        for g in opt.param_groups:
            g["lr"] = lr_at(args.lr, s, total)
        opt.zero_grad()
        loss, cosine = arcface(net(x), head, y, 30.0, 0.3)
        loss.backward()
        opt.step()
        loss.item()
        cosine.argmax(1).eq(y).sum().item()
    secs = time.perf_counter() - start
    cpu_us = (time.process_time() - cpu0) * 1e6 / (args.steps * args.batch)
    print(json.dumps({"images_per_s": args.steps * args.batch / secs, "cpu_us_per_image": cpu_us,
                      "threads": torch.get_num_threads(),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
