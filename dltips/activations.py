"""Chapter 3: ReLU, its variants, maxout and pooling.

Everything here is computed with PyTorch (``torch.nn.functional`` and autograd), never with a
hand-written NumPy forward/backward pass: those are the chapter's exercise.

- ``activation_curve``       an activation and its derivative on a grid (the picker demo)
- ``relu_from_sigmoids``     a sum of shifted sigmoids, which approaches softplus and ReLU
- ``maxout_curve``           a one-input maxout unit's activation from its pieces' w and b
- ``tangent_pieces``         maxout pieces that approximate a convex function by tangents
- ``relu_activation_pattern`` which ReLU units of a network are active for each input
- ``piecewise_linear_view``  a one-input ReLU network: output, slope, active units, kinks
- ``pool_gradients``         what max and average pooling send back to their inputs
- ``build_mlp``, ``initialise``, ``train_depths``  MLPs with any of these activations
  (PReLU and maxout included) trained on digits with one budget, by depth
- ``dead_unit_fraction``     fraction of ReLU units that output 0 on every input
- ``Maxout``, ``train_maxout_regression``, ``maxout_unit_curves``  the learned-activation
  experiment (Goodfellow et al. 2013)
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .data import Split, digits
from .models import linear_layers, mlp
from .training import final_accuracy, fit

#: activations of the picker demo; ``alpha`` is the slope / scale of the negative side
PICKER_ACTIVATIONS = ("relu", "leaky_relu", "prelu", "elu", "sigmoid", "tanh")


def _activation(name: str, alpha: float) -> Callable[[torch.Tensor], torch.Tensor]:
    if name == "relu":
        return F.relu
    if name == "leaky_relu":
        return lambda z: F.leaky_relu(z, negative_slope=alpha)
    if name == "prelu":
        return lambda z: F.prelu(z, torch.tensor([alpha], dtype=z.dtype))
    if name == "elu":
        return lambda z: F.elu(z, alpha=alpha)
    if name == "sigmoid":
        return torch.sigmoid
    if name == "tanh":
        return torch.tanh
    raise ValueError(f"unknown activation {name!r}; choose one of {PICKER_ACTIVATIONS}")


def activation_curve(name: str, z, alpha: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """The activation ``name`` and its derivative at the points ``z`` (any shape).

    Values come from ``torch.nn.functional``, derivatives from autograd, so at a kink (z = 0)
    the derivative is PyTorch's convention: the slope of the negative side. ``alpha`` is the
    negative-side slope of leaky ReLU and PReLU and the scale of ELU; the other activations
    ignore it. Returns two float64 arrays shaped like ``z``.
    """
    fn = _activation(name, alpha)
    zt = torch.tensor(np.asarray(z, dtype=np.float64), requires_grad=True)
    out = fn(zt)
    (grad,) = torch.autograd.grad(out.sum(), zt)
    return out.detach().numpy(), grad.numpy()


def relu_from_sigmoids(z, n_sigmoids: int) -> np.ndarray:
    """sum_{i=0}^{n-1} sigmoid(z - i - 1/2) at the points ``z``: copies of one sigmoid, each with
    its bias shifted by one. As n grows this approaches softplus log(1 + e^z), which is close to
    ReLU away from 0 (Nair & Hinton 2010). Returns a float64 array shaped like ``z``."""
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
    """
    p = np.asarray(points, dtype=np.float64)
    w = df(p)
    return w, f(p) - w * p


