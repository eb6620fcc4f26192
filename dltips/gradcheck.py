"""Numeric gradients, for checking hand-written backward passes."""
from __future__ import annotations

from typing import Callable

import numpy as np


def numeric_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the scalar function ``f`` at ``x`` (same shape as x).

    ``x`` is perturbed in place one entry at a time and restored afterwards.
    Used by the tests only so far (no chapter yet).
    """
    x = np.asarray(x, dtype=np.float64)
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def numeric_gradient_of_output(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                               dout: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Gradient of sum(f(x) * dout) with respect to x: what a backward pass given dout returns.
    Used by the tests only so far (no chapter yet)."""
    return numeric_gradient(lambda v: float(np.sum(f(v) * dout)), x, h)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|, 1e-8), elementwise; below ~1e-7 means the gradients agree.
    Used by the tests only so far (no chapter yet)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-8)))
