"""python3 -m edlae_client: recommend | recommend-batch | similar | info | health | bench | load against an edlae-server.

Connection flags (--target, --json, --timeout_ms, --tls*, --auth_token_file, ...) go before or after the command,
with the C++ edlae-client's names. Exit status: 0 success; 1 a failed call (or health not SERVING); 2 usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import NoReturn, Optional

import grpc

from edlae_client.client import EdlaeError, RecommenderClient
from edlae_client.batch import output_format, read_users, recommend_batch, write_atomically
from edlae_client.load import random_histories, run_load

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# Connection flags and their defaults. The parsers declare them with default=SUPPRESS, so that a flag given after
# the command does not get overwritten by the (absent) one before it, and the reverse.
_CONNECTION_DEFAULTS = {
    "target": None,
    "json": False,
    "timeout_ms": 5000,
    "tls": False,
    "tls_ca": None,
    "tls_cert": None,
    "tls_key": None,
    "auth_token_file": None,
    "round_robin": False,
    "retry_reads": False,
}


class _UsageError(Exception):
    """Bad input found after parsing (an unreadable file, a malformed list): exit 2 with the message."""


def _int_at_least(lo: int, hi: int = 2**63 - 1):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be in [{lo}, {hi}], got {value}")
        return value
    return parse


_TOP_N = _int_at_least(0, 2**32 - 1)  # a uint32 in the request; the server refuses more than its --max_top_n
_MAX_CONTRIBUTIONS = _int_at_least(0, 2**32 - 1)  # the server refuses more than its --max_contributions


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _connection_flags() -> argparse.ArgumentParser:
    c = argparse.ArgumentParser(add_help=False)
    g = c.add_argument_group("connection (before or after the command)")
    s = argparse.SUPPRESS
    g.add_argument("--target", default=s, help="HOST:PORT or a gRPC target URI (dns:///svc:8500); required")
    g.add_argument("--json", action="store_true", default=s, help="print JSON")
    g.add_argument("--timeout_ms", type=_int_at_least(1, 2**31 - 1), default=s,
                   help="deadline of each call in milliseconds (default 5000)")
    g.add_argument("--tls", action="store_true", default=s,
                   help="connect with TLS, verifying the server against the system roots "
                        "(implied by --tls_ca, --tls_cert)")
    g.add_argument("--tls_ca", default=s, help="PEM CA certificates the server's certificate must chain to")
    g.add_argument("--tls_cert", default=s, help="PEM client certificate for mutual TLS (with --tls_key)")
    g.add_argument("--tls_key", default=s, help="PEM private key of --tls_cert")
    g.add_argument("--auth_token_file", default=s,
                   help="file with the bearer token to send ('authorization: Bearer <token>')")
    g.add_argument("--round_robin", action="store_true", default=s,
                   help="spread calls over every resolved address")
    g.add_argument("--retry_reads", action="store_true", default=s,
                   help="retry on UNAVAILABLE/CANCELLED (3 attempts)")
    return c


def _add_model_flags(command: argparse.ArgumentParser) -> None:
    """--model_name, --model_version, --version_label, as edlae-client's."""
    command.add_argument("--model_name", default="",
                         help="model to ask (default: the server's default model, the only one it serves)")
    version = command.add_mutually_exclusive_group()
    version.add_argument("--model_version", type=_int_at_least(0, 2**64 - 1), default=None,
                         help="exactly this version of the model (default: its highest served)")
    version.add_argument("--version_label", default="",
                         help='the version a label of the server\'s --model_config names ("stable", "canary")')


def _model(args: argparse.Namespace) -> dict:
    return {"model_name": args.model_name, "model_version": args.model_version, "version_label": args.version_label}


