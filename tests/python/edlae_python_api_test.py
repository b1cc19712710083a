"""The Python training API (build/python/edlae) against edlae-train, brute force and a live edlae-server."""

import json
import os
import subprocess
import tempfile
import unittest

import edlae_testing

edlae_testing.require_modules("numpy", "scipy.sparse")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

# ctest runs this only when the module was built (pybind11 and python3-dev found): failing to import it is a bug.
import edlae  # noqa: E402

TOL = 1e-5


def synthetic_csr(users=300, items=60, seed=3):
    """Binary users × items with a popularity skew, every item used at least once."""
    rng = np.random.default_rng(seed)
    p = 0.02 + 0.25 * rng.random(items) ** 2
    dense = (rng.random((users, items)) < p).astype(np.float32)
    dense[np.arange(items) % users, np.arange(items)] = 1
    return sp.csr_matrix(dense)


def write_csv(path, X, item_ids):
    """X as the CLI's `--format csv --header` file: user,item per interaction."""
    with open(path, "w", encoding="ascii") as f:
        f.write("user,item\n")
        for u in range(X.shape[0]):
            for j in X.indices[X.indptr[u]:X.indptr[u + 1]]:
                f.write(f"u{u},{item_ids[j]}\n")


def train_cli(*args):
    subprocess.run([edlae_testing.binary("edlae-train"), "train", *args], check=True, capture_output=True)


def scores_of(model, history):
    """Brute force x·B (or (x·U)·Vᵀ) of a 0/1 history, float64, indexed like the model."""
    x = np.zeros(model.num_items)
    for i in history:
        x[model.index_of(i)] += 1
    w = model.weights()
    if model.kind == "low_rank":
        u, v = w
        return (x @ u.astype(np.float64)) @ v.astype(np.float64).T
    if model.kind == "sparse":
        return np.asarray(w.T.astype(np.float64) @ x).ravel()
    return x @ w.astype(np.float64)


def top_n(model, scores, n, skip):
    ids = model.item_ids
    order = [j for j in np.lexsort((np.arange(len(scores)), -scores)) if ids[j] not in skip]
    return [(ids[j], scores[j]) for j in order[:n]]


def dense_product(model):
    w = model.weights()
    if model.kind == "low_rank":
        return w[0].astype(np.float64) @ w[1].astype(np.float64).T
    if model.kind == "sparse":
        return w.toarray().astype(np.float64)
    return w.astype(np.float64)


class PythonApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.dir = cls.tmp.name
        cls.X = synthetic_csr()
        cls.ids = [f"i{j}" for j in range(cls.X.shape[1])]
        cls.csv = os.path.join(cls.dir, "x.csv")
        write_csv(cls.csv, cls.X, cls.ids)
        # The CLI numbers items in order of first appearance in the file: the same matrix with its columns in
        # that order trains exactly what edlae-train trains (the sparse pattern and ordering depend on it).
        order = list(dict.fromkeys(cls.X.indices.tolist()))
        cls.X_cli, cls.ids_cli = cls.X[:, order].tocsr(), [cls.ids[j] for j in order]
        cls.histories = [["i0", "i3", "i7"], ["i1"], ["i10", "i11", "i12", "i40"], ["nope"], []]

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def cli_model(self, name, *flags):
        out = os.path.join(self.dir, name)
        train_cli("--input", self.csv, "--format", "csv", "--header", "--out", out, *flags)
        return edlae.load(out)

    def assert_same_model(self, py, cli):
        self.assertEqual(py.kind, cli.kind)
        self.assertEqual(sorted(py.item_ids), sorted(cli.item_ids))
        perm = [py.index_of(i) for i in cli.item_ids]
        np.testing.assert_allclose(dense_product(py)[np.ix_(perm, perm)], dense_product(cli), atol=TOL, rtol=TOL)
        np.testing.assert_array_equal(py.popularity[perm], cli.popularity)
        for key in ("algorithm", "lambda", "dropout", "rank", "method", "num_users", "num_interactions"):
            self.assertEqual(py.metadata.get(key), cli.metadata.get(key), key)
        for h in self.histories[:3]:
            a, b = py.recommend([h], n=8)[0], cli.recommend([h], n=8)[0]
            self.assertEqual([i for i, _ in a], [i for i, _ in b])
            np.testing.assert_allclose([s for _, s in a], [s for _, s in b], atol=TOL, rtol=TOL)

    def test_fit_equals_cli(self):
        cases = [
            ("ease", dict(lam=20.0), ["--model", "ease", "--lambda", "20"]),
            ("edlae", dict(lam=10.0, dropout=0.3), ["--model", "edlae", "--lambda", "10", "--dropout", "0.3"]),
            ("dlae", dict(lam=10.0, dropout=0.3), ["--model", "dlae", "--lambda", "10", "--dropout", "0.3"]),
            ("edlae", dict(lam=10.0, dropout=0.3, rank=8),
             ["--model", "edlae", "--lambda", "10", "--dropout", "0.3", "--rank", "8"]),
            ("dlae", dict(lam=10.0, dropout=0.3, rank=8),
             ["--model", "dlae", "--lambda", "10", "--dropout", "0.3", "--rank", "8"]),
            ("edlae", dict(lam=10.0, rank=6, method="admm", epochs=3),
             ["--model", "edlae", "--lambda", "10", "--rank", "6", "--method", "admm", "--epochs", "3"]),
            ("zero-diag", dict(lam=10.0, rank=6, epochs=3),
             ["--model", "zero-diag", "--lambda", "10", "--rank", "6", "--epochs", "3"]),
            ("edlae", dict(lam=10.0, dropout=0.3, rank=6, sparse=True),
             ["--model", "edlae", "--lambda", "10", "--dropout", "0.3", "--rank", "6", "--sparse"]),
            ("ease", dict(lam=20.0, sparse=True, density=0.5),
             ["--model", "ease", "--lambda", "20", "--sparse", "--density", "0.5"]),
            ("edlae", dict(lam=10.0, dropout=0.3, sparse=True, density=0.2, sparse_method="factor"),
             ["--model", "edlae", "--lambda", "10", "--dropout", "0.3", "--sparse", "--density", "0.2",
              "--sparse-method", "factor"]),
            ("dlae", dict(lam=10.0, dropout=0.3, sparse=True, density=0.1, neighborhood_factor=2.0),
             ["--model", "dlae", "--lambda", "10", "--dropout", "0.3", "--sparse", "--density", "0.1",
              "--neighborhood-factor", "2"]),
        ]
        for k, (model, kwargs, flags) in enumerate(cases):
            with self.subTest(model=model, **kwargs):
                py = edlae.fit(self.X_cli, model=model, item_ids=self.ids_cli, **kwargs)
                cli = self.cli_model(f"cli{k}.edlae", *flags)
                self.assertEqual(py.item_ids, cli.item_ids)
                self.assert_same_model(py, cli)
                if not kwargs.get("sparse") and "method" not in kwargs and model != "zero-diag":
                    # a dense solve or eigen-solve does not depend on the item order (ADMM/ALS start at random)
                    self.assert_same_model(edlae.fit(self.X, model=model, item_ids=self.ids, **kwargs), cli)

    def test_histories_input_and_defaults(self):
        rows = [[self.ids[j] for j in self.X.indices[self.X.indptr[u]:self.X.indptr[u + 1]]]
                for u in range(self.X.shape[0])]
        a = edlae.fit(rows, model="edlae", lam=10.0, dropout=0.3)
        b = edlae.fit(self.X, model="edlae", lam=10.0, dropout=0.3, item_ids=self.ids)
        self.assert_same_model(a, b)
        ints = edlae.fit([[int(i[1:]) for i in r] for r in rows], lam=10.0)
        self.assertEqual(ints.metadata["algorithm"], "edlae")  # ModelSpec's default, as the CLI
        self.assertEqual(ints.metadata["dropout"], "0")
        self.assertIn("7", ints.item_ids)

    def test_save_load_roundtrip(self):
        m = edlae.fit(self.X, model="edlae", lam=10.0, dropout=0.3, item_ids=self.ids)
        path = os.path.join(self.dir, "roundtrip.edlae")
        m.save(path)
        back = edlae.load(path)
        self.assertEqual(back.fingerprint, m.fingerprint)
        self.assertEqual(back.item_ids, m.item_ids)
        self.assertEqual(back.metadata, m.metadata)
        self.assertEqual((back.kind, back.n_items, back.num_items, back.path), ("dense", 60, 60, path))
        self.assertIsNone(m.path)
        np.testing.assert_array_equal(back.weights(), m.weights())
        self.assertEqual(back.recommend(self.histories, n=5), m.recommend(self.histories, n=5))

    def test_int8_low_rank_stores_scaled_factors(self):
        f32 = edlae.fit(self.X, model="edlae", lam=10.0, dropout=0.3, rank=8, item_ids=self.ids)
        q = edlae.fit(self.X, model="edlae", lam=10.0, dropout=0.3, rank=8, item_ids=self.ids, dtype="int8")
        self.assertEqual((q.kind, q.dtype, q.rank), ("low_rank", "int8", 8))
        for exact, stored in zip(f32.weights(), q.weights()):
            # Each row within half a step (max |row| / 127 / 2) of the float32 factors.
            step = np.abs(exact).max(axis=1, keepdims=True) / 127
            self.assertTrue(np.all(np.abs(stored - exact) <= step / 2 * 1.0001 + 1e-30))
        self.assertEqual(len(q.recommend(self.histories, n=5)), len(self.histories))
        with self.assertRaises(ValueError):
            edlae.fit(self.X, lam=10.0, sparse=True, dtype="int8")

    def test_recommend_and_similar_equal_brute_force(self):
        for kwargs in (dict(model="edlae", lam=10.0, dropout=0.3), dict(model="edlae", lam=10.0, rank=8),
                       dict(model="ease", lam=20.0, sparse=True, density=0.5)):
            m = edlae.fit(self.X, item_ids=self.ids, **kwargs)
            with self.subTest(kind=m.kind):
                answers = m.recommend(self.histories[:3], n=10)
                for h, got in zip(self.histories[:3], answers):
                    want = top_n(m, scores_of(m, h), 10, set(h))
                    self.assertEqual([i for i, _ in got], [i for i, _ in want])
                    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=TOL, rtol=TOL)
                kept = m.recommend([["i0", "i3"]], n=60, exclude_history=False)[0]
                self.assertEqual(len(kept), 60)
                self.assertIn("i0", [i for i, _ in kept])
                for item in ("i0", "i5"):
                    got = m.similar_items([item], n=7)
                    want = top_n(m, scores_of(m, [item]), 7, {item})
                    self.assertEqual([i for i, _ in got], [i for i, _ in want])
                    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=TOL, rtol=TOL)
                if m.kind == "low_rank":  # cosine with the rows of V, as SimilarItems' kCosine
                    v = m.weights()[1].astype(np.float64)
                    i = m.index_of("i5")
                    cos = v @ v[i] / (np.linalg.norm(v, axis=1) * np.linalg.norm(v[i]))
                    got = m.similar_items(["i5"], n=7, similarity="cosine")
                    want = top_n(m, cos, 7, {"i5"})
                    self.assertEqual([i for i, _ in got], [i for i, _ in want])
                    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=TOL, rtol=TOL)
        # A history of unknown ids only: the popularity fallback, as the server answers.
        r = m.recommend([["nope"]], n=3, details=True)[0]
        self.assertTrue(r.popularity_fallback)
        self.assertEqual(r.unknown_item_count, 1)

    def test_evaluate_equals_cli(self):
        split = os.path.join(self.dir, "split")
        subprocess.run([edlae_testing.binary("edlae-train"), "split", "--input", self.csv, "--format", "csv",
                        "--header", "--min-rating", "none", "--heldout-users", "40", "--out", split],
                       check=True, capture_output=True)
        train = os.path.join(split, "train.csv")
        py = edlae.fit(train, model="edlae", lam=10.0, dropout=0.3, format="csv", header=True)
        cli_path = os.path.join(self.dir, "split.edlae")
        subprocess.run([edlae_testing.binary("edlae-train"), "train", "--input", train, "--format", "csv",
                        "--header", "--model", "edlae", "--lambda", "10", "--dropout", "0.3", "--out", cli_path],
                       check=True, capture_output=True)
        for on in ("test", "validation"):
            out = subprocess.run([edlae_testing.binary("edlae-train"), "evaluate", "--split", split, "--on", on,
                                  "--model-file", cli_path, "--json"], check=True, capture_output=True, text=True)
            want = json.loads(out.stdout)["metrics"]
            got = edlae.evaluate(py, split=split, on=on)
            self.assertEqual(got["users"], want["users"])
            for key in ("recall@20", "recall@50", "ndcg@100"):
                self.assertAlmostEqual(got[key].mean, want[key]["mean"], places=5, msg=key)
                self.assertAlmostEqual(got[key].std_error, want[key]["se"], places=5, msg=key)
            self.assertGreater(got["ndcg@100"].mean, 0)
        # Weak generalization: fold-in / targets files against the same histories given in Python.
        fold_in = {f"u{u}": h for u, h in enumerate([["i0", "i3", "i7"], ["i1", "i2"], ["i10", "i12"]])}
        targets = {f"u{u}": h for u, h in enumerate([["i5", "i9"], ["i4"], ["i11", "i40", "i41"]])}
        full = os.path.join(self.dir, "full.edlae")
        m = edlae.fit(self.X, model="edlae", lam=10.0, dropout=0.3, item_ids=self.ids)
        m.save(full)
        targets["u0"].append(m.recommend([fold_in["u0"]], n=1)[0][0][0])  # one hit at rank 1
        paths = []
        for name, d in (("fold_in.csv", fold_in), ("targets.csv", targets)):
            paths.append(os.path.join(self.dir, name))
            with open(paths[-1], "w", encoding="ascii") as f:
                f.write("user,item\n" + "".join(f"{u},{i}\n" for u, h in d.items() for i in h))
        out = subprocess.run([edlae_testing.binary("edlae-train"), "evaluate", "--fold-in", paths[0], "--targets",
                              paths[1], "--format", "csv", "--header", "--model-file", full, "--json"],
                             check=True, capture_output=True, text=True)
        want = json.loads(out.stdout)["metrics"]
        got = edlae.evaluate(edlae.load(full), fold_in, targets)
        self.assertGreater(got["ndcg@20"].mean, 0)
        self.assertEqual(got["users_with_targets"], want["users_with_targets"])
        for key in ("recall@20", "ndcg@20", "recall@50", "ndcg@50", "recall@100", "ndcg@100"):
            self.assertAlmostEqual(got[key].mean, want[key]["mean"], places=5, msg=key)
            self.assertAlmostEqual(got[key].std_error, want[key]["se"], places=5, msg=key)

    def test_bad_input_raises(self):
        X = self.X
        bad_nan = X.copy()
        bad_nan.data[0] = np.nan
        bad_neg = X.copy()
        bad_neg.data[0] = -1
        neg_index = sp.csr_matrix((np.ones(1), np.array([-1]), np.array([0, 1])), shape=(1, 3))
        cases = [
            lambda: edlae.fit(bad_nan),
            lambda: edlae.fit(bad_neg),
            lambda: edlae.fit(neg_index),
            lambda: edlae.fit(sp.csr_matrix((0, 0))),
            lambda: edlae.fit(sp.csr_matrix((5, 0))),
            lambda: edlae.fit(sp.csr_matrix((0, 5))),
            lambda: edlae.fit(sp.csr_matrix((4, 4))),
            lambda: edlae.fit([]),
            lambda: edlae.fit([[]]),
            lambda: edlae.fit(X, item_ids=self.ids[:-1]),
            lambda: edlae.fit(X, item_ids=["a"] * 60),
            lambda: edlae.fit([["a", "zz"]], item_ids=["a", "b"]),
            lambda: edlae.fit(X, model="nope"),
            lambda: edlae.fit(X, lam=-1.0),
            lambda: edlae.fit(X, lam=float("nan")),
            lambda: edlae.fit(X, dropout=1.0),
            lambda: edlae.fit(X, rank=0),
            lambda: edlae.fit(X, rank=61),
            lambda: edlae.fit(X, model="zero-diag"),
            lambda: edlae.fit(X, model="ease", rank=4),
            lambda: edlae.fit(X, method="admm"),
            lambda: edlae.fit(X, rank=4, sparse=True, density=0.5),
            lambda: edlae.fit(X, lam=1.0, sparse_method="cholmod"),
            lambda: edlae.fit(X, lam=1.0, neighborhood_factor=0.5),
            lambda: edlae.fit(X, lam=1.0, rank=4, sparse_method="neighborhoods"),
            lambda: edlae.fit(X, dtype="f64"),
            lambda: edlae.fit(X, memory_limit_mb=1, lam=1.0),
        ]
        for k, case in enumerate(cases):
            with self.subTest(case=k):
                with self.assertRaises((ValueError, MemoryError, TypeError)):
                    case()
        m = edlae.fit(X, lam=10.0, item_ids=self.ids)
        for case in (lambda: m.recommend([["i0"]], n=0), lambda: m.recommend("i0"),
                     lambda: m.recommend([["i0"]], weights=[[1.0, 2.0]]),
                     lambda: m.recommend([["i0"]], weights=[[float("nan")]]),
                     lambda: m.recommend([["i0"]], weights=[["x"]]), lambda: m.recommend([[1.5]]),
                     lambda: m.similar_items(["i0"], n=0), lambda: m.similar_items(["i0"], similarity="cosine"),
                     lambda: edlae.evaluate(m, [["i0"]], [[]]), lambda: edlae.evaluate(m, [["i0"]], None)):
            with self.assertRaises((ValueError, TypeError)):
                case()
        self.assertEqual(m.similar_items(["nope"], n=3, details=True).unknown_item_count, 1)
        self.assertEqual(edlae.evaluate(m, [["i0"]], [["nope"]])["unknown_targets"], 1)  # a miss, as the CLI
        with self.assertRaises(FileNotFoundError):
            edlae.load(os.path.join(self.dir, "missing.edlae"))
        garbage = os.path.join(self.dir, "garbage.edlae")
        with open(garbage, "wb") as f:
            f.write(b"not a model" * 100)
        with self.assertRaises((OSError, ValueError)):
            edlae.load(garbage)
        with self.assertRaises(OSError):
            m.save(os.path.join(self.dir, "no", "such", "dir", "m.edlae"))
        with self.assertRaises((OSError, ValueError)):
            edlae.evaluate(m, split=os.path.join(self.dir, "no-split"))


