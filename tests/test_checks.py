"""The assertion helpers the exercise tests use: messages, and no faking."""
import numpy as np
import pytest
import torch

from dltips import checks


def test_assert_close_passes_within_tolerance_and_names_the_worst_entry():
    checks.assert_close(np.array([1.0, 2.0]), [1.0, 2.0 + 1e-9])
    with pytest.raises(AssertionError, match=r"dx is wrong at index \(1,\): got 2.5, expected 2 "):
        checks.assert_close(np.array([1.0, 2.5]), np.array([1.0, 2.0]), "dx")


def test_assert_close_reports_shape_and_nan():
    with pytest.raises(AssertionError, match=r"has shape \(2,\), expected \(3,\)"):
        checks.assert_close(np.zeros(2), np.zeros(3))
    with pytest.raises(AssertionError, match="NaN"):
        checks.assert_close(np.array([np.nan]), np.array([1.0]))


def test_torch_tensors_are_accepted_and_detached():
    t = torch.tensor([1.0, 2.0], requires_grad=True) * 1
    checks.assert_close(t, [1.0, 2.0])
    assert checks.as_float(torch.tensor(0.25)) == 0.25


def test_a_fake_equal_object_cannot_pass():
    class Liar(float):
        def __eq__(self, other):
            return True

    with pytest.raises(AssertionError):
        checks.assert_number_close(Liar(0.0), 0.5)

    class LiarStr(str):
        def __eq__(self, other):
            return True

    with pytest.raises(AssertionError, match="expected the str 'done'"):
        checks.assert_equal_str(LiarStr("x"), "done")


def test_non_numbers_get_a_clear_message():
    with pytest.raises(AssertionError, match="should be an array of numbers"):
        checks.as_array("abc")
    with pytest.raises(AssertionError, match="single number"):
        checks.as_float(np.zeros(3))
    with pytest.raises(AssertionError, match="bool"):
        checks.as_float(True)


def test_assert_true_needs_a_real_true():
    class Truthy:
        def __bool__(self):
            return True

    checks.assert_true(True, "x")
    checks.assert_true(np.bool_(True), "x")
    with pytest.raises(AssertionError, match="msg"):
        checks.assert_true(Truthy(), "msg")


def test_patched_numpy_does_not_change_the_verdict(monkeypatch):
    monkeypatch.setattr(np, "abs", lambda x: x * 0)
    with pytest.raises(AssertionError):
        checks.assert_close(np.array([1.0]), np.array([2.0]))
