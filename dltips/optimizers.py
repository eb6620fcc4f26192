"""The course's optimizers: ``torch.optim`` classes by short name (chapters 4-5).

Every demo and experiment steps with PyTorch's optimizers; the exercises of chapters 4-5 write
the same rules by hand in NumPy.
"""
from __future__ import annotations

import torch

#: optimizer names accepted by :func:`make_optimizer`, and the torch class plus default keywords.
OPTIMIZERS: dict[str, tuple[type, dict]] = {
    "sgd": (torch.optim.SGD, {}),
    "momentum": (torch.optim.SGD, {"momentum": 0.9}),
    "nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adagrad": (torch.optim.Adagrad, {}),
    "rmsprop": (torch.optim.RMSprop, {}),
    "adam": (torch.optim.Adam, {}),
}


def make_optimizer(params, optimizer_name: str, lr: float, **opt_kwargs) -> torch.optim.Optimizer:
    """A ``torch.optim`` optimizer by course name (see :data:`OPTIMIZERS`), e.g.
    ``make_optimizer(model.parameters(), "rmsprop", 1e-2, alpha=0.9)``. ``opt_kwargs`` override
    the name's defaults (``"momentum"`` means SGD with momentum 0.9 unless given). Used by
    chapters 4 and 5. Used by chapters 4, 5, 8 and 10."""
    key = optimizer_name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer_name!r}; choose one of {sorted(OPTIMIZERS)}")
    cls, defaults = OPTIMIZERS[key]
    return cls(params, lr=lr, **{**defaults, **opt_kwargs})