def _parser() -> argparse.ArgumentParser:
    connection = _connection_flags()
    p = argparse.ArgumentParser(prog="python3 -m edlae_client", description=__doc__, parents=[connection],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True,
                           metavar="{recommend,recommend-batch,similar,info,health,bench,load}")

    rec = sub.add_parser("recommend", help="top-N items for a history", parents=[connection])
    rec.add_argument("--items", required=True, help="history item ids, comma separated")
    rec.add_argument("--weights", default="", help="one weight per history item, comma separated")
    rec.add_argument("-n", "--top_n", type=_TOP_N, default=10, help="number of items to return")
    rec.add_argument("--exclude", default="", help="ids never to return")
    rec.add_argument("--candidates", default="", help="score and return only these ids")
    rec.add_argument("--include_history", action="store_true", help="allow the history's items in the result")
    rec.add_argument("--explain", action="store_true",
                     help="show, under each item, the history items contributing most to its score")
    rec.add_argument("--max_contributions", type=_MAX_CONTRIBUTIONS, default=0,
                     help="contributions shown per item with --explain (0: the server's default, 5)")
    _add_model_flags(rec)

    batch = sub.add_parser("recommend-batch", parents=[connection],
                           help="top-N items for every user of a file, one Recommend call per user (JSONL or CSV); "
                                "exit 1 if any call failed")
    batch.add_argument("--input", required=True,
                       help="users: 'USER ITEM ITEM ...' lines (--format lines) or USER,ITEM rows (--format csv)")
    batch.add_argument("--format", choices=("lines", "csv"), default="lines")
    batch.add_argument("--header", action="store_true", help="--format csv: the first line is a header")
    batch.add_argument("--out", default="-", help="output file, written atomically ('-': stdout)")
    batch.add_argument("--out_format", "--out-format", choices=("auto", "jsonl", "csv"), default="auto",
                       help="jsonl | csv | auto (from --out's extension; stdout: jsonl)")
    batch.add_argument("-n", "--top_n", type=_TOP_N, default=10, help="number of items per user")
    batch.add_argument("--exclude", default="", help="ids never to return")
    batch.add_argument("--candidates", default="", help="score and return only these ids")
    batch.add_argument("--include_history", action="store_true", help="allow each user's items in its result")
    batch.add_argument("--concurrency", type=_int_at_least(1, 1024), default=8, help="calls in flight at most")
    _add_model_flags(batch)

    sim = sub.add_parser("similar", help="top-N items related to the given items (SimilarItems)",
                         parents=[connection])
    sim.add_argument("--items", required=True, help="query item ids, comma separated")
    sim.add_argument("-n", "--top_n", type=_TOP_N, default=10, help="number of items to return")
    sim.add_argument("--exclude", default="", help="ids never to return")
    sim.add_argument("--candidates", default="", help="score and return only these ids")
    sim.add_argument("--similarity", choices=("model", "cosine"), default="model",
                     help="model: the model's scores for a history of these items; cosine (low-rank models): "
                          "cosine with the rows of V")
    sim.add_argument("--explain", action="store_true",
                     help="show, under each item, the query items contributing most to its score")
    sim.add_argument("--max_contributions", type=_MAX_CONTRIBUTIONS, default=0,
                     help="contributions shown per item with --explain (0: the server's default, 5)")
    _add_model_flags(sim)

    _add_model_flags(sub.add_parser("info", help="the model being served", parents=[connection]))

    health = sub.add_parser("health", help="grpc.health.v1 Check", parents=[connection])
    health.add_argument("--service", default="", help='"" (server) or edlae.v1.Recommender')

    bench = sub.add_parser("bench", parents=[connection],
                           help="closed-loop Recommend load with random histories; QPS and latency percentiles "
                                "(edlae-client bench's flags)")
    bench.add_argument("--concurrency", type=_int_at_least(1, 1024), default=4, help="callers, one call in flight each")
    bench.add_argument("--requests", type=_int_at_least(1), default=1000, help="total calls (at most)")
    bench.add_argument("--duration_s", type=_int_at_least(1), default=60, help="stop after this many seconds")
    bench.add_argument("--history_len", type=_int_at_least(1), default=10, help="history items per call")
    bench.add_argument("-n", "--top_n", type=_TOP_N, default=10, help="items each call asks for")
    ids = bench.add_mutually_exclusive_group()
    ids.add_argument("--items", default="", help="comma-separated ids to draw histories from (default: "
                                                 "1..num_items, as in MovieLens and edlae-train synth data)")
    ids.add_argument("--ids_file", default="", help="file of ids to draw histories from, one per line")
    _add_model_flags(bench)

    load = sub.add_parser("load", help="the same load as bench, with this client's older flag names",
                          parents=[connection])
    load.add_argument("--requests", type=_int_at_least(1), default=1000)
    load.add_argument("--concurrency", type=_int_at_least(1), default=4)
    load.add_argument("--max_seconds", type=_positive_float, default=60.0)
    load.add_argument("--history", type=_int_at_least(1), default=10, help="history items per request")
    load.add_argument("--ids", default="1:1000", help="LO:HI (integer ids) or @FILE (one id per line)")
    load.add_argument("-n", "--top_n", type=_TOP_N, default=10)
    _add_model_flags(load)
    return p


