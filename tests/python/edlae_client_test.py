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
import time
import unittest

import edlae_testing

edlae_testing.require_modules("grpc", "google.protobuf")

import grpc  # noqa: E402

from edlae_client import EdlaeError, RecommenderClient  # noqa: E402
from edlae_client.load import random_histories, run_load  # noqa: E402


def as_float32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


class LiveServerTest(unittest.TestCase):
    """A test class whose setUpClass starts cls.server (in cls.tmp) and cls.client; stopped here, exit status 0."""

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        status = cls.server.stop(signal.SIGTERM)
        cls.tmp.cleanup()
        assert status == 0, f"server exited {status} after SIGTERM"


class PythonClientTest(LiveServerTest):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.model = edlae_testing.train_model(cls.tmp.name)
        cls.server = edlae_testing.Server(cls.tmp.name, cls.model)
        cls.client = RecommenderClient(cls.server.target, timeout=5.0)


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

    def test_explained_recommend_sums_to_the_score(self):
        history = ["1", "2", "3", "10", "42"]
        plain = self.client.recommend(history, top_n=5)
        self.assertTrue(all(item.contributions == () for item in plain.items))
        r = self.client.recommend(history, top_n=5, explain=True, max_contributions=len(history))
        self.assertEqual([i.item_id for i in r.items], [i.item_id for i in plain.items])
        for item in r.items:
            self.assertTrue(item.contributions)
            self.assertTrue({c.item_id for c in item.contributions} <= set(history))
            values = [c.contribution for c in item.contributions]
            self.assertEqual(values, sorted(values, reverse=True))
            self.assertAlmostEqual(sum(values), item.score, delta=1e-5 * max(1.0, sum(map(abs, values))))
        top2 = self.client.recommend(history, top_n=5, explain=True, max_contributions=2)
        for item, full in zip(top2.items, r.items):
            self.assertEqual(item.contributions, full.contributions[:2])
        theirs = self.cli_json("recommend", "--items", ",".join(history), "-n", "5", "--explain",
                               "--max_contributions", "2")
        self.assertEqual([[c["item_id"] for c in i["contributions"]] for i in theirs["items"]],
                         [[c.item_id for c in i.contributions] for i in top2.items])
        with self.assertRaises(EdlaeError) as ctx:
            self.client.recommend(history, explain=True, max_contributions=10**6)
        self.assertEqual(ctx.exception.code, grpc.StatusCode.INVALID_ARGUMENT)

    def test_similar_items_agrees_with_the_cpp_client(self):
        ours = self.client.similar_items(["1", "2", "zz"], top_n=6, exclude=["3"], explain=True)
        self.assertEqual(ours.unknown_item_count, 1)
        self.assertFalse({"1", "2", "3"} & {i.item_id for i in ours.items})
        # A user whose history is exactly the query items is recommended the same.
        rec = self.client.recommend(["1", "2"], top_n=6, exclude=["3"])
        self.assertEqual([i.item_id for i in ours.items], [i.item_id for i in rec.items])
        for a, b in zip(ours.items, rec.items):
            self.assertAlmostEqual(a.score, b.score, delta=1e-5)
        theirs = self.cli_json("similar", "--items", "1,2,zz", "-n", "6", "--exclude", "3", "--explain")
        self.assertEqual([i.item_id for i in ours.items], [i["item_id"] for i in theirs["items"]])
        self.assertEqual([i.score for i in ours.items], [as_float32(i["score"]) for i in theirs["items"]])
        for item in ours.items:
            self.assertAlmostEqual(sum(c.contribution for c in item.contributions), item.score, delta=1e-4)
        self.assertEqual(self.client.similar_items(["1"], top_n=2, model_name="default").items[0].item_id,
                         self.client.similar_items(["1"], top_n=2).items[0].item_id)
        for kwargs, code in ((dict(model_name="other"), grpc.StatusCode.NOT_FOUND),
                             (dict(similarity="cosine"), grpc.StatusCode.INVALID_ARGUMENT),  # a dense model
                             (dict(top_n=0), grpc.StatusCode.INVALID_ARGUMENT)):
            with self.subTest(kwargs=kwargs):
                with self.assertRaises(EdlaeError) as ctx:
                    self.client.similar_items(["1"], **{"top_n": 3, **kwargs})
                self.assertEqual(ctx.exception.code, code)
        with self.assertRaises(ValueError):
            self.client.similar_items(["1"], similarity="euclid")
        with self.assertRaises(TypeError):
            self.client.similar_items("1")
        cli = self.run_cli("similar", "--items", "1,2", "-n", "3", "--explain")
        self.assertEqual(cli.returncode, 0, cli.stderr)
        self.assertIn("<- ", cli.stdout)
        self.assertEqual(self.run_cli("similar", "--items", "1", "--similarity", "euclid").returncode, 2)
        self.assertEqual(self.run_cli("similar", "--items", "1", "--model_name", "x").returncode, 1)

    def test_model_info(self):
        info = self.client.model_info()
        self.assertEqual(info.kind, "dense")
        self.assertEqual(info.dtype, "float32")
        self.assertEqual(info.num_items, 200)
        self.assertEqual(info.file_size_bytes, os.path.getsize(self.model))
        self.assertEqual(info.metadata.get("algorithm"), "edlae")
        self.assertEqual(info.model_name, "default")
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

    def test_a_str_is_refused_where_a_list_of_ids_is_expected(self):
        for kwargs in (dict(history="123"), dict(history=b"123"), dict(history=["1"], exclude="23"),
                       dict(history=["1"], candidates="45"), dict(history=["1"], weights="1"),
                       dict(history=[1, 2, 3])):
            with self.subTest(kwargs=kwargs):
                with self.assertRaises(TypeError) as ctx:
                    self.client.recommend(**kwargs)
                self.assertRegex(str(ctx.exception), r"history|exclude|candidates|weights")
        one = self.client.recommend(["123"], top_n=3)  # the one id "123" (items are 1..200)
        self.assertEqual(one.unknown_item_count, 0)
        self.assertEqual(one.items, self.client.recommend(("123",), top_n=3).items)
        self.assertNotEqual(one.items, self.client.recommend(["1", "2", "3"], top_n=3).items)
        with self.assertRaises(EdlaeError) as ctx:
            self.client.recommend(["1"], top_n=-1)
        self.assertEqual(ctx.exception.code, grpc.StatusCode.INVALID_ARGUMENT)

    def run_cli(self, *args, target: bool = True):
        prefix = ["--target", self.server.target] if target else []
        return subprocess.run([sys.executable, "-m", "edlae_client", *prefix, *args],
                              capture_output=True, text=True, errors="replace", timeout=60)

    def test_connection_flags_before_or_after_the_command(self):
        for args in (["--json", "recommend", "--items", "1,2,3", "-n", "4"],
                     ["recommend", "--items", "1,2,3", "-n", "4", "--json"],
                     ["recommend", "--json", "--items", "1,2,3", "-n", "4", "--timeout_ms", "3000"]):
            with self.subTest(args=args):
                r = self.run_cli(*args)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(len(json.loads(r.stdout)["items"]), 4)
        for args in (["info", "--json", "--target", self.server.target],
                     ["--json", "--timeout_ms", "3000", "info", "--target", self.server.target]):
            with self.subTest(args=args):
                r = self.run_cli(*args, target=False)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout)["num_items"], 200)
        r = self.run_cli("health", "--json", "--service", "edlae.v1.Recommender")
        self.assertEqual((r.returncode, json.loads(r.stdout)), (0, {"status": "SERVING"}), r.stderr)

    def test_bad_input_gives_a_message_and_exit_status_never_a_traceback(self):
        with tempfile.TemporaryDirectory() as d:
            empty = os.path.join(d, "empty")
            open(empty, "w").close()
            missing = os.path.join(d, "missing")
            usage = [
                ([], False), (["info"], False), (["frobnicate"], True), (["recommend"], True),
                (["recommend", "--items", "1", "--weights", "abc"], True),
                (["recommend", "--items", "1,2", "--weights", "1"], True),
                (["recommend", "--items", ","], True),
                (["recommend", "--items", "1", "-n", "-1"], True),
                (["recommend", "--items", "1", "-n", "99999999999"], True),
                (["recommend", "--items", "1", "-n", "many"], True),
                ([b"recommend", b"--items", b"1,\xff\xfe"], True),  # not UTF-8
                (["--timeout_ms", "0", "info"], True), (["info", "--timeout_ms", "soon"], True),
                (["--auth_token_file", missing, "info"], True), (["info", "--auth_token_file", empty], True),
                (["--tls_ca", missing, "info"], True), (["info", "--tls_cert", empty], True),
                (["info", "--tls_key", empty], True),
                (["load", "--ids", "abc"], True), (["load", "--ids", "9:1"], True),
                (["load", "--ids", "@" + missing], True), (["load", "--ids", "@" + empty], True),
                (["load", "--requests", "0"], True), (["load", "--max_seconds", "-1"], True),
            ]
            for args, with_target in usage:
                with self.subTest(args=args):
                    r = self.run_cli(*args, target=with_target)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn("usage:", r.stderr)
                    self.assertIn("error:", r.stderr)
                    self.assertNotIn("Traceback", r.stderr)
            with socket.socket() as s:  # a port nobody listens on
                s.bind(("127.0.0.1", 0))
                closed = f"127.0.0.1:{s.getsockname()[1]}"
            failures = [
                (["recommend", "--items", "1", "-n", "0"], "INVALID_ARGUMENT"),
                (["health", "--service", "no.such.Service"], "NOT_FOUND"),
                (["info", "--target", closed, "--timeout_ms", "2000"], "UNAVAILABLE"),
            ]
            for args, code in failures:
                with self.subTest(args=args):
                    r = self.run_cli(*args)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn(f"edlae_client: {code}", r.stderr)
                    self.assertNotIn("Traceback", r.stderr)

    def test_command_line(self):
        def run(*args):
            return self.run_cli(*args)
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
        self.assertEqual(json.loads(load.stdout)["unknown_history_ids"], 0)
        self.assertNotIn("warning", load.stderr)

    def test_bench_takes_the_cpp_clients_flags(self):
        flags = ["--concurrency", "2", "--requests", "30", "--duration_s", "20", "--history_len", "5", "-n", "7",
                 "--items", "1,2,3,4,5,6,7,8,9,10", "--json"]
        py = self.run_cli("bench", *flags)
        self.assertEqual(py.returncode, 0, py.stderr)
        self.assertEqual(json.loads(py.stdout)["ok"], 30)
        cpp = subprocess.run([edlae_testing.binary("edlae-client"), "bench", "--target", self.server.target, *flags],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(cpp.returncode, 0, cpp.stderr)
        self.assertEqual(json.loads(cpp.stdout)["ok_calls"], 30)
        r = self.run_cli("bench", "--requests", "10", "--json")  # ids 1..num_items, as edlae-client
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["unknown_history_ids"], 0)
        r = self.run_cli("bench", "--items", "1", "--ids_file", "x")
        self.assertEqual(r.returncode, 2, r.stderr)

    def test_load_warns_when_most_ids_are_unknown(self):
        r = self.run_cli("load", "--requests", "20", "--concurrency", "2", "--ids", "1001:2000", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        summary = json.loads(r.stdout)
        self.assertEqual((summary["ok"], summary["history_ids_sent"], summary["unknown_history_ids"]),
                         (20, 200, 200))
        self.assertIn("edlae_client: warning: 200 of the 200 history ids sent are unknown", r.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".ids") as ids:
            ids.write("".join(f"{i}\n" for i in range(1, 201)))
            ids.flush()
            r = self.run_cli("load", "--requests", "20", "--ids", "@" + ids.name, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["unknown_history_ids"], 0)
        self.assertNotIn("warning", r.stderr)


class TlsAndTokenTest(unittest.TestCase):
    """--tls, --tls_ca, --tls_cert/--tls_key (mutual TLS) and --auth_token_file against a server requiring all."""

    TOKEN = "s3cret-token"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        script = f"""set -e; cd '{d}'
openssl req -x509 {key} -keyout ca.key -out ca.pem -days 2 -subj '/CN=edlae test ca'
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.ext
openssl req {key} -keyout server.key -out server.csr -subj '/CN=localhost'
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile server.ext -out server.pem
openssl req {key} -keyout client.key -out client.csr -subj '/CN=edlae client'
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out client.pem
printf '  {cls.TOKEN}\\n' > token
"""
        made = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
        if made.returncode != 0:
            raise RuntimeError(f"openssl failed:\n{made.stderr}")
        cls.model = edlae_testing.train_model(d, users=200, items=50)
        f = lambda name: os.path.join(d, name)  # noqa: E731
        cls.server = edlae_testing.Server(d, cls.model, name="tls", extra_args=(
            "--tls_cert", f("server.pem"), "--tls_key", f("server.key"), "--tls_client_ca", f("ca.pem"),
            "--auth_token_file", f("token")))

    @classmethod
    def tearDownClass(cls):
        cls.server.stop(signal.SIGTERM)
        cls.tmp.cleanup()

    def run_cli(self, *args):
        return subprocess.run([sys.executable, "-m", "edlae_client", *args], capture_output=True, text=True,
                              timeout=60)

    def test_mutual_tls_and_token_flags(self):
        def f(name: str) -> str:
            return os.path.join(self.tmp.name, name)
        secure = ["--tls_ca", f("ca.pem"), "--tls_cert", f("client.pem"), "--tls_key", f("client.key"),
                  "--auth_token_file", f("token"), "--target", self.server.target]
        for args in (secure + ["--json", "info"], ["info", "--json"] + secure, ["--tls"] + secure + ["info", "--json"]):
            with self.subTest(args=args):
                r = self.run_cli(*args)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(json.loads(r.stdout)["num_items"], 50)
        r = self.run_cli("recommend", "--items", "1,2", "-n", "3", "--json", *secure)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["items"]), 3)

        no_token = secure[:6] + ["--target", self.server.target]
        refused = [
            (no_token + ["info"], "UNAUTHENTICATED"),  # TLS fine, no token
            (["--target", self.server.target, "--auth_token_file", f("token"), "--timeout_ms", "2000", "info"],
             "UNAVAILABLE"),  # plaintext to a TLS server
            (["--tls", "--target", self.server.target, "--auth_token_file", f("token"), "--timeout_ms", "2000",
              "info"], "UNAVAILABLE"),  # system roots do not trust the test CA
            (["--tls_ca", f("ca.pem"), "--auth_token_file", f("token"), "--target", self.server.target,
              "--timeout_ms", "2000", "info"], "UNAVAILABLE"),  # no client certificate
        ]
        for args, code in refused:
            with self.subTest(args=args):
                r = self.run_cli(*args)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(f"edlae_client: {code}", r.stderr)
                self.assertNotIn("Traceback", r.stderr)


