"""The reference training loop every chapter uses, and the history it records."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.data import DataLoader

from .data import Split, loader


@dataclass
class History:
    """Per-epoch metrics; every list has one entry per epoch."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)

    def record(self, train: tuple[float, float], val: tuple[float, float]) -> None:
        self.train_loss.append(train[0])
        self.train_acc.append(train[1])
        self.val_loss.append(val[0])
        self.val_acc.append(val[1])


def run_epoch(model: nn.Module, data: DataLoader, loss_fn, optimizer=None) -> tuple[float, float]:
    """One pass over ``data``; trains when an optimizer is given, else evaluates.

    Returns (mean loss weighted by batch size, accuracy of the predictions made during the pass).
    """
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


def fit(model: nn.Module, split: Split, epochs: int, optimizer: torch.optim.Optimizer,
        batch_size: int = 64, seed: int = 0, loss_fn=None) -> History:
    """Train ``model`` on ``split`` for ``epochs`` epochs; record train and validation metrics.

    The training metrics are those seen *during* each epoch (as a student's loop would report).
    """
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    train_data = loader(split.x_train, split.y_train, batch_size, shuffle=True, seed=seed)
    val_data = loader(split.x_val, split.y_val, batch_size=1024)
    history = History()
    for _ in range(epochs):
        train = run_epoch(model, train_data, loss_fn, optimizer)
        history.record(train, run_epoch(model, val_data, loss_fn))
    return history


def final_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of ``model`` on (x, y) in eval mode, without gradients."""
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).float().mean().item()
