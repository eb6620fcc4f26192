"""Chapter 6: early stopping on a small noisy regression task, and its kinship with L2.

- :func:`early_stopping_run` trains the chapter's MLP on a few noisy points of sin(3x) with
  full-batch Adam and records training, validation and test loss per epoch, while a
  patience rule watches the validation loss; the weights of the best validation epoch are kept
  and loaded back at the end, and the run goes on past the stop only to show what stopping
  avoided;
- :func:`gd_versus_ridge` measures, on a least-squares problem, how gradient descent stopped
  after a few steps shrinks the solution along each eigen-direction of the Hessian, next to
  the ridge (L2) solution with alpha = 1 / (steps * lr) (Goodfellow et al. 2016, section 7.8).

Every function builds its own data and network; none takes a loss sequence or a model.
"""
from __future__ import annotations

import copy
import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..data import regression_tensors
from ..models import mlp

#: the x positions where :func:`early_stopping_run` records the fitted curve
GRID = np.linspace(-1.0, 1.0, 101)


@dataclass
class Watch:
    """One patience rule's verdict in :func:`early_stopping_run`: ``stop_epoch``, the epoch at
    which the patience ran out (None if it never did); ``restored_epoch``, the epoch whose
    weights were kept (the lowest validation loss up to the stop); ``restored_test_loss``, the
    test loss measured after loading those weights back into the network. Used by chapter 6."""

    patience: int
    stop_epoch: int | None
    restored_epoch: int
    restored_test_loss: float


@dataclass
class StoppingRun:
    """What :func:`early_stopping_run` records; epochs are numbered 0, 1, 2, ...

    ``train_loss``, ``val_loss``, ``test_loss`` (mean squared errors) and ``distance``
    (Euclidean norm of all parameters minus their initial values) have one entry per epoch,
    measured after that epoch's update; ``fits`` (epochs, len(GRID)) is the network's output on
    :data:`GRID` after each epoch. ``watches`` holds one :class:`Watch` per patience asked for;
    ``watch`` is the first. ``x_train`` ... ``y_val`` are the points, shape (n,).
    Used by chapter 6.
    """

    train_loss: np.ndarray
    val_loss: np.ndarray
    test_loss: np.ndarray
    distance: np.ndarray
    fits: np.ndarray
    watches: list[Watch]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray

    @property
    def watch(self) -> Watch:
        """The verdict of the first (or only) patience."""
        return self.watches[0]

    @property
    def hindsight_epoch(self) -> int:
        """The epoch with the lowest *test* loss: the best choice, known only with hindsight."""
        return int(np.argmin(self.test_loss))


def early_stopping_run(noise: float = 0.5, n_train: int = 30, patience: int | tuple = 20,
                       min_delta: float = 0.0, epochs: int = 400, seed: int = 0,
                       n_val: int = 30, n_test: int = 500, lr: float = 0.01,
                       width: int = 64) -> StoppingRun:
    """Train a 1-64-64-1 tanh MLP on ``n_train`` noisy points of y = sin(3x) + N(0, noise^2)
    with full-batch Adam (one update per epoch) for ``epochs`` epochs, watched by early stopping.

    Validation (``n_val`` points) and test (``n_test`` points) sets are fresh draws from the same
    distribution, all from ``seed``. After every epoch the validation loss is compared with the
    best so far: an epoch improves if its loss is below best - ``min_delta``; the state_dict of
    every improving epoch is deep-copied, and ``patience`` epochs in a row without improvement
    end the watch (a tuple of patiences keeps one watch each, on the same training run). The
    kept weights are loaded into the network at the end and the test loss measured again.
    Training itself continues to ``epochs`` so the curves show what would have happened
    without stopping. Used by chapter 6.
    """
    patiences = (patience,) if np.ndim(patience) == 0 else tuple(patience)
    if min(patiences) < 1 or epochs < 1:
        raise ValueError(f"need patience >= 1 and epochs >= 1, got {patience}, {epochs}")
    x, y = regression_tensors(n=n_train, noise=noise, seed=seed)
    xv, yv = regression_tensors(n=n_val, noise=noise, seed=seed + 1000)
    xt, yt = regression_tensors(n=n_test, noise=noise, seed=seed + 2000)
    grid = torch.tensor(GRID, dtype=torch.float32).reshape(-1, 1)
    model = mlp(1, 1, depth=2, width=width, activation="tanh", seed=seed)
    start = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).clone()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    curves = {k: [] for k in ("train", "val", "test", "distance", "fits")}
    # per patience: best loss, its epoch, epochs waited, kept state, stop epoch
    watching = [{"best": float("inf"), "epoch": 0, "waited": 0, "kept": None, "stop": None}
                for _ in patiences]
    for epoch in range(epochs):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        with torch.no_grad():
            curves["train"].append(loss_fn(model(x), y).item())
            val = loss_fn(model(xv), yv).item()
            curves["val"].append(val)
            curves["test"].append(loss_fn(model(xt), yt).item())
            now = torch.cat([p.reshape(-1) for p in model.parameters()])
            curves["distance"].append((now - start).norm().item())
            curves["fits"].append(model(grid).reshape(-1).numpy().copy())
        for w, p in zip(watching, patiences):
            if w["stop"] is not None:
                continue
            if val < w["best"] - min_delta:
                w.update(best=val, epoch=epoch, waited=0, kept=copy.deepcopy(model.state_dict()))
            else:
                w["waited"] += 1
                if w["waited"] >= p:
                    w["stop"] = epoch
    watches = []
    for w, p in zip(watching, patiences):
        model.load_state_dict(w["kept"])
        with torch.no_grad():
            watches.append(Watch(patience=int(p), stop_epoch=w["stop"], restored_epoch=w["epoch"],
                                 restored_test_loss=loss_fn(model(xt), yt).item()))
    return StoppingRun(
        train_loss=np.array(curves["train"]), val_loss=np.array(curves["val"]),
        test_loss=np.array(curves["test"]), distance=np.array(curves["distance"]),
        fits=np.array(curves["fits"]), watches=watches,
        x_train=x.numpy().reshape(-1), y_train=y.numpy().reshape(-1),
        x_val=xv.numpy().reshape(-1), y_val=yv.numpy().reshape(-1))


