#!/usr/bin/python3
"""SciPy's sparse Gram matrix G = XᵀX of an interaction file, timed (the baseline of edlae's sparse and dense Gram).

Usage: bench/scipy_gram.py FILE [--format lines|csv] [--header] [--dense]
Reads `user item item ...` lines (KGAT/LightGCN) or `user,item,...` CSV, builds the binary users × items CSR matrix
and times `X.T @ X` (scipy.sparse, one thread) three times; prints the median and nnz(G). --dense also times
`(X.T @ X).toarray()`: the dense float32 G of the published NumPy EASE recipe, the baseline of edlae's dense Gram.
"""
import sys
import time

import numpy as np
import scipy.sparse as sp


def load(path, fmt, header):
    users, items = [], []
    user_ids, item_ids = {}, {}
    with open(path) as f:
        if header:
            next(f)
        for line in f:
            parts = line.strip().replace(",", " ").split() if fmt == "csv" else line.split()
            if not parts:
                continue
            u = user_ids.setdefault(parts[0], len(user_ids))
            rest = parts[1:2] if fmt == "csv" else parts[1:]
            for it in rest:
                users.append(u)
                items.append(item_ids.setdefault(it, len(item_ids)))
    x = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)),
                      shape=(len(user_ids), len(item_ids)))
    x.data[:] = 1.0  # duplicates count once
    return x


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    path = sys.argv[1]
    fmt = "csv" if "--format" in sys.argv and sys.argv[sys.argv.index("--format") + 1] == "csv" else "lines"
    x = load(path, fmt, "--header" in sys.argv)
    x.sum_duplicates()
    x.data[:] = 1.0
    times = []
    for _ in range(3):
        start = time.perf_counter()
        g = (x.T @ x).tocsr()
        times.append(time.perf_counter() - start)
    print(f"{path}: {x.shape[0]} users x {x.shape[1]} items, {x.nnz} interactions; "
          f"scipy X.T @ X: median {sorted(times)[1]:.3f} s of {['%.3f' % t for t in times]}, nnz(G) = {g.nnz}")
    if "--dense" in sys.argv:
        del g
        times = []
        for _ in range(3):
            start = time.perf_counter()
            d = (x.T @ x).toarray()
            times.append(time.perf_counter() - start)
            del d
        print(f"scipy (X.T @ X).toarray() (dense {x.shape[1]}² float32): median {sorted(times)[1]:.3f} s of "
              f"{['%.3f' % t for t in times]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
