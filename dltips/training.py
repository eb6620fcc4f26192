"""The course's training loops, and the history they record (chapters 1-5).

- :func:`fit` trains a classifier on a :class:`~dltips.data.Split` for some epochs and records
  training and validation loss and accuracy per epoch (chapters 1, 3, 5);
- :func:`train` is the bare mini-batch loop on tensors (any loss, full batch or shuffled
  mini-batches), with a hook after every step (chapters 2-4);
- :func:`train_accuracy` measures a trained classifier on its training data (chapters 2-3);
- :class:`LongestRuns` keeps a demo's runs, one per setting, and cuts shorter runs from them
  (chapters 1 and 4).

Chapter 1's exercise writes the per-epoch loop itself; nothing here takes a loader and
returns one epoch's metrics.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Hashable

import torch
from torch import nn
from torch.utils.data import DataLoader

from .data import Split, loader


@dataclass
class History:
    """Per-epoch metrics; every list has one entry per epoch (chapters 1, 3, 5).
    Used by chapters 1-11."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)

    def record(self, train: tuple[float, float], val: tuple[float, float]) -> None:
        self.train_loss.append(train[0])
        self.train_acc.append(train[1])
        self.val_loss.append(val[0])
        self.val_acc.append(val[1])


def fit(model: nn.Module, split: Split, epochs: int, optimizer: torch.optim.Optimizer,
        batch_size: int = 64, seed: int = 0, loss_fn=None) -> History:
    """Train ``model`` on ``split`` for ``epochs`` epochs; record train and validation metrics.

    Each epoch is one pass over the training part in shuffled batches of ``batch_size`` (a
    loader seeded by ``seed``); the training metrics are those seen *during* the pass, the
    validation metrics are measured in eval mode afterwards. Used by chapters 1, 3 and 5.
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    train_data = loader(split.x_train, split.y_train, batch_size, shuffle=True, seed=seed)
    val_data = loader(split.x_val, split.y_val, batch_size=1024)

    def one_pass(data: DataLoader, training: bool) -> tuple[float, float]:
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
            raise ValueError("the split has no data to train or validate on")
        return total_loss / seen, correct / seen

    history = History()
    for _ in range(epochs):
        train = one_pass(train_data, training=True)
        history.record(train, one_pass(val_data, training=False))
    return history


def train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, optimizer,
          epochs: int, batch_size: int | None = None, seed: int = 0,
          after_step: Callable[[torch.Tensor], None] | None = None,
          after_epoch: Callable[[], None] | None = None) -> nn.Module:
    """Train ``model`` in train mode on (x, y): ``epochs`` passes of zero_grad, loss, backward,
    step; returns the model.

    ``batch_size=None`` is full-batch training: every step sees all rows in their order (then
    ``epochs`` counts steps). Otherwise every epoch cuts a fresh random permutation of the rows
    into batches of ``batch_size`` (the last may be smaller), drawn from one generator seeded
    once by ``seed``. ``after_step(loss)`` is called after every update with that step's loss
    tensor, ``after_epoch()`` after every epoch. Used by chapters 2-4 and 8-11.
    """
    generator = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        if batch_size is None:
            batches = [(x, y)]
        else:
            order = torch.randperm(len(y), generator=generator)
            batches = ((x[idx], y[idx]) for idx in order.split(batch_size))
        for xb, yb in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            if after_step is not None:
                after_step(loss)
        if after_epoch is not None:
            after_epoch()
    return model


def train_accuracy(model: nn.Module, split: Split) -> float:
    """Accuracy of ``model`` on the whole training part of ``split``, in eval mode, without
    gradients: how well the net learned what it was shown (chapters 2-3)."""
    model.eval()
    with torch.no_grad():
        return (model(split.x_train).argmax(dim=1) == split.y_train).float().mean().item()


class LongestRuns:
    """Training runs kept for a demo that asks for many settings and many lengths.

    ``runs(key, epochs)`` returns ``cut(run, epochs)``: the first ``epochs`` epochs of the
    setting ``key``, trained by ``train(key, n)`` once for ``n = max(epochs, minimum)`` epochs
    and again only when a longer run is asked for (``epochs_of(run)`` says how long a run is).
    The ``kept`` settings used last are kept. Cutting is only right when a run's first epochs do
    not depend on how many follow, as in :func:`fit` and :func:`train` (one generator, seeded
    once). Used by chapters 1 and 4.
    """

    def __init__(self, train: Callable, epochs_of: Callable, cut: Callable, minimum: int,
                 kept: int):
        self.train, self.epochs_of, self.cut = train, epochs_of, cut
        self.minimum, self.kept = minimum, kept
        self._runs: OrderedDict = OrderedDict()

    def __call__(self, key: Hashable, epochs: int):
        if epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {epochs}")
        run = self._runs.get(key)
        if run is None or self.epochs_of(run) < epochs:
            run = self._runs[key] = self.train(key, max(epochs, self.minimum))
            while len(self._runs) > self.kept:
                self._runs.popitem(last=False)
        self._runs.move_to_end(key)
        return self.cut(run, epochs)
