"""Chapter 4: adaptive learning rates (Adagrad, RMSProp) on loss surfaces, and batch size.

- :func:`lecture_rmsprop_trajectory` runs ``torch.optim.RMSprop`` with the lecture's first
  sigma; :func:`step_lengths` and :func:`effective_learning_rates` read a path's steps;
- the batch-size experiment (:func:`minibatch_training`, :func:`gradient_noise`,
  :func:`seconds_per_epoch`) trains a small regression MLP with ``torch.optim.SGD`` on
  mini-batches, through :func:`dltips.training.train`; :func:`demo_run` keeps the runs of the
  batch-size demo.

The surfaces and trajectories themselves are :mod:`dltips.surfaces`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..data import regression_tensors
from ..models import mlp
from ..optimizers import make_optimizer
from ..surfaces import Surface, follow, get_surface, gradient_at
from ..training import LongestRuns, train


def lecture_rmsprop_trajectory(surface: str | Surface, lr: float, steps: int, start=None,
                               alpha: float = 0.99, eps: float = 1e-8) -> np.ndarray:
    """Like ``trajectory(surface, "rmsprop", ...)`` but with the lecture's initialisation: the
    first sigma is the first gradient's magnitude (the running average of squared gradients
    starts at g_0**2 instead of PyTorch's 0), so the first step is ``lr`` per coordinate.

    Still ``torch.optim.RMSprop``: before the first real step one step with a zero gradient
    creates the optimizer's state (moving nothing) and its ``square_avg`` is then set to g_0**2;
    from there ``v_1 = alpha * g_0**2 + (1 - alpha) * g_0**2 = g_0**2``. Shape (steps + 1, 2).
    Used by chapter 4.
    """
    s = get_surface(surface)
    start = s.start if start is None else start
    w = torch.tensor(np.asarray(start, dtype=np.float64).reshape(2), requires_grad=True)
    opt = torch.optim.RMSprop([w], lr=lr, alpha=alpha, eps=eps)

    def start_from_first_gradient(opt, w):
        g0 = w.grad.detach().clone()
        w.grad.zero_()
        opt.step()                                   # creates the state, moves nothing
        opt.state[w]["square_avg"].copy_(g0 ** 2)
        w.grad.copy_(g0)

    return follow(s, w, opt, steps, start_from_first_gradient)


def step_lengths(path: np.ndarray) -> np.ndarray:
    """|w_{t+1} - w_t| per coordinate: shape (steps, 2) for a path of shape (steps + 1, 2).
    Used by chapter 4."""
    return np.abs(np.diff(np.asarray(path, dtype=np.float64), axis=0))


def effective_learning_rates(surface: str | Surface, path: np.ndarray) -> np.ndarray:
    """Per-coordinate step length divided by gradient size at the step's start, shape (steps, 2).

    For plain SGD this is the learning rate; for Adagrad/RMSProp it is lr / (sqrt(state) + eps),
    the learning rate each parameter actually used. Where the gradient is exactly 0 the entry is
    NaN.
    Used by chapter 4.
    """
    path = np.asarray(path, dtype=np.float64)
    grads = np.abs(gradient_at(surface, np.nan_to_num(path[:-1])))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = step_lengths(path) / grads
    out[grads == 0] = np.nan
    return out


@dataclass
class BatchRun:
    """What :func:`minibatch_training` records.

    ``update_loss[k]`` is the training loss on the *whole* training set after update k
    (``update_loss[0]`` before any update), ``epoch_loss[e]`` the same after epoch e
    (``epoch_loss[0]`` at initialisation); ``updates_per_epoch`` is ceil(n / batch_size);
    ``seconds`` the wall-clock time of the training loop (machine-dependent).
    Used by chapter 4.
    """

    batch_size: int
    n: int
    update_loss: list[float] = field(default_factory=list)
    epoch_loss: list[float] = field(default_factory=list)
    updates_per_epoch: int = 0
    seconds: float = 0.0

    @property
    def epochs_axis(self) -> np.ndarray:
        """Position of each entry of ``update_loss`` measured in epochs (examples seen / n)."""
        return np.arange(len(self.update_loss)) / self.updates_per_epoch


def minibatch_training(batch_size: int, epochs: int = 20, lr: float = 0.05, n: int = 256,
                       seed: int = 0, optimizer_name: str = "sgd", width: int = 32,
                       record_updates: bool = True, **opt_kwargs) -> BatchRun:
    """Train the regression MLP with mini-batches of ``batch_size`` for ``epochs`` epochs.

    Batch size 1 is stochastic gradient descent, ``n`` (or more) full-batch gradient descent,
    anything between mini-batch gradient descent. Each epoch draws a fresh shuffled partition of
    the n examples (drawn from a generator seeded by ``seed``); the last batch of an epoch may be smaller. The
    model starts from the same seeded initialisation for every batch size, so runs differ only in
    how the data are batched. Loss is the mean squared error. With ``record_updates`` the whole
    training set's loss is evaluated after every update (costs time when batches are small).
    Used by chapter 4.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    x, y = regression_tensors(n=n, seed=seed)
    model = mlp(1, 1, depth=2, width=width, activation="tanh", seed=seed)
    opt = make_optimizer(model.parameters(), optimizer_name, lr, **opt_kwargs)
    loss_fn = nn.MSELoss()
    batch_size = min(batch_size, n)
    run = BatchRun(batch_size=batch_size, n=n, updates_per_epoch=math.ceil(n / batch_size))

    def full_loss() -> float:
        with torch.no_grad():
            return loss_fn(model(x), y).item()

    run.epoch_loss.append(full_loss())
    run.update_loss.append(run.epoch_loss[0])
    begin = time.perf_counter()
    train(model, x, y, loss_fn, opt, epochs, batch_size, seed,
          after_step=(lambda _: run.update_loss.append(full_loss())) if record_updates else None,
          after_epoch=lambda: run.epoch_loss.append(full_loss()))
    run.seconds = time.perf_counter() - begin
    return run


