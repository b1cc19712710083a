"""Python client for the edlae.v1.Recommender gRPC service (recommend, model info, health)."""

from edlae_client.client import (
    EdlaeError,
    ModelInfo,
    Recommendations,
    RecommenderClient,
    ScoredItem,
)

__all__ = ["EdlaeError", "ModelInfo", "Recommendations", "RecommenderClient", "ScoredItem"]
