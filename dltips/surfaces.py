"""Two-dimensional loss surfaces, optimizer trajectories over them, and a batch-size experiment.

Chapters 4 (adaptive learning rates) and 5 (momentum, Adam) draw how optimizers move on a loss
surface of two parameters ``w = (w1, w2)``. Everything here uses PyTorch itself: a trajectory is
what ``torch.optim.<Optimizer>`` does to a 2-element float64 parameter tensor whose gradient
autograd computes, so the figures show the library's behaviour, not a re-implementation.

Surfaces (see :data:`SURFACES`):

- ``"elongated"``: a quadratic bowl 100 times steeper along w2 than along w1. One learning rate
  for both directions is too small for w1 or too large for w2.
- ``"cliff"``: along w1 a steep wall falls onto a long, almost flat slope towards the minimum;
  the curvature *changes along one axis* (the lecture's motivation for RMSProp over Adagrad).
- ``"rosenbrock"``: Rosenbrock's curved, narrow valley (minimum at (1, 1)), scaled down.

Any other surface is a :class:`Surface` built from a torch function of a ``(..., 2)`` tensor.

The batch-size helpers (:func:`minibatch_training`, :func:`gradient_noise`) train a small
regression MLP with ``torch.optim.SGD`` on mini-batches drawn by a shuffled ``DataLoader``.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from .data import noisy_regression

# --------------------------------------------------------------------------------------------
# Surfaces
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Surface:
    """A loss surface of two parameters.

    ``fn`` maps a float64 tensor of shape ``(..., 2)`` to the loss, shape ``(...)``, with torch
    operations (so autograd can differentiate it). ``xlim``/``ylim`` are the plotting window
    for (w1, w2); ``start`` a default starting point; ``minimum`` the location of the minimum
    (or ``None`` if unknown); ``levels`` the contour levels :func:`plot_surface` draws.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    start: tuple[float, float]
    minimum: tuple[float, float] | None = None
    levels: tuple[float, ...] | None = None
    description: str = ""

    def __call__(self, w) -> torch.Tensor:
        return self.fn(torch.as_tensor(w, dtype=torch.float64))


def _elongated(w: torch.Tensor) -> torch.Tensor:
    return 0.5 * (0.1 * w[..., 0] ** 2 + 10.0 * w[..., 1] ** 2)


def _cliff(w: torch.Tensor) -> torch.Tensor:
    # A wall of slope ~8 for w1 < -2, then a long slope of nearly constant gradient ~0.2
    # (a smoothed 0.2 |w1 - 2|) down to the minimum at w1 = 2 (the wall's tail moves it by
    # less than 1e-5); w2 is an ordinary quadratic.
    w1, w2 = w[..., 0], w[..., 1]
    wall = 2.0 * torch.nn.functional.softplus(-4.0 * (w1 + 2.0))
    slope = 0.2 * torch.sqrt((w1 - 2.0) ** 2 + 0.25)
    return wall + slope + 0.5 * w2 ** 2


def _rosenbrock(w: torch.Tensor) -> torch.Tensor:
    w1, w2 = w[..., 0], w[..., 1]
    return 0.1 * ((1.0 - w1) ** 2 + 10.0 * (w2 - w1 ** 2) ** 2)


SURFACES: dict[str, Surface] = {
    "elongated": Surface(
        "elongated", _elongated, xlim=(-4.5, 4.5), ylim=(-1.5, 1.5), start=(-4.0, 1.0),
        minimum=(0.0, 0.0), levels=(0.05, 0.2, 0.5, 1, 2, 4, 7, 11),
        description="0.05 w1^2 + 5 w2^2: steep along w2, shallow along w1"),
    "cliff": Surface(
        "cliff", _cliff, xlim=(-4.5, 3.0), ylim=(-1.5, 1.5), start=(-4.0, 1.0),
        minimum=(2.0, 0.0), levels=(0.12, 0.2, 0.35, 0.55, 0.8, 1.1, 1.5, 2.2, 3.5, 5, 7, 9),
        description="a steep wall along w1 (slope ~8) falling onto a long, nearly flat slope "
                    "(gradient ~0.2) that leads to the minimum at (2, 0)"),
    "rosenbrock": Surface(
        "rosenbrock", _rosenbrock, xlim=(-2.0, 2.0), ylim=(-1.0, 3.0), start=(-1.5, 2.5),
        minimum=(1.0, 1.0), levels=(0.005, 0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.5, 3, 5),
        description="Rosenbrock's curved valley (scaled by 0.1), minimum at (1, 1)"),
}