def gd_versus_ridge(steps: list[int], lr: float = 0.1, n: int = 200, d: int = 12,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Gradient descent stopped after each number of ``steps``, against ridge regression.

    Builds a least-squares problem L(w) = |Xw - y|^2 / (2n) with X (n, d) whose column scales
    spread the eigenvalues of the Hessian H = X^T X / n over about three decades, and y from a
    random w plus noise. Runs ``torch.optim.SGD`` (full batch, learning rate ``lr``) from w = 0
    and solves the ridge problem L(w) + alpha/2 |w|^2 with alpha = 1 / (steps * lr) for each
    entry of ``steps``. Returns ``eigenvalues`` (d,), ascending, and per entry of ``steps`` the
    fraction of the unregularised solution w* that each method has reached along each
    eigenvector: ``gd`` and ``ridge`` (len(steps), d), measured, together with the formulas
    ``gd_formula`` 1 - (1 - lr * lambda)^steps and ``ridge_formula`` lambda / (lambda + alpha).
    Used by chapter 6.
    """
    gen = torch.Generator().manual_seed(seed)
    scales = torch.logspace(0, -1.5, d, dtype=torch.float64)
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * scales
    y = x @ torch.randn(d, generator=gen, dtype=torch.float64) \
        + 0.1 * torch.randn(n, generator=gen, dtype=torch.float64)
    hessian = x.T @ x / n
    eigenvalues, vectors = torch.linalg.eigh(hessian)
    w_star = torch.linalg.solve(hessian, x.T @ y / n)
    target = vectors.T @ w_star

    w = torch.zeros(d, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    gd, ridge, done = [], [], 0
    for total in sorted(steps):
        for _ in range(total - done):
            opt.zero_grad()
            ((x @ w - y) ** 2 / (2 * n)).sum().backward()
            opt.step()
        done = total
        gd.append((vectors.T @ w.detach()) / target)
        alpha = 1.0 / (total * lr)
        w_ridge = torch.linalg.solve(hessian + alpha * torch.eye(d, dtype=torch.float64),
                                     x.T @ y / n)
        ridge.append((vectors.T @ w_ridge) / target)
    order = np.argsort(np.argsort(steps))
    lam = eigenvalues.numpy()
    taus = np.asarray(steps, dtype=np.float64)[:, None]
    return {"eigenvalues": lam,
            "gd": torch.stack(gd).numpy()[order], "ridge": torch.stack(ridge).numpy()[order],
            "gd_formula": 1 - (1 - lr * lam[None, :]) ** taus,
            "ridge_formula": lam[None, :] / (lam[None, :] + 1 / (taus * lr))}


def watched_run(noise: float = 0.5, n_train: int = 30, seed: int = 0,
                patiences: tuple[int, ...] = (20,)) -> StoppingRun:
    """:func:`early_stopping_run` with the other settings at their defaults, watched by every
    patience in ``patiences`` at once, computed once per setting (the chapter's experiment and
    its demo share these runs; the demo picks a patience's :class:`Watch` without retraining).
    Callers get the same run back and must not modify it. Used by chapter 6."""
    return _watched_run(float(noise), int(n_train), int(seed), tuple(int(p) for p in patiences))


@functools.lru_cache(maxsize=64)
def _watched_run(noise: float, n_train: int, seed: int, patiences: tuple[int, ...]) -> StoppingRun:
    return early_stopping_run(noise=noise, n_train=n_train, patience=patiences, seed=seed)
