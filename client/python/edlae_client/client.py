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
class Contribution:
    """What one history (or query) item adds to a returned item's score."""

    item_id: str
    contribution: float


@dataclasses.dataclass(frozen=True)
class ScoredItem:
    item_id: str
    score: float
    # Only when explain=True: the history items contributing most to the score, largest first (they sum to the
    # score when all are asked for); empty otherwise and for popularity fallbacks.
    contributions: tuple[Contribution, ...] = ()


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
    kind: str  # "dense", "low_rank" or "sparse"
    dtype: str
    num_items: int
    rank: int
    fingerprint: str
    format_version: int
    file_size_bytes: int
    model_version: int
    metadata: dict[str, str]  # algorithm, lambda, dropout, num_users, ... (docs/model-format.md)
    model_name: str = ""  # the name requests use for it (--model_config name, or server flag --model_name)
    served_versions: list[int] = dataclasses.field(default_factory=list)  # every version served, highest first
    version_labels: dict[str, int] = dataclasses.field(default_factory=dict)  # --model_config version_labels


# Used when retry_reads=True. Recommend, SimilarItems and GetModelInfo only read, so a retry is always safe. UNAVAILABLE: the
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

_SIMILARITIES = {
    "model": recommender_pb2.SimilarItemsRequest.MODEL,
    "cosine": recommender_pb2.SimilarItemsRequest.COSINE,
}


def _model_fields(model_name: str, model_version: Optional[int], version_label: str) -> dict:
    """The model_name / model_version / version_label fields of a request (see edlae.v1.Recommender): "" and None
    mean the default model, its highest version served."""
    if not isinstance(model_name, str):
        raise TypeError(f"model_name must be a str, got {type(model_name).__name__} {model_name!r}")
    if not isinstance(version_label, str):
        raise TypeError(f"version_label must be a str, got {type(version_label).__name__} {version_label!r}")
    fields = {"model_name": model_name, "version_label": version_label}
    if model_version is not None:
        if isinstance(model_version, bool) or not isinstance(model_version, int):
            raise TypeError(f"model_version must be an int, got {type(model_version).__name__} {model_version!r}")
        if not 0 <= model_version < 2**64:
            raise EdlaeError(grpc.StatusCode.INVALID_ARGUMENT, f"model_version {model_version} is out of range")
        if version_label:
            raise EdlaeError(grpc.StatusCode.INVALID_ARGUMENT, "give model_version or version_label, not both")
        fields["model_version"] = model_version
    return fields


def _check_top_n(top_n: int) -> None:
    if isinstance(top_n, bool) or not isinstance(top_n, int):
        raise TypeError(f"top_n must be an int, got {type(top_n).__name__} {top_n!r}")
    if not 0 <= top_n < 2**32:
        raise EdlaeError(grpc.StatusCode.INVALID_ARGUMENT, f"top_n {top_n} is out of range")


def _check_max_contributions(max_contributions: int) -> None:
    if isinstance(max_contributions, bool) or not isinstance(max_contributions, int):
        raise TypeError(f"max_contributions must be an int, got {type(max_contributions).__name__} "
                        f"{max_contributions!r}")
    if not 0 <= max_contributions < 2**32:
        raise EdlaeError(grpc.StatusCode.INVALID_ARGUMENT, f"max_contributions {max_contributions} is out of range")


