#!/usr/bin/python3
"""NumPy baseline for low-rank top-N: scores = Z·Vᵀ, then argpartition (the published recipe).

Reads V.f32 / Z.f32 / edlae_times.tsv written by `lowrank_benchmark --dump_dir DIR` in the same run, and
prints NumPy's time per configuration and the ratio NumPy / edlae (higher is better for edlae).
Usage: numpy_topn.py DIR ITEMS RANK THREADS   (set OPENBLAS_NUM_THREADS=THREADS before starting).
"""
import csv
import statistics
import sys
import time

import numpy as np


def top_n(z, v, n):
    scores = z @ v.T
    part = np.argpartition(-scores, n, axis=1)[:, :n]
    rows = np.arange(scores.shape[0])[:, None]
    order = np.argsort(-scores[rows, part], axis=1, kind="stable")
    return part[rows, order]


def main():
    folder, items, rank, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    v = np.fromfile(f"{folder}/V.f32", dtype=np.float32).reshape(items, rank)
    z_all = np.fromfile(f"{folder}/Z.f32", dtype=np.float32).reshape(-1, rank)
    ours = {}
    with open(f"{folder}/edlae_times.tsv") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            ours[(int(row["batch"]), int(row["threads"]), row["dtype"])] = float(row["edlae_ms"])
    for batch in (64, 1):
        z = np.ascontiguousarray(z_all[:batch])
        top_n(z, v, 100)  # warm-up
        times = []
        for _ in range(15):
            start = time.perf_counter()
            top_n(z, v, 100)
            times.append(time.perf_counter() - start)
        numpy_ms = statistics.median(times) * 1e3
        for dtype in ("f32", "f16", "bf16", "bf16-amx", "int8", "int8-vnni", "int8-amx"):
            edlae_ms = ours.get((batch, threads, dtype))
            if edlae_ms:
                print(f"numpy batch={batch} threads={threads} dtype={dtype} numpy_ms={numpy_ms:.3f} "
                      f"edlae_ms={edlae_ms:.3f} ratio={numpy_ms / edlae_ms:.2f}")


if __name__ == "__main__":
    main()
