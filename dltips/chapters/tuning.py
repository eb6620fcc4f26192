"""Chapter 11: tuning - learning-rate schedules and hyper-parameter search.

- :func:`noisy_quadratic` runs SGD with a noisy gradient on a one-dimensional quadratic, many
  chains at once, with a constant or decaying learning rate: the noise floor and its size;
- :func:`train_with_schedule` trains the chapter's small network on noisy regression data with
  SGD and one of the :data:`SCHEDULES` (PyTorch's ``torch.optim.lr_scheduler``), recording the
  learning rate and the training loss per epoch (the schedule picker and the experiment);
- :func:`grid_vs_random` places a grid and random points of the same budget on a synthetic
  function of two hyper-parameters of which only one matters (Bergstra & Bengio 2012, Fig. 1);
- :func:`digits_score`, :func:`grid_configs` and :func:`random_configs` are the search
  experiment on the digits: the validation loss of a small network for one learning rate and
  weight decay, and the configurations a grid and a random search of the same budget try.

Every function builds its own problem, network and search ranges; the schedules are PyTorch's
schedulers with parameters fixed here, and the random configurations are drawn by SciPy. Nothing
here takes a base rate and an epoch, a range and a generator, or an objective and a search
space, so nothing answers the chapter's exercise.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from scipy import stats
from torch import nn

from ..data import digits, regression_tensors
from ..models import mlp
from ..training import train

#: the schedules of the picker and the experiment; their parameters are fixed in
#: :func:`_scheduler` (step: x0.3 every quarter of the run; cosine: down to 0 at the end;
#: warmup: a linear warm-up over the first tenth of the run, then cosine).
SCHEDULES = ("constant", "step", "cosine", "warmup")

#: the base learning rates of the schedule picker and experiment (the only ones
#: :func:`train_with_schedule` accepts).
BASE_RATES = (0.05, 0.1, 0.2, 0.4)

#: the learning-rate and weight-decay ranges of the digits search (log scales).
LR_RANGE = (1e-3, 10.0)
WD_RANGE = (1e-6, 1e-2)


def _scheduler(name: str, optimizer: torch.optim.Optimizer, total: int):
    """PyTorch's scheduler for ``name`` over ``total`` scheduler steps (None for constant)."""
    sched = torch.optim.lr_scheduler
    if name == "constant":
        return None
    if name == "step":
        return sched.StepLR(optimizer, step_size=max(1, total // 4), gamma=0.3)
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=total - 1)
    if name == "warmup":
        warm = max(2, total // 10)
        return sched.SequentialLR(optimizer, [
            sched.LinearLR(optimizer, start_factor=1 / warm, end_factor=1.0, total_iters=warm - 1),
            sched.CosineAnnealingLR(optimizer, T_max=total - 1 - warm)], milestones=[warm])
    raise ValueError(f"unknown schedule {name!r}; choose one of {SCHEDULES}")


@dataclass
class QuadraticRun:
    """What :func:`noisy_quadratic` records: ``loss`` (steps + 1,) the loss a/2 w^2 averaged over
    the chains before every step and after the last, and ``floor`` the stationary mean loss of
    the constant base rate lr, lr sigma^2 / (2 (2 - lr a)). Used by chapter 11."""

    loss: np.ndarray
    floor: float


def noisy_quadratic(lr: float, schedule: str = "constant", steps: int = 300, chains: int = 2000,
                    a: float = 1.0, sigma: float = 1.0, w0: float = 3.0,
                    seed: int = 0) -> QuadraticRun:
    """SGD on the loss a/2 w^2 with the stochastic gradient a w + sigma xi (xi standard normal,
    a fresh draw per step and chain), from w = ``w0``, for ``chains`` independent chains at once:
    ``torch.optim.SGD`` with learning rate ``lr`` and the schedule ``schedule`` of
    :data:`SCHEDULES` over ``steps`` steps. With a constant rate the mean loss settles at
    lr sigma^2 / (2 (2 - lr a)), proportional to the rate. Used by chapter 11."""
    g = torch.Generator().manual_seed(seed)
    w = torch.full((chains,), float(w0), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    sch = _scheduler(schedule, opt, steps)
    loss = [float((a / 2 * w.detach() ** 2).mean())]
    for _ in range(steps):
        w.grad = a * w.detach() + sigma * torch.randn(chains, generator=g, dtype=torch.float64)
        opt.step()
        if sch is not None:
            sch.step()
        loss.append(float((a / 2 * w.detach() ** 2).mean()))
    return QuadraticRun(np.array(loss), lr * sigma ** 2 / (2 * (2 - lr * a)))


@dataclass
class ScheduleRun:
    """What :func:`train_with_schedule` records, one entry per epoch: ``lrs`` the learning rate
    used in the epoch, ``train_loss`` the mean squared error on the whole training set after it
    (inf once the run has diverged). Used by chapter 11."""

    schedule: str
    lrs: np.ndarray
    train_loss: np.ndarray

    @property
    def final(self) -> float:
        """The training loss after the last epoch."""
        return float(self.train_loss[-1])

    @property
    def diverged(self) -> bool:
        return not np.isfinite(self.train_loss).all()


def train_with_schedule(schedule: str, lr: float = 0.2, epochs: int = 40, batch_size: int = 16,
                        seed: int = 0) -> ScheduleRun:
    """Train a small tanh network (1 input, two hidden layers of 32, 1 output) on 256 noisy
    points of sin(3x) (:func:`dltips.data.regression_tensors`, noise 0.3, so the lowest
    reachable loss is near 0.09) with plain SGD, base learning rate ``lr``, mini-batches of
    ``batch_size`` and the schedule ``schedule`` of :data:`SCHEDULES`, stepped once per epoch;
    ``lr`` is one of the chapter's :data:`BASE_RATES`. The data, the initial weights and the batch order depend only on ``seed``, so runs with
    different schedules differ only by their learning rates. Used by chapter 11."""
    if lr not in BASE_RATES:
        raise ValueError(f"the chapter's base rates are {BASE_RATES}, got {lr}")
    x, y = regression_tensors(n=256, seed=seed)
    model = mlp(1, 1, depth=2, width=32, activation="tanh", seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    sch = _scheduler(schedule, opt, epochs)
    lrs, losses = [opt.param_groups[0]["lr"]], []

    def after_epoch():
        with torch.no_grad():
            value = F.mse_loss(model(x), y).item()
        losses.append(value if np.isfinite(value) else np.inf)
        if sch is not None:
            sch.step()
        lrs.append(opt.param_groups[0]["lr"])

    train(model, x, y, nn.MSELoss(), opt, epochs, batch_size=batch_size, seed=seed,
          after_epoch=after_epoch)
    return ScheduleRun(schedule, np.array(lrs[:-1]), np.array(losses))


def _important(x: np.ndarray) -> np.ndarray:
    """The synthetic parameter that matters: a narrow valley at 0.71 on [0, 1], values 0..1."""
    return 1.0 - np.exp(-((x - 0.71) / 0.09) ** 2) - 0.25 * np.exp(-((x - 0.3) / 0.12) ** 2)


def _unimportant(y: np.ndarray) -> np.ndarray:
    """The synthetic parameter that barely matters, values 0..1 before its weight."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * y)


@dataclass
class GridVsRandom:
    """The points of :func:`grid_vs_random`, each (budget, 2) in [0, 1]^2, their objective
    values (budget,), and the best value each search found. ``curve_x`` (200,) with
    ``important``/``unimportant`` are the two parameters' own effects, for the marginals.
    Used by chapter 11."""

    grid: np.ndarray
    random: np.ndarray
    grid_values: np.ndarray
    random_values: np.ndarray
    curve_x: np.ndarray
    important: np.ndarray
    unimportant: np.ndarray
    weight: float

    @property
    def grid_best(self) -> float:
        return float(self.grid_values.min())

    @property
    def random_best(self) -> float:
        return float(self.random_values.min())


def _box(centre: np.ndarray, side: float) -> tuple[np.ndarray, np.ndarray]:
    """The square of the given side around ``centre``, shifted to lie inside [0, 1]^2."""
    low = np.clip(centre - side / 2, 0.0, 1.0 - side)
    return low, low + side


def grid_vs_random(budget: int = 9, seed: int = 0, weight: float = 0.05,
                   zoom: bool = False) -> GridVsRandom:
    """Bergstra & Bengio's (2012) Figure 1 as numbers: a grid of ``budget`` points (a k x k grid,
    k = round(sqrt(budget)), at the cell centres) and ``budget`` uniform random points (seeded by
    ``seed``) in the unit square, scored by the chapter's synthetic objective
    f(x, y) = g(x) + ``weight`` h(y), lower is better: x matters, y barely. The grid tries only k
    distinct values of x; the random points try ``budget``. With ``zoom``, each search spends a
    second round of the same budget, coarse to fine, in the square of a third of the side around
    its own best point (the same k x k grid, or uniform points, in that square); the points and
    values of both rounds are returned, first round first. Used by chapter 11."""
    k = max(1, int(round(np.sqrt(budget))))
    centres = (np.arange(k) + 0.5) / k
    grid = np.array([(x, y) for x in centres for y in centres])
    rng = np.random.default_rng(seed)
    rand = rng.random((len(grid), 2))
    score = lambda p: _important(p[:, 0]) + weight * _unimportant(p[:, 1])  # noqa: E731
    if zoom:
        low, high = _box(grid[np.argmin(score(grid))], 1 / 3)
        grid = np.concatenate([grid, low + grid * (high - low)])
        low, high = _box(rand[np.argmin(score(rand))], 1 / 3)
        rand = np.concatenate([rand, low + rng.random((k * k, 2)) * (high - low)])
    curve = np.linspace(0, 1, 200)
    return GridVsRandom(grid, rand, score(grid), score(rand), curve, _important(curve),
                        weight * _unimportant(curve), weight)


@lru_cache(maxsize=None)
def _digits(seed: int):
    """The digits split of the search experiment, loaded once per seed (never modified)."""
    return digits(seed=seed)


@dataclass(frozen=True)
class SearchScore:
    """The result of one configuration of the digits search: validation loss (the search's
    objective; inf if training diverged), validation and test accuracy. Used by chapter 11."""

    lr: float
    weight_decay: float
    val_loss: float
    val_acc: float
    test_acc: float


def digits_score(lr: float, weight_decay: float, epochs: int = 8, seed: int = 0) -> SearchScore:
    """Train a small network on the digits (:func:`dltips.data.digits` with ``seed``; one ReLU
    layer of 32 units) with plain SGD at learning rate ``lr`` and ``weight_decay`` (PyTorch's
    L2 coefficient), mini-batches of 64 for ``epochs`` epochs; return its validation loss and
    accuracy and its test accuracy. The split, initial weights and batch order are the same
    for every configuration, so the score is a deterministic function of (lr, weight_decay).
    Used by chapter 11."""
    split = _digits(seed)
    model = mlp(split.n_features, split.n_classes, depth=1, width=32, seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=weight_decay)
    train(model, split.x_train, split.y_train, nn.CrossEntropyLoss(), opt, epochs, batch_size=64,
          seed=seed)
    model.eval()
    with torch.no_grad():
        val_logits, test_logits = model(split.x_val), model(split.x_test)
        val_loss = F.cross_entropy(val_logits, split.y_val).item()
        val_acc = (val_logits.argmax(1) == split.y_val).float().mean().item()
        test_acc = (test_logits.argmax(1) == split.y_test).float().mean().item()
    if not np.isfinite(val_loss):
        val_loss = np.inf
    return SearchScore(float(lr), float(weight_decay), val_loss, val_acc, test_acc)


def grid_configs(per_axis: int = 3) -> list[tuple[float, float]]:
    """The grid search's configurations: ``per_axis`` log-spaced values of each of
    :data:`LR_RANGE` and :data:`WD_RANGE`, end points included, every combination
    (``per_axis`` ** 2 of them, learning rate outer). Used by chapter 11."""
    lrs = np.geomspace(*LR_RANGE, per_axis)
    wds = np.geomspace(*WD_RANGE, per_axis)
    return [(float(lr), float(wd)) for lr in lrs for wd in wds]


def random_configs(n: int, seed: int) -> list[tuple[float, float]]:
    """The random search's ``n`` configurations for search number ``seed``: learning rate and
    weight decay drawn independently from SciPy's ``stats.loguniform`` on :data:`LR_RANGE` and
    :data:`WD_RANGE`. Used by chapter 11."""
    rng = np.random.default_rng(seed)
    lrs = stats.loguniform(*LR_RANGE).rvs(size=n, random_state=rng)
    wds = stats.loguniform(*WD_RANGE).rvs(size=n, random_state=rng)
    return [(float(lr), float(wd)) for lr, wd in zip(lrs, wds)]