class ServedModelTest(unittest.TestCase):
    """The Python API's model file loads in edlae-server and answers as the CLI-trained one does."""

    def test_server_answers_as_cli_model(self):
        try:
            from edlae_client import RecommenderClient
        except ImportError as e:
            self.skipTest(f"edlae_client needs grpcio/protobuf: {e}")
        with tempfile.TemporaryDirectory() as d:
            X = synthetic_csr(seed=5)
            ids = [f"i{j}" for j in range(X.shape[1])]
            csv = os.path.join(d, "x.csv")
            write_csv(csv, X, ids)
            py_path, cli_path = os.path.join(d, "py.edlae"), os.path.join(d, "cli.edlae")
            edlae.fit(X, model="edlae", lam=10.0, dropout=0.3, item_ids=ids).save(py_path)
            train_cli("--input", csv, "--format", "csv", "--header", "--model", "edlae", "--lambda", "10",
                      "--dropout", "0.3", "--out", cli_path)
            local = edlae.load(py_path)
            with edlae_testing.Server(d, py_path, name="py") as a, edlae_testing.Server(d, cli_path, name="cli") as b:
                ca, cb = RecommenderClient(a.target, timeout=5.0), RecommenderClient(b.target, timeout=5.0)
                try:
                    self.assertEqual(ca.model_info().fingerprint, local.fingerprint)
                    for h in (["i0", "i3", "i7"], ["i1"], ["i10", "i11", "nope"]):
                        ra, rb = ca.recommend(h, top_n=10), cb.recommend(h, top_n=10)
                        self.assertEqual([i.item_id for i in ra.items], [i.item_id for i in rb.items])
                        np.testing.assert_allclose([i.score for i in ra.items], [i.score for i in rb.items],
                                                   atol=TOL, rtol=TOL)
                        mine = local.recommend([h], n=10)[0]
                        self.assertEqual([i.item_id for i in ra.items], [i for i, _ in mine])
                        np.testing.assert_allclose([i.score for i in ra.items], [s for _, s in mine], atol=TOL)
                    sa, sb = ca.similar_items(["i2"], top_n=5), cb.similar_items(["i2"], top_n=5)
                    self.assertEqual([i.item_id for i in sa.items], [i.item_id for i in sb.items])
                    self.assertEqual([i.item_id for i in sa.items], [i for i, _ in local.similar_items(["i2"], 5)])
                finally:
                    ca.close()
                    cb.close()


if __name__ == "__main__":
    unittest.main()
