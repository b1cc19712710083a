"""edlae's Python training API: fit EASE / EDLAE / DLAE models in closed form, save the file edlae-server serves,
load it, recommend, find similar items and evaluate, all through the C++ library (the _edlae extension).

    import edlae
    m = edlae.fit(X, model="edlae", lam=500.0, dropout=0.25)   # X: scipy.sparse CSR, users × items
    m.save("model.edlae")                                      # what `edlae-server --model` serves
    m.recommend([["i1", "i7"]], n=10)                          # [[(item_id, score), ...]] per history
    edlae.evaluate(m, fold_in, targets)                        # the CLI's Recall / nDCG (mean, s.e.)
"""

from __future__ import annotations

import os
import pkgutil
from collections import namedtuple
from typing import Any, Iterable, Optional, Sequence

# The Python gRPC client's stubs live in another `edlae` folder (build/client/python/edlae/v1): let
# `import edlae.v1` find them when both folders are on sys.path.
__path__ = pkgutil.extend_path(__path__, __name__)

from edlae import _edlae  # noqa: E402
from edlae._edlae import Interactions  # noqa: E402

__all__ = ["fit", "load", "evaluate", "read_interactions", "interactions", "Model", "Interactions", "Metric"]

Metric = namedtuple("Metric", ["mean", "std_error", "count"])
Recommendation = namedtuple("Recommendation", ["items", "popularity_fallback", "unknown_item_count"])


def read_interactions(path: str | os.PathLike, format: str = "auto", *, header: bool = False, user_col: int = 0,
                      item_col: int = 1, rating_col: int = -1, min_rating: Optional[float] = None,
                      min_item_count: int = 0, min_user_count: int = 0) -> Interactions:
    """An interaction file (or a comma-separated list) read by edlae-train's loader: same formats and flags."""
    return _edlae.read_interactions(os.fspath(path), format, header, user_col, item_col, rating_col, min_rating,
                                    min_item_count, min_user_count)


def _is_sparse(x: Any) -> bool:
    try:
        import scipy.sparse
    except ImportError:
        return False
    return scipy.sparse.issparse(x)


def interactions(data: Any, item_ids: Optional[Sequence] = None, user_ids: Optional[Sequence] = None,
                 **read_options) -> Interactions:
    """The binary interactions of `data`, as fit and evaluate take them:

    - a scipy.sparse matrix (users × items; CSR, or anything .tocsr() converts): a stored value > 0 is an
      interaction (the trainer is binary, like edlae-train), 0 is none; negative or NaN values are a ValueError.
      item_ids: one per column (default "0", "1", ...); user_ids: one per row (default "0", "1", ...);
    - a 2-D numpy array (dense users × items), as the matrix above;
    - a list of histories (each a list of item ids, str or int): item_ids fixes the items and their order
      (an id outside it is a ValueError), else they are numbered in order of first appearance;
    - a dict {user_id: history};
    - a path (str or os.PathLike): read_interactions(path, **read_options);
    - an Interactions object, as it is.
    """
    if isinstance(data, Interactions):
        return data
    if isinstance(data, (str, os.PathLike)):
        return read_interactions(data, **read_options)
    if read_options:
        raise TypeError(f"{sorted(read_options)} apply to files only")
    if _is_sparse(data) or (hasattr(data, "ndim") and getattr(data, "ndim") == 2):
        import numpy as np
        import scipy.sparse
        csr = scipy.sparse.csr_matrix(data) if not _is_sparse(data) else data.tocsr()
        if csr.dtype.kind not in "biuf":
            raise TypeError(f"X has dtype {csr.dtype}; give numbers")
        return _edlae.interactions_from_csr(
            np.asarray(csr.indptr, dtype=np.int64), np.asarray(csr.indices, dtype=np.int64),
            np.asarray(csr.data, dtype=np.float64), csr.shape[0], csr.shape[1],
            None if item_ids is None else list(item_ids), None if user_ids is None else list(user_ids))
    if isinstance(data, dict):
        if user_ids is not None:
            raise TypeError("user_ids comes from the dict's keys")
        return _edlae.interactions_from_histories(list(data.values()), item_ids, [str(u) for u in data.keys()])
    return _edlae.interactions_from_histories(data, item_ids, user_ids)


