"""Chapter 5, momentum and Adam: a ball on a 1-D loss landscape, a saddle surface, and an optimizer race.

Every optimizer step here is made by ``torch.optim`` itself (SGD with
momentum, RMSprop, Adagrad, Adam) on float64 tensors whose gradients autograd computes, so the
figures show what the library does, not a re-implementation of the exercise's update rules.

- :func:`landscape` is a 1-D loss with, from left to right, a steep start, a long **plateau**,
  a **shallow local minimum** (:data:`SHALLOW_MIN`), a bump (:data:`BUMP`), and a **deep
  minimum** (:data:`DEEP_MIN`) before a wall. :func:`roll_ball` drops a ball at :data:`START`
  and lets ``torch.optim.SGD(momentum=...)`` roll it; :func:`outcome` says where it ended up.
- :func:`momentum_path` runs either PyTorch's form of momentum or the lecture's form (through
  the same ``torch.optim.SGD``, see its docstring), to compare them under a learning-rate
  schedule and with dampening.
- :data:`SADDLE` is a 2-D surface with a saddle point at the origin, usable with
  :func:`dltips.surfaces.trajectory`; :func:`race` runs SGD, momentum, RMSProp and Adam on any
  surface of :mod:`dltips.surfaces`.
- :func:`minimum_fraction` estimates how rarely a random critical point is a minimum.
- :func:`optimizer_sweep` trains the digits MLP with several optimizers and learning rates
  (the Adam-vs-SGD experiment after Kingma & Ba 2015); :func:`best_runs` picks each optimizer's
  best learning rate.
- :func:`adam_moments` reads Adam's moment estimates from ``torch.optim.Adam``'s state.
- :func:`tuned_quadratic_settings`, :func:`quadratic_distances`, :func:`steps_to_shrink` and
  :func:`conditioning_sweep`: gradient descent against heavy-ball momentum on a quadratic bowl of
  condition number kappa (Polyak 1964), at their best settings.
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from ..data import Split, digits
from ..models import mlp
from ..optimizers import make_optimizer
from ..surfaces import Surface, trajectory
from ..training import History, fit

# --------------------------------------------------------------------------------------------
# The 1-D landscape
# --------------------------------------------------------------------------------------------

#: where the ball is dropped: the top of the steep start.
START = 0.0
#: the plateau: between these positions the slope is only -0.1 to -0.05 (on the steep start it
#: reaches -2.5).
PLATEAU = (1.3, 4.0)
#: the shallow local minimum (loss about 0.74) and the bump to its right (loss about 0.90).
SHALLOW_MIN = 5.01
BUMP = 5.69
#: the deep (global) minimum, loss about -0.59.
DEEP_MIN = 8.01
#: the plotting window.
XLIM = (-0.5, 10.0)


def landscape(x: torch.Tensor) -> torch.Tensor:
    """The 1-D loss, elementwise: a torch function of a tensor of any shape (autograd-ready).

    A smooth sum of a sigmoid drop at x = 0.5 (the steep start), a gentle tilt of slope 0.05
    up to x = 4 (the plateau), a Gaussian dip of depth 0.25 at x = 5 (the shallow minimum), a
    second sigmoid drop at x = 6.5, a Gaussian well of depth 0.6 at x = 8 (the deep minimum)
    and a soft quadratic wall beyond x = 9.
    Used by chapter 5.
    """
    x = torch.as_tensor(x, dtype=torch.float64)
    start = 1.5 * torch.sigmoid(-(x - 0.5) / 0.15)
    tilt = 0.05 * (4.0 - x) * torch.sigmoid(-(x - 4.0) / 0.3)
    dip = -0.25 * torch.exp(-(x - 5.0) ** 2 / (2 * 0.35 ** 2))
    drop = torch.sigmoid(-(x - 6.5) / 0.3)
    well = -0.6 * torch.exp(-(x - 8.0) ** 2 / (2 * 0.6 ** 2))
    wall = 0.1 * nn.functional.softplus(4.0 * (x - 9.0)) ** 2
    return start + tilt + dip + drop + well + wall


def landscape_curve(lo: float = XLIM[0], hi: float = XLIM[1], n: int = 600,
                    loss: Callable = landscape) -> tuple[np.ndarray, np.ndarray]:
    """``(xs, loss(xs))`` on ``n`` evenly spaced points of [lo, hi], both of shape (n,).
    Used by chapter 5."""
    xs = torch.linspace(lo, hi, n, dtype=torch.float64)
    with torch.no_grad():
        return xs.numpy(), loss(xs).numpy()


def slope(x, loss: Callable = landscape) -> np.ndarray:
    """d loss / dx at the points ``x`` (any shape), by autograd; returns the same shape.
    Used by chapter 5."""
    t = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    loss(t).sum().backward()
    return t.grad.numpy()


def momentum_path(lrs: Sequence[float], momentum: float, start: float = START,
                  dampening: float = 0.0, form: str = "pytorch",
                  loss: Callable = landscape) -> np.ndarray:
    """Positions of gradient descent with momentum on a 1-D ``loss``: shape (len(lrs) + 1,).

    Step t (counting from 0) uses the learning rate ``lrs[t]``; row 0 is ``start``. Both forms
    are run by ``torch.optim.SGD`` on a 1-element float64 tensor:

    - ``form="pytorch"``: PyTorch's buffer form, b = momentum * b + (1 - dampening) * g (the
      first step sets b = g), then w = w - lr_t * b; the optimizer's ``lr`` is set to lr_t
      before every step.
    - ``form="lecture"``: the lecture's velocity form, v = momentum * v - lr_t * g, then
      w = w + v. It is the same optimizer with ``lr=1`` fed the gradient already multiplied by
      lr_t: its buffer is then exactly -v. The lecture form has no dampening.
    Used by chapter 5.
    """
    if form not in ("pytorch", "lecture"):
        raise ValueError(f"form must be 'pytorch' or 'lecture', got {form!r}")
    if form == "lecture" and dampening != 0:
        raise ValueError("the lecture's form has no dampening")
    lrs = [float(lr) for lr in lrs]
    w = torch.tensor([float(start)], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lrs[0] if form == "pytorch" and lrs else 1.0,
                          momentum=momentum, dampening=dampening)
    path = np.full(len(lrs) + 1, np.nan)
    path[0] = start
    for t, lr in enumerate(lrs, start=1):
        opt.zero_grad()
        loss(w).sum().backward()
        if form == "pytorch":
            opt.param_groups[0]["lr"] = lr
        else:
            w.grad.mul_(lr)
        opt.step()
        x = w.item()
        if not np.isfinite(x):
            break
        path[t] = x
    return path


def roll_ball(momentum: float, lr: float = 0.2, steps: int = 300, start: float = START,
              dampening: float = 0.0, loss: Callable = landscape) -> np.ndarray:
    """Positions of a ball rolled by ``torch.optim.SGD(lr, momentum, dampening)`` on ``loss``
    from ``start`` for ``steps`` steps: shape (steps + 1,). ``momentum=0`` is plain gradient
    descent. Used by chapter 5."""
    return momentum_path([lr] * steps, momentum, start=start, dampening=dampening, loss=loss)


def rolled_ball(momentum: float, lr: float = 0.2, steps: int = 300) -> np.ndarray:
    """:func:`roll_ball` from :data:`START`, computed once per setting (the demo redraws its
    figure for many settings and rolls plain gradient descent at every one): a read-only array
    of shape (steps + 1,). Used by chapter 5."""
    return _rolled_ball(float(momentum), float(lr), int(steps))


@functools.lru_cache(maxsize=128)
def _rolled_ball(momentum: float, lr: float, steps: int) -> np.ndarray:
    path = roll_ball(momentum, lr=lr, steps=steps)
    path.flags.writeable = False
    return path


def basin(x: float) -> str:
    """Which part of :func:`landscape` the position ``x`` lies in: ``'start'`` (left of the
    plateau), ``'plateau'``, ``'shallow minimum'`` (from the plateau's end to the bump),
    ``'deep minimum'`` (right of the bump) or ``'diverged'`` (not finite).
    Used by chapter 5, through :func:`outcome`."""
    if not np.isfinite(x):
        return "diverged"
    if x < PLATEAU[0]:
        return "start"
    if x < PLATEAU[1]:
        return "plateau"
    if x < BUMP:
        return "shallow minimum"
    return "deep minimum"


def outcome(path: np.ndarray, window: int = 20, tol: float = 1e-2) -> str:
    """Where a ball's ``path`` ended: the :func:`basin` of its last position if it moved less
    than ``tol`` over each of its last ``window`` steps, else ``'still moving'``.
    Used by chapter 5."""
    path = np.asarray(path, dtype=np.float64)
    if not np.all(np.isfinite(path)):
        return "diverged"
    if len(path) > 1 and float(np.max(np.abs(np.diff(path[-window - 1:])))) > tol:
        return "still moving"
    return basin(float(path[-1]))


def escape_grid(lrs: Sequence[float], momenta: Sequence[float], steps: int = 400,
                start: float = START) -> np.ndarray:
    """:func:`outcome` of :func:`roll_ball` for every learning rate (rows) and momentum
    (columns): an object array of strings, shape (len(lrs), len(momenta)).

    All the balls roll at once, for speed: each cell is a 1-element float64 tensor in its own
    parameter group (its learning rate and momentum) of a single ``torch.optim.SGD``, and one
    autograd pass through the landscape at all their positions gives every ball its gradient.
    The landscape is elementwise, so the balls do not interact: each makes the steps
    :func:`roll_ball` makes for it (equal up to rounding, about 1e-14), and a ball whose
    position stops being finite is recorded as NaN from then on, as there.
    Used by chapter 5.
    """
    cells = [(float(lr), float(m)) for lr in lrs for m in momenta]
    out = np.empty((len(lrs), len(momenta)), dtype=object)
    if not cells:
        return out
    balls = [torch.tensor([float(start)], dtype=torch.float64, requires_grad=True) for _ in cells]
    opt = torch.optim.SGD([{"params": [ball], "lr": lr, "momentum": m}
                           for ball, (lr, m) in zip(balls, cells)], lr=cells[0][0])
    paths = np.full((steps + 1, len(cells)), np.nan)
    paths[0] = start
    alive = np.ones(len(cells), dtype=bool)
    for t in range(1, steps + 1):
        with torch.no_grad():
            x = torch.cat(balls)
        x.requires_grad_(True)
        landscape(x).sum().backward()
        for k, ball in enumerate(balls):
            ball.grad = x.grad[k:k + 1]
        opt.step()
        with torch.no_grad():
            now = torch.cat(balls).numpy()
        alive &= np.isfinite(now)
        paths[t, alive] = now[alive]
    for k, path in enumerate(paths.T):
        out[k // len(momenta), k % len(momenta)] = outcome(path)
    return out


def _height(x) -> np.ndarray:
    with torch.no_grad():
        return landscape(torch.tensor(np.asarray(x, dtype=np.float64))).numpy()


def plot_ball(ax_land, ax_time, paths: dict[str, np.ndarray], colors: dict[str, str] | None = None):
    """Draw the landscape with each path's positions on ``ax_land`` and position against step
    on ``ax_time`` (label -> path of shape (T,)). Marks the plateau and both minima.
    Used by chapter 5."""
    xs, ys = landscape_curve()
    ax_land.plot(xs, ys, color="0.3", linewidth=1.5)
    ax_land.axvspan(*PLATEAU, color="0.9", zorder=0)
    ax_land.text(np.mean(PLATEAU), 1.3, "plateau", ha="center", fontsize=8, color="0.4")
    for label, x in (("shallow\nminimum", SHALLOW_MIN), ("deep\nminimum", DEEP_MIN)):
        ax_land.annotate(label, (x, float(_height(x))), xytext=(0, -26),
                         textcoords="offset points", ha="center", fontsize=8, color="0.4")
    for i, (label, path) in enumerate(paths.items()):
        color = (colors or {}).get(label, f"C{i}")
        path = np.asarray(path, dtype=np.float64)
        finite = path[np.isfinite(path)]
        ax_land.plot(finite, _height(finite), ".", color=color, markersize=3, alpha=0.5)
        ax_land.plot(finite[-1:], _height(finite[-1:]), "o", color=color, markersize=9,
                     markeredgecolor="k", label=label)
        ax_time.plot(np.arange(len(path)), path, color=color, label=label)
    ax_land.set(xlim=XLIM, ylim=(-1.3, 2.8), xlabel="parameter $w$", ylabel="loss $L(w)$")
    if paths:
        ax_land.legend(loc="upper right", fontsize=8)
    for x, name in ((SHALLOW_MIN, "shallow"), (DEEP_MIN, "deep")):
        ax_time.axhline(x, color="0.7", linestyle=":", linewidth=1)
        ax_time.annotate(f"{name} minimum ", (1.0, x), xycoords=("axes fraction", "data"),
                         ha="right", va="bottom", fontsize=8, color="0.4")
    ax_time.axhspan(*PLATEAU, color="0.9", zorder=0)
    ax_time.set(xlabel="step", ylabel="position $w$", ylim=XLIM)


# --------------------------------------------------------------------------------------------
# Saddle points and random critical points
# --------------------------------------------------------------------------------------------


def _saddle(w: torch.Tensor) -> torch.Tensor:
    w1, w2 = w[..., 0], w[..., 1]
    return 0.5 * w1 ** 2 + 0.25 * w2 ** 4 - 0.5 * w2 ** 2


#: 0.5 w1^2 + 0.25 w2^4 - 0.5 w2^2: a saddle point at the origin (a minimum along w1, a
#: maximum along w2) between two minima at (0, +1) and (0, -1). Starting almost on the w2 = 0
#: ridge, gradient descent slides to the saddle and lingers there: the gradient's w2 part is
#: tiny and grows only by a factor (1 + lr) per step.
SADDLE = Surface(
    "saddle", _saddle, xlim=(-2.5, 2.5), ylim=(-1.5, 1.5), start=(-2.2, 1e-3), minimum=(0.0, 1.0),
    levels=(-0.24, -0.2, -0.12, -0.05, 0.0, 0.1, 0.3, 0.6, 1.0, 1.6, 2.4),
    description="a saddle at (0, 0) between minima at (0, 1) and (0, -1)")

#: the four optimizers of the side-by-side demo, in drawing order.
RACE = ("sgd", "momentum", "rmsprop", "adam")


def race(surface: str | Surface, lr_sgd: float, lr_adaptive: float, steps: int,
         momentum: float = 0.9, start=None,
         optimizers: Sequence[str] = RACE) -> dict[str, np.ndarray]:
    """Trajectories (each of shape (steps + 1, 2)) of ``optimizers`` on ``surface``, by name.

    SGD and SGD with momentum use ``lr_sgd``; RMSProp, Adagrad and Adam use ``lr_adaptive``.
    The two are kept apart because they mean different things: an SGD step is lr times the
    gradient, an adaptive step is about lr whatever the gradient's size. ``momentum`` is the
    momentum of ``"momentum"``; everything else uses PyTorch's defaults.
    Used by chapter 5.
    """
    out = {}
    for name in optimizers:
        if name in ("sgd", "momentum", "nesterov"):
            kwargs = {"momentum": momentum} if name != "sgd" else {}
            out[name] = trajectory(surface, name, lr_sgd, steps, start, **kwargs)
        else:
            out[name] = trajectory(surface, name, lr_adaptive, steps, start)
    return out


def cached_race(surface: str | Surface, lr_sgd: float, lr_adaptive: float, steps: int,
                momentum: float = 0.9) -> dict[str, np.ndarray]:
    """:func:`race` of the four :data:`RACE` optimizers, each trajectory computed once per
    setting that affects it (moving the momentum reruns only ``"momentum"``): read-only
    arrays, the same as :func:`race` returns. Used by chapter 5."""
    out = {}
    for name in RACE:
        lr = float(lr_sgd if name in ("sgd", "momentum") else lr_adaptive)
        out[name] = _race_path(surface, name, lr, int(steps),
                               float(momentum) if name == "momentum" else 0.0)
    return out


@functools.lru_cache(maxsize=256)
def _race_path(surface: str | Surface, name: str, lr: float, steps: int,
               momentum: float) -> np.ndarray:
    path = race(surface, lr, lr, steps, momentum=momentum, optimizers=(name,))[name]
    path.flags.writeable = False
    return path


def saddle_escape_step(path: np.ndarray, threshold: float = 0.5) -> int | None:
    """The first step at which a path on :data:`SADDLE` has |w2| >= ``threshold`` (it has left
    the saddle towards a minimum), or ``None`` if it never does. Used by chapter 5."""
    w2 = np.abs(np.asarray(path, dtype=np.float64)[:, 1])
    hits = np.nonzero(w2 >= threshold)[0]
    return int(hits[0]) if len(hits) else None


def minimum_fraction(dims: Sequence[int], samples: int = 20000, seed: int = 0) -> np.ndarray:
    """Fraction of random symmetric matrices that are positive definite, per dimension.

    A critical point is a minimum only if the Hessian there curves upwards in *every*
    direction (all eigenvalues positive). Each sample is a (d, d) matrix (A + A^T) / 2 with
    standard normal A (the Gaussian orthogonal ensemble); returns shape (len(dims),).
    Used by chapter 5.
    """
    gen = torch.Generator().manual_seed(seed)
    out = []
    for d in dims:
        a = torch.randn(samples, d, d, generator=gen, dtype=torch.float64)
        eig = torch.linalg.eigvalsh((a + a.transpose(1, 2)) / 2)
        out.append((eig.min(dim=1).values > 0).double().mean().item())
    return np.asarray(out)


# --------------------------------------------------------------------------------------------
# Adam's moment estimates, read from torch.optim.Adam
# --------------------------------------------------------------------------------------------


def adam_moments(grads, betas: tuple[float, float] = (0.9, 0.999)) -> dict[str, np.ndarray]:
    """Feed the gradient stream ``grads`` (shape (T,) or (T, D)) to ``torch.optim.Adam`` and
    read its moment estimates after every step from the optimizer's own state.

    Returns ``{"m": ..., "v": ...}``, each of shape ``grads.shape``: torch's ``exp_avg`` and
    ``exp_avg_sq``, the decaying averages of g and g^2, which start at zero (Adam divides them
    by 1 - beta^t only when it computes the step; the state itself is uncorrected).
    Used by chapter 5.
    """
    grads = np.asarray(grads, dtype=np.float64)
    flat = grads.reshape(len(grads), -1)
    p = torch.zeros(flat.shape[1], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=1e-3, betas=betas)
    m, v = np.zeros_like(flat), np.zeros_like(flat)
    for t, g in enumerate(flat):
        p.grad = torch.tensor(g)
        opt.step()
        m[t] = opt.state[p]["exp_avg"].numpy()
        v[t] = opt.state[p]["exp_avg_sq"].numpy()
    return {"m": m.reshape(grads.shape), "v": v.reshape(grads.shape)}


# --------------------------------------------------------------------------------------------
# Adam against SGD on the digits MLP (after Kingma & Ba 2015, section 6.2)
# --------------------------------------------------------------------------------------------

#: the optimizers of the digits experiment (``dltips.optimizers.OPTIMIZERS`` names).
SWEEP_OPTIMIZERS = ("sgd", "nesterov", "adagrad", "rmsprop", "adam")
#: the learning-rate grid searched for each optimizer: it brackets every optimizer's good rates
#: on both sides in chapter 5's 8-epoch sweep (1e-4 was dropped from it: below 3e-4 no
#: optimizer trains there, and each run costs as much as any other).
SWEEP_LRS = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1)


def optimizer_sweep(optimizers: Sequence[str] = SWEEP_OPTIMIZERS,
                    lrs: Sequence[float] = SWEEP_LRS, epochs: int = 15, depth: int = 2,
                    width: int = 128, batch_size: int = 64, seed: int = 0,
                    split: Split | None = None) -> dict[tuple[str, float], History]:
    """Train the same seeded ReLU MLP on digits with every optimizer and learning rate.

    Returns ``{(optimizer name, lr): History}``; every run starts from identical weights and
    sees the same batches. ``optimizers`` are names of :data:`dltips.optimizers.OPTIMIZERS`
    (``"nesterov"`` is SGD with Nesterov momentum 0.9) with PyTorch's default settings.
    Used by chapter 5.
    """
    split = split if split is not None else digits(seed=seed)
    results = {}
    for name in optimizers:
        for lr in lrs:
            model = mlp(split.n_features, split.n_classes, depth=depth, width=width,
                        activation="relu", seed=seed)
            opt = make_optimizer(model.parameters(), name, lr)
            results[(name, float(lr))] = fit(model, split, epochs, opt, batch_size=batch_size,
                                             seed=seed)
    return results


def mean_train_loss(history: History) -> float:
    """The training loss averaged over the epochs (the area under the training curve, which
    rewards fast progress), or +inf if any epoch's loss is not finite (the run diverged).
    Used by chapter 5."""
    losses = np.asarray(history.train_loss, dtype=np.float64)
    return float(losses.mean()) if losses.size and np.all(np.isfinite(losses)) else float("inf")


def best_runs(results: dict[tuple[str, float], History]) -> dict[str, tuple[float, History]]:
    """For each optimizer, the learning rate whose run has the lowest :func:`mean_train_loss`,
    and that run: ``{name: (lr, History)}``, in the order the optimizers first appear.
    Used by chapter 5."""
    best: dict[str, tuple[float, History]] = {}
    for (name, lr), history in results.items():
        if name not in best or mean_train_loss(history) < mean_train_loss(best[name][1]):
            best[name] = (lr, history)
    return best


# --------------------------------------------------------------------------------------------
# Momentum on an ill-conditioned quadratic
# --------------------------------------------------------------------------------------------


def tuned_quadratic_settings(kappa: float, largest: float = 1.0) -> dict[str, float]:
    """The best constant settings of gradient descent and of heavy-ball momentum on a quadratic
    whose curvatures (Hessian eigenvalues) lie in ``[largest / kappa, largest]``, and the
    factor by which each shrinks the distance to the minimum per step in the worst direction.

    Gradient descent: learning rate ``2 / (L + mu)``, rate ``(kappa - 1) / (kappa + 1)``.
    Momentum (Polyak 1964; ``torch.optim.SGD(lr, momentum)`` is the same iteration): learning
    rate ``4 / (sqrt(L) + sqrt(mu))**2`` and momentum ``((sqrt(kappa) - 1) / (sqrt(kappa) + 1))**2``,
    rate ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)``. Returns a dict with keys ``gd_lr``,
    ``gd_rate``, ``momentum_lr``, ``momentum`` and ``momentum_rate``. Used by chapter 5.
    """
    if kappa < 1 or largest <= 0:
        raise ValueError(f"need kappa >= 1 and largest > 0, got kappa={kappa}, largest={largest}")
    smallest = largest / kappa
    root = (np.sqrt(kappa) - 1) / (np.sqrt(kappa) + 1)
    return {"gd_lr": 2 / (largest + smallest), "gd_rate": (kappa - 1) / (kappa + 1),
            "momentum_lr": float(4 / (np.sqrt(largest) + np.sqrt(smallest)) ** 2),
            "momentum": float(root ** 2), "momentum_rate": float(root)}


def quadratic_distances(kappa: float, lr: float, momentum: float, steps: int,
                        until: float | None = None) -> np.ndarray:
    """Distance to the minimum of ``L(w) = (w1**2 / kappa + w2**2) / 2`` (condition number
    ``kappa``) after each of ``steps`` steps of ``torch.optim.SGD(lr=lr, momentum=momentum)``
    from ``w = (1, 1)``: shape ``(steps + 1,)``, entry 0 being ``sqrt(2)``. The gradient
    ``(w1 / kappa, w2)`` is written into ``w.grad`` directly (it is exact), in float64. With
    ``until``, stops early once the distance is at most ``until`` times the first one (the
    array is then shorter). Used by chapter 5.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, got {steps}")
    curvature = torch.tensor([1.0 / kappa, 1.0], dtype=torch.float64)
    w = torch.ones(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr, momentum=momentum)
    distances = np.empty(steps + 1)
    distances[0] = w.detach().norm().item()
    for t in range(1, steps + 1):
        w.grad = curvature * w.detach()
        opt.step()
        distances[t] = w.detach().norm().item()
        if until is not None and distances[t] <= until * distances[0]:
            return distances[:t + 1]
    return distances