class ModelConfigTest(LiveServerTest):
    """Several models by name (--model_config): the client's model_name, model_version and version_label."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        for model, version, items, seed in (("books", 1, 60, 1), ("books", 2, 60, 2), ("movies", 5, 80, 3)):
            edlae_testing.train_model(d, os.path.join(model, str(version), "model.edlae"), users=200, items=items,
                                      seed=seed)
        cls.config = os.path.join(d, "models.config")
        cls.write_config(["books", "movies"])
        cls.server = edlae_testing.Server(d, None, name="models", extra_args=(
            "--model_config", cls.config, "--poll_interval", "1h"))
        cls.client = RecommenderClient(cls.server.target, timeout=5.0)

    @classmethod
    def write_config(cls, models):
        entries = "".join(
            f'config {{ name: "{m}" base_path: "{os.path.join(cls.tmp.name, m)}" '
            + ('model_version_policy { all {} } version_labels { key: "stable" value: 1 } ' if m == "books" else "")
            + "}\n" for m in models)
        with open(cls.config + ".tmp", "w") as f:
            f.write("model_config_list {\n" + entries + "}\n")
        os.replace(cls.config + ".tmp", cls.config)


    def run_cli(self, *args):
        return subprocess.run([sys.executable, "-m", "edlae_client", "--target", self.server.target, *args],
                              capture_output=True, text=True, timeout=60)

    def test_names_versions_and_labels(self):
        info = self.client.model_info("books")
        self.assertEqual((info.model_name, info.num_items, info.model_version), ("books", 60, 2))
        self.assertEqual(info.served_versions, [2, 1])
        self.assertEqual(info.version_labels, {"stable": 1})
        self.assertEqual(self.client.model_info("movies").num_items, 80)
        self.assertEqual(self.client.recommend(["1", "2"], model_name="books").model_version, 2)
        self.assertEqual(self.client.recommend(["1", "2"], model_name="books", model_version=1).model_version, 1)
        self.assertEqual(self.client.recommend(["1", "2"], model_name="books", version_label="stable").model_version,
                         1)
        self.assertEqual(self.client.similar_items(["1"], model_name="movies").model_version, 5)
        with self.assertRaises(EdlaeError) as e:
            self.client.recommend(["1"], model_name="music")
        self.assertEqual(e.exception.code, grpc.StatusCode.NOT_FOUND)
        self.assertIn("books", e.exception.details)
        with self.assertRaises(EdlaeError) as e:
            self.client.recommend(["1"])  # two models, no default
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)
        with self.assertRaises(EdlaeError) as e:
            self.client.recommend(["1"], model_name="books", model_version=1, version_label="stable")
        self.assertEqual(e.exception.code, grpc.StatusCode.INVALID_ARGUMENT)

    def test_command_line_flags_match_the_cpp_client(self):
        for args in (("info", "--model_name", "books", "--version_label", "stable", "--json"),):
            py = self.run_cli(*args)
            self.assertEqual(py.returncode, 0, py.stderr)
            cpp = subprocess.run([edlae_testing.binary("edlae-client"), *args, "--target", self.server.target],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(cpp.returncode, 0, cpp.stderr)
            self.assertEqual(json.loads(py.stdout)["model_version"], 1)
            self.assertEqual(json.loads(cpp.stdout)["model_version"], 1)
        r = self.run_cli("recommend", "--items", "1,2", "--model_name", "movies", "--model_version", "5", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["model_version"], 5)
        r = self.run_cli("recommend", "--items", "1", "--model_name", "books", "--model_version", "1",
                         "--version_label", "stable")
        self.assertEqual(r.returncode, 2, r.stderr)  # usage: not both
        r = self.run_cli("recommend", "--items", "1", "--model_name", "music")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("NOT_FOUND", r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        r = self.run_cli("load", "--requests", "20", "--ids", "1:60", "--model_name", "books", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        users = os.path.join(self.tmp.name, "users.txt")
        with open(users, "w") as f:
            f.write("u1 1 2\nu2 3\n")
        py = self.run_cli("recommend-batch", "--input", users, "--model_name", "books", "--version_label", "stable",
                          "-n", "3")
        self.assertEqual(py.returncode, 0, py.stderr)
        cpp = subprocess.run([edlae_testing.binary("edlae-client"), "recommend-batch", "--input", users,
                              "--model_name", "books", "--version_label", "stable", "-n", "3",
                              "--target", self.server.target], capture_output=True, text=True, timeout=60)
        self.assertEqual(cpp.returncode, 0, cpp.stderr)
        self.assertEqual([json.loads(line) for line in py.stdout.splitlines()],
                         [json.loads(line) for line in cpp.stdout.splitlines()])
        r = self.run_cli("recommend-batch", "--input", users, "-n", "3")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("model_name is required", r.stdout)

    def test_sighup_rereads_the_config(self):
        edlae_testing.train_model(self.tmp.name, os.path.join("music", "3", "model.edlae"), users=200, items=40,
                                  seed=4)
        self.write_config(["books", "movies", "music"])
        self.server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while True:
            try:
                self.assertEqual(self.client.model_info("music").num_items, 40)
                break
            except EdlaeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.write_config(["books", "movies"])
        self.server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                self.client.model_info("music")
                time.sleep(0.05)
            except EdlaeError as e:
                self.assertEqual(e.code, grpc.StatusCode.NOT_FOUND)
                break
        else:
            self.fail("music was not removed after SIGHUP")


if __name__ == "__main__":
    unittest.main(verbosity=2)
