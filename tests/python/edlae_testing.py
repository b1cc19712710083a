"""Helpers for the Python-driven tests: the built binaries, tiny models, and edlae-server processes on loopback."""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import time
from typing import Optional

SKIP = 77  # ctest SKIP_RETURN_CODE: a Debian package the test needs is missing


def require_modules(*names: str) -> None:
    """Exits with SKIP, naming the module, when one cannot be imported (run scripts/install-deps.sh)."""
    for name in names:
        try:
            importlib.import_module(name)
        except ImportError as e:
            print(f"SKIP: python module {name} missing ({e}); scripts/install-deps.sh installs it", file=sys.stderr)
            sys.exit(SKIP)


def bin_dir() -> str:
    path = os.environ.get("EDLAE_BIN")
    if not path:
        raise RuntimeError("set EDLAE_BIN to the build directory")
    return path


def binary(name: str) -> str:
    sub = {"edlae-train": "trainer", "edlae-server": "server", "edlae-client": "client"}[name]
    return os.path.join(bin_dir(), sub, name)


def train_model(workdir: str, name: str = "model.edlae", *, users: int = 600, items: int = 200, seed: int = 7,
                algorithm: str = "edlae", lam: float = 10.0, dropout: float = 0.2) -> str:
    """Synthesizes interactions and trains a model into workdir/name; returns its path."""
    ratings = os.path.join(workdir, f"ratings-{users}-{items}-{seed}.csv")
    if not os.path.exists(ratings):
        subprocess.run([binary("edlae-train"), "synth", "--users", str(users), "--items", str(items),
                        "--seed", str(seed), "--out", ratings], check=True, capture_output=True)
    out = os.path.join(workdir, name)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    subprocess.run([binary("edlae-train"), "train", "--input", ratings, "--format", "movielens-csv",
                    "--model", algorithm, "--lambda", str(lam), "--dropout", str(dropout), "--out", out],
                   check=True, capture_output=True)
    return out


class Server:
    """An edlae-server on 127.0.0.1 with a free port (--port 0 --port_file); stderr goes to <workdir>/<name>.log.

    model: the --model file; None to pass the model source in extra_args (--model_dir, --model_config)."""

    def __init__(self, workdir: str, model: Optional[str], name: str = "server", extra_args: tuple[str, ...] = (),
                 start_timeout_s: float = 20.0):
        self.port_file = os.path.join(workdir, f"{name}.port")
        self.log_path = os.path.join(workdir, f"{name}.log")
        if os.path.exists(self.port_file):
            os.remove(self.port_file)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            [binary("edlae-server"), *(("--model", model) if model else ()), "--host", "127.0.0.1", "--port", "0",
             "--metrics_address", "127.0.0.1:0", "--port_file", self.port_file, *extra_args],
            stdout=subprocess.DEVNULL, stderr=self._log)
        deadline = time.monotonic() + start_timeout_s
        while not (os.path.exists(self.port_file) and os.path.getsize(self.port_file) > 0):
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited with {self.process.returncode} at start:\n{self.log()}")
            if time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError(f"{name} wrote no port in {start_timeout_s}s:\n{self.log()}")
            time.sleep(0.02)
        with open(self.port_file, encoding="ascii") as f:
            self.port = int(f.read().strip())
        self.target = f"127.0.0.1:{self.port}"

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        """Sends `sig` (unless already exited) and returns the exit status; SIGKILL after timeout_s."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
