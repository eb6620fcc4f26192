"""Trusted reference implementations that tests cells compare student code with.

They live with the grader, not in the course package ``dltips``: the grading sandbox never
mounts this module, so nothing a student's code can import there answers an exercise. Tests cells
import them (``from autograder.references import run_epoch``); in a student's own notebook the
import works too, since the project is installed, but the module is not part of the exercise.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader


def run_epoch(model: nn.Module, data: DataLoader, loss_fn, optimizer=None) -> tuple[float, float]:
    """One pass over ``data``: training (train mode, gradients zeroed every step) when
    ``optimizer`` is given, else evaluation (eval mode, no gradient tracking). Returns the mean
    loss per example (batches weighted by their size) and the accuracy of the outputs seen.
    The reference for chapter 1's ``train_one_epoch`` and ``evaluate``."""
    training = optimizer is not None
    model.train(training)
    total_loss, correct, seen = 0.0, 0, 0
    with torch.set_grad_enabled(training):
        for x, y in data:
            logits = model(x)
            loss = loss_fn(logits, y)
            if training:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(dim=1) == y).sum().item()
            seen += len(y)
    if seen == 0:
        raise ValueError("the loader yielded no data")
    return total_loss / seen, correct / seen