def get_surface(surface: str | Surface) -> Surface:
    """``surface`` itself if it is a :class:`Surface`, else the named one from :data:`SURFACES`."""
    if isinstance(surface, Surface):
        return surface
    try:
        return SURFACES[surface]
    except KeyError:
        raise ValueError(f"unknown surface {surface!r}; choose one of {sorted(SURFACES)} "
                         f"or pass a Surface") from None


def loss_at(surface: str | Surface, points) -> np.ndarray:
    """The loss at ``points`` of shape (..., 2); returns an array of shape (...)."""
    s = get_surface(surface)
    with torch.no_grad():
        return s(np.asarray(points, dtype=np.float64)).numpy()


def gradient_at(surface: str | Surface, points) -> np.ndarray:
    """The gradient (by autograd) at ``points`` of shape (..., 2); returns shape (..., 2)."""
    s = get_surface(surface)
    w = torch.tensor(np.asarray(points, dtype=np.float64), requires_grad=True)
    s.fn(w).sum().backward()
    return w.grad.numpy()


def grid(surface: str | Surface, n: int = 120, xlim=None, ylim=None):
    """A contour grid: ``(W1, W2, L)``, each of shape (n, n), over the surface's window
    (or ``xlim``/``ylim``); ``L[i, j]`` is the loss at ``(W1[i, j], W2[i, j])``."""
    s = get_surface(surface)
    xlim = xlim or s.xlim
    ylim = ylim or s.ylim
    w1, w2 = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
    return w1, w2, loss_at(s, np.stack([w1, w2], axis=-1))


# --------------------------------------------------------------------------------------------
# Trajectories with torch.optim
# --------------------------------------------------------------------------------------------

#: optimizer names accepted by :func:`trajectory`, and the torch class plus default keywords.
OPTIMIZERS: dict[str, tuple[type, dict]] = {
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (torch.optim.Adagrad, {}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adam": (torch.optim.Adam, {}),
}

#: above this distance from the origin a trajectory counts as diverged.
DIVERGED = 1e6


def make_optimizer(params, optimizer_name: str, lr: float, **opt_kwargs) -> torch.optim.Optimizer:
    """A ``torch.optim`` optimizer by course name (see :data:`OPTIMIZERS`), e.g.
    ``make_optimizer(model.parameters(), "rmsprop", 1e-2, alpha=0.9)``. ``opt_kwargs`` override
    the name's defaults (``"momentum"`` means SGD with momentum 0.9 unless given)."""
    key = optimizer_name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer_name!r}; choose one of {sorted(OPTIMIZERS)}")
    cls, defaults = OPTIMIZERS[key]
    return cls(params, lr=lr, **{**defaults, **opt_kwargs})


def trajectory(surface: str | Surface, optimizer_name: str, lr: float, steps: int,
               start=None, **opt_kwargs) -> np.ndarray:
    """The points a torch optimizer visits on ``surface``: an array of shape (steps + 1, 2).

    Row 0 is ``start`` (default: the surface's own start), row t the parameters after t calls
    of ``optimizer.step()``, each after ``zero_grad`` and ``backward`` of the surface's loss.
    ``optimizer_name`` is one of :data:`OPTIMIZERS` (``"sgd"``, ``"momentum"``, ``"nesterov"``,
    ``"adagrad"``, ``"rmsprop"``, ``"adam"``); ``opt_kwargs`` go to the optimizer
    (e.g. ``alpha=0.9`` for RMSprop, ``momentum=0.5``, ``betas=(0.9, 0.99)``).
    Computation is in float64. If the parameters become non-finite or leave a ball of radius
    :data:`DIVERGED`, the remaining rows are NaN (matplotlib simply stops drawing the line).
    """
    s = get_surface(surface)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    start = s.start if start is None else start
    w = torch.tensor(np.asarray(start, dtype=np.float64).reshape(2), requires_grad=True)
    opt = make_optimizer([w], optimizer_name, lr, **opt_kwargs)
    return _follow(s, w, opt, steps)