def _csv(text: str, flag: str) -> list[str]:
    ids = [part for part in text.split(",") if part] if text else []
    for item in ids:
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            raise _UsageError(f"{flag}: {item!r} is not valid UTF-8") from None
    return ids


def _weights(text: str) -> Optional[list[float]]:
    weights = []
    for part in _csv(text, "--weights"):
        try:
            weights.append(float(part))
        except ValueError:
            raise _UsageError(f"--weights: '{part}' is not a number") from None
    return weights or None


def _read(path: str, flag: str, mode: str = "rb"):
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError as e:
        raise _UsageError(f"{flag}: cannot read '{path}': {e.strerror or e}") from None


def _token(path: str) -> str:
    raw = _read(path, "--auth_token_file")
    token = raw.strip()
    if not token:
        raise _UsageError(f"--auth_token_file '{path}' holds no token")
    if any(b < 0x20 or b > 0x7E for b in token):
        raise _UsageError(f"--auth_token_file '{path}' must hold one printable ASCII token")
    return token.decode("ascii")


def _credentials(args: argparse.Namespace) -> Optional[grpc.ChannelCredentials]:
    if bool(args.tls_cert) != bool(args.tls_key):
        raise _UsageError("--tls_cert and --tls_key must be given together")
    if not (args.tls or args.tls_ca or args.tls_cert):
        return None
    return grpc.ssl_channel_credentials(
        root_certificates=_read(args.tls_ca, "--tls_ca") if args.tls_ca else None,
        private_key=_read(args.tls_key, "--tls_key") if args.tls_key else None,
        certificate_chain=_read(args.tls_cert, "--tls_cert") if args.tls_cert else None)


def _ids(spec: str, flag: str = "--ids") -> list[str]:
    if spec.startswith("@"):
        try:
            text = _read(spec[1:], flag, "r")
        except UnicodeDecodeError:
            raise _UsageError(f"{flag}: '{spec[1:]}' is not UTF-8 text") from None
        ids = [line.strip() for line in text.splitlines() if line.strip()]
        if not ids:
            raise _UsageError(f"{flag}: '{spec[1:]}' holds no ids (one id per line)")
        return ids
    try:
        lo, hi = (int(x) for x in spec.split(":"))
    except ValueError:
        raise _UsageError(f"--ids: '{spec}' is neither LO:HI (integers) nor @FILE") from None
    if hi < lo:
        raise _UsageError(f"--ids: '{spec}' is an empty range")
    return [str(i) for i in range(lo, hi + 1)]


def _print_recommendations(r, as_json: bool) -> None:
    if as_json:
        print(json.dumps(dataclasses.asdict(r)))
        return
    width = max([7] + [len(item.item_id) for item in r.items])
    print(f"{'rank':>4}  {'item_id':<{width}}  score")
    for rank, item in enumerate(r.items, 1):
        print(f"{rank:>4}  {item.item_id:<{width}}  {item.score:.6g}")
        for c in item.contributions:
            print(f"      <- {c.item_id}  {c.contribution:+.6g}")
    print(f"fingerprint={r.model_fingerprint} unknown_items={r.unknown_item_count} "
          f"popularity_fallback={str(r.popularity_fallback).lower()} model_version={r.model_version}")


def _print_info(info, as_json: bool) -> None:
    if as_json:
        print(json.dumps(dataclasses.asdict(info), sort_keys=True))
        return
    for field in dataclasses.fields(info):
        if field.name != "metadata":
            print(f"{field.name}: {getattr(info, field.name)}")
    for key in sorted(info.metadata):
        print(f"metadata.{key}: {info.metadata[key]}")


