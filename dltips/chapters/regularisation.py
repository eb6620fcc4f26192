"""Chapter 7: L1 and L2 regularisation, weight decay, and Adam against AdamW.

- :func:`shrinkage_paths` follows three weights under the penalty alone (``torch.optim.SGD``'s
  ``weight_decay`` for L2; the L1 subgradient through autograd; the L1 proximal step
  ``torch.nn.functional.softshrink``): the per-step arithmetic behind sparsity;
- :func:`penalised_minimum` and :func:`norm_ball_minimum` give the one-weight and the 2-D
  geometric pictures of why L1's minimum sits at exact zeros and L2's does not;
- :func:`train_moons` (the demo) and :func:`lambda_sweep` (the experiment) train small MLPs with
  no penalty, L2 (decoupled decay of the weight matrices, biases left alone) or L1 (a proximal
  step on the weight matrices) and record accuracies and weights;
- :func:`adam_decay_by_gradient_scale` compares ``torch.optim.Adam(weight_decay=...)`` (L2 in
  the gradient) with ``torch.optim.AdamW`` (decoupled decay) on weights whose gradients differ
  in size.

Every function builds its own data and networks: nothing here takes a model and returns a
penalty or parameter groups (the chapter's exercise asks for those).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split, digits, moons
from ..models import mlp

#: the starting values of :func:`shrinkage_paths`: a large, a middling and a small weight.
SHRINK_STARTS = (2.0, 0.6, 0.15)
#: the norms the demo and the experiment offer.
NORMS = ("none", "L2", "L1")


def shrinkage_paths(lr: float = 0.1, lam: float = 1.0, steps: int = 30) -> dict[str, np.ndarray]:
    """Three weights (:data:`SHRINK_STARTS`) under the penalty alone, with no data gradient.

    ``"L2"``: ``torch.optim.SGD(weight_decay=lam)`` with a zero gradient, i.e. w <- (1-lr*lam) w;
    ``"L1"``: SGD on ``lam * |w|.sum()`` through autograd (the subgradient lam*sign(w));
    ``"L1 proximal"``: the proximal step ``F.softshrink(w, lr*lam)``, which stops at 0.
    Each entry has shape (steps + 1, 3), row 0 the start. Used by chapter 7.
    """
    start = torch.tensor(SHRINK_STARTS, dtype=torch.float64)
    paths = {}
    w = start.clone().requires_grad_()
    opt = torch.optim.SGD([w], lr=lr, weight_decay=lam)
    rows = [w.detach().clone()]
    for _ in range(steps):
        w.grad = torch.zeros_like(w)
        opt.step()
        rows.append(w.detach().clone())
    paths["L2"] = torch.stack(rows).numpy()
    w = start.clone().requires_grad_()
    opt = torch.optim.SGD([w], lr=lr)
    rows = [w.detach().clone()]
    for _ in range(steps):
        opt.zero_grad()
        (lam * w.abs().sum()).backward()
        opt.step()
        rows.append(w.detach().clone())
    paths["L1"] = torch.stack(rows).numpy()
    w = start.clone()
    rows = [w.clone()]
    for _ in range(steps):
        w = F.softshrink(w, lr * lam)
        rows.append(w.clone())
    paths["L1 proximal"] = torch.stack(rows).numpy()
    return paths


def penalised_minimum(lam: float, n: int = 401, limit: float = 3.0) -> dict[str, np.ndarray]:
    """Where one weight ends up when the data alone would put it at ``a``: the minimiser of
    (w - a)**2 / 2 + penalty(w), for ``a`` on a grid of ``n`` points in [-limit, limit].

    ``"L2"`` (penalty lam/2 w**2): a / (1 + lam), shrunk but never 0;
    ``"L1"`` (penalty lam |w|): ``F.softshrink(a, lam)``, exactly 0 whenever |a| <= lam.
    Returns arrays ``"a"``, ``"L2"`` and ``"L1"``, each of shape (n,). Used by chapter 7.
    """
    a = torch.linspace(-limit, limit, n, dtype=torch.float64)
    return {"a": a.numpy(), "L2": (a / (1.0 + lam)).numpy(), "L1": F.softshrink(a, lam).numpy()}


#: the quadratic data loss of the 2-D geometry figure: 1/2 (w - CENTRE)^T H (w - CENTRE).
GEOMETRY_CENTRE = np.array([2.0, 0.4])
GEOMETRY_H = np.array([[1.0, 0.3], [0.3, 1.5]])


def geometry_loss(w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
    """The 2-D quadratic data loss of the geometry figure at the points (w1, w2), any shape.
    Used by chapter 7."""
    d = np.stack([np.asarray(w1) - GEOMETRY_CENTRE[0], np.asarray(w2) - GEOMETRY_CENTRE[1]], -1)
    return 0.5 * np.einsum("...i,ij,...j->...", d, GEOMETRY_H, d)


def norm_ball_minimum(norm: str, radius: float, n: int = 20001) -> np.ndarray:
    """The point of smallest :func:`geometry_loss` on the boundary of the L1 ball (a diamond,
    |w1| + |w2| = radius) or the L2 ball (a circle) of ``radius``, found by searching ``n``
    points of the boundary; shape (2,). The data minimum lies outside both balls, so the
    constrained minimum is on the boundary. Used by chapter 7."""
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    if norm == "L2":
        pts = radius * np.stack([c, s], 1)
    elif norm == "L1":
        pts = radius * np.stack([c, s], 1) / (np.abs(c) + np.abs(s))[:, None]
    else:
        raise ValueError(f"norm must be 'L1' or 'L2', got {norm!r}")
    return pts[int(np.argmin(geometry_loss(pts[:, 0], pts[:, 1])))]


@dataclass
class RegularisedRun:
    """What :func:`train_regularised` records about one trained network.

    ``weights`` are all entries of its weight matrices (parameters with 2 or more dimensions),
    flattened, shape (n_weights,); ``first_layer`` the first weight matrix (hidden, inputs).
    Used by chapter 7."""

    norm: str
    lam: float
    train_acc: float
    test_acc: float
    weights: np.ndarray
    first_layer: np.ndarray
    model: nn.Module

    @property
    def zero_fraction(self) -> float:
        """Fraction of weights that are exactly 0."""
        return float(np.mean(self.weights == 0.0))

    def small_fraction(self, tol: float = 1e-3) -> float:
        """Fraction of weights with |w| < tol."""
        return float(np.mean(np.abs(self.weights) < tol))


def _accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return (model(x).argmax(dim=1) == y).double().mean().item()


def train_regularised(split: Split, norm: str, lam: float, depth: int = 1, width: int = 64,
                      steps: int = 300, lr: float = 0.1, momentum: float = 0.9,
                      seed: int = 0) -> RegularisedRun:
    """Train ``mlp(depth, width)`` full-batch with SGD + momentum on ``split``'s training part.

    ``norm`` is one of :data:`NORMS`. ``"L2"`` gives the weight matrices ``weight_decay=lam``
    in ``torch.optim.SGD`` and the biases 0 (the gradient of lam/2 * sum w**2); ``"L1"`` follows
    every step by the proximal step of lam * sum |w| on the weight matrices,
    ``F.softshrink(w, lr * lam)``, which sets small weights to exactly 0. The test accuracy is
    measured on ``split``'s test part. Used by chapter 7.
    """
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
    model = mlp(split.n_features, split.n_classes, depth=depth, width=width, seed=seed)
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    decay = lam if norm == "L2" else 0.0
    opt = torch.optim.SGD([{"params": matrices, "weight_decay": decay},
                           {"params": others, "weight_decay": 0.0}], lr=lr, momentum=momentum)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(split.x_train), split.y_train).backward()
        opt.step()
        if norm == "L1":
            with torch.no_grad():
                for p in matrices:
                    p.copy_(F.softshrink(p, lr * lam))
    weights = torch.cat([p.detach().reshape(-1) for p in matrices]).double().numpy()
    return RegularisedRun(norm, lam, _accuracy(model, split.x_train, split.y_train),
                          _accuracy(model, split.x_test, split.y_test), weights,
                          matrices[0].detach().double().numpy(), model)


@functools.lru_cache(maxsize=8)
def moons_split(seed: int = 0) -> Split:
    """The demo's data: 240 noisy two-moons points (noise 0.3), 120 for training, 60 for
    validation and 60 for testing. Cached: every call with the same seed returns the same
    split, which callers must not modify. Used by chapter 7."""
    return moons(n=240, noise=0.3, seed=seed)


@functools.lru_cache(maxsize=64)
def train_moons(norm: str, lam: float, seed: int = 0, steps: int = 400,
                grid: int = 120) -> tuple[RegularisedRun, dict[str, np.ndarray]]:
    """The demo: a 2-64-64-2 ReLU MLP trained on :func:`moons_split` with ``norm`` and ``lam``
    (see :func:`train_regularised`), and its decision surface: ``"x1"``, ``"x2"`` (grid, grid)
    coordinates over the data and ``"p"`` (grid, grid), the probability of class 1.
    Cached (the demo's grid and the printed table train each setting once): callers get the
    same run and arrays back and must not modify them. Used by chapter 7."""
    split = moons_split(seed)
    run = train_regularised(split, norm, lam, depth=2, width=64, steps=steps, lr=0.1,
                            momentum=0.9, seed=seed)
    allx = torch.cat([split.x_train, split.x_test])
    lo, hi = allx.min(0).values - 0.5, allx.max(0).values + 0.5
    x1, x2 = torch.meshgrid(torch.linspace(float(lo[0]), float(hi[0]), grid),
                            torch.linspace(float(lo[1]), float(hi[1]), grid), indexing="xy")
    with torch.no_grad():
        p = torch.softmax(run.model(torch.stack([x1.reshape(-1), x2.reshape(-1)], 1)), 1)[:, 1]
    return run, {"x1": x1.numpy(), "x2": x2.numpy(), "p": p.reshape(grid, grid).numpy()}


def digits_split(seed: int = 0, n_train: int = 200) -> Split:
    """The experiment's data: the digits with only ``n_train`` training examples (so that an
    unregularised MLP overfits), 20 % validation and 20 % test. Used by chapter 7."""
    return digits(seed=seed, n_train=n_train)


def lambda_sweep(norm: str, lams: list[float], seeds: tuple[int, ...] = (0,),
                 n_train: int = 200, width: int = 64, steps: int = 300,
                 lr: float = 0.1) -> dict[str, np.ndarray]:
    """The experiment: a 64-``width``-10 MLP on :func:`digits_split` for every ``lam`` and seed
    (the seed draws the split and the initialisation), trained by :func:`train_regularised`.

    Returns arrays of shape (len(lams), len(seeds)): ``"train_acc"``, ``"test_acc"``,
    ``"zero"`` (fraction of weights exactly 0), ``"small"`` (|w| < 1e-3) and ``"mean_abs"``
    (mean |w|). Used by chapter 7.
    """
    keys = ("train_acc", "test_acc", "zero", "small", "mean_abs")
    out = {k: np.zeros((len(lams), len(seeds))) for k in keys}
    for j, seed in enumerate(seeds):
        split = digits_split(seed, n_train)
        for i, lam in enumerate(lams):
            run = train_regularised(split, norm, lam, depth=1, width=width, steps=steps, lr=lr,
                                    seed=seed)
            for k, v in zip(keys, (run.train_acc, run.test_acc, run.zero_fraction,
                                   run.small_fraction(), float(np.mean(np.abs(run.weights))))):
                out[k][i, j] = v
    return out


def adam_decay_by_gradient_scale(scales: np.ndarray | None = None, lam: float = 1.0,
                                 lr: float = 1e-3, steps: int = 1000, copies: int = 64,
                                 seed: int = 0) -> dict[str, np.ndarray]:
    """Adam with L2 (``torch.optim.Adam(weight_decay=lam)``) against decoupled weight decay
    (``torch.optim.AdamW(weight_decay=lam)``) on weights whose data gradients differ in size.

    Every weight starts at 1 and gets, at every step, a data gradient of pure noise,
    ``scale * N(0, 1)``: the data has nothing to say about it, so only the decay should move it
    on average. ``copies`` weights per scale. Returns ``"scales"`` (k,) and, for ``"Adam + L2"``
    and ``"AdamW"``, the mean final |w| per scale, shape (k,); AdamW alone also
    ``"AdamW, no noise"``, the decay-only value (1 - lr*lam)**steps. Used by chapter 7.
    """
    scales = np.logspace(-4, 1, 11) if scales is None else np.asarray(scales, dtype=np.float64)
    noise_scale = torch.tensor(np.repeat(scales, copies), dtype=torch.float64)
    out: dict[str, np.ndarray] = {"scales": scales}
    for name, cls in (("Adam + L2", torch.optim.Adam), ("AdamW", torch.optim.AdamW)):
        gen = torch.Generator().manual_seed(seed)
        w = torch.ones(len(noise_scale), dtype=torch.float64, requires_grad=True)
        opt = cls([w], lr=lr, weight_decay=lam)
        for _ in range(steps):
            w.grad = noise_scale * torch.randn(len(noise_scale), generator=gen,
                                               dtype=torch.float64)
            opt.step()
        out[name] = w.detach().abs().reshape(len(scales), copies).mean(1).numpy()
    out["AdamW, no noise"] = np.full(len(scales), (1 - lr * lam) ** steps)
    return out
