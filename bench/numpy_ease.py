#!/usr/bin/python3
"""The published EASE/EDLAE training recipe in NumPy (Steck 2019/2020 code), timed phase by phase.

Reference point for bench/train_benchmark.cc: the same interactions, the same closed form, but
G = XᵀX through scipy.sparse and B from np.linalg.inv (LU inverse, float32 as the issue asks).

Usage: bench/numpy_ease.py INTERACTIONS.csv [--lambda L] [--dropout P] [--dtype float32|float64]
The CSV is MovieLens-style with a header (userId,movieId,...), as `edlae-train synth` writes.
"""
import argparse
import os
import resource
import sys
import time

import numpy as np

try:
    import scipy.sparse as sp
except ImportError:  # bench-only dependency: scripts/install-bench-deps.sh
    sys.exit("numpy_ease.py needs scipy (apt-get install python3-scipy)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("--lambda", dest="lam", type=float, default=500.0)
    parser.add_argument("--dropout", type=float, default=0.33)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    args = parser.parse_args()
    dtype = np.float32 if args.dtype == "float32" else np.float64

    start = time.perf_counter()
    data = np.loadtxt(args.input, delimiter=",", skiprows=1, usecols=(0, 1), dtype=np.int64)
    users, user_index = np.unique(data[:, 0], return_inverse=True)
    items, item_index = np.unique(data[:, 1], return_inverse=True)
    x = sp.csr_matrix((np.ones(len(data), dtype=dtype), (user_index, item_index)),
                      shape=(len(users), len(items)))
    x.data[:] = 1  # duplicate (user, item) rows count once, as in edlae
    load = time.perf_counter() - start

    start = time.perf_counter()
    g = x.T.dot(x).toarray().astype(dtype)
    gram = time.perf_counter() - start

    # EDLAE: Λ = λ·I + p/(1−p)·dMat(diag G); B = I − P·dMat(1 ⊘ diag P), diagonal 0 (EASE for p = 0).
    start = time.perf_counter()
    diag = np.diag_indices(g.shape[0])
    g[diag] += dtype(args.lam) + dtype(args.dropout / (1 - args.dropout)) * g[diag]
    inv_start = time.perf_counter()
    p = np.linalg.inv(g)
    inv = time.perf_counter() - inv_start
    b = p / (-np.diag(p))
    b[diag] = 0
    solve = time.perf_counter() - start

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"numpy_ease: {len(users)} users x {len(items)} items ({len(data)} rows), {args.dtype}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'default')}")
    print(f"  load {load:.2f} s, gram (scipy.sparse) {gram:.2f} s, np.linalg.inv {inv:.2f} s, "
          f"solve total {solve:.2f} s, gram+solve {gram + solve:.2f} s, peak {peak_mib:.0f} MiB")
    assert np.isfinite(b).all()


if __name__ == "__main__":
    main()
