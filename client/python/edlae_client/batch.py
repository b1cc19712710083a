"""recommend-batch: one Recommend call per user of a file, a bounded number in flight, written as JSONL or CSV.

The schemas are edlae-train recommend's and the C++ edlae-client's: JSONL {"user_id":..., "items":[{"item_id":...,
"score":...}, ...]} (a failed user: "items":[] and "error":"CODE: message"), CSV user_id,rank,item_id,score with a
header (a failed user: one row user_id,,error: CODE: message,).
"""

from __future__ import annotations

import concurrent.futures
import csv
import json
import os
import struct
import sys
import tempfile
from typing import Iterable, Optional

from edlae_client.client import EdlaeError, RecommenderClient


def read_users(path: str, fmt: str, header: bool = False) -> list[tuple[str, list[str]]]:
    """The users of `path` as (user_id, item ids), read as the C++ loader (trainer/interactions) reads them: users
    in order of first appearance, each user's items once, ordered by the item's first appearance in the file.
    fmt "lines": 'USER ITEM ITEM ...'; "csv": USER,ITEM rows (RFC 4180 quoting; header: skip line 1)."""
    rows: dict[str, list[str]] = {}
    first_seen: dict[str, int] = {}

    def add(user: str, item: str) -> None:
        first_seen.setdefault(item, len(first_seen))
        items = rows.setdefault(user, [])
        items.append(item)

    with open(path, encoding="utf-8-sig", newline="") as f:
        if fmt == "lines":
            for line in f:
                fields = line.split()
                for item in fields[1:]:
                    add(fields[0], item)
        else:
            reader = csv.reader(f)
            for number, fields in enumerate(reader):
                if (header and number == 0) or not fields or all(not x.strip() for x in fields):
                    continue
                if len(fields) < 2:
                    raise ValueError(f"{path}:{reader.line_num}: expected USER,ITEM")
                add(fields[0], fields[1])
    return [(user, sorted(set(items), key=first_seen.__getitem__)) for user, items in rows.items()]


def _float32_text(value: float) -> str:
    if value != value or value in (float("inf"), float("-inf")):
        return "null"
    f32 = struct.unpack("f", struct.pack("f", value))[0]
    for precision in range(1, 10):
        text = f"{f32:.{precision}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == f32:
            return text
    return f"{f32:.9g}"


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def format_user(fmt: str, user: str, items: Optional[Iterable[tuple[str, float]]], error: Optional[str]) -> str:
    if fmt == "csv":
        if error is not None:
            return f"{_csv_field(user)},,{_csv_field('error: ' + error)},\n"
        return "".join(f"{_csv_field(user)},{rank},{_csv_field(item)},{_float32_text(score)}\n"
                       for rank, (item, score) in enumerate(items, 1))
    out = '{"user_id":' + json.dumps(user, ensure_ascii=False) + ',"items":['
    if error is None:
        out += ",".join('{"item_id":' + json.dumps(item, ensure_ascii=False) + ',"score":' + _float32_text(score)
                        + "}" for item, score in items)
    out += "]"
    if error is not None:
        out += ',"error":' + json.dumps(error, ensure_ascii=False)
    return out + "}\n"


def output_format(name: str, path: str) -> str:
    """csv | jsonl; "auto" by --out's extension (stdout: jsonl). ValueError otherwise."""
    if name != "auto":
        return name
    lower = path.lower()
    if path == "-" or lower.endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    if lower.endswith(".csv"):
        return "csv"
    raise ValueError(f"cannot tell the output format from '{path}': name it .csv or .jsonl, or give --out_format")


def recommend_batch(client: RecommenderClient, users: list[tuple[str, list[str]]], out, fmt: str, *,
                    concurrency: int = 8, top_n: int = 10, exclude_history: bool = True,
                    exclude: Iterable[str] = (), candidates: Iterable[str] = (),
                    timeout: Optional[float] = None, model: Optional[dict] = None) -> int:
    """Writes every user's answer to the text stream `out`, in `users`' order; returns the number of failed
    calls (written with their status, never raised). model: the keyword arguments naming the model every call asks
    (model_name, model_version, version_label as in RecommenderClient.recommend)."""
    exclude, candidates = list(exclude), list(candidates)

    def call(items: list[str]):
        try:
            r = client.recommend(items, top_n=top_n, exclude_history=exclude_history, exclude=exclude,
                                 candidates=candidates, timeout=timeout, **(model or {}))
            return [(i.item_id, i.score) for i in r.items], None
        except EdlaeError as e:
            return None, f"{e.code.name}: {e.details}"

    if fmt == "csv":
        out.write("user_id,rank,item_id,score\n")
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        # map keeps the order and at most `concurrency` calls run at once.
        for (user, _), (items, error) in zip(users, pool.map(call, (items for _, items in users))):
            failed += error is not None
            out.write(format_user(fmt, user, items, error))
    return failed


def write_atomically(path: str, write) -> None:
    """write(stream) into a temporary file beside `path`, renamed over it once complete ("-": stdout)."""
    if path == "-":
        write(sys.stdout)
        sys.stdout.flush()
        return
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
