"""Bounded load: many Recommend calls from a few threads, with latency percentiles and per-model counts."""

from __future__ import annotations

import collections
import dataclasses
import random
import threading
import time
from typing import Callable, Optional, Sequence

from edlae_client.client import EdlaeError, RecommenderClient


@dataclasses.dataclass
class LoadReport:
    requests: int = 0  # calls made
    ok: int = 0
    errors: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # status name → count
    fingerprints: collections.Counter = dataclasses.field(default_factory=collections.Counter)  # model → count
    latencies_s: list[float] = dataclasses.field(default_factory=list)  # successful calls only
    wall_s: float = 0.0
    error_messages: list[str] = dataclasses.field(default_factory=list)  # the first few
    history_ids_sent: int = 0  # over the successful calls
    unknown_history_ids: int = 0  # of those, ids the model did not know (unknown_item_count)

    def percentile(self, q: float) -> float:
        if not self.latencies_s:
            return float("nan")
        ordered = sorted(self.latencies_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def qps(self) -> float:
        return self.ok / self.wall_s if self.wall_s > 0 else 0.0

    def summary(self) -> dict:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "errors": dict(self.errors),
            "qps": round(self.qps(), 1),
            "latency_ms": {name: round(1e3 * self.percentile(q), 3)
                           for name, q in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))},
            "fingerprints": dict(self.fingerprints),
            "wall_s": round(self.wall_s, 3),
            "history_ids_sent": self.history_ids_sent,
            "unknown_history_ids": self.unknown_history_ids,
        }

    def most_ids_unknown(self) -> bool:
        """More than half of the history ids sent were unknown: the calls measured popularity fallbacks."""
        return self.history_ids_sent > 0 and 2 * self.unknown_history_ids > self.history_ids_sent


def random_histories(ids: Sequence[str], history_len: int, seed: int = 1) -> Callable[[int], list[str]]:
    """A function from call number to a history of `history_len` distinct ids drawn from `ids` (reproducible)."""
    def history(call: int) -> list[str]:
        return random.Random(seed * 1_000_003 + call).sample(list(ids), min(history_len, len(ids)))
    return history


def run_load(
    client: RecommenderClient,
    history: Callable[[int], list[str]],
    *,
    requests: int,
    concurrency: int = 4,
    max_seconds: float = 60.0,
    top_n: int = 10,
    timeout: float = 5.0,
    model: Optional[dict] = None,
    on_response: Optional[Callable[[int], None]] = None,
    stop: Optional[threading.Event] = None,
) -> LoadReport:
    """Makes at most `requests` Recommend calls from `concurrency` threads over `client`, stopping early after
    `max_seconds` or once `stop` is set. model: keyword arguments naming the model every call asks (model_name,
    model_version, version_label as in RecommenderClient.recommend). on_response(n) is called (from a worker thread) after the n-th completed
    call."""
    report = LoadReport()
    lock = threading.Lock()
    next_call = [0]
    deadline = time.monotonic() + max_seconds

    def worker() -> None:
        while True:
            with lock:
                call = next_call[0]
                if call >= requests or time.monotonic() > deadline or (stop is not None and stop.is_set()):
                    return
                next_call[0] += 1
            start = time.monotonic()
            try:
                ids = history(call)
                result = client.recommend(ids, top_n=top_n, timeout=timeout, **(model or {}))
                elapsed = time.monotonic() - start
                with lock:
                    report.ok += 1
                    report.history_ids_sent += len(ids)
                    report.unknown_history_ids += result.unknown_item_count
                    report.latencies_s.append(elapsed)
                    report.fingerprints[result.model_fingerprint] += 1
                    done = report.ok + sum(report.errors.values())
            except EdlaeError as e:
                with lock:
                    report.errors[e.code.name] += 1
                    if len(report.error_messages) < 5:
                        report.error_messages.append(str(e))
                    done = report.ok + sum(report.errors.values())
            if on_response is not None:
                on_response(done)

    start = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, concurrency))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.wall_s = time.monotonic() - start
    report.requests = next_call[0]
    return report
