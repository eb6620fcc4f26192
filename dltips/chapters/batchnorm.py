"""Chapter 9: batch normalisation on the digits - what it does to the activations and to the
learning rates a network tolerates.

- :func:`batchnorm_mlp` builds the chapter's MLP with or without ``nn.BatchNorm1d`` between
  every hidden ``nn.Linear`` and its activation;
- :func:`record_activations` trains one for a few SGD steps and keeps, at chosen steps, the
  input of every hidden layer's nonlinearity on the training batch of that step (the demo's
  histograms, after Ioffe & Szegedy 2015, figure 1);
- :func:`train_at_lr` and :func:`lr_sweep` train deeper networks with plain SGD at a range of
  learning rates, with and without batch norm (the experiment: batch norm trains at learning
  rates where the plain network diverges, Ioffe & Szegedy 2015);
- :func:`scale_invariance` measures, on a layer of its own, that batch norm makes a layer's
  output independent of the scale of its weights, and the weight gradient inversely
  proportional to it (why batch norm tolerates large learning rates).

Every function builds its own data and network and calls PyTorch's ``nn.BatchNorm1d``; nothing
here takes an array or a parameter dict a student could pass, so nothing answers the chapter's
exercise (which writes the forward and backward pass by hand).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split, digits
from ..initialisation import initialise
from ..models import ACTIVATIONS, mlp
from ..training import train


@lru_cache(maxsize=4)
def _digits(seed: int) -> Split:
    return digits(seed=seed)


def batchnorm_mlp(in_features: int, out_features: int, depth: int = 4, width: int = 64,
                  activation: str = "relu", batch_norm: bool = True, init: str = "he",
                  seed: int = 0) -> nn.Sequential:
    """:func:`dltips.models.mlp` (``depth`` hidden layers of ``width`` units), re-initialised
    with ``init`` (a scheme of :func:`dltips.initialisation.initialise`: He normal weights and
    zero biases by default), and, with ``batch_norm``, an ``nn.BatchNorm1d(width)`` (PyTorch's
    defaults: eps 1e-5, momentum 0.1, gamma 1, beta 0) between every hidden ``nn.Linear`` and
    its activation. With and without batch norm the weights are the same for the same seed.
    Input (N, in_features), output logits (N, out_features). Used by chapter 9."""
    base = initialise(mlp(in_features, out_features, depth, width, activation, seed=seed), init,
                      seed=seed)
    layers: list[nn.Module] = []
    hidden = list(base)[:-1]
    for layer in hidden:
        layers.append(layer)
        if batch_norm and isinstance(layer, nn.Linear):
            layers.append(nn.BatchNorm1d(layer.out_features))
    layers.append(base[-1])
    return nn.Sequential(*layers)


def _activation_layers(model: nn.Sequential) -> list[nn.Module]:
    kinds = tuple(cls for cls, _ in ACTIVATIONS.values())
    return [m for m in model if isinstance(m, kinds)]


@dataclass
class ActivationRecord:
    """What :func:`record_activations` keeps of one training run: ``steps`` (the recorded step
    numbers, 0 = before the first update), ``values[k][l]`` the inputs of hidden layer ``l``'s
    nonlinearity on the training batch of step ``steps[k]`` (a flat float32 array of batch size
    x width values; NaN once training has diverged), ``loss`` the training loss of every step's
    batch (NaN once diverged). Used by chapter 9."""

    lr: float
    batch_norm: bool
    steps: list[int]
    values: list[list[np.ndarray]] = field(repr=False)
    loss: np.ndarray = field(repr=False)

    @property
    def diverged(self) -> bool:
        """Whether the loss became NaN or infinite."""
        return not bool(np.all(np.isfinite(self.loss)))


def record_activations(lr: float, batch_norm: bool, steps: int = 60,
                       record_at=(0, 10, 20, 30, 40, 50, 60), depth: int = 4, width: int = 64,
                       activation: str = "relu", batch_size: int = 64,
                       seed: int = 0) -> ActivationRecord:
    """Train :func:`batchnorm_mlp` (He init) on the digits with plain SGD at learning rate
    ``lr`` for ``steps`` mini-batch steps; at every step number in ``record_at`` (0 = before
    the first update, ``steps`` = after the last) record the input of each hidden activation on
    that step's training batch (train mode, so batch norm uses the batch's statistics). The
    batches are seeded by ``seed``; with and without batch norm they are the same batches and
    the same initial weights. Training stops early, filling NaN, once the loss is not finite.
    Used by chapter 9."""
    split = _digits(seed)
    model = batchnorm_mlp(split.n_features, split.n_classes, depth, width, activation,
                          batch_norm, seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    captured: list[torch.Tensor] = []
    hooks = [layer.register_forward_hook(lambda _m, inp, _out: captured.append(inp[0].detach()))
             for layer in _activation_layers(model)]
    gen = torch.Generator().manual_seed(seed)
    record_at = sorted(set(int(s) for s in record_at if 0 <= s <= steps))
    values: list[list[np.ndarray]] = []
    losses = np.full(steps + 1, np.nan)
    order = torch.empty(0, dtype=torch.int64)
    model.train()
    for step in range(steps + 1):
        if len(order) < batch_size:
            order = torch.cat([order, torch.randperm(len(split.y_train), generator=gen)])
        idx, order = order[:batch_size], order[batch_size:]
        captured.clear()
        logits = model(split.x_train[idx])
        loss = F.cross_entropy(logits, split.y_train[idx])
        losses[step] = loss.item()
        if step in record_at:
            values.append([h.numpy().ravel().copy() for h in captured])
        if not math.isfinite(loss.item()):
            break
        if step < steps:
            opt.zero_grad()
            loss.backward()
            opt.step()
    for hook in hooks:
        hook.remove()
    n_layers = len(_activation_layers(model))
    while len(values) < len(record_at):
        values.append([np.full(batch_size * width, np.nan, dtype=np.float32)] * n_layers)
    if not np.all(np.isfinite(losses)):
        first = int(np.argmax(~np.isfinite(losses)))
        losses[first:] = np.nan
    return ActivationRecord(lr, batch_norm, record_at, values, losses)


@dataclass
class LrRun:
    """One run of :func:`train_at_lr`: ``train_loss`` (per epoch, measured in eval mode on all
    training digits, NaN once diverged), and the final ``val_acc`` (eval mode; NaN if the
    loss is not finite). Used by chapter 9."""

    lr: float
    batch_norm: bool
    seed: int
    train_loss: list[float]
    val_acc: float

    @property
    def final_loss(self) -> float:
        return self.train_loss[-1]

    @property
    def diverged(self) -> bool:
        """The final training loss is not finite, or not below the loss of guessing uniformly
        at random among the 10 classes (ln 10 = 2.30)."""
        return not (math.isfinite(self.final_loss) and self.final_loss < math.log(10))


def train_at_lr(lr: float, batch_norm: bool, depth: int = 6, width: int = 64,
                epochs: int = 8, batch_size: int = 64, seed: int = 0) -> LrRun:
    """Train :func:`batchnorm_mlp` (``depth`` ReLU layers of ``width`` units, He init) on the
    digits with plain SGD (no momentum, no weight decay) at learning rate ``lr`` for ``epochs``
    epochs of shuffled mini-batches; after every epoch measure the cross-entropy on the whole
    training part in eval mode (batch norm then uses its running statistics). The split, the
    initial weights and the batch order depend only on ``seed``. Used by chapter 9."""
    split = _digits(seed)
    model = batchnorm_mlp(split.n_features, split.n_classes, depth, width, "relu", batch_norm,
                          seed=seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    losses: list[float] = []

    def record():
        model.eval()
        with torch.no_grad():
            value = F.cross_entropy(model(split.x_train), split.y_train).item()
        model.train()
        if not math.isfinite(value):
            raise _Diverged
        losses.append(value)

    try:
        train(model, split.x_train, split.y_train, nn.CrossEntropyLoss(), opt, epochs,
              batch_size=batch_size, seed=seed, after_epoch=record)
    except _Diverged:            # NaN from here on: no need to train the remaining epochs
        losses += [float("nan")] * (epochs - len(losses))
        return LrRun(lr, batch_norm, seed, losses, float("nan"))
    model.eval()
    with torch.no_grad():
        val_acc = (model(split.x_val).argmax(1) == split.y_val).float().mean().item()
    return LrRun(lr, batch_norm, seed, losses, val_acc)


class _Diverged(Exception):
    """Raised after an epoch whose training loss is not finite."""


def lr_sweep(lrs=(0.03, 0.1, 0.3, 1.0, 3.0, 10.0), seeds=(0, 1), **kwargs) -> dict[bool, list[list[LrRun]]]:
    """:func:`train_at_lr` for every learning rate in ``lrs`` and seed in ``seeds``, without and
    with batch norm: ``{batch_norm: [[run per seed] per lr]}``. ``kwargs`` go to
    :func:`train_at_lr`. Used by chapter 9."""
    return {bn: [[train_at_lr(lr, bn, seed=seed, **kwargs) for seed in seeds] for lr in lrs]
            for bn in (False, True)}


def scale_invariance(scales=(0.1, 1.0, 10.0, 100.0), n_examples: int = 128,
                     width: int = 32, seed: int = 0) -> dict[str, np.ndarray]:
    """One ``nn.Linear(64, width)`` followed by ``nn.BatchNorm1d(width)`` (train mode) and a
    fixed random linear read-out to a scalar loss, on ``n_examples`` digits; the linear layer's
    weights are multiplied by each factor in ``scales``. Returns ``scales``, ``output_change``
    (largest absolute difference of the batch-norm output from the one at scale 1) and
    ``grad_norm`` (norm of the loss gradient with respect to the scaled weights): batch norm
    makes the output independent of the scale, and the gradient inversely proportional to it.
    Used by chapter 9."""
    split = _digits(seed)
    x = split.x_train[:n_examples].double()
    torch.manual_seed(seed)
    linear = nn.Linear(64, width).double()
    readout = torch.randn(width, dtype=torch.float64)
    outputs, norms = [], []
    for a in scales:
        w = (linear.weight.detach() * a).requires_grad_(True)
        bn = nn.BatchNorm1d(width).double().train()
        out = bn(F.linear(x, w, linear.bias.detach() * a))
        (out @ readout).pow(2).mean().backward()
        outputs.append(out.detach())
        norms.append(w.grad.norm().item())
    ref = outputs[list(scales).index(1.0)] if 1.0 in scales else outputs[0]
    change = [(o - ref).abs().max().item() for o in outputs]
    return {"scales": np.asarray(scales, dtype=float), "output_change": np.array(change),
            "grad_norm": np.array(norms)}
