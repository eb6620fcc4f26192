"""Chapter 3: ReLU, its variants, maxout and pooling.

Everything here is computed with PyTorch (its layers, ``torch.nn.functional`` and autograd),
never with a hand-written forward/backward pass: those are the chapter's exercise. The demos'
functions work on the chapter's own grid and example, not on arbitrary inputs, so none of them
stands in for an exercise function.

- ``activation_curve``       an activation and its derivative on the picker's grid
- ``relu_from_sigmoids``     a sum of shifted sigmoids, which approaches softplus and ReLU
- ``maxout_curve``           a one-input maxout unit's activation from its pieces' w and b
- ``tangent_pieces``         maxout pieces that approximate a convex function by tangents
- ``relu_activation_pattern`` which ReLU units of a network are active for each input
- ``piecewise_linear_view``  a one-input ReLU network: output, slope, active units, kinks
- ``pool_gradients``         what max and average pooling send back on the chapter's example
- ``train_depths``           MLPs with any of these activations (PReLU and maxout included)
  trained on digits with one budget, by depth
- ``dead_unit_fraction``     fraction of ReLU units that output 0 on every input
- ``train_maxout_regression``, ``maxout_unit_curves``, ``maxout_pieces_used``  the
  learned-activation experiment
  (Goodfellow et al. 2013), with :class:`dltips.models.Maxout`
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split, digits, noisy_regression
from ..initialisation import initialise
from ..models import Maxout, activation_layer, hidden_outputs, mlp
from ..training import fit, train, train_accuracy

#: activations of the picker demo; ``alpha`` is the slope / scale of the negative side
PICKER_ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu", "sigmoid", "tanh")


#: the picker's grid of z values
PICKER_GRID = (-4.0, 4.0, 801)


def activation_curve(name: str, alpha: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The activation ``name`` and its derivative on the picker's grid (:data:`PICKER_GRID`).

    Values come from PyTorch's layer (:func:`dltips.models.activation_layer`), derivatives
    from autograd, so at a kink (z = 0) the derivative is PyTorch's convention: the slope of
    the negative side. ``alpha`` is the negative-side slope of leaky ReLU and PReLU and the
    scale of ELU; the other activations ignore it. Returns ``(z, a, da, slope_at_zero)``: three
    float64 arrays of shape (801,) and the derivative at exactly z = 0. Used by chapter 3.
    """
    if name not in PICKER_ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {PICKER_ACTIVATIONS}")
    layer = activation_layer(name, 1, alpha, dtype=torch.float64)

    def curve(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        zt = torch.tensor(z, requires_grad=True)
        out = layer(zt)
        (grad,) = torch.autograd.grad(out.sum(), zt)
        return out.detach().numpy(), grad.numpy()

    z = np.linspace(*PICKER_GRID)
    a, da = curve(z)
    return z, a, da, float(curve(np.array([0.0]))[1][0])


def relu_from_sigmoids(z, n_sigmoids: int) -> np.ndarray:
    """sum_{i=0}^{n-1} sigmoid(z - i - 1/2) at the points ``z``: copies of one sigmoid, each with
    its bias shifted by one. As n grows this approaches softplus log(1 + e^z), which is close to
    ReLU away from 0 (Nair & Hinton 2010). Returns a float64 array shaped like ``z``.
    Used by chapter 3."""
    if n_sigmoids < 1:
        raise ValueError(f"need at least one sigmoid, got n_sigmoids={n_sigmoids}")
    zt = torch.as_tensor(np.asarray(z, dtype=np.float64))
    shifts = torch.arange(n_sigmoids, dtype=torch.float64) + 0.5
    return torch.sigmoid(zt[..., None] - shifts).sum(-1).numpy()


def maxout_curve(x, w, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A maxout unit with one input and K pieces, evaluated at the points ``x`` (shape (N,)).

    Piece k is the line z_k = w[k] * x + b[k]; the unit outputs max_k z_k. Returns
    ``(a, pieces, chosen)``: the activation (N,), every piece (N, K) and the index of the
    winning piece (N,), the only one that would receive gradient.
    Used by chapter 3.
    """
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64))
    wt = torch.as_tensor(np.asarray(w, dtype=np.float64)).reshape(-1)
    bt = torch.as_tensor(np.asarray(b, dtype=np.float64)).reshape(-1)
    if wt.shape != bt.shape:
        raise ValueError(f"w and b need one entry per piece, got {tuple(wt.shape)} and "
                         f"{tuple(bt.shape)}")
    pieces = xt[:, None] * wt + bt
    a, chosen = pieces.max(dim=1)
    return a.numpy(), pieces.numpy(), chosen.numpy()


def tangent_pieces(f: Callable[[np.ndarray], np.ndarray], df: Callable[[np.ndarray], np.ndarray],
                   points) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and intercepts (w, b) of the tangents of ``f`` at ``points``.

    For a convex f the maximum of its tangents lies below f and touches it at every point, so a
    maxout unit with these pieces approximates f better the more pieces it has.
    Used by chapter 3.
    """
    p = np.asarray(points, dtype=np.float64)
    w = df(p)
    return w, f(p) - w * p


def relu_activation_pattern(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Which ReLU units of ``model`` are active (output > 0) for each row of ``x``.

    Returns a bool tensor (N, total ReLU units), layers concatenated from input to output.
    Inputs that share a row of this pattern see the same linear network: the "thin linear
    network" of active units.
    Used by chapter 3, through :func:`piecewise_linear_view`.
    """
    active = [h > 0 for h in _relu_outputs(model, x)]
    if not active:
        raise ValueError("the model has no nn.ReLU layer")
    return torch.cat(active, dim=1)


def _relu_outputs(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    with torch.no_grad():
        return hidden_outputs(model, x, nn.ReLU)[0]


def piecewise_linear_view(model: nn.Sequential, x) -> dict[str, np.ndarray]:
    """A ReLU network with one input and one output, seen along the points ``x`` (N,), sorted.

    Returns ``f`` (N,) the output, ``slope`` (N,) df/dx by autograd, ``active`` (N,) how many
    ReLU units are on, and ``kinks``: the x where the set of active units changes (midpoints
    between neighbouring grid points). Between two kinks the network is one linear function.
    Used by chapter 3.
    """
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1).requires_grad_(True)
    f = model(xt)[:, 0]
    (slope,) = torch.autograd.grad(f.sum(), xt)
    pattern = relu_activation_pattern(model, xt.detach())
    change = (pattern[1:] != pattern[:-1]).any(dim=1).numpy()
    grid = xt.detach().numpy()[:, 0]
    return {"f": f.detach().double().numpy(), "slope": slope[:, 0].double().numpy(),
            "active": pattern.sum(dim=1).numpy(),
            "kinks": ((grid[1:] + grid[:-1]) / 2)[change]}


#: the pooling figure's 4 x 4 image (its top-right window has a tie) and upstream gradient
POOL_IMAGE = np.array([[1.0, 2.0, 5.0, 5.0],
                       [3.0, 4.0, 1.0, 0.0],
                       [0.0, -1.0, 2.0, 2.0],
                       [-2.0, -3.0, 2.0, 7.0]])
POOL_UPSTREAM = np.array([[1.0, 2.0], [3.0, 4.0]])


def pool_gradients() -> dict[str, np.ndarray]:
    """Max and average pooling of :data:`POOL_IMAGE` over 2 x 2 windows, and the gradient each
    sends back for the upstream gradient :data:`POOL_UPSTREAM`, by ``F.max_pool2d`` /
    ``F.avg_pool2d`` and autograd. Returns 2-D arrays ``max_out``, ``max_dx``, ``avg_out``,
    ``avg_dx``. Used by chapter 3.
    """
    xt = torch.tensor(POOL_IMAGE[None, None], requires_grad=True)
    g = torch.as_tensor(POOL_UPSTREAM)[None, None]
    result = {}
    for kind, pool in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        out = pool(xt, 2)
        (dx,) = torch.autograd.grad(out, xt, g)
        result[f"{kind}_out"] = out.detach().numpy()[0, 0]
        result[f"{kind}_dx"] = dx.numpy()[0, 0]
    return result


#: the depth experiment's networks: label -> (activation, initialisation scheme)
DEPTH_CONFIGS = {
    "sigmoid (Xavier init)": ("sigmoid", "xavier"),
    "ReLU (He init)": ("relu", "he"),
    "ReLU (PyTorch default init)": ("relu", "default"),
}


def train_depths(depths, configs: dict[str, tuple[str, str]] | None = None, epochs: int = 20,
                 lr: float = 0.1, width: int = 64, batch_size: int = 64, seed: int = 0,
                 split: Split | None = None) -> dict[str, dict[int, dict]]:
    """Train one MLP per (configuration, depth) on digits with the same budget and plain SGD.

    ``configs`` maps a label to ``(activation, init scheme)`` (default ``DEPTH_CONFIGS``).
    Returns ``{label: {depth: {"train_acc": float, "history": History, "model": model}}}``;
    ``train_acc`` is measured in eval mode on the whole training set after the last epoch.
    Used by chapter 3.
    """
    split = split or digits(seed=seed)
    configs = configs or DEPTH_CONFIGS
    results: dict[str, dict[int, dict]] = {}
    for label, (act, scheme) in configs.items():
        results[label] = {}
        for depth in depths:
            model = initialise(mlp(split.n_features, split.n_classes, depth, width, act,
                                   seed=seed), scheme, seed)
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            history = fit(model, split, epochs, opt, batch_size=batch_size, seed=seed)
            results[label][depth] = {
                "train_acc": train_accuracy(model, split),
                "history": history, "model": model}
    return results


def dead_unit_fraction(model: nn.Sequential, x: torch.Tensor) -> list[float]:
    """For each ReLU layer of ``model``, the fraction of its units that output 0 on every row of
    ``x``: "dead" units, which pass no gradient to their weights for any of these inputs.
    Used by chapter 3."""
    outputs = _relu_outputs(model, x)
    if not outputs:
        raise ValueError("the model has no nn.ReLU layer")
    return [(~(h > 0).any(dim=0)).float().mean().item() for h in outputs]


def train_maxout_regression(hidden: int = 6, pieces: int = 4, steps: int = 1500,
                            lr: float = 0.02, n: int = 200, noise: float = 0.1,
                            seed: int = 0) -> tuple[nn.Sequential, np.ndarray, np.ndarray, list]:
    """Fit y = sin(3x) + noise on [-1, 1] with a one-hidden-layer maxout network (full batch,
    Adam, mean squared error).

    The hidden layer is ``Maxout(1, hidden, pieces)``: each unit's activation is a convex
    piecewise-linear function of the scalar input, learned from the data. Returns
    ``(model, x, y, losses)`` with x (n,), y (n,) and the loss of every step.
    Used by chapter 3.
    """
    x, y = noisy_regression(n=n, noise=noise, seed=seed)
    model = mlp(1, 1, depth=1, width=hidden, activation="maxout", seed=seed, pieces=pieces)
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)[:, None]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses: list[float] = []
    train(model, xt, yt, F.mse_loss, opt, steps, after_step=lambda loss: losses.append(loss.item()))
    return model, x[:, 0], y, losses


def maxout_unit_curves(layer: Maxout, x) -> tuple[np.ndarray, np.ndarray]:
    """A one-input maxout layer's units evaluated at the points ``x`` (N,).

    Returns ``(a, pieces)``: each unit's activation (N, units) and every piece (N, units, K).
    Used by chapter 3.
    """
    if layer.linear.in_features != 1:
        raise ValueError("maxout_unit_curves needs a layer with a single input feature")
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1)
    with torch.no_grad():
        pieces = layer.pieces_of(xt)
        return pieces.amax(dim=2).double().numpy(), pieces.double().numpy()


def maxout_pieces_used(layer: Maxout, x) -> list[dict[str, list]]:
    """Which pieces of each unit of a one-input maxout layer win somewhere on the points ``x``.

    For every unit, left to right along the sorted ``x`` (N,): ``"pieces"``, the indices of the
    pieces that are the maximum somewhere (each run of one winner listed once), ``"slopes"``,
    those pieces' slopes, and ``"kinks"``, the midpoints between the neighbouring points of
    ``x`` where the winner changes. A piece that never wins on ``x`` receives no gradient from
    these inputs: it is *dead* there. Used by chapter 3.
    """
    xs = np.sort(np.asarray(x, dtype=np.float64).ravel())
    _, pieces = maxout_unit_curves(layer, xs)
    _, ends = maxout_unit_curves(layer, np.array([0.0, 1.0]))
    slopes = ends[1] - ends[0]  # (units, K): each piece's rise from x = 0 to x = 1
    summary = []
    for unit in range(pieces.shape[1]):
        winner = pieces[:, unit, :].argmax(axis=1)
        change = np.nonzero(np.diff(winner))[0]
        order = [int(winner[0])] + [int(winner[i + 1]) for i in change]
        summary.append({"pieces": order, "slopes": [float(slopes[unit, k]) for k in order],
                        "kinks": [float((xs[i] + xs[i + 1]) / 2) for i in change]})
    return summary