def _recommendations(response: recommender_pb2.RecommendResponse) -> Recommendations:
    return Recommendations(
        items=[ScoredItem(item.item_id, item.score,
                          tuple(Contribution(c.item_id, c.contribution) for c in item.contributions))
               for item in response.items],
        model_fingerprint=response.model_fingerprint,
        model_version=response.model_version,
        unknown_item_count=response.unknown_item_count,
        popularity_fallback=response.popularity_fallback,
    )


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
        explain: bool = False,
        max_contributions: int = 0,
        model_name: str = "",
        model_version: Optional[int] = None,
        version_label: str = "",
        timeout: Optional[float] = None,
    ) -> Recommendations:
        """Top-N items for one user's history of item ids (weights: one per item, default all 1).

        model_name, model_version / version_label: the model to ask ("": the server's default model; see the
        proto's service comment); an unknown name, version or label raises EdlaeError(NOT_FOUND).

        exclude: ids never to return; candidates: when non-empty, score and return only these. Unknown ids are
        skipped and counted, never an error. explain: fill each item's contributions (the history items adding
        most to its score, at most max_contributions; 0 = the server's default, 5). Bad arguments (top_n out of
        range, weights that do not match the history, max_contributions over the server's --max_contributions)
        raise EdlaeError(INVALID_ARGUMENT). Arguments of the wrong type raise TypeError: history, exclude and
        candidates are lists of str ids, and a lone str such as "123" is refused (pass ["123"]), never read as
        the ids "1", "2", "3".
        """
        if isinstance(weights, (str, bytes, bytearray)):
            raise TypeError(f"weights must be a list of numbers, not {type(weights).__name__} {weights!r}")
        _check_top_n(top_n)
        _check_max_contributions(max_contributions)
        request = recommender_pb2.RecommendRequest(
            history_item_ids=_id_list(history, "history"),
            history_weights=list(weights) if weights is not None else [],
            top_n=top_n,
            exclude_history=exclude_history,
            exclude_item_ids=_id_list(exclude, "exclude"),
            candidate_item_ids=_id_list(candidates, "candidates"),
            explain=bool(explain),
            max_contributions=max_contributions,
            **_model_fields(model_name, model_version, version_label),
        )
        return _recommendations(self.recommend_raw(request, timeout))

    def similar_items_raw(self, request: recommender_pb2.SimilarItemsRequest,
                          timeout: Optional[float] = None) -> recommender_pb2.RecommendResponse:
        """SimilarItems with the generated message types."""
        return self._call(self._recommender.SimilarItems, request, timeout)

    def similar_items(
        self,
        items: Iterable[str],
        *,
        top_n: int = 10,
        exclude: Iterable[str] = (),
        candidates: Iterable[str] = (),
        similarity: str = "model",
        model_name: str = "",
        explain: bool = False,
        max_contributions: int = 0,
        model_version: Optional[int] = None,
        version_label: str = "",
        timeout: Optional[float] = None,
    ) -> Recommendations:
        """Top-N items related to `items` (SimilarItems); the query items themselves are never returned.

        similarity "model": what a user with exactly these items is recommended (rows of B summed, or through
        U then V for low-rank models); "cosine" (low-rank models only, INVALID_ARGUMENT otherwise): cosine
        similarity with the rows of V. model_name, model_version, version_label as in recommend().
        exclude, candidates, explain, max_contributions and the errors as in recommend().
        """
        _check_top_n(top_n)
        _check_max_contributions(max_contributions)
        if similarity not in _SIMILARITIES:
            raise ValueError(f"similarity must be one of {sorted(_SIMILARITIES)}, got {similarity!r}")
        request = recommender_pb2.SimilarItemsRequest(
            **_model_fields(model_name, model_version, version_label),
            item_ids=_id_list(items, "items"),
            top_n=top_n,
            exclude_item_ids=_id_list(exclude, "exclude"),
            candidate_item_ids=_id_list(candidates, "candidates"),
            similarity=_SIMILARITIES[similarity],
            explain=bool(explain),
            max_contributions=max_contributions,
        )
        return _recommendations(self.similar_items_raw(request, timeout))

    def model_info(self, model_name: str = "", *, model_version: Optional[int] = None, version_label: str = "",
                   timeout: Optional[float] = None) -> ModelInfo:
        """GetModelInfo of the named model (default: the server's default model) and version."""
        request = recommender_pb2.GetModelInfoRequest(**_model_fields(model_name, model_version, version_label))
        info = self._call(self._recommender.GetModelInfo, request, timeout)
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
            model_name=info.model_name,
            served_versions=list(info.served_versions),
            version_labels=dict(info.version_labels),
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

