"""Python client for the edlae.v1.Recommender gRPC service (recommend, similar items, model info, health)."""

from edlae_client.client import (
    Contribution,
    EdlaeError,
    ModelInfo,
    Recommendations,
    RecommenderClient,
    ScoredItem,
)

__all__ = ["Contribution", "EdlaeError", "ModelInfo", "Recommendations", "RecommenderClient", "ScoredItem"]
