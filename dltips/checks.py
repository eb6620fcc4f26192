"""Assertion helpers for exercise tests: readable messages, on plain values.

Every helper first turns the student's value into a plain type (a float64 ndarray, a float, a
str) and then compares, so the message can say where and by how much a result is wrong. When the
autograder grades, tests run in a judge process that never runs student code: the values reaching
these helpers there are already plain data decoded by the grader (see ``autograder/remote.py``).
In a student's own notebook (nbgrader's Validate) they simply check the student's values.

:func:`in_student_process` marks a setup-cell helper that must run beside the student's code
(for example one that back-propagates through a tensor the student's function returned).
"""
from __future__ import annotations

import math
import numbers

import numpy as np

try:  # torch is optional for the NumPy-only exercises
    import torch
    _TENSOR = torch.Tensor
except ImportError:  # pragma: no cover - torch is in requirements.txt
    torch = None
    _TENSOR = ()

_isfinite = np.isfinite
_asarray = np.asarray
_abs = np.abs
_max = np.max
_isclose_scalar = math.isclose


def in_student_process(fn):
    """Mark a function defined in a setup cell to run in the student's process when graded.

    In a notebook it is ``fn`` unchanged. In the autograder's judge, calling it sends the call to
    the student process (where the setup cells ran too), so it can work on live objects the
    student's code returns, such as a tensor with a gradient graph; only its result, as plain
    data, comes back. Its result is therefore only as trustworthy as any student result: compare
    it with a reference computed in the tests cell.
    """
    fn.__autograder_student_side__ = True
    return fn


def as_array(value, name: str = "result") -> np.ndarray:
    """``value`` as a float64 ndarray; torch tensors are detached. Raises AssertionError if it
    is not array-like numbers."""
    if _TENSOR and isinstance(value, _TENSOR):
        value = value.detach().cpu().to(torch.float64).numpy()
    try:
        arr = _asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise AssertionError(f"{name} should be an array of numbers, got {type(value).__name__}: "
                             f"{exc}") from None
    return np.array(arr, dtype=np.float64, copy=True)


def as_float(value, name: str = "result") -> float:
    """``value`` as a Python float: a number, or an array/tensor with exactly one element."""
    if isinstance(value, bool):
        raise AssertionError(f"{name} should be a number, got the bool {value}")
    if isinstance(value, numbers.Real):
        return float(value)
    arr = as_array(value, name)
    if arr.size != 1:
        raise AssertionError(f"{name} should be a single number, got an array of shape {arr.shape}")
    return float(arr.reshape(-1)[0])


def assert_shape(value, shape: tuple, name: str = "result") -> None:
    """Fail unless ``value`` has exactly ``shape``."""
    arr = as_array(value, name)
    if tuple(arr.shape) != tuple(shape):
        raise AssertionError(f"{name} has shape {tuple(arr.shape)}, expected {tuple(shape)}")


def assert_close(actual, expected, name: str = "result", rtol: float = 1e-5,
                 atol: float = 1e-8) -> None:
    """Fail unless ``actual`` matches ``expected`` in shape and, elementwise, within tolerance.

    The message says where the largest difference is and what both values were.
    """
    a = as_array(actual, name)
    e = as_array(expected, "expected value")
    if a.shape != e.shape:
        raise AssertionError(f"{name} has shape {a.shape}, expected {e.shape}")
    if not bool(np.all(_isfinite(a))):
        raise AssertionError(f"{name} contains NaN or infinity: {_short(a)}")
    if a.size == 0:
        return
    diff = _abs(a - e)
    bad = diff > atol + rtol * _abs(e)
    if bool(bad.any()):
        where = np.unravel_index(int(np.argmax(diff - (atol + rtol * _abs(e)))), a.shape)
        at = f" at index {tuple(int(i) for i in where)}" if a.ndim else ""
        raise AssertionError(
            f"{name} is wrong{at}: got {float(a[where]):.8g}, expected {float(e[where]):.8g} "
            f"({int(bad.sum())} of {a.size} entries differ; largest difference "
            f"{float(_max(diff)):.3g})")


def assert_number_close(actual, expected: float, name: str = "result", rtol: float = 1e-6,
                        atol: float = 1e-9) -> None:
    """Fail unless the single number ``actual`` is within tolerance of ``expected``."""
    a = as_float(actual, name)
    if not (math.isfinite(a) and _isclose_scalar(a, float(expected), rel_tol=rtol, abs_tol=atol)):
        raise AssertionError(f"{name}: got {a!r}, expected {float(expected)!r}")


def assert_equal_str(actual, expected: str, name: str = "result") -> None:
    """Fail unless ``actual`` is exactly the string ``expected`` (a str subclass is not enough)."""
    if type(actual) is not str:
        raise AssertionError(f"{name}: expected the str {expected!r}, got a "
                             f"{type(actual).__name__}: {actual!r:.80}")
    if str.__eq__(actual, expected) is not True:
        raise AssertionError(f"{name}: got {actual!r}, expected {expected!r}")


def assert_true(condition, message: str) -> None:
    """``assert`` that cannot be fooled by an object whose truth value is faked."""
    if condition is not True and not (isinstance(condition, np.bool_) and bool(condition)):
        raise AssertionError(message)


def _short(arr: np.ndarray) -> str:
    return np.array2string(arr, threshold=8, precision=4)
