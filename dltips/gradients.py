"""Vanishing and exploding gradients in plain MLPs on the digits (chapter 2).

Everything here builds its own network with :func:`dltips.models.mlp` and measures it with
PyTorch's autograd:

- :func:`gradient_norms_at_init`: how large each layer's weight gradient is before any training;
- :func:`change_through_layers`: how a nudge to one first-layer weight fades (or not) layer by
  layer on its way to the loss;
- :func:`train_accuracy_vs_depth`: the depth sweep of the chapter's experiment.

``weight_scale`` multiplies every weight matrix after PyTorch's default initialisation, whose
entries are uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``. ``weight_scale = HE_SCALE``
(``sqrt(6)``) turns that into He et al.'s uniform initialisation for ReLU networks (chapter 10).
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Iterable

import torch
from torch import nn

from .data import Split, digits
from .models import linear_layers, mlp
from .training import final_accuracy

HE_SCALE = math.sqrt(6.0)
"""Weight scale that turns PyTorch's default ``nn.Linear`` initialisation into He uniform."""

N_FEATURES, N_CLASSES = 64, 10


@lru_cache(maxsize=4)
def _digits(seed: int) -> Split:
    return digits(seed=seed)


def scaled_mlp(depth: int, activation: str, width: int = 32, seed: int = 0,
               weight_scale: float = 1.0) -> nn.Sequential:
    """An MLP for the digits (64 inputs, 10 logits) with ``depth`` hidden layers of ``width``.

    PyTorch's default initialisation (seeded by ``seed``), then every ``nn.Linear`` weight
    matrix multiplied by ``weight_scale``; the biases are left alone.
    """
    if weight_scale <= 0:
        raise ValueError(f"weight_scale must be positive, got {weight_scale}")
    model = mlp(N_FEATURES, N_CLASSES, depth=depth, width=width, activation=activation, seed=seed)
    with torch.no_grad():
        for layer in linear_layers(model):
            layer.weight.mul_(weight_scale)
    return model


def _batch(n_examples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    split = _digits(seed)
    if not 1 <= n_examples <= len(split.y_train):
        raise ValueError(f"n_examples must be between 1 and {len(split.y_train)}, got {n_examples}")
    return split.x_train[:n_examples], split.y_train[:n_examples]


def _weight_grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[float]:
    weights = [layer.weight for layer in linear_layers(model)]
    loss = nn.functional.cross_entropy(model(x), y)
    return [g.norm().item() for g in torch.autograd.grad(loss, weights)]


def gradient_norms_at_init(depth: int, activation: str, width: int = 32, seed: int = 0,
                           weight_scale: float = 1.0, n_examples: int = 256) -> list[float]:
    """Norm of the cross-entropy gradient of every weight matrix of a freshly built network.

    The network is :func:`scaled_mlp` (``depth`` hidden layers, so ``depth + 1`` weight
    matrices); the loss is the mean over the first ``n_examples`` digits of the training split.
    Returns ``depth + 1`` Frobenius norms, from the layer next to the input to the output layer.
    Computed in float64, so tiny norms are not lost to rounding.
    """
    model = scaled_mlp(depth, activation, width, seed, weight_scale).double()
    x, y = _batch(n_examples, seed)
    return _weight_grad_norms(model, x.double(), y)


def change_through_layers(depth: int, activation: str, width: int = 32, seed: int = 0,
                          weight_scale: float = 1.0, delta: float = 0.1, feature: int = 36,
                          n_examples: int = 256) -> tuple[list[float], float]:
    """How far a nudge to one first-layer weight travels: the lecture's intuition, measured.

    Adds ``delta`` to the weight from input pixel ``feature`` to the first hidden unit of a
    :func:`scaled_mlp`, runs the first ``n_examples`` training digits through the network
    before and after, and returns ``(changes, loss_change)``: ``changes[l]`` is the mean over
    examples of the Euclidean norm of the change of hidden layer ``l + 1``'s output (after its
    activation; ``depth`` entries), and ``loss_change`` the absolute change of the mean
    cross-entropy. Computed in float64.
    """
    if not 0 <= feature < N_FEATURES:
        raise ValueError(f"feature must be a pixel index in [0, {N_FEATURES}), got {feature}")
    model = scaled_mlp(depth, activation, width, seed, weight_scale).double()
    x, y = _batch(n_examples, seed)
    x = x.double()

    def hidden_outputs() -> tuple[list[torch.Tensor], torch.Tensor]:
        outputs, h = [], x
        for module in model:
            h = module(h)
            if not isinstance(module, nn.Linear):  # the output of an activation
                outputs.append(h)
        return outputs, nn.functional.cross_entropy(h, y)

    with torch.no_grad():
        before, loss_before = hidden_outputs()
        linear_layers(model)[0].weight[0, feature] += delta
        after, loss_after = hidden_outputs()
    changes = [(a - b).norm(dim=1).mean().item() for a, b in zip(after, before)]
    return changes, abs(loss_after.item() - loss_before.item())


def train_accuracy_vs_depth(activation: str, depths: Iterable[int] = range(1, 11),
                            width: int = 32, epochs: int = 10, lr: float = 0.1,
                            batch_size: int = 32, weight_scale: float = 1.0,
                            balance_layers: bool = False, seed: int = 0) -> list[float]:
    """Final *training* accuracy of digits MLPs of each depth, all trained with the same budget.

    Each network is a :func:`scaled_mlp` trained with plain SGD (learning rate ``lr``, batch
    size ``batch_size``) for ``epochs`` epochs on the digits training split; the accuracy is
    measured afterwards on the whole training split in eval mode. With
    ``balance_layers=True`` each layer gets its own learning rate, ``lr`` times the ratio of the
    output layer's weight-gradient norm to its own at initialisation (measured on the first 256
    training digits), so every layer's first step has the same size: the "per-layer learning
    rate" cure for vanishing gradients. Returns one accuracy per depth.
    """
    split = _digits(seed)
    x, y = split.x_train, split.y_train
    accuracies = []
    for depth in depths:
        model = scaled_mlp(depth, activation, width, seed, weight_scale)
        layers = linear_layers(model)
        if balance_layers:
            norms = _weight_grad_norms(model, *_batch(256, seed))
            groups = [{"params": list(layer.parameters()), "lr": lr * norms[-1] / max(n, 1e-30)}
                      for layer, n in zip(layers, norms)]
        else:
            groups = [{"params": list(model.parameters())}]
        optimizer = torch.optim.SGD(groups, lr=lr)
        shuffle = torch.Generator().manual_seed(seed)
        model.train()
        for _ in range(epochs):  # plain mini-batch SGD; indexing beats a DataLoader here
            for batch in torch.randperm(len(y), generator=shuffle).split(batch_size):
                optimizer.zero_grad()
                nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
                optimizer.step()
        accuracies.append(final_accuracy(model, x, y))
    return accuracies
