"""Chapter 1: train an MLP on digits, read its curves, and compare a shallow and a deep net."""
from __future__ import annotations

import torch

from .. import data, models
from ..training import History, fit


def train_mlp(depth: int = 2, activation: str = "relu", width: int = 64, epochs: int = 20,
              lr: float = 0.05, n_train: int | None = None, seed: int = 0) -> History:
    """Train a plain MLP on the digits with SGD (momentum 0.9, batches of 64); return its
    per-epoch training and validation loss and accuracy. ``n_train`` shrinks the training set.
    Used by chapter 1."""
    torch.manual_seed(seed)
    split = data.digits(seed=seed, n_train=n_train)
    model = models.mlp(split.n_features, split.n_classes, depth, width, activation, seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return fit(model, split, epochs, optimizer, seed=seed)


def read_curves(history: History, target: float) -> str:
    """The recipe applied to the last epoch, in words a reader can act on. Used by chapter 1."""
    train, val = history.train_acc[-1], history.val_acc[-1]
    if train < target:
        return (f"training accuracy {train:.1%} is below the target {target:.0%}: "
                "a problem on the TRAINING data (chapters 2-5, 9-10)")
    if val < target:
        return (f"training {train:.1%} meets the target but validation {val:.1%} does not: "
                "a problem of generalisation (chapters 6-8)")
    return f"training {train:.1%} and validation {val:.1%} both meet the target {target:.0%}"


def depth_comparison(depths: tuple[int, ...] = (2, 8, 14), activation: str = "tanh",
                     width: int = 64, epochs: int = 30, lr: float = 0.02,
                     seeds: tuple[int, ...] = (0, 1, 2)) -> dict[int, list[History]]:
    """Plain (no normalisation, no shortcuts) MLPs of each depth trained under the same budget;
    returns depth -> one History per seed. Used by chapter 1."""
    return {d: [train_mlp(d, activation, width, epochs, lr, seed=s) for s in seeds]
            for d in depths}
