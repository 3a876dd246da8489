"""Interop check run by mnist_torch_test: DATASET MODEL EMBEDDINGS INDEX.

torch.jit.load on model.pt must give the C++ embed step's embeddings (max abs
diff <= 1e-5); numpy.load must read every .npy; faiss.read_index must read the
index, with ntotal equal to the number of labels.
"""
import json
import pathlib
import sys

import faiss
import numpy as np
import torch

dataset, model, emb, index = map(pathlib.Path, sys.argv[1:5])
for folder in (dataset, emb, index):
    for f in sorted(folder.glob("*.npy")):
        a = np.load(f)
        assert a.shape[0] > 0, f
manifest = json.loads((dataset / "manifest.json").read_text())
m = torch.jit.load(str(model / "model.pt"))
m.eval()
images = np.concatenate([np.load(dataset / c["images"]) for c in manifest["splits"]["test"]["chunks"]])
x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
with torch.no_grad():
    e = m(x).numpy()
ref = np.load(emb / "test.npy")
assert e.shape == ref.shape, (e.shape, ref.shape)
diff = float(np.abs(e - ref).max())
print("max_abs_diff", diff)
assert diff <= 1e-5, diff
labels = np.load(emb / "test_labels.npy")
assert (labels == np.concatenate([np.load(dataset / c["labels"]) for c in manifest["splits"]["test"]["chunks"]])).all()
ix = faiss.read_index(str(index / "index.faiss"))
assert ix.ntotal == np.load(index / "labels.npy").shape[0], ix.ntotal
print("ntotal", ix.ntotal)
