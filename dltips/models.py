"""Small multilayer perceptrons, built the same way in every chapter."""
from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
}


def mlp(in_features: int, out_features: int, depth: int = 2, width: int = 64,
        activation: str = "relu", seed: int | None = 0) -> nn.Sequential:
    """A plain MLP: ``depth`` hidden layers of ``width`` units, each Linear then the activation.

    ``depth=0`` is logistic regression. PyTorch's default initialisation is used, seeded by
    ``seed`` (``None`` leaves the global generator alone). Input (N, in_features), output logits
    (N, out_features).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(ACTIVATIONS)}")
    if depth < 0 or width < 1:
        raise ValueError(f"need depth >= 0 and width >= 1, got depth={depth}, width={width}")
    if seed is not None:
        torch.manual_seed(seed)
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        layers += [nn.Linear(size, width), ACTIVATIONS[activation]()]
        size = width
    layers.append(nn.Linear(size, out_features))
    return nn.Sequential(*layers)


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of ``model`` from input to output."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]
