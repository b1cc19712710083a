"""python3 -m edlae_client: recommend | info | health | load against an edlae-server (exit 1 on a failed call)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

import grpc

from edlae_client.client import EdlaeError, RecommenderClient
from edlae_client.load import random_histories, run_load


def _csv(text: str) -> list[str]:
    return [part for part in text.split(",") if part] if text else []


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python3 -m edlae_client", description=__doc__)
    p.add_argument("--target", required=True, help="HOST:PORT or a gRPC target URI (dns:///svc:8500)")
    p.add_argument("--timeout", type=float, default=5.0, help="deadline of each call, seconds")
    p.add_argument("--tls_ca", help="PEM file of the CA that signed the server's certificate (enables TLS)")
    p.add_argument("--token_file", help="file whose content is sent as 'authorization: Bearer <token>'")
    p.add_argument("--round_robin", action="store_true", help="spread calls over every resolved address")
    p.add_argument("--retry_reads", action="store_true", help="retry on UNAVAILABLE/CANCELLED (3 attempts)")
    p.add_argument("--json", action="store_true", help="print JSON")
    sub = p.add_subparsers(dest="command", required=True)

    rec = sub.add_parser("recommend", help="top-N items for a history")
    rec.add_argument("--items", required=True, help="history item ids, comma separated")
    rec.add_argument("--weights", default="", help="one weight per history item, comma separated")
    rec.add_argument("-n", "--top_n", type=int, default=10)
    rec.add_argument("--exclude", default="", help="ids never to return")
    rec.add_argument("--candidates", default="", help="score and return only these ids")
    rec.add_argument("--include_history", action="store_true", help="allow the history's items in the result")

    sub.add_parser("info", help="the model being served")

    health = sub.add_parser("health", help="grpc.health.v1 Check")
    health.add_argument("--service", default="", help='"" (server) or edlae.v1.Recommender')

    load = sub.add_parser("load", help="bounded Recommend load; prints QPS and latency percentiles")
    load.add_argument("--requests", type=int, default=1000)
    load.add_argument("--concurrency", type=int, default=4)
    load.add_argument("--max_seconds", type=float, default=60.0)
    load.add_argument("--history", type=int, default=10, help="history items per request")
    load.add_argument("--ids", default="1:1000", help="LO:HI (integer ids) or @FILE (one id per line)")
    load.add_argument("-n", "--top_n", type=int, default=10)
    return p


def _ids(spec: str) -> list[str]:
    if spec.startswith("@"):
        with open(spec[1:], encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    lo, hi = (int(x) for x in spec.split(":"))
    return [str(i) for i in range(lo, hi + 1)]


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    credentials = None
    if args.tls_ca:
        with open(args.tls_ca, "rb") as f:
            credentials = grpc.ssl_channel_credentials(root_certificates=f.read())
    metadata = []
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            metadata.append(("authorization", "Bearer " + f.read().strip()))
    client = RecommenderClient(args.target, timeout=args.timeout, credentials=credentials, metadata=metadata,
                               load_balancing="round_robin" if args.round_robin else None,
                               retry_reads=args.retry_reads)
    try:
        if args.command == "recommend":
            weights = [float(w) for w in _csv(args.weights)] or None
            r = client.recommend(_csv(args.items), top_n=args.top_n, weights=weights,
                                 exclude_history=not args.include_history, exclude=_csv(args.exclude),
                                 candidates=_csv(args.candidates))
            if args.json:
                print(json.dumps(dataclasses.asdict(r)))
            else:
                width = max([7] + [len(item.item_id) for item in r.items])
                print(f"{'rank':>4}  {'item_id':<{width}}  score")
                for rank, item in enumerate(r.items, 1):
                    print(f"{rank:>4}  {item.item_id:<{width}}  {item.score:.6g}")
                print(f"fingerprint={r.model_fingerprint} unknown_items={r.unknown_item_count} "
                      f"popularity_fallback={str(r.popularity_fallback).lower()} model_version={r.model_version}")
        elif args.command == "info":
            info = client.model_info()
            if args.json:
                print(json.dumps(dataclasses.asdict(info), sort_keys=True))
            else:
                for field in dataclasses.fields(info):
                    if field.name != "metadata":
                        print(f"{field.name}: {getattr(info, field.name)}")
                for key in sorted(info.metadata):
                    print(f"metadata.{key}: {info.metadata[key]}")
        elif args.command == "health":
            status = client.health(args.service)
            print(json.dumps({"status": status}) if args.json else status)
            return 0 if status == "SERVING" else 1
        elif args.command == "load":
            report = run_load(client, random_histories(_ids(args.ids), args.history), requests=args.requests,
                              concurrency=args.concurrency, max_seconds=args.max_seconds, top_n=args.top_n,
                              timeout=args.timeout)
            print(json.dumps(report.summary(), indent=None if args.json else 2))
            for message in report.error_messages:
                print("error:", message, file=sys.stderr)
            return 0 if not report.errors else 1
    except EdlaeError as e:
        print(f"edlae_client: {e}", file=sys.stderr)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