class Model:
    """A model: trained by fit (held in memory, the file TrainAndWrite wrote) or opened by load (mapped).

    kind: "dense" | "low_rank" | "sparse"; dtype: "float32" | "float16" | "bfloat16" | "int8"; num_items (n_items);
    rank (0 unless low-rank); item_ids (list of str, index order); metadata (dict of str: the file's training metadata);
    fingerprint (16 hex digits, as the server reports); path (the file, or None for a model from fit);
    popularity (numpy float32: training count per item).
    """

    def __init__(self, handle: "_edlae.Model"):
        self._m = handle

    kind = property(lambda self: self._m.kind)
    dtype = property(lambda self: self._m.dtype)
    num_items = property(lambda self: self._m.num_items)
    n_items = num_items
    rank = property(lambda self: self._m.rank)
    nnz = property(lambda self: self._m.nnz)
    fingerprint = property(lambda self: self._m.fingerprint)
    path = property(lambda self: self._m.path)
    item_ids = property(lambda self: self._m.item_ids)
    metadata = property(lambda self: self._m.metadata)
    popularity = property(lambda self: self._m.popularity)

    def __repr__(self) -> str:
        md = self.metadata
        what = " ".join(f"{k}={md[k]}" for k in ("algorithm", "lambda", "dropout") if k in md)
        return (f"<edlae.Model {self.kind} {self.dtype} {self.num_items} items"
                + (f" rank {self.rank}" if self.rank else "") + (f" {what}" if what else "") + ">")

    def index_of(self, item_id) -> Optional[int]:
        """The item's index (row of weights()), or None when the model does not know it."""
        return self._m.index_of(item_id)

    def save(self, path: str | os.PathLike) -> None:
        """Writes the model file to `path` atomically (temporary file, fsync, rename): byte for byte the file
        edlae-train would have written, which edlae-server serves."""
        self._m.save(os.fspath(path))

    def weights(self):
        """The weights, widened to float32 copies: B (num_items × num_items numpy array; row i = weights from
        item i) for a dense model, (U, V) (num_items × rank each, B = U·Vᵀ) for a low-rank one, B as a
        scipy.sparse.csr_matrix for a sparse one."""
        if self.kind == "dense":
            return self._m.dense_weights()
        if self.kind == "low_rank":
            return self._m.factors()
        import scipy.sparse
        indptr, indices, data = self._m.sparse_arrays()
        return scipy.sparse.csr_matrix((data, indices, indptr), shape=(self.num_items, self.num_items))

    def recommend(self, histories: Iterable[Sequence], n: int = 10, *, exclude_history: bool = True,
                  weights: Optional[Sequence[Optional[Sequence[float]]]] = None, exclude: Optional[Sequence] = None,
                  candidates: Optional[Sequence] = None, threads: Optional[int] = None, details: bool = False):
        """The best n items for each history (a list of item ids, str or int), exactly as edlae-server's
        Recommend answers it: scores x·B (dense, sparse) or (x·U)·Vᵀ (low-rank), the history's items left out
        unless exclude_history=False, ids the model does not know skipped, a history with no known item (or
        only zero weights) answered by the most popular items scored by their training counts.

        Returns one list of (item_id, score) per history, best first (ties by lower item index). weights: None,
        or per history None or one weight per id. exclude / candidates: ids never returned / the only ids
        returned, for every history. details=True: Recommendation(items, popularity_fallback,
        unknown_item_count) per history instead."""
        answers = self._m.recommend(histories, weights, n, exclude_history, exclude, candidates, threads or 0)
        if details:
            return [Recommendation(a["items"], a["popularity_fallback"], a["unknown_item_count"]) for a in answers]
        return [a["items"] for a in answers]

    def similar_items(self, ids: Sequence, n: int = 10, *, similarity: str = "model",
                      exclude: Optional[Sequence] = None, candidates: Optional[Sequence] = None,
                      details: bool = False):
        """The best n items related to `ids`, as edlae-server's SimilarItems: similarity "model" scores a
        history of exactly these items (their rows of B summed; Σ U rows then V·z for low-rank), "cosine"
        (low-rank only) cos(V_j, mean of the items' normalized V rows). The items themselves are never returned.
        Returns a list of (item_id, score); details=True: a Recommendation."""
        if similarity not in ("model", "cosine"):
            raise ValueError(f"similarity must be 'model' or 'cosine', not {similarity!r}")
        a = self._m.similar_items(ids, n, exclude, candidates, similarity == "cosine")
        if details:
            return Recommendation(a["items"], a["popularity_fallback"], a["unknown_item_count"])
        return a["items"]