def _run(args: argparse.Namespace) -> int:
    # Check every argument before connecting.
    credentials = _credentials(args)
    metadata = [("authorization", "Bearer " + _token(args.auth_token_file))] if args.auth_token_file else []
    if args.command == "recommend":
        history = _csv(args.items, "--items")
        if not history:
            raise _UsageError("--items: no ids")
        weights = _weights(args.weights)
        if weights is not None and len(weights) != len(history):
            raise _UsageError(f"--weights has {len(weights)} values but --items has {len(history)}")
        exclude, candidates = _csv(args.exclude, "--exclude"), _csv(args.candidates, "--candidates")
    elif args.command == "recommend-batch":
        exclude, candidates = _csv(args.exclude, "--exclude"), _csv(args.candidates, "--candidates")
        try:
            fmt = output_format(args.out_format, args.out)
        except ValueError as e:
            raise _UsageError(f"--out_format: {e}") from None
        if args.out != "-":
            folder = os.path.dirname(os.path.abspath(args.out))
            if os.path.isdir(args.out) or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                raise _UsageError(f"--out: cannot write '{args.out}' (not a writable file in an existing folder)")
        try:
            users = read_users(args.input, args.format, args.header)
        except (OSError, ValueError, UnicodeDecodeError) as e:
            raise _UsageError(f"--input: {e}") from None
    elif args.command == "similar":
        query = _csv(args.items, "--items")
        exclude, candidates = _csv(args.exclude, "--exclude"), _csv(args.candidates, "--candidates")
    elif args.command == "load":
        ids = _ids(args.ids)
    elif args.command == "bench":
        ids = _csv(args.items, "--items") if args.items else (_ids("@" + args.ids_file, "--ids_file") if args.ids_file else [])
    timeout = args.timeout_ms / 1000.0
    client = RecommenderClient(args.target, timeout=timeout, credentials=credentials, metadata=metadata,
                               load_balancing="round_robin" if args.round_robin else None,
                               retry_reads=args.retry_reads)
    try:
        if args.command == "recommend":
            _print_recommendations(
                client.recommend(history, top_n=args.top_n, weights=weights,
                                 exclude_history=not args.include_history, exclude=exclude,
                                 candidates=candidates, explain=args.explain,
                                 max_contributions=args.max_contributions, **_model(args)), args.json)
        elif args.command == "recommend-batch":
            failed = [0]

            def write(stream) -> None:
                failed[0] = recommend_batch(client, users, stream, fmt, concurrency=args.concurrency,
                                            top_n=args.top_n, exclude_history=not args.include_history,
                                            exclude=exclude, candidates=candidates, timeout=timeout,
                                            model=_model(args))
            write_atomically(args.out, write)
            print(f"edlae_client: recommend-batch: {len(users)} users, {failed[0]} failed", file=sys.stderr)
            return EXIT_OK if failed[0] == 0 else EXIT_FAILED
        elif args.command == "similar":
            _print_recommendations(
                client.similar_items(query, top_n=args.top_n, exclude=exclude, candidates=candidates,
                                     similarity=args.similarity, explain=args.explain,
                                     max_contributions=args.max_contributions, **_model(args)), args.json)
        elif args.command == "info":
            _print_info(client.model_info(**_model(args)), args.json)
        elif args.command == "health":
            status = client.health(args.service)
            print(json.dumps({"status": status}) if args.json else status)
            return EXIT_OK if status == "SERVING" else EXIT_FAILED
        elif args.command in ("load", "bench"):
            if args.command == "bench":
                # As edlae-client: without --items / --ids_file, ids 1..num_items of the model asked.
                ids = ids or [str(i) for i in range(1, client.model_info(**_model(args)).num_items + 1)]
                history_len, max_seconds = args.history_len, float(args.duration_s)
            else:
                history_len, max_seconds = args.history, args.max_seconds
            report = run_load(client, random_histories(ids, history_len), requests=args.requests,
                              concurrency=args.concurrency, max_seconds=max_seconds, top_n=args.top_n,
                              timeout=timeout, model=_model(args))
            print(json.dumps(report.summary(), indent=None if args.json else 2))
            for message in report.error_messages:
                print("error:", message, file=sys.stderr)
            if report.most_ids_unknown():
                print(f"edlae_client: warning: {report.unknown_history_ids} of the {report.history_ids_sent} "
                      f"history ids sent are unknown to the model, so most calls measured the popularity "
                      f"fallback; pass the model's ids with --ids @FILE (one per line)", file=sys.stderr)
            return EXIT_OK if not report.errors else EXIT_FAILED
    finally:
        client.close()
    return EXIT_OK


def main(argv: list[str]) -> int:
    parser = _parser()

    def usage(message: str) -> NoReturn:
        parser.error(message)  # prints the usage line and the message; exits 2

    args = parser.parse_args(argv)
    for name, default in _CONNECTION_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, default)
    if not args.target:
        usage("--target is required (before or after the command)")
    try:
        return _run(args)
    except _UsageError as e:
        usage(str(e))
    except EdlaeError as e:
        print(f"edlae_client: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("edlae_client: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # never a traceback: name what failed
        print(f"edlae_client: error: {type(e).__name__}: {e}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
