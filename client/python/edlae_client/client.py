"""RecommenderClient: blocking calls to edlae.v1.Recommender and grpc.health.v1.Health over one channel."""

from __future__ import annotations

import dataclasses
import json
from typing import Iterable, Optional, Sequence

import grpc

from edlae.v1 import recommender_pb2, recommender_pb2_grpc

try:  # grpcio-health-checking's stubs when installed, so the process registers grpc.health.v1 only once.
    from grpc_health.v1 import health_pb2, health_pb2_grpc
except ImportError:  # Debian ships no health stubs for Python; ours are generated at build time.
    from edlae_client._health import health_pb2, health_pb2_grpc


def _id_list(ids: Iterable[str], name: str) -> list[str]:
    """The ids of a list argument; a lone str (or bytes) is refused, never split into characters."""
    if isinstance(ids, (str, bytes, bytearray)):
        raise TypeError(f"{name} must be a list of item ids, not {type(ids).__name__} {ids!r}; "
                        f"for one id pass [{ids!r}]")
    out = list(ids)
    for item in out:
        if not isinstance(item, str):
            raise TypeError(f"{name}: item ids are str, got {type(item).__name__} {item!r}")
        try:
            item.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"{name}: item id {item!r} is not valid UTF-8") from None
    return out


class EdlaeError(Exception):
    """A failed call: the gRPC status code (grpc.StatusCode) and the server's or channel's message."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


@dataclasses.dataclass(frozen=True)
class ScoredItem:
    item_id: str
    score: float


@dataclasses.dataclass(frozen=True)
class Recommendations:
    """Best first; ties broken by the model's item order."""

    items: list[ScoredItem]
    model_fingerprint: str  # 16 hex digits of the model that answered
    model_version: int  # numbered model folder that answered; 0 when served from --model
    unknown_item_count: int  # ids in the request that the model does not know (skipped)
    popularity_fallback: bool  # no history item was known: the most popular items


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    kind: str  # "dense" or "low_rank"
    dtype: str
    num_items: int
    rank: int
    fingerprint: str
    format_version: int
    file_size_bytes: int
    model_version: int
    metadata: dict[str, str]  # algorithm, lambda, dropout, num_users, ... (docs/model-format.md)


# Used when retry_reads=True. Recommend and GetModelInfo only read, so a retry is always safe. UNAVAILABLE: the
# server or a balancer could not take the call (e.g. nginx's 502 after a replica crashed mid-call). CANCELLED:
# gRPC servers cancel calls that reach them in the instant they begin shutting down (grpc/grpc#41785).
_RETRY_SERVICE_CONFIG = json.dumps({
    "methodConfig": [{
        "name": [{"service": "edlae.v1.Recommender"}],
        "retryPolicy": {
            "maxAttempts": 3,
            "initialBackoff": "0.05s",
            "maxBackoff": "0.5s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE", "CANCELLED"],
        },
    }]
})

_SERVING_STATUS_NAMES = {
    health_pb2.HealthCheckResponse.UNKNOWN: "UNKNOWN",
    health_pb2.HealthCheckResponse.SERVING: "SERVING",
    health_pb2.HealthCheckResponse.NOT_SERVING: "NOT_SERVING",
    health_pb2.HealthCheckResponse.SERVICE_UNKNOWN: "SERVICE_UNKNOWN",
}