def steps_to_shrink(distances: np.ndarray, factor: float = 1e-6) -> int | None:
    """The first step at which the distance is at most ``factor`` times its start, or ``None``
    if it never is. Used by chapter 5."""
    below = np.nonzero(np.asarray(distances) <= factor * distances[0])[0]
    return int(below[0]) if len(below) else None


def conditioning_sweep(kappas: Sequence[float], factor: float = 1e-6) -> dict[str, np.ndarray]:
    """For each condition number, the steps that tuned gradient descent and tuned momentum
    (:func:`tuned_quadratic_settings`) need to shrink the distance to the minimum of the
    :func:`quadratic_distances` bowl by ``factor``, measured, and what their worst-direction
    rates predict, ``log(factor) / log(rate)``. Returns arrays of shape ``(len(kappas),)``
    under the keys ``kappa``, ``gd``, ``momentum``, ``gd_predicted``, ``momentum_predicted``.
    Used by chapter 5.
    """
    out = {key: np.zeros(len(kappas)) for key in
           ("kappa", "gd", "momentum", "gd_predicted", "momentum_predicted")}
    for i, kappa in enumerate(kappas):
        s = tuned_quadratic_settings(kappa)
        out["kappa"][i] = kappa
        for name, lr, mu, rate in [("gd", s["gd_lr"], 0.0, s["gd_rate"]),
                                   ("momentum", s["momentum_lr"], s["momentum"],
                                    s["momentum_rate"])]:
            predicted = np.log(factor) / np.log(rate) if rate > 0 else 1.0
            distances = quadratic_distances(kappa, lr, mu, int(3 * predicted) + 10, until=factor)
            found = steps_to_shrink(distances, factor)
            out[name][i] = np.nan if found is None else found
            out[f"{name}_predicted"][i] = predicted
    return out
