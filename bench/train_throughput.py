#!/usr/bin/python3
"""Python PyTorch baseline for bench/train_throughput (the C++ bench runs it).

The same embedding CNN, ArcFace loss, Adam optimiser, per-step learning-rate
update and batch size as plugins/mnist/mnist_torch.cc, on images already in
memory. Prints {"images_per_s": ..., "cpu_us_per_image": ...} as JSON. Run it with the same threads and
the same malloc settings as the C++ loop (the C++ bench sets GLIBC_TUNABLES).

--full EPOCHS is the clean PyTorch loop that bench/mnist_cpu.py puts next to
the workflow: train on a seeded 90% of the train files for EPOCHS passes (no
augmentation), embed the train part and the t10k files, vote among the 10
nearest train embeddings (cosine) as mnist.analyze does. Prints the seconds of
each part, the total and the kNN accuracy.
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


def full(args, X, Y):
    """Train for args.full epochs, embed, kNN: the whole job in plain PyTorch."""
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(42)
    order = torch.randperm(X.shape[0], generator=g)
    cut = X.shape[0] * 9 // 10
    Xt, Yt = X[order[:cut]], Y[order[:cut]]
    mean = Xt.float().mean().item() / 255.0
    std = Xt.float().std().item() / 255.0
    net = Net(args.dim, mean, std)
    if not args.planar:
        net = net.to(memory_format=torch.channels_last)
    head = nn.Parameter(torch.randn(10, args.dim) * math.sqrt(2.0 / (10 + args.dim)))
    opt = torch.optim.Adam(list(net.parameters()) + [head], lr=args.lr)
    n = Xt.shape[0]
    per_epoch = n // args.batch
    total = per_epoch * args.full
    step = 0
    net.train()
    for _ in range(args.full):
        perm = torch.randperm(n, generator=g)
        for b in range(per_epoch):
            idx = perm[b * args.batch:(b + 1) * args.batch]
            x = Xt[idx].float().mul_(1.0 / 255.0).view(-1, 1, 28, 28)
            for pg in opt.param_groups:
                pg["lr"] = lr_at(args.lr, step, total)
            opt.zero_grad()
            loss, _ = arcface(net(x), head, Yt[idx], 30.0, 0.3)
            loss.backward()
            opt.step()
            step += 1
    t1 = time.perf_counter()
    net.eval()

    def embed(images):
        with torch.no_grad():
            return torch.cat([net(images[i:i + 1000].float().mul_(1.0 / 255.0).view(-1, 1, 28, 28))
                              for i in range(0, images.shape[0], 1000)])

    test_x = torch.from_numpy(read_idx(find(args.data, "t10k-images"), 16).reshape(-1, 28, 28).copy())
    test_y = torch.from_numpy(read_idx(find(args.data, "t10k-labels"), 8).astype(np.int64))
    ref, query = embed(Xt), embed(test_x)
    t2 = time.perf_counter()
    correct = 0
    for i in range(0, query.shape[0], 1000):
        sims, ids = (query[i:i + 1000] @ ref.t()).topk(10, dim=1)
        votes = torch.zeros(ids.shape[0], 10).scatter_add_(1, Yt[ids], torch.ones_like(sims))
        votes += torch.zeros(ids.shape[0], 10).scatter_add_(1, Yt[ids], sims) * 1e-3  # ties: the closer class
        correct += votes.argmax(1).eq(test_y[i:i + 1000]).sum().item()
    t3 = time.perf_counter()
    print(json.dumps({"epochs": args.full, "train_images": n, "train_s": round(t1 - t0, 2),
                      "embed_s": round(t2 - t1, 2), "knn_s": round(t3 - t2, 2), "total_s": round(t3 - t0, 2),
                      "images_per_s": round(total * args.batch / (t1 - t0)),
                      "knn_accuracy": correct / query.shape[0], "threads": torch.get_num_threads(),
                      "torch": torch.__version__}))


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
    ap.add_argument("--full", type=int, default=0, metavar="EPOCHS",
                    help="the whole job (train on all images, embed, kNN accuracy) instead of the throughput")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    if args.full:
        X = torch.from_numpy(read_idx(find(args.data, "train-images"), 16).reshape(-1, 28, 28).copy())
        Y = torch.from_numpy(read_idx(find(args.data, "train-labels"), 8).astype(np.int64))
        return full(args, X, Y)
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