class RecommenderClient:
    """Blocking client for one target ("host:port" or any gRPC target URI, e.g. "dns:///svc:8500").

    Every call has a deadline (`timeout` seconds, per call or the client's default) and fails fast, without
    waiting for the server to become reachable. Failures raise EdlaeError with the gRPC status code. Thread-safe:
    one client (one channel) may serve calls from many threads.

    credentials: grpc.ChannelCredentials for TLS (None: plaintext). metadata: sent with every call, e.g.
    [("authorization", "Bearer ...")]. load_balancing: a gRPC policy name such as "round_robin" (spreads calls
    over every address a dns:/// target resolves to, e.g. a Kubernetes headless Service). retry_reads:
    retry Recommend and GetModelInfo (they only read) up to 3 attempts on UNAVAILABLE or CANCELLED, the codes
    of a replica that crashed or began shutting down while the call reached it.
    """

    def __init__(
        self,
        target: str,
        *,
        timeout: float = 5.0,
        credentials: Optional[grpc.ChannelCredentials] = None,
        metadata: Sequence[tuple[str, str]] = (),
        load_balancing: Optional[str] = None,
        retry_reads: bool = False,
        channel: Optional[grpc.Channel] = None,
    ):
        if channel is None:
            options: list[tuple[str, object]] = []
            if load_balancing:
                options.append(("grpc.lb_policy_name", load_balancing))
            if retry_reads:
                options.append(("grpc.enable_retries", 1))
                options.append(("grpc.service_config", _RETRY_SERVICE_CONFIG))
            if credentials is None:
                channel = grpc.insecure_channel(target, options=options)
            else:
                channel = grpc.secure_channel(target, credentials, options=options)
        self._channel = channel
        self._timeout = timeout
        self._metadata = tuple(metadata)
        self._recommender = recommender_pb2_grpc.RecommenderStub(channel)
        self._health = health_pb2_grpc.HealthStub(channel)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "RecommenderClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method, request, timeout: Optional[float]):
        try:
            return method(request, timeout=self._timeout if timeout is None else timeout,
                          metadata=self._metadata or None)
        except grpc.RpcError as e:  # every grpc.RpcError raised by a unary call is also a grpc.Call
            raise EdlaeError(e.code(), e.details() or "") from None

    def recommend_raw(self, request: recommender_pb2.RecommendRequest,
                      timeout: Optional[float] = None) -> recommender_pb2.RecommendResponse:
        """Recommend with the generated message types, for callers that build requests themselves."""
        return self._call(self._recommender.Recommend, request, timeout)

    def recommend(
        self,
        history: Iterable[str],
        *,
        top_n: int = 10,
        weights: Optional[Iterable[float]] = None,
        exclude_history: bool = True,
        exclude: Iterable[str] = (),
        candidates: Iterable[str] = (),
        timeout: Optional[float] = None,
    ) -> Recommendations:
        """Top-N items for one user's history of item ids (weights: one per item, default all 1).

        exclude: ids never to return; candidates: when non-empty, score and return only these. Unknown ids are
        skipped and counted, never an error. Bad arguments (top_n out of range, weights that do not match the
        history) raise EdlaeError(INVALID_ARGUMENT). Arguments of the wrong type raise TypeError: history,
        exclude and candidates are lists of str ids, and a lone str such as "123" is refused (pass ["123"]),
        never read as the ids "1", "2", "3".
        """
        if isinstance(weights, (str, bytes, bytearray)):
            raise TypeError(f"weights must be a list of numbers, not {type(weights).__name__} {weights!r}")
        if isinstance(top_n, bool) or not isinstance(top_n, int):
            raise TypeError(f"top_n must be an int, got {type(top_n).__name__} {top_n!r}")
        if not 0 <= top_n < 2**32:
            raise EdlaeError(grpc.StatusCode.INVALID_ARGUMENT, f"top_n {top_n} is out of range")
        request = recommender_pb2.RecommendRequest(
            history_item_ids=_id_list(history, "history"),
            history_weights=list(weights) if weights is not None else [],
            top_n=top_n,
            exclude_history=exclude_history,
            exclude_item_ids=_id_list(exclude, "exclude"),
            candidate_item_ids=_id_list(candidates, "candidates"),
        )
        response = self.recommend_raw(request, timeout)
        return Recommendations(
            items=[ScoredItem(item.item_id, item.score) for item in response.items],
            model_fingerprint=response.model_fingerprint,
            model_version=response.model_version,
            unknown_item_count=response.unknown_item_count,
            popularity_fallback=response.popularity_fallback,
        )

    def model_info(self, timeout: Optional[float] = None) -> ModelInfo:
        info = self._call(self._recommender.GetModelInfo, recommender_pb2.GetModelInfoRequest(), timeout)
        return ModelInfo(
            kind=info.kind,
            dtype=info.dtype,
            num_items=info.num_items,
            rank=info.rank,
            fingerprint=info.fingerprint,
            format_version=info.format_version,
            file_size_bytes=info.file_size_bytes,
            model_version=info.model_version,
            metadata=dict(info.metadata),
        )

    def health(self, service: str = "", timeout: Optional[float] = None) -> str:
        """grpc.health.v1 Check: "SERVING", "NOT_SERVING", "UNKNOWN" or "SERVICE_UNKNOWN".

        service "" is the whole server, "edlae.v1.Recommender" the recommender; a service the server does not
        know raises EdlaeError(NOT_FOUND).
        """
        response = self._call(self._health.Check, health_pb2.HealthCheckRequest(service=service), timeout)
        return _SERVING_STATUS_NAMES.get(response.status, "UNKNOWN")


def recommendations_to_dict(r: Recommendations) -> dict:
    return dataclasses.asdict(r)


def model_info_to_dict(info: ModelInfo) -> dict:
    return dataclasses.asdict(info)

