"""Chapter 2: vanishing and exploding gradients in plain MLPs on the digits.

Everything here builds its own network (:func:`dltips.models.mlp`, then
:func:`dltips.initialisation.scale_weights`) and measures it with PyTorch's autograd:

- :func:`gradient_norms_at_init`: how large each layer's weight gradient is before any training;
- :func:`change_through_layers`: how a nudge to one first-layer weight fades (or not) layer by
  layer on its way to the loss;
- :func:`train_accuracy_vs_depth`: the depth sweep of the chapter's experiment;
- :func:`hidden_statistics`, :func:`weight_scale_sweep`: each hidden layer's mean slope and mean
  output, and the gradient's shrinkage per layer, against the weight scale (sigmoid vs tanh).

``weight_scale`` multiplies every weight matrix after PyTorch's default initialisation, whose
entries are uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``; ``weight_scale = HE_SCALE``
(:data:`dltips.initialisation.HE_SCALE`, ``sqrt(6)``) turns that into He et al.'s uniform
initialisation for ReLU networks (chapter 10).
"""
from __future__ import annotations

from functools import lru_cache
from typing import Iterable

import torch
from torch import nn

from ..data import Split, digits
from ..initialisation import scale_weights
from ..models import hidden_outputs, linear_layers, mlp
from ..training import train, train_accuracy

N_FEATURES, N_CLASSES = 64, 10


@lru_cache(maxsize=4)
def _digits(seed: int) -> Split:
    return digits(seed=seed)


def _network(depth: int, activation: str, width: int, seed: int, weight_scale: float,
             dtype: torch.dtype = torch.float32) -> nn.Sequential:
    model = mlp(N_FEATURES, N_CLASSES, depth=depth, width=width, activation=activation, seed=seed)
    return scale_weights(model, weight_scale).to(dtype)


