"""The Python client (edlae_client) against a live edlae-server on loopback, cross-checked with edlae-client."""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import unittest

import edlae_testing

edlae_testing.require_modules("grpc", "google.protobuf")

import grpc  # noqa: E402

from edlae_client import EdlaeError, RecommenderClient  # noqa: E402
from edlae_client.load import random_histories, run_load  # noqa: E402


def as_float32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


class PythonClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model = edlae_testing.train_model(cls.tmp.name)
        cls.server = edlae_testing.Server(cls.tmp.name, cls.model)
        cls.client = RecommenderClient(cls.server.target, timeout=5.0)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        status = cls.server.stop(signal.SIGTERM)
        cls.tmp.cleanup()
        assert status == 0, f"server exited {status} after SIGTERM"

    def cli_json(self, *args: str) -> dict:
        out = subprocess.run([edlae_testing.binary("edlae-client"), *args, "--target", self.server.target,
                              "--json"], check=True, capture_output=True, text=True).stdout
        return json.loads(out)

    def test_recommend_ranks_best_first_without_history(self):
        history = ["1", "2", "3", "10", "42"]
        r = self.client.recommend(history, top_n=10)
        self.assertEqual(len(r.items), 10)
        scores = [item.score for item in r.items]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertFalse({item.item_id for item in r.items} & set(history))
        self.assertEqual(r.unknown_item_count, 0)
        self.assertFalse(r.popularity_fallback)
        self.assertEqual(r.model_version, 0)
        self.assertRegex(r.model_fingerprint, r"^[0-9a-f]{16}$")

    def test_agrees_with_the_cpp_client(self):
        cases = [
            (dict(history=["1", "2", "3"], top_n=7), ["--items", "1,2,3", "-n", "7"]),
            (dict(history=["5", "6", "7"], weights=[1.0, 0.5, 2.0], top_n=5, exclude=["8", "9"]),
             ["--items", "5,6,7", "--weights", "1,0.5,2", "-n", "5", "--exclude", "8,9"]),
            (dict(history=["4", "11"], top_n=3, candidates=["4", "12", "13", "14", "15"], exclude_history=False),
             ["--items", "4,11", "-n", "3", "--candidates", "4,12,13,14,15", "--include_history"]),
        ]
        for kwargs, cli_args in cases:
            with self.subTest(cli_args=cli_args):
                ours = self.client.recommend(**kwargs)
                theirs = self.cli_json("recommend", *cli_args)
                self.assertEqual([i.item_id for i in ours.items], [i["item_id"] for i in theirs["items"]])
                self.assertEqual([i.score for i in ours.items],
                                 [as_float32(i["score"]) for i in theirs["items"]])
                self.assertEqual(ours.model_fingerprint, theirs["model_fingerprint"])

    def test_candidates_exclusions_and_history(self):
        candidates = [str(i) for i in range(20, 40)]
        r = self.client.recommend(["1", "2"], top_n=50, candidates=candidates, exclude=["21", "22"])
        ids = [item.item_id for item in r.items]
        self.assertEqual(len(ids), 18)  # every candidate but the two excluded
        self.assertTrue(set(ids) <= set(candidates) - {"21", "22"})
        with_history = self.client.recommend(["1", "2"], top_n=200, exclude_history=False)
        self.assertTrue({"1", "2"} <= {item.item_id for item in with_history.items})

    def test_unknown_ids_are_counted_and_fall_back_to_popularity(self):
        r = self.client.recommend(["1", "no-such-item"], top_n=5)
        self.assertEqual(r.unknown_item_count, 1)
        self.assertFalse(r.popularity_fallback)
        fallback = self.client.recommend(["nope", "neither"], top_n=5)
        self.assertEqual(fallback.unknown_item_count, 2)
        self.assertTrue(fallback.popularity_fallback)
        self.assertEqual(len(fallback.items), 5)

    def test_invalid_arguments_raise_with_the_status_code(self):
        for kwargs in (dict(top_n=0), dict(top_n=5, weights=[1.0]), dict(top_n=10**6)):
            with self.subTest(kwargs=kwargs):
                with self.assertRaises(EdlaeError) as ctx:
                    self.client.recommend(["1", "2"], **kwargs)
                self.assertEqual(ctx.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
                self.assertTrue(ctx.exception.details)

    def test_model_info(self):
        info = self.client.model_info()
        self.assertEqual(info.kind, "dense")
        self.assertEqual(info.dtype, "float32")
        self.assertEqual(info.num_items, 200)
        self.assertEqual(info.file_size_bytes, os.path.getsize(self.model))
        self.assertEqual(info.metadata.get("algorithm"), "edlae")
        self.assertEqual(info.fingerprint, self.client.recommend(["1"], top_n=1).model_fingerprint)
        self.assertEqual(info.fingerprint, self.cli_json("info")["fingerprint"])

    def test_health(self):
        self.assertEqual(self.client.health(), "SERVING")
        self.assertEqual(self.client.health("edlae.v1.Recommender"), "SERVING")
        with self.assertRaises(EdlaeError) as ctx:
            self.client.health("no.such.Service")
        self.assertEqual(ctx.exception.code, grpc.StatusCode.NOT_FOUND)

    def test_concurrent_calls_share_one_client(self):
        ids = [str(i) for i in range(1, 201)]
        report = run_load(self.client, random_histories(ids, 8), requests=200, concurrency=6, max_seconds=60)
        self.assertEqual(report.ok, 200, report.error_messages)
        self.assertEqual(len(report.fingerprints), 1)

    def test_unreachable_server_is_unavailable(self):
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with RecommenderClient(f"127.0.0.1:{port}", timeout=3.0, retry_reads=True) as client:
            with self.assertRaises(EdlaeError) as ctx:
                client.recommend(["1"], top_n=1)
            self.assertEqual(ctx.exception.code, grpc.StatusCode.UNAVAILABLE)

    def test_command_line(self):
        def run(*args):
            return subprocess.run([sys.executable, "-m", "edlae_client", "--target", self.server.target, *args],
                                  capture_output=True, text=True, timeout=60)
        rec = run("--json", "recommend", "--items", "1,2,3", "-n", "4")
        self.assertEqual(rec.returncode, 0, rec.stderr)
        self.assertEqual(len(json.loads(rec.stdout)["items"]), 4)
        self.assertEqual(run("health").stdout.strip(), "SERVING")
        info = run("info")
        self.assertIn("num_items: 200", info.stdout)
        bad = run("recommend", "--items", "1", "-n", "0")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("INVALID_ARGUMENT", bad.stderr)
        load = run("--json", "load", "--requests", "40", "--concurrency", "2", "--ids", "1:200")
        self.assertEqual(load.returncode, 0, load.stderr)
        self.assertEqual(json.loads(load.stdout)["ok"], 40)


if __name__ == "__main__":
    unittest.main(verbosity=2)