def _follow(s: Surface, w: torch.Tensor, opt: torch.optim.Optimizer, steps: int,
            first_step=None) -> np.ndarray:
    """Run ``steps`` optimizer steps on ``s`` from ``w``; the visited points, shape
    (steps + 1, 2), NaN after divergence. ``first_step(opt, w)``, if given, is called once
    between the first backward pass and the first ``opt.step()``."""
    path = np.full((steps + 1, 2), np.nan)
    path[0] = w.detach().numpy()
    for t in range(1, steps + 1):
        opt.zero_grad()
        s.fn(w).backward()
        if t == 1 and first_step is not None:
            first_step(opt, w)
        opt.step()
        point = w.detach().numpy()
        if not np.all(np.isfinite(point)) or float(np.hypot(*point)) > DIVERGED:
            break
        path[t] = point
    return path


def lecture_rmsprop_trajectory(surface: str | Surface, lr: float, steps: int, start=None,
                               alpha: float = 0.99, eps: float = 1e-8) -> np.ndarray:
    """Like ``trajectory(surface, "rmsprop", ...)`` but with the lecture's initialisation: the
    first sigma is the first gradient's magnitude (the running average of squared gradients
    starts at g_0**2 instead of PyTorch's 0), so the first step is ``lr`` per coordinate.

    Still ``torch.optim.RMSprop``: before the first real step one step with a zero gradient
    creates the optimizer's state (moving nothing) and its ``square_avg`` is then set to g_0**2;
    from there ``v_1 = alpha * g_0**2 + (1 - alpha) * g_0**2 = g_0**2``. Shape (steps + 1, 2).
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

    return _follow(s, w, opt, steps, start_from_first_gradient)


def step_lengths(path: np.ndarray) -> np.ndarray:
    """|w_{t+1} - w_t| per coordinate: shape (steps, 2) for a path of shape (steps + 1, 2)."""
    return np.abs(np.diff(np.asarray(path, dtype=np.float64), axis=0))


def effective_learning_rates(surface: str | Surface, path: np.ndarray) -> np.ndarray:
    """Per-coordinate step length divided by gradient size at the step's start, shape (steps, 2).

    For plain SGD this is the learning rate; for Adagrad/RMSProp it is lr / (sqrt(state) + eps),
    the learning rate each parameter actually used. Where the gradient is exactly 0 the entry is
    NaN.
    """
    path = np.asarray(path, dtype=np.float64)
    grads = np.abs(gradient_at(surface, np.nan_to_num(path[:-1])))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = step_lengths(path) / grads
    out[grads == 0] = np.nan
    return out


def distance_to_minimum(surface: str | Surface, path: np.ndarray) -> np.ndarray:
    """Euclidean distance of every point of ``path`` to the surface's minimum, shape (steps + 1,)."""
    s = get_surface(surface)
    if s.minimum is None:
        raise ValueError(f"surface {s.name!r} has no known minimum")
    return np.hypot(*(np.asarray(path, dtype=np.float64) - np.asarray(s.minimum)).T)


# --------------------------------------------------------------------------------------------
# Plotting
# --------------------------------------------------------------------------------------------

PATH_COLORS = {"sgd": "#1f77b4", "momentum": "#ff7f0e", "nesterov": "#8c564b",
               "adagrad": "#2ca02c", "rmsprop": "#d62728", "adam": "#9467bd"}


def plot_surface(ax, surface: str | Surface, paths: dict[str, np.ndarray] | None = None,
                 colors: dict[str, str] | None = None, n: int = 120, title: str | None = None,
                 markers: bool = True):
    """Draw the surface's contours on ``ax`` and each path of ``paths`` (label -> (T, 2) array)
    over them, with the start marked by a circle and the minimum by a star. Returns ``ax``.

    A label that starts with an optimizer name (e.g. ``"adagrad, lr 0.3"``) gets that
    optimizer's colour unless ``colors`` names one.
    """
    s = get_surface(surface)
    w1, w2, loss = grid(s, n)
    levels = s.levels if s.levels is not None else 12
    ax.contour(w1, w2, loss, levels=levels, colors="0.6", linewidths=0.7)
    ax.contourf(w1, w2, loss, levels=levels, cmap="Greys", alpha=0.25, extend="max")
    if s.minimum is not None:
        ax.plot(*s.minimum, marker="*", color="k", markersize=11, linestyle="none",
                label="minimum")
    for i, (label, path) in enumerate((paths or {}).items()):
        path = np.asarray(path, dtype=np.float64)
        key = re.split(r"[^a-z]", label.lower(), maxsplit=1)[0]
        color = (colors or {}).get(label) or PATH_COLORS.get(key) or f"C{i}"
        ax.plot(path[:, 0], path[:, 1], color=color, linewidth=1.4, label=label,
                marker="." if markers else None, markersize=3)
        ax.plot(*path[0], marker="o", color=color, markersize=5)
    ax.set(xlim=s.xlim, ylim=s.ylim, xlabel="$w_1$", ylabel="$w_2$",
           title=s.name if title is None else title)
    return ax


