"""The learned half of sentiment: a linear layer over the multilingual sentence embedding (USE v3,
the same model and process-wide instance KB search uses: ``chalicelib.kb.embed``), trained by
``python -m chalicelib.assist.evaluate --train`` on
tests/data/sentiment and shipped as ``sentiment_model.json`` (softmax weights, 4 decimals).

The embedding carries what no lexicon lists ("I've had enough of this", "服务很周到"); the lexicon
carries what an embedding blurs (negation, 12315, "第三次"). No model file, or no embedder: the
lexicon decides alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from chalicelib.observability import logger

MODEL_PATH = Path(__file__).with_name("sentiment_model.json")
MODEL_FORMAT = 1


@dataclass(frozen=True)
class LinearModel:
    labels: list[str]
    weights: np.ndarray  # (features, labels)
    bias: np.ndarray

    def predict(self, embedding: np.ndarray) -> np.ndarray:
        z = embedding.astype(np.float32) @ self.weights + self.bias
        z = np.exp(z - z.max())
        return np.asarray(z / z.sum())

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MODEL_FORMAT,
            "labels": self.labels,
            "weights": np.round(self.weights, 4).tolist(),
            "bias": np.round(self.bias, 4).tolist(),
        }


@lru_cache(maxsize=1)
def load() -> LinearModel | None:
    if not MODEL_PATH.exists():
        return None
    raw = json.loads(MODEL_PATH.read_text(encoding="utf-8"))
    if raw.get("format") != MODEL_FORMAT:
        return None
    return LinearModel(
        raw["labels"], np.asarray(raw["weights"], dtype=np.float32), np.asarray(raw["bias"], dtype=np.float32)
    )


def embed(texts: Sequence[str]) -> np.ndarray | None:
    """Sentence embeddings (L2-normalised), or None when the model cannot be loaded here."""
    try:
        from chalicelib.kb.embed import embedder

        return embedder().encode(list(texts))
    except Exception:  # noqa: BLE001 — the lexicon still answers
        logger.exception("sentence embedder unavailable; sentiment from the lexicon alone")
        return None


def train(vectors: np.ndarray, labels: Sequence[int], names: list[str], *, epochs: int = 600) -> LinearModel:
    """Softmax regression by full-batch gradient descent (deterministic: zero start, fixed steps)."""
    x = vectors.astype(np.float64)
    y = np.eye(len(names))[np.asarray(labels)]
    w = np.zeros((x.shape[1], len(names)))
    b = np.zeros(len(names))
    rate, l2 = 2.0, 1e-3
    for _ in range(epochs):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - y) / len(x)
        w -= rate * (x.T @ g + l2 * w)
        b -= rate * g.sum(axis=0)
    return LinearModel(names, w.astype(np.float32), b.astype(np.float32))