def _batch(n_examples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    split = _digits(seed)
    if not 1 <= n_examples <= len(split.y_train):
        raise ValueError(f"n_examples must be between 1 and {len(split.y_train)}, got {n_examples}")
    return split.x_train[:n_examples], split.y_train[:n_examples]


def gradient_norms_at_init(depth: int, activation: str, width: int = 32, seed: int = 0,
                           weight_scale: float = 1.0, n_examples: int = 256,
                           dtype: torch.dtype = torch.float64) -> list[float]:
    """Norm of the cross-entropy gradient of every weight matrix of a freshly built network.

    The network is :func:`dltips.models.mlp` (``depth`` hidden layers of ``width``, so
    ``depth + 1`` weight matrices, seeded by ``seed``) with its weights multiplied by
    ``weight_scale``; the loss is the mean over the first ``n_examples`` digits of the training
    split. Returns ``depth + 1`` Frobenius norms, from the layer next to the input to the output
    layer. Computed in ``dtype`` (float64 by default, so tiny norms are not lost to rounding).
    Used by chapter 2.
    """
    model = _network(depth, activation, width, seed, weight_scale, dtype)
    x, y = _batch(n_examples, seed)
    weights = [layer.weight for layer in linear_layers(model)]
    loss = nn.functional.cross_entropy(model(x.to(dtype)), y)
    return [g.norm().item() for g in torch.autograd.grad(loss, weights)]


def change_through_layers(depth: int, activation: str, width: int = 32, seed: int = 0,
                          weight_scale: float = 1.0, delta: float = 0.1, feature: int = 36,
                          n_examples: int = 256) -> tuple[list[float], float]:
    """How far a nudge to one first-layer weight travels: the lecture's intuition, measured.

    Adds ``delta`` to the weight from input pixel ``feature`` to the first hidden unit of the
    network of :func:`gradient_norms_at_init`, runs the first ``n_examples`` training digits
    through it before and after, and returns ``(changes, loss_change)``: ``changes[l]`` is the
    mean over examples of the Euclidean norm of the change of hidden layer ``l + 1``'s output
    (after its activation; ``depth`` entries), and ``loss_change`` the absolute change of the
    mean cross-entropy. Computed in float64. Used by chapter 2.
    """
    if not 0 <= feature < N_FEATURES:
        raise ValueError(f"feature must be a pixel index in [0, {N_FEATURES}), got {feature}")
    model = _network(depth, activation, width, seed, weight_scale, torch.float64)
    x, y = _batch(n_examples, seed)
    x = x.double()

    def run() -> tuple[list[torch.Tensor], torch.Tensor]:
        outputs, logits = hidden_outputs(model, x)
        return outputs, nn.functional.cross_entropy(logits, y)

    with torch.no_grad():
        before, loss_before = run()
        linear_layers(model)[0].weight[0, feature] += delta
        after, loss_after = run()
    changes = [(a - b).norm(dim=1).mean().item() for a, b in zip(after, before)]
    return changes, abs(loss_after.item() - loss_before.item())


def train_accuracy_vs_depth(activation: str, depths: Iterable[int] = range(1, 11),
                            width: int = 32, epochs: int = 10, lr: float = 0.1,
                            batch_size: int = 32, weight_scale: float = 1.0,
                            balance_layers: bool = False, seed: int = 0) -> list[float]:
    """Final *training* accuracy of digits MLPs of each depth, all trained with the same budget.

    Each network (that of :func:`gradient_norms_at_init`, in float32) is trained with plain SGD
    (learning rate ``lr``, batch size ``batch_size``) for ``epochs`` epochs on the digits
    training split; the accuracy is measured afterwards on the whole training split in eval
    mode. With ``balance_layers=True`` each layer gets its own learning rate, ``lr`` times the
    ratio of the output layer's weight-gradient norm to its own at initialisation (measured on
    the first 256 training digits), so every layer's first step has the same size: the
    "per-layer learning rate" cure for vanishing gradients. Returns one accuracy per depth.
    Used by chapter 2.
    """
    split = _digits(seed)
    accuracies = []
    for depth in depths:
        if balance_layers:
            norms = gradient_norms_at_init(depth, activation, width, seed, weight_scale,
                                           n_examples=256, dtype=torch.float32)
        model = _network(depth, activation, width, seed, weight_scale)
        if balance_layers:
            groups = [{"params": list(layer.parameters()), "lr": lr * norms[-1] / max(n, 1e-30)}
                      for layer, n in zip(linear_layers(model), norms)]
        else:
            groups = [{"params": list(model.parameters())}]
        optimizer = torch.optim.SGD(groups, lr=lr)
        train(model, split.x_train, split.y_train, nn.functional.cross_entropy, optimizer,
              epochs, batch_size, seed)
        accuracies.append(train_accuracy(model, split))
    return accuracies


def hidden_statistics(depth: int, activation: str, width: int = 32, seed: int = 0,
                      weight_scale: float = 1.0, n_examples: int = 256) -> dict[str, list[float]]:
    """What each hidden layer of a freshly built network does to the signals, on digits.

    The network is the one of :func:`gradient_norms_at_init`, run in float64 on the first
    ``n_examples`` training digits. For every hidden layer (``depth`` entries, input to output)
    returns, under ``"slope"``, the activation's derivative at the layer's pre-activations
    (from autograd) averaged over examples and units: the factor the backward pass multiplies
    by, on average; and under ``"mean_output"`` the mean of the layer's outputs (about 0.5 for
    a sigmoid, near 0 for tanh: whether the next layer's inputs are centred on zero).
    Used by chapter 2.
    """
    model = _network(depth, activation, width, seed, weight_scale, torch.float64)
    h = _batch(n_examples, seed)[0].to(torch.float64)
    slopes, means = [], []
    with torch.no_grad():
        for layer in model[:-1]:
            if isinstance(layer, nn.Linear):
                h = layer(h)
                continue
            with torch.enable_grad():
                z = h.clone().requires_grad_(True)
                out = layer(z)
                (slope,) = torch.autograd.grad(out.sum(), z)  # elementwise: the derivative
            slopes.append(slope.mean().item())
            means.append(out.mean().item())
            h = out.detach()
    return {"slope": slopes, "mean_output": means}


def weight_scale_sweep(activation: str, scales: Iterable[float], depth: int = 10,
                       width: int = 32, seed: int = 0) -> dict[str, list[float]]:
    """Slope, output mean and gradient shrinkage of a freshly built ``depth``-layer network at
    each weight scale in ``scales`` (one entry per scale in every list).

    ``"slope"`` and ``"mean_output"`` are :func:`hidden_statistics` averaged over the hidden
    layers; ``"shrink"`` is the factor by which the weight gradient's norm
    (:func:`gradient_norms_at_init`) shrinks per layer between the second and the last hidden
    layer, ``(norm[depth - 1] / norm[1]) ** (1 / (depth - 2))``: above 1 the gradient vanishes
    towards the input, below 1 it grows. Needs ``depth >= 3``. Used by chapter 2.
    """
    if depth < 3:
        raise ValueError(f"need depth >= 3 to measure a per-layer factor, got {depth}")
    out: dict[str, list[float]] = {"scale": [], "slope": [], "mean_output": [], "shrink": []}
    for scale in scales:
        stats = hidden_statistics(depth, activation, width, seed, scale)
        norms = gradient_norms_at_init(depth, activation, width, seed, scale)
        out["scale"].append(float(scale))
        out["slope"].append(sum(stats["slope"]) / depth)
        out["mean_output"].append(sum(stats["mean_output"]) / depth)
        out["shrink"].append((norms[depth - 1] / norms[1]) ** (1 / (depth - 2)))
    return out