def fit(X: Any, model: str = "edlae", lam: float = 0.0, dropout: float = 0.0, rank: Optional[int] = None, *,
        item_ids: Optional[Sequence] = None, user_ids: Optional[Sequence] = None, method: Optional[str] = None,
        sparse: bool = False, density: Optional[float] = None, min_cooccurrence: int = 0,
        factorization: str = "auto", sparse_method: str = "auto", neighborhood_factor: float = 0.0,
        incomplete_fill: float = 1.0, incomplete_max_per_column: int = 0,
        memory_limit_mb: int = 0,
        precision: str = "float64", dtype: str = "float32", threads: Optional[int] = None, epochs: int = 10,
        omega: float = 0.0, seed: int = 1, eigensolver: str = "auto", skip_memory_check: bool = False,
        source: str = "python:edlae.fit", verbose: bool = False, temp_dir: Optional[str] = None,
        **read_options) -> Model:
    """Trains a model on X exactly as `edlae-train train` does (the same C++ pipeline and defaults; argument
    names follow its flags): model "ease" | "edlae" | "dlae" | "zero-diag" (low-rank only), lam = --lambda,
    dropout = --dropout, rank = --rank (None: full rank B), method = --method (closed-form | admm | als),
    sparse / density / min_cooccurrence / factorization / sparse_method / neighborhood_factor / incomplete_fill /
    incomplete_max_per_column = the --flags of those names, memory_limit_mb = --memory-limit-mb, precision = --precision,
    dtype = --dtype (storage: float32 | float16 | bfloat16 | int8, int8 for dense and low-rank models),
    threads = --threads (None: all cores).

    X: anything interactions() takes (scipy.sparse users × items with item_ids, a list of histories, a dict,
    a file path with read_interactions' options). Refuses with MemoryError when the dense solve would not fit
    in the available memory (skip_memory_check=True to try anyway). Errors: ValueError for bad arguments or
    data, OSError for files. The GIL is released while training."""
    x = interactions(X, item_ids, user_ids, **read_options)
    args = _edlae.FitArgs()
    args.model = model
    args.lam = float(lam)
    args.dropout = float(dropout)
    if rank is not None:
        if int(rank) < 1:
            raise ValueError(f"rank must be >= 1 (None: full rank), not {rank}")
        args.rank = int(rank)
    args.method = method or ""
    args.sparse = bool(sparse)
    if density is not None:
        if not 0 < density <= 1:
            raise ValueError(f"density must be in (0, 1], not {density}")
        args.density = float(density)
    args.min_cooccurrence = int(min_cooccurrence)
    args.factorization = factorization
    args.sparse_method = sparse_method
    args.neighborhood_factor = float(neighborhood_factor)
    args.incomplete_fill = float(incomplete_fill)
    args.incomplete_max_per_column = int(incomplete_max_per_column)
    args.memory_limit_mb = int(memory_limit_mb)
    args.precision = precision
    args.dtype = dtype
    if threads is not None and int(threads) < 1:
        raise ValueError(f"threads must be >= 1 (None: all cores), not {threads}")
    args.threads = int(threads or 0)
    args.epochs = int(epochs)
    args.omega = float(omega)
    args.seed = int(seed)
    args.eigensolver = eigensolver
    args.skip_memory_check = bool(skip_memory_check)
    args.source = source
    args.verbose = bool(verbose)
    args.temp_dir = os.fspath(temp_dir) if temp_dir is not None else ""
    return Model(_edlae.fit(x, args))


def load(path: str | os.PathLike, *, snapshot: bool = False) -> Model:
    """Opens and fully validates a model file (any kind and dtype), mapped; snapshot=True reads it into memory
    instead. FileNotFoundError / PermissionError / OSError (corrupt file), ValueError (unsupported version)."""
    return Model(_edlae.load(os.fspath(path), snapshot))


def evaluate(model: Model, fold_in: Any = None, targets: Any = None, *, split: Optional[str | os.PathLike] = None,
             on: str = "test", item_ids: Optional[Sequence] = None, threads: Optional[int] = None,
             **read_options) -> dict:
    """The metrics `edlae-train evaluate` prints, as a dict of Metric(mean, std_error, count) plus counts:

    - evaluate(model, fold_in, targets): weak generalization (= evaluate --fold-in F --targets T --model-file M):
      every user of fold_in scored from its own fold-in items (excluded) against its targets (users matched by
      id), Recall@k = hits / |targets| and nDCG@k for k = 20, 50, 100. fold_in and targets: anything
      interactions() takes (files with read_options, e.g. format="lines"; histories or dicts; CSR with item_ids).
    - evaluate(model, split=DIR, on="test"|"validation"): strong generalization (= evaluate --split DIR --on ...
      --model-file M): recall@20, recall@50, ndcg@100 (Recall@k over min(k, |targets|)).
    """
    if split is not None:
        if fold_in is not None or targets is not None:
            raise TypeError("give either split or fold_in and targets")
        return _unpack(_edlae.evaluate_split(model._m, os.fspath(split), on, threads or 0))
    if fold_in is None or targets is None:
        raise TypeError("evaluate needs fold_in and targets (or split=DIR)")
    f = interactions(fold_in, item_ids, **read_options)
    t = interactions(targets, item_ids, **read_options)
    return _unpack(_edlae.evaluate_weak(model._m, f, t, threads or 0))


def _unpack(d: dict) -> dict:
    return {k: (Metric(*v) if isinstance(v, tuple) else v) for k, v in d.items()}