def relu_activation_pattern(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Which ReLU units of ``model`` are active (output > 0) for each row of ``x``.

    Returns a bool tensor (N, total ReLU units), layers concatenated from input to output.
    Inputs that share a row of this pattern see the same linear network: the "thin linear
    network" of active units.
    """
    active = [h > 0 for h in _relu_outputs(model, x)]
    if not active:
        raise ValueError("the model has no nn.ReLU layer")
    return torch.cat(active, dim=1)


def _relu_outputs(model: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    """The output (N, units) of each nn.ReLU layer of ``model`` on ``x``, input to output."""
    outputs = []
    h = x
    with torch.no_grad():
        for layer in model:
            h = layer(h)
            if isinstance(layer, nn.ReLU):
                outputs.append(h)
    return outputs


def piecewise_linear_view(model: nn.Sequential, x) -> dict[str, np.ndarray]:
    """A ReLU network with one input and one output, seen along the points ``x`` (N,), sorted.

    Returns ``f`` (N,) the output, ``slope`` (N,) df/dx by autograd, ``active`` (N,) how many
    ReLU units are on, and ``kinks``: the x where the set of active units changes (midpoints
    between neighbouring grid points). Between two kinks the network is one linear function.
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


def pool_gradients(x, size: int, dout=None) -> dict[str, np.ndarray]:
    """Max and average pooling over non-overlapping ``size`` x ``size`` windows, and the gradient
    each sends back to its input, by ``F.max_pool2d`` / ``F.avg_pool2d`` and autograd.

    ``x`` has shape (N, C, H, W) (or (H, W), treated as one image); ``dout`` is the upstream
    gradient, ones by default. Returns arrays ``max_out``, ``max_dx``, ``avg_out``, ``avg_dx``.
    """
    arr = np.asarray(x, dtype=np.float64)
    squeeze = arr.ndim == 2
    xt = torch.tensor(arr[None, None] if squeeze else arr, requires_grad=True)
    result = {}
    for kind, pool in (("max", F.max_pool2d), ("avg", F.avg_pool2d)):
        out = pool(xt, size)
        g = torch.ones_like(out) if dout is None else torch.as_tensor(
            np.asarray(dout, dtype=np.float64)).reshape(out.shape)
        (dx,) = torch.autograd.grad(out, xt, g)
        result[f"{kind}_out"] = out.detach().numpy()
        result[f"{kind}_dx"] = dx.numpy()
    if squeeze:
        result = {k: v[0, 0] for k, v in result.items()}
    return result


#: the depth experiment's networks: label -> (activation, initialisation scheme)
DEPTH_CONFIGS = {
    "sigmoid (Xavier init)": ("sigmoid", "xavier"),
    "ReLU (He init)": ("relu", "he"),
    "ReLU (PyTorch default init)": ("relu", "default"),
}


def build_mlp(in_features: int, out_features: int, depth: int, width: int = 64,
              activation: str = "relu", pieces: int = 2, seed: int = 0) -> nn.Sequential:
    """An MLP like ``dltips.models.mlp``, with two more kinds of hidden layer:

    - ``"prelu"``: Linear then ``nn.PReLU(width)``, a learned negative slope per unit;
    - ``"maxout"``: ``Maxout(size, width, pieces)`` (each unit the max of ``pieces`` linear
      pieces) instead of Linear + activation.

    Other names go to ``dltips.models.mlp``. Input (N, in_features), logits (N, out_features).
    """
    if activation not in ("prelu", "maxout"):
        return mlp(in_features, out_features, depth=depth, width=width, activation=activation,
                   seed=seed)
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        if activation == "prelu":
            layers += [nn.Linear(size, width), nn.PReLU(width)]
        else:
            layers.append(Maxout(size, width, pieces))
        size = width
    layers.append(nn.Linear(size, out_features))
    return nn.Sequential(*layers)


def initialise(model: nn.Module, scheme: str, seed: int = 0) -> nn.Module:
    """Re-initialise every ``nn.Linear`` of ``model`` in place with zero-mean normal weights:
    ``"he"`` (variance 2 / fan_in, for ReLU), ``"lecun"`` (1 / fan_in, for maxout, whose
    output keeps the second moment of a piece), ``"xavier"`` (2 / (fan_in + fan_out), Glorot)
    or ``"default"`` (leave PyTorch's init). Biases become 0 except with ``"default"``.
    Returns the model."""
    if scheme == "default":
        return model
    if scheme not in ("he", "lecun", "xavier"):
        raise ValueError(f"unknown init scheme {scheme!r}; choose 'he', 'lecun', 'xavier' or "
                         "'default'")
    gen = torch.Generator().manual_seed(seed)
    for layer in linear_layers(model):
        fan_out, fan_in = layer.weight.shape
        gain2 = {"he": 2.0 / fan_in, "lecun": 1.0 / fan_in,
                 "xavier": 2.0 / (fan_in + fan_out)}[scheme]
        with torch.no_grad():
            layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen) * gain2 ** 0.5)
            layer.bias.zero_()
    return model


