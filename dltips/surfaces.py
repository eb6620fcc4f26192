"""Loss surfaces of two parameters and the paths optimizers take over them (chapters 4 and 5).

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
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .optimizers import make_optimizer

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
    Used by chapters 4 and 5.
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
    """``surface`` itself if it is a :class:`Surface`, else the named one from :data:`SURFACES`.
    Used by chapter 4."""
    if isinstance(surface, Surface):
        return surface
    try:
        return SURFACES[surface]
    except KeyError:
        raise ValueError(f"unknown surface {surface!r}; choose one of {sorted(SURFACES)} "
                         f"or pass a Surface") from None


def loss_at(surface: str | Surface, points) -> np.ndarray:
    """The loss at ``points`` of shape (..., 2); returns an array of shape (...).
    Used by chapter 4."""
    s = get_surface(surface)
    with torch.no_grad():
        return s(np.asarray(points, dtype=np.float64)).numpy()


def gradient_at(surface: str | Surface, points) -> np.ndarray:
    """The gradient (by autograd) at ``points`` of shape (..., 2); returns shape (..., 2).
    Used by chapter 4."""
    s = get_surface(surface)
    w = torch.tensor(np.asarray(points, dtype=np.float64), requires_grad=True)
    s.fn(w).sum().backward()
    return w.grad.numpy()


def grid(surface: str | Surface, n: int = 120, xlim=None, ylim=None):
    """A contour grid: ``(W1, W2, L)``, each of shape (n, n), over the surface's window
    (or ``xlim``/``ylim``); ``L[i, j]`` is the loss at ``(W1[i, j], W2[i, j])``.
    Used by chapters 4 and 5, through :func:`plot_surface`."""
    s = get_surface(surface)
    xlim = xlim or s.xlim
    ylim = ylim or s.ylim
    w1, w2 = np.meshgrid(np.linspace(*xlim, n), np.linspace(*ylim, n))
    return w1, w2, loss_at(s, np.stack([w1, w2], axis=-1))


# --------------------------------------------------------------------------------------------
# Trajectories with torch.optim
# --------------------------------------------------------------------------------------------

#: above this distance from the origin a trajectory counts as diverged.
DIVERGED = 1e6

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
    Used by chapters 4 and 5.
    """
    s = get_surface(surface)
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    start = s.start if start is None else start
    w = torch.tensor(np.asarray(start, dtype=np.float64).reshape(2), requires_grad=True)
    opt = make_optimizer([w], optimizer_name, lr, **opt_kwargs)
    return follow(s, w, opt, steps)


def follow(s: Surface, w: torch.Tensor, opt: torch.optim.Optimizer, steps: int,
            first_step=None) -> np.ndarray:
    """Run ``steps`` optimizer steps on ``s`` from ``w``; the visited points, shape
    (steps + 1, 2), NaN after divergence. ``first_step(opt, w)``, if given, is called once
    between the first backward pass and the first ``opt.step()``. Used by chapter 4."""
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


def distance_to_minimum(surface: str | Surface, path: np.ndarray) -> np.ndarray:
    """Euclidean distance of every point of ``path`` to the surface's minimum, shape (steps + 1,).
    Used by chapter 4."""
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
    Used by chapters 4 and 5.
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
