"""Small multilayer perceptrons with every hidden layer the course uses, and walks over them.

Used by chapters 1-5 (through their chapter modules) and by the tests. ``ACTIVATIONS`` is the
one registry of activation names; :func:`activation_layer` builds any of them as an
``nn.Module`` (PyTorch's own layers), and :class:`Maxout` is the one layer PyTorch lacks.
"""
from __future__ import annotations

import torch
from torch import nn

#: hidden-layer nonlinearities by name: name -> (layer class, keyword of its negative-side
#: parameter ``alpha`` or None). ``"maxout"`` (a layer replacing Linear + activation) is the
#: other name :func:`mlp` accepts.
ACTIVATIONS: dict[str, tuple[type, str | None]] = {
    "sigmoid": (nn.Sigmoid, None),
    "tanh": (nn.Tanh, None),
    "relu": (nn.ReLU, None),
    "leaky_relu": (nn.LeakyReLU, "negative_slope"),
    "elu": (nn.ELU, "alpha"),
    "prelu": (nn.PReLU, "init"),
}
#: the activations without learned parameters (chapter 2's demo offers these).
FIXED_ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")
#: every name :func:`mlp` accepts.
HIDDEN_LAYERS = (*ACTIVATIONS, "maxout")


def activation_layer(name: str, width: int = 1, alpha: float | None = None,
                     dtype: torch.dtype | None = None) -> nn.Module:
    """The activation ``name`` of :data:`ACTIVATIONS` as a PyTorch layer for ``width`` units.

    ``alpha`` is the negative-side parameter (leaky ReLU's slope, ELU's scale, PReLU's initial
    slope), PyTorch's default when None; the other activations ignore it. PReLU gets one learned
    slope per unit, in ``dtype``. Used by chapters 2-5 through :func:`mlp`, and by chapter 3's
    activation picker.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {sorted(HIDDEN_LAYERS)}")
    cls, keyword = ACTIVATIONS[name]
    kwargs = {} if keyword is None or alpha is None else {keyword: alpha}
    if cls is nn.PReLU:
        return nn.PReLU(width, dtype=dtype, **kwargs)
    return cls(**kwargs)


class Maxout(nn.Module):
    """A maxout layer: ``out_features`` units of ``pieces`` linear pieces each (chapter 3).

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


def mlp(in_features: int, out_features: int, depth: int = 2, width: int = 64,
        activation: str = "relu", seed: int | None = 0, pieces: int = 2) -> nn.Sequential:
    """A plain MLP: ``depth`` hidden layers of ``width`` units, each Linear then the activation.

    ``activation`` is a name of :data:`HIDDEN_LAYERS`: ``"prelu"`` learns a negative slope per
    unit, and ``"maxout"`` replaces Linear + activation by ``Maxout(size, width, pieces)``.
    ``depth=0`` is logistic regression. PyTorch's default initialisation is used, seeded by
    ``seed`` (``None`` leaves the global generator alone). Input (N, in_features), output logits
    (N, out_features). Used by chapters 1-11.
    """
    if activation not in HIDDEN_LAYERS:
        raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(HIDDEN_LAYERS)}")
    if depth < 0 or width < 1:
        raise ValueError(f"need depth >= 0 and width >= 1, got depth={depth}, width={width}")
    if seed is not None:
        torch.manual_seed(seed)
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        if activation == "maxout":
            layers.append(Maxout(size, width, pieces))
        else:
            layers += [nn.Linear(size, width), activation_layer(activation, width)]
        size = width
    layers.append(nn.Linear(size, out_features))
    return nn.Sequential(*layers)


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of ``model`` from input to output (chapters 2, 3, 9 and 10,
    tests)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def hidden_outputs(model: nn.Sequential, x: torch.Tensor,
                   kind: type | None = None) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Run ``x`` through ``model`` layer by layer: ``(outputs, final)``.

    ``outputs`` holds the output (N, units) of every layer of type ``kind`` (default: every
    layer that is not an ``nn.Linear``, i.e. each hidden layer's output after its activation),
    input to output; ``final`` is the model's output. Gradients are tracked as the caller's
    context says. Used by chapters 2, 3 and 10.
    """
    outputs, h = [], x
    for layer in model:
        h = layer(h)
        if (isinstance(layer, kind) if kind is not None else not isinstance(layer, nn.Linear)):
            outputs.append(h)
    return outputs, h