def train_depths(depths, configs: dict[str, tuple[str, str]] | None = None, epochs: int = 20,
                 lr: float = 0.1, width: int = 64, batch_size: int = 64, seed: int = 0,
                 split: Split | None = None) -> dict[str, dict[int, dict]]:
    """Train one MLP per (configuration, depth) on digits with the same budget and plain SGD.

    ``configs`` maps a label to ``(activation, init scheme)`` (default ``DEPTH_CONFIGS``).
    Returns ``{label: {depth: {"train_acc": float, "history": History, "model": model}}}``;
    ``train_acc`` is measured in eval mode on the whole training set after the last epoch.
    """
    split = split or digits(seed=seed)
    configs = configs or DEPTH_CONFIGS
    results: dict[str, dict[int, dict]] = {}
    for label, (act, scheme) in configs.items():
        results[label] = {}
        for depth in depths:
            model = initialise(build_mlp(split.n_features, split.n_classes, depth, width, act,
                                         seed=seed), scheme, seed)
            opt = torch.optim.SGD(model.parameters(), lr=lr)
            history = fit(model, split, epochs, opt, batch_size=batch_size, seed=seed)
            results[label][depth] = {
                "train_acc": final_accuracy(model, split.x_train, split.y_train),
                "history": history, "model": model}
    return results


def dead_unit_fraction(model: nn.Sequential, x: torch.Tensor) -> list[float]:
    """For each ReLU layer of ``model``, the fraction of its units that output 0 on every row of
    ``x``: "dead" units, which pass no gradient to their weights for any of these inputs."""
    outputs = _relu_outputs(model, x)
    if not outputs:
        raise ValueError("the model has no nn.ReLU layer")
    return [(~(h > 0).any(dim=0)).float().mean().item() for h in outputs]


class Maxout(nn.Module):
    """A maxout layer: ``out_features`` units of ``pieces`` linear pieces each.

    Input (N, in_features); output (N, out_features), unit m being max_k (x @ W_mk + b_mk).
    The pieces are one ``nn.Linear`` with out_features * pieces outputs, unit-major.
    """

    def __init__(self, in_features: int, out_features: int, pieces: int):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def pieces_of(self, x: torch.Tensor) -> torch.Tensor:
        """Every piece's value, shape (N, out_features, pieces)."""
        return self.linear(x).view(x.shape[0], self.out_features, self.pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pieces_of(x).max(dim=2).values


def train_maxout_regression(hidden: int = 6, pieces: int = 4, steps: int = 1500,
                            lr: float = 0.02, n: int = 200, noise: float = 0.1,
                            seed: int = 0) -> tuple[nn.Sequential, np.ndarray, np.ndarray, list]:
    """Fit y = sin(3x) + noise on [-1, 1] with a one-hidden-layer maxout network (full batch,
    Adam, mean squared error).

    The hidden layer is ``Maxout(1, hidden, pieces)``: each unit's activation is a convex
    piecewise-linear function of the scalar input, learned from the data. Returns
    ``(model, x, y, losses)`` with x (n,), y (n,) and the loss of every step.
    """
    from .data import noisy_regression

    x, y = noisy_regression(n=n, noise=noise, seed=seed)
    torch.manual_seed(seed)
    model = nn.Sequential(Maxout(1, hidden, pieces), nn.Linear(hidden, 1))
    xt = torch.tensor(x, dtype=torch.float32)
    yt = torch.tensor(y, dtype=torch.float32)[:, None]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.mse_loss(model(xt), yt)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, x[:, 0], y, losses


def maxout_unit_curves(layer: Maxout, x) -> tuple[np.ndarray, np.ndarray]:
    """A one-input maxout layer's units evaluated at the points ``x`` (N,).

    Returns ``(a, pieces)``: each unit's activation (N, units) and every piece (N, units, K).
    """
    if layer.linear.in_features != 1:
        raise ValueError("maxout_unit_curves needs a layer with a single input feature")
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32)).reshape(-1, 1)
    with torch.no_grad():
        pieces = layer.pieces_of(xt)
        return pieces.amax(dim=2).double().numpy(), pieces.double().numpy()
