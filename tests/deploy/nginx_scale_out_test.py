"""Scale-out: 3 edlae-server replicas behind nginx (deploy/nginx/edlae-grpc.conf) on loopback. Every replica
serves; a rolling replacement (nginx drain, SIGTERM, new replica) loses no call; abrupt stops (SIGTERM without
drain, SIGKILL) lose no call when the client retries reads."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import edlae_testing

edlae_testing.require_modules("grpc", "google.protobuf")
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)
if NGINX is None:
    print("SKIP: nginx missing; scripts/install-deps.sh installs it", file=sys.stderr)
    sys.exit(edlae_testing.SKIP)

import grpc  # noqa: E402

from edlae_client import EdlaeError, RecommenderClient  # noqa: E402
from edlae_client.load import random_histories, run_load  # noqa: E402

REPLICAS = 3
IDS = [str(i) for i in range(1, 201)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render_config(source: str, prefix: str, listen_port: int, upstreams: list[tuple[int, bool]]) -> str:
    """The shipped config with loopback upstreams ((port, down) each), a loopback listen port and its files under
    `prefix`. Every substitution must match, so a change to the shipped file cannot silently go untested."""
    def sub(pattern: str, replacement, text: str, count: int) -> str:
        text, n = re.subn(pattern, replacement, text, flags=re.M)
        assert n == count, f"expected {count} match(es) of {pattern!r} in the nginx config, found {n}"
        return text

    servers = iter(upstreams)

    def upstream_line(m: re.Match) -> str:
        port, down = next(servers)
        return f"{m.group(1)}127.0.0.1:{port}{m.group(2)}{' down' if down else ''};"

    text = sub(r"^(\s*server\s+)edlae-\d+:8500\b([^;]*);", upstream_line, source, len(upstreams))
    text = sub(r"^(\s*listen\s+)8500(\s+http2;)", rf"\g<1>127.0.0.1:{listen_port}\g<2>", text, 1)
    text = sub(r"^error_log\s+\S+", f"error_log {prefix}/error.log", text, 1)
    text = sub(r"^pid\s+\S+;", f"pid {prefix}/nginx.pid;", text, 1)
    text = sub(r"^worker_processes\s+\S+;", "worker_processes 2;", text, 1)
    text = sub(r"^(\s*)access_log off;", rf"\g<1>access_log {prefix}/access.log grpc;", text, 1)
    temp_paths = "".join(f"  {kind}_temp_path {prefix}/{kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    text = sub(r"^http \{\n", "http {\n" + temp_paths, text, 1)
    if os.geteuid() == 0:  # as root nginx would switch its workers to `nobody`; stay the current user
        text = "user root;\n" + text
    return text


class NginxScaleOutTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.work = self.tmp.name
        # Different λ per replica → different model fingerprints, so each response names its replica.
        self.replicas = [self.start_replica(i, lam=5.0 * (i + 1)) for i in range(REPLICAS)]
        self.down = set()
        self.fingerprints = [self.fingerprint(server) for server in self.replicas]
        self.assertEqual(len(set(self.fingerprints)), REPLICAS)
        source_dir = os.environ.get("EDLAE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
        with open(os.path.join(source_dir, "deploy", "nginx", "edlae-grpc.conf"), encoding="utf-8") as f:
            self.source = f.read()
        self.prefix = os.path.join(self.work, "nginx")
        os.makedirs(self.prefix)
        self.conf = os.path.join(self.prefix, "nginx.conf")
        self.start_nginx()

    def start_replica(self, index: int, lam: float) -> edlae_testing.Server:
        model = edlae_testing.train_model(self.work, f"model-{index}-{lam}.edlae", lam=lam)
        server = edlae_testing.Server(self.work, model, name=f"replica-{index}-{lam}",
                                      extra_args=("--shutdown_grace", "5s"))
        self.addCleanup(server.__exit__)
        return server

    @staticmethod
    def fingerprint(server: edlae_testing.Server) -> str:
        with RecommenderClient(server.target) as direct:
            return direct.model_info().fingerprint

    def write_config(self) -> None:
        upstreams = [(s.port, i in self.down) for i, s in enumerate(self.replicas)]
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write(render_config(self.source, self.prefix, self.port, upstreams))
        check = subprocess.run([NGINX, "-t", "-p", self.prefix, "-c", self.conf], capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stderr)

    def start_nginx(self) -> None:
        for _ in range(3):  # the free port may be taken between the probe and nginx's bind
            self.port = free_port()
            self.write_config()
            self.nginx = subprocess.Popen([NGINX, "-p", self.prefix, "-c", self.conf, "-g", "daemon off;"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.nginx.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                    self.addCleanup(self.stop_nginx)
                    self.target = f"127.0.0.1:{self.port}"
                    return
                except OSError:
                    time.sleep(0.05)
            self.nginx.kill()
            stderr = self.nginx.communicate()[1]
            if "Address already in use" not in stderr + self.nginx_log():
                self.fail(f"nginx did not start: {stderr}\n{self.nginx_log()}")
        self.fail("nginx found no free port")

    def workers(self) -> set[int]:
        with open(f"/proc/{self.nginx.pid}/task/{self.nginx.pid}/children", encoding="ascii") as f:
            return {int(pid) for pid in f.read().split()}

    def reload_nginx(self) -> None:
        """Rewrites the config and reloads (SIGHUP), returning once every old worker has finished its calls and
        exited, so no call can reach an upstream that the new config leaves out or marks down."""
        self.write_config()
        old = self.workers()
        self.nginx.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            current = self.workers()
            if current and not current & old:
                return
            time.sleep(0.05)
        self.fail(f"nginx workers {old} did not hand over after a reload\n{self.nginx_log()}")

    def stop_nginx(self) -> None:
        if self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.nginx.wait(10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()

    def nginx_log(self) -> str:
        path = os.path.join(self.prefix, "error.log")
        if not os.path.exists(path):
            return ""
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()[-4000:]

    def background_load(self, client: RecommenderClient, seed: int):
        """Starts bounded load (≤ 20,000 calls, ≤ 90 s) in a thread; returns (thread, report holder, progress
        counter, stop event)."""
        stop = threading.Event()
        progress = {"done": 0}
        holder = {}

        def on_response(done: int) -> None:
            progress["done"] = done

        def run() -> None:
            holder["report"] = run_load(client, random_histories(IDS, 8, seed=seed), requests=20000,
                                        concurrency=6, max_seconds=90, on_response=on_response, stop=stop)
        thread = threading.Thread(target=run)
        thread.start()
        return thread, holder, progress, stop

    @staticmethod
    def wait_calls(progress: dict, at_least: int, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while progress["done"] < at_least and time.monotonic() < deadline:
            time.sleep(0.01)

    def test_every_replica_serves(self):
        with RecommenderClient(self.target, timeout=5.0) as client:
            report = run_load(client, random_histories(IDS, 8), requests=300, concurrency=6, max_seconds=60)
        self.assertEqual(report.ok, 300, f"{report.error_messages}\n{self.nginx_log()}")
        per_replica = [report.fingerprints[f] for f in self.fingerprints]
        print("calls per replica through nginx:", per_replica, report.summary()["latency_ms"])
        for served in per_replica:
            self.assertGreaterEqual(served, 300 // REPLICAS // 2, per_replica)  # round robin: about 100 each

    def test_rolling_replacement_loses_no_call(self):
        # The rollout procedure of docs/operations.md under load, with a client that never retries: take the
        # replica out of the balancer (down + reload), SIGTERM it (drain, exit 0), start its replacement with a
        # new model, put it in. Every call succeeds; the replacement serves.
        with RecommenderClient(self.target, timeout=10.0) as client:
            thread, holder, progress, stop = self.background_load(client, seed=3)
            try:
                self.wait_calls(progress, 300)
                self.down.add(0)
                self.reload_nginx()
                drained_at = progress["done"]
                status = self.replicas[0].stop(signal.SIGTERM)
                self.replicas[0] = self.start_replica(0, lam=50.0)
                new_fingerprint = self.fingerprint(self.replicas[0])
                self.down.discard(0)
                self.reload_nginx()
                replaced_at = progress["done"]
                self.wait_calls(progress, replaced_at + 600)
            finally:
                stop.set()
                thread.join()
        report = holder["report"]
        print(f"rolling replacement: drained at call {drained_at}, replaced at {replaced_at}, "
              f"{report.ok} calls, per model: {dict(report.fingerprints)}")
        self.assertEqual(report.errors, {}, f"{report.error_messages}\n{self.nginx_log()}")
        self.assertEqual(report.ok, report.requests)
        self.assertEqual(status, 0, self.replicas[0].log())
        self.assertGreater(report.fingerprints[self.fingerprints[0]], 0, "replica 0 never served")
        self.assertGreater(report.fingerprints[new_fingerprint], 0, "the replacement never served")
        for i in (1, 2):
            self.assertGreater(report.fingerprints[self.fingerprints[i]], 0, f"replica {i} never served")

    def test_abrupt_stops_lose_no_call_with_client_retries(self):
        # No balancer drain: replica 0 gets SIGTERM while calls are on the wire to it, replica 1 is killed.
        # nginx moves refused connects to another replica itself; what it cannot replay (a call already sent to
        # a replica that died, answered 502 → UNAVAILABLE; a call cancelled by a server entering shutdown →
        # CANCELLED) the client's retry_reads policy retries, which is safe because Recommend only reads.
        with RecommenderClient(self.target, timeout=10.0, retry_reads=True) as client:
            thread, holder, progress, stop = self.background_load(client, seed=4)
            try:
                self.wait_calls(progress, 300)
                term_status = self.replicas[0].stop(signal.SIGTERM)
                self.wait_calls(progress, progress["done"] + 300)
                kill_status = self.replicas[1].stop(signal.SIGKILL)
                self.wait_calls(progress, progress["done"] + 300)
            finally:
                stop.set()
                thread.join()
            after = run_load(client, random_histories(IDS, 8, seed=5), requests=90, concurrency=3,
                             max_seconds=30)
        report = holder["report"]
        print(f"abrupt stops: {report.ok} calls, per replica:", [report.fingerprints[f] for f in self.fingerprints])
        self.assertEqual(report.errors, {}, f"{report.error_messages}\n{self.nginx_log()}")
        self.assertEqual(report.ok, report.requests)
        self.assertEqual(term_status, 0, self.replicas[0].log())
        self.assertEqual(kill_status, -signal.SIGKILL)
        for i in range(REPLICAS):
            self.assertGreater(report.fingerprints[self.fingerprints[i]], 0, f"replica {i} never served")
        self.assertEqual(after.errors, {}, after.error_messages)
        self.assertEqual(after.fingerprints[self.fingerprints[2]], 90, "only replica 2 is left to serve")

    def test_no_replica_left_is_unavailable_in_grpc_terms(self):
        for server in self.replicas:
            self.assertEqual(server.stop(signal.SIGTERM), 0)
        with RecommenderClient(self.target, timeout=10.0) as client:
            with self.assertRaises(EdlaeError) as ctx:
                client.recommend(["1", "2"], top_n=3)
        self.assertEqual(ctx.exception.code, grpc.StatusCode.UNAVAILABLE)
        self.assertIn("no edlae replica", ctx.exception.details)  # nginx's error_page, not an HTML 502


if __name__ == "__main__":
    unittest.main(verbosity=2)
