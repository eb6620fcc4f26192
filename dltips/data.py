"""Data sets that need no network: scikit-learn's bundled digits and synthetic 2-D sets.

Every function takes a ``seed`` so figures are reproducible. Splits return float32 features and
int64 labels as torch tensors, standardised with statistics of the *training* part only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.datasets import load_digits, make_moons
from torch.utils.data import DataLoader, TensorDataset


@dataclass
class Split:
    """Train, validation and test tensors of one data set.

    ``x_*`` have shape (N, D) float32, ``y_*`` shape (N,) int64.
    Used by chapters 1-11.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    @property
    def n_classes(self) -> int:
        return int(torch.cat([self.y_train, self.y_val, self.y_test]).max()) + 1


def split_arrays(x: np.ndarray, y: np.ndarray, val_fraction: float, test_fraction: float,
                 seed: int, n_train: int | None = None) -> Split:
    """Shuffle (x, y), cut off test and validation parts, and standardise with train statistics.

    ``n_train`` keeps only the first ``n_train`` training rows (for "small data" experiments).
    Used by chapters 1-3 and 5, through :func:`digits`.
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError(f"fractions must be in [0, 1) and sum below 1, got "
                         f"val_fraction={val_fraction}, test_fraction={test_fraction}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_test = int(round(test_fraction * len(x)))
    n_val = int(round(val_fraction * len(x)))
    test, val, train = np.split(order, [n_test, n_test + n_val])
    if n_train is not None:
        train = train[:n_train]
    mean = x[train].mean(axis=0)
    std = x[train].std(axis=0)
    std[std == 0] = 1.0

    def part(idx):
        xs = torch.tensor((x[idx] - mean) / std, dtype=torch.float32)
        return xs, torch.tensor(y[idx], dtype=torch.int64)

    return Split(*part(train), *part(val), *part(test))


def digits(seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2,
           n_train: int | None = None) -> Split:
    """The 1,797 real 8x8 handwritten digits (64 features, 10 classes), split and standardised.
    Used by chapters 1-3, 5 and 7-11."""
    data = load_digits()
    return split_arrays(data.data.astype(np.float64), data.target, val_fraction, test_fraction,
                        seed, n_train)


def moons(n: int = 400, noise: float = 0.2, seed: int = 0, val_fraction: float = 0.25,
          test_fraction: float = 0.25) -> Split:
    """Two interleaving half circles in 2-D (2 classes). Used by chapter 7."""
    x, y = make_moons(n_samples=n, noise=noise, random_state=seed)
    return split_arrays(x, y, val_fraction, test_fraction, seed)


def spirals(n: int = 600, classes: int = 3, noise: float = 0.2, seed: int = 0,
            val_fraction: float = 0.25, test_fraction: float = 0.25) -> Split:
    """``classes`` interleaved spiral arms in 2-D, ``n`` points in all.
    Used by the tests only so far (no chapter yet)."""
    rng = np.random.default_rng(seed)
    per = n // classes
    xs, ys = [], []
    for c in range(classes):
        r = np.linspace(0.05, 1.0, per)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, per) + rng.normal(0, noise, per)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(per, c))
    return split_arrays(np.concatenate(xs), np.concatenate(ys), val_fraction, test_fraction, seed)


def noisy_regression(n: int = 200, noise: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points of y = sin(3x) + noise on x in [-1, 1]; returns x (n, 1) and y (n,).
    Used by chapter 3."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 1))
    y = np.sin(3 * x[:, 0]) + rng.normal(0, noise, n)
    return x, y


class _WholeBatches(TensorDataset):
    """A TensorDataset that hands its loader a batch with one indexing operation per tensor
    (the rows default collation would stack one by one, in the same order: same batches,
    about half the time of a small network's training step)."""

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        rows = torch.tensor(indices)
        return tuple(t[rows] for t in self.tensors)


def _as_is(batch):
    return batch


def loader(x: torch.Tensor, y: torch.Tensor, batch_size: int = 64, shuffle: bool = False,
           seed: int = 0) -> DataLoader:
    """A DataLoader over (x, y) yielding (x batch, y batch); shuffled loaders use their own
    seeded generator. Used by chapters 1-11."""
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(_WholeBatches(x, y), batch_size=batch_size, shuffle=shuffle,
                      generator=generator, collate_fn=_as_is)


def regression_tensors(n: int = 256, noise: float = 0.3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`noisy_regression` as float32 tensors: x (n, 1) and y (n, 1), y = sin(3x) + noise.
    Used by chapters 4, 6 and 11."""
    x, y = noisy_regression(n=n, noise=noise, seed=seed)
    return (torch.tensor(x, dtype=torch.float32),
            torch.tensor(y, dtype=torch.float32).reshape(-1, 1))