# --------------------------------------------------------------------------------------------
# Batch size: mini-batch SGD on a small regression problem
# --------------------------------------------------------------------------------------------


@dataclass
class BatchRun:
    """What :func:`minibatch_training` records.

    ``update_loss[k]`` is the training loss on the *whole* training set after update k
    (``update_loss[0]`` before any update), ``epoch_loss[e]`` the same after epoch e
    (``epoch_loss[0]`` at initialisation); ``updates_per_epoch`` is ceil(n / batch_size);
    ``seconds`` the wall-clock time of the training loop (machine-dependent).
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


def regression_data(n: int = 256, noise: float = 0.3, seed: int = 0):
    """The chapter's regression set as float32 tensors: x (n, 1) and y (n, 1), y = sin(3x)+noise."""
    x, y = noisy_regression(n=n, noise=noise, seed=seed)
    return (torch.tensor(x, dtype=torch.float32),
            torch.tensor(y, dtype=torch.float32).reshape(-1, 1))


def regression_model(width: int = 32, seed: int = 0) -> nn.Sequential:
    """A 1 -> width -> width -> 1 tanh MLP with seeded PyTorch default initialisation."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(1, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
                         nn.Linear(width, 1))


def minibatch_training(batch_size: int, epochs: int = 20, lr: float = 0.05, n: int = 256,
                       seed: int = 0, optimizer_name: str = "sgd", width: int = 32,
                       record_updates: bool = True, **opt_kwargs) -> BatchRun:
    """Train the regression MLP with mini-batches of ``batch_size`` for ``epochs`` epochs.

    Batch size 1 is stochastic gradient descent, ``n`` (or more) full-batch gradient descent,
    anything between mini-batch gradient descent. Each epoch draws a fresh shuffled partition of
    the n examples (a seeded ``DataLoader``); the last batch of an epoch may be smaller. The
    model starts from the same seeded initialisation for every batch size, so runs differ only in
    how the data are batched. Loss is the mean squared error. With ``record_updates`` the whole
    training set's loss is evaluated after every update (costs time when batches are small).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    x, y = regression_data(n=n, seed=seed)
    model = regression_model(width=width, seed=seed)
    opt = make_optimizer(model.parameters(), optimizer_name, lr, **opt_kwargs)
    loss_fn = nn.MSELoss()
    generator = torch.Generator().manual_seed(seed)
    batch_size = min(batch_size, n)
    run = BatchRun(batch_size=batch_size, n=n, updates_per_epoch=math.ceil(n / batch_size))

    def full_loss() -> float:
        with torch.no_grad():
            return loss_fn(model(x), y).item()

    run.epoch_loss.append(full_loss())
    run.update_loss.append(run.epoch_loss[0])
    begin = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        for idx in torch.split(order, batch_size):
            opt.zero_grad()
            loss_fn(model(x[idx]), y[idx]).backward()
            opt.step()
            if record_updates:
                run.update_loss.append(full_loss())
        run.epoch_loss.append(full_loss())
    run.seconds = time.perf_counter() - begin
    return run


def gradient_noise(batch_sizes, n: int = 256, draws: int = 50, seed: int = 0,
                   width: int = 32) -> dict[str, np.ndarray]:
    """How well a mini-batch gradient points along the full-batch gradient, per batch size.

    At the regression MLP's initial weights, draws ``draws`` random batches (without
    replacement) of each size and compares each batch's gradient g_B with the full gradient g:
    returns ``{"batch_size", "cosine", "relative_error"}`` arrays, the mean of
    cos(g_B, g) and of |g_B - g| / |g| over the draws. Larger batches point more steadily
    downhill, with diminishing returns (the error falls roughly like 1 / sqrt(batch size)).
    """
    x, y = regression_data(n=n, seed=seed)
    model = regression_model(width=width, seed=seed)
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
    ``repeats`` runs. Machine-dependent; shows that small batches waste the matrix hardware."""
    out = []
    for b in batch_sizes:
        best = math.inf
        for _ in range(repeats):
            run = minibatch_training(int(b), epochs=1, n=n, seed=seed, width=width,
                                     record_updates=False)
            best = min(best, run.seconds)
        out.append(best)
    return np.asarray(out)
