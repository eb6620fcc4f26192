"""Weight initialisation of whole networks, by PyTorch's own ``torch.nn.init`` (chapters 2-3).

Two ways to set a network's starting weights, both applied to every ``nn.Linear`` of a model:
:func:`initialise` by scheme name, and :func:`scale_weights`, which multiplies PyTorch's default
initialisation (uniform on ``[-1/sqrt(fan_in), 1/sqrt(fan_in)]``) by a factor; with
:data:`HE_SCALE` that is He et al.'s uniform initialisation for ReLU. Chapter 10's exercise
writes the formulas; this module only calls the library.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .models import linear_layers

HE_SCALE = math.sqrt(6.0)
"""Weight scale that turns PyTorch's default ``nn.Linear`` initialisation into He uniform
(chapter 2)."""

#: scheme name -> how ``torch.nn.init`` draws a zero-mean normal weight matrix
SCHEMES = {
    "he": lambda w, gen: nn.init.kaiming_normal_(w, nonlinearity="relu", generator=gen),
    "lecun": lambda w, gen: nn.init.kaiming_normal_(w, nonlinearity="linear", generator=gen),
    "xavier": lambda w, gen: nn.init.xavier_normal_(w, generator=gen),
}


def initialise(model: nn.Module, scheme: str, seed: int = 0) -> nn.Module:
    """Re-initialise every ``nn.Linear`` of ``model`` in place with zero-mean normal weights:
    ``"he"`` (variance 2 / fan_in, for ReLU), ``"lecun"`` (1 / fan_in, for maxout, whose
    output keeps the second moment of a piece), ``"xavier"`` (2 / (fan_in + fan_out), Glorot)
    or ``"default"`` (leave PyTorch's init). Biases become 0 except with ``"default"``.
    One seeded generator serves all layers, input to output. Returns the model. Used by
    chapters 3 and 9.
    """
    if scheme == "default":
        return model
    if scheme not in SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; choose 'he', 'lecun', 'xavier' or "
                         "'default'")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in linear_layers(model):
            SCHEMES[scheme](layer.weight, gen)
            layer.bias.zero_()
    return model


def scale_weights(model: nn.Module, factor: float) -> nn.Module:
    """Multiply every ``nn.Linear`` weight matrix of ``model`` by ``factor`` in place (biases are
    left alone); returns the model. Used by chapter 2."""
    if factor <= 0:
        raise ValueError(f"weight_scale must be positive, got {factor}")
    with torch.no_grad():
        for layer in linear_layers(model):
            layer.weight.mul_(factor)
    return model