#: the batch-size demo's starting number of epochs; a shorter run is cut from a run this long.
DEMO_EPOCHS = 20


def _train_setting(key: tuple, epochs: int) -> BatchRun:
    batch_size, lr = key
    return minibatch_training(batch_size, epochs=epochs, lr=lr)


def _cut_run(run: BatchRun, epochs: int) -> BatchRun:
    return replace(run, update_loss=run.update_loss[:epochs * run.updates_per_epoch + 1],
                   epoch_loss=run.epoch_loss[:epochs + 1])


_DEMO_RUNS = LongestRuns(_train_setting, epochs_of=lambda run: len(run.epoch_loss) - 1,
                         cut=_cut_run, minimum=DEMO_EPOCHS, kept=32)


def demo_run(batch_size: int, epochs: int, lr: float) -> BatchRun:
    """What ``minibatch_training(batch_size, epochs=epochs, lr=lr)`` returns, for the
    batch-size demo, which draws each setting and the full-batch run beside it again and again.

    A setting is trained once, for ``max(epochs, DEMO_EPOCHS)`` epochs, and kept (the last 32
    settings); a shorter run is the beginning of a longer one (the shuffles come from one
    generator seeded once, so the first epochs do not depend on how many follow;
    :class:`dltips.training.LongestRuns`): its ``update_loss`` and ``epoch_loss`` are cut to
    ``epochs`` epochs, and its ``seconds`` are those of the run it was cut from. Returns a new
    :class:`BatchRun`. Used by chapter 4.
    """
    return _DEMO_RUNS((min(batch_size, 256), lr), epochs)


def gradient_noise(batch_sizes, n: int = 256, draws: int = 50, seed: int = 0,
                   width: int = 32) -> dict[str, np.ndarray]:
    """How well a mini-batch gradient points along the full-batch gradient, per batch size.

    At the regression MLP's initial weights, draws ``draws`` random batches (without
    replacement) of each size and compares each batch's gradient g_B with the full gradient g:
    returns ``{"batch_size", "cosine", "relative_error"}`` arrays, the mean of
    cos(g_B, g) and of |g_B - g| / |g| over the draws. Larger batches point more steadily
    downhill, with diminishing returns (the error falls roughly like 1 / sqrt(batch size)).
    Used by chapter 4.
    """
    x, y = regression_tensors(n=n, seed=seed)
    model = mlp(1, 1, depth=2, width=width, activation="tanh", seed=seed)
    loss_fn = nn.MSELoss()
    params = list(model.parameters())

    def grad(idx) -> torch.Tensor:
        g = torch.autograd.grad(loss_fn(model(x[idx]), y[idx]), params)
        return torch.cat([t.reshape(-1) for t in g]).double()

    full = grad(torch.arange(n))
    generator = torch.Generator().manual_seed(seed)
    sizes = np.asarray(list(batch_sizes), dtype=int)
    cos, err = np.zeros(len(sizes)), np.zeros(len(sizes))
    for i, b in enumerate(sizes):
        b = int(min(b, n))
        c, e = [], []
        for _ in range(draws):
            g = grad(torch.randperm(n, generator=generator)[:b])
            c.append(torch.nn.functional.cosine_similarity(g, full, dim=0).item())
            e.append(((g - full).norm() / full.norm()).item())
        cos[i], err[i] = np.mean(c), np.mean(e)
    return {"batch_size": sizes, "cosine": cos, "relative_error": err}


def seconds_per_epoch(batch_sizes, n: int = 256, repeats: int = 3, seed: int = 0,
                      width: int = 32) -> np.ndarray:
    """Wall-clock seconds for one training epoch (no loss recording) per batch size: the best of
    ``repeats`` runs. Machine-dependent; shows that small batches waste the matrix hardware.
    Used by chapter 4."""
    out = []
    for b in batch_sizes:
        best = math.inf
        for _ in range(repeats):
            run = minibatch_training(int(b), epochs=1, n=n, seed=seed, width=width,
                                     record_updates=False)
            best = min(best, run.seconds)
        out.append(best)
    return np.asarray(out)
