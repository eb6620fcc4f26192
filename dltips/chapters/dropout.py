"""Chapter 8: dropout on the digits, and the ensemble of thinned units it approximates.

- :func:`dropout_mlp` puts PyTorch's ``nn.Dropout`` after every hidden layer of a plain MLP;
  :func:`train_with_dropout` trains one on a small digits training set and records, per epoch,
  training and validation loss and accuracy measured in eval mode (the demo and the
  experiment, after Srivastava et al. 2014);
- :func:`monte_carlo_vs_scaling` compares, on a trained dropout network, the average of many
  sampled thinned networks with the single network in eval mode (Srivastava et al. 2014,
  section 7.5);
- :func:`unit_ensemble` enumerates every keep mask of the chapter's own single unit with torch,
  for the demo that compares the exact ensemble mean with weight scaling; :func:`ensemble_gap`
  sweeps that unit's weight scale.

Every function builds its own data, unit or network; nothing here takes an array, a mask or
an activation a student could pass, so nothing answers the chapter's exercise.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split, digits
from ..models import mlp
from ..optimizers import make_optimizer
from ..training import History, train

#: the unit activations of the ensemble demo, as torch functions.
UNIT_ACTIVATIONS = {
    "linear": lambda z: z,
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
}


def dropout_mlp(in_features: int, out_features: int, p: float, depth: int = 2,
                width: int = 512, activation: str = "relu", p_input: float = 0.0,
                seed: int = 0) -> nn.Sequential:
    """:func:`dltips.models.mlp` with ``nn.Dropout(p)`` after every hidden activation and
    ``nn.Dropout(p_input)`` on the input (when ``p_input > 0``). ``p`` is PyTorch's DROP
    probability; the layers drop only in train mode (inverted dropout: kept units scaled by
    1/(1-p)), and are the identity after ``model.eval()``. With ``p = 0`` the network computes
    exactly what the plain MLP with the same seed computes. Used by chapter 8."""
    base = mlp(in_features, out_features, depth, width, activation, seed=seed)
    layers: list[nn.Module] = [nn.Dropout(p_input)] if p_input > 0 else []
    for layer in base:
        layers.append(layer)
        if not isinstance(layer, nn.Linear):
            layers.append(nn.Dropout(p))
    return nn.Sequential(*layers)


def _measure(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(cross-entropy, accuracy) of ``model`` on (x, y), in eval mode, without gradients."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = model(x)
        out = (F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item())
    model.train(was_training)
    return out


@dataclass
class DropoutRun:
    """What :func:`train_with_dropout` records: ``history`` has one entry per epoch, all four
    curves measured in eval mode after the epoch (so the training numbers are those of the
    full network, not of the thinned ones it trained); ``model`` is the trained network.
    Used by chapter 8."""

    p: float
    history: History
    model: nn.Module
    split: Split

    @property
    def gap(self) -> float:
        """Final training accuracy minus final validation accuracy."""
        return self.history.train_acc[-1] - self.history.val_acc[-1]

    @property
    def loss_gap(self) -> float:
        """Final validation loss minus final training loss."""
        return self.history.val_loss[-1] - self.history.train_loss[-1]


def train_with_dropout(p: float, epochs: int = 60, n_train: int = 300, depth: int = 2,
                       width: int = 256, p_input: float = 0.0, lr: float = 1e-3,
                       batch_size: int = 50, optimizer: str = "adam",
                       seed: int = 0) -> DropoutRun:
    """Train the over-sized :func:`dropout_mlp` (``depth`` ReLU layers of ``width`` units) on the
    first ``n_train`` training digits with ``optimizer`` (a name of
    :data:`dltips.optimizers.OPTIMIZERS`, learning rate ``lr``, mini-batches of ``batch_size``)
    and drop probability ``p`` on every hidden layer; after every epoch record training and
    validation loss and accuracy in eval mode. The split (:func:`dltips.data.digits`, 359
    validation digits), the initial weights and the batch order depend only on ``seed``, so runs
    with different ``p`` differ only by dropout. Used by chapter 8."""
    split = digits(seed=seed, n_train=n_train)
    model = dropout_mlp(split.n_features, split.n_classes, p, depth, width, p_input=p_input,
                        seed=seed)
    opt = make_optimizer(model.parameters(), optimizer, lr)
    history = History()

    def record():
        history.record(_measure(model, split.x_train, split.y_train),
                       _measure(model, split.x_val, split.y_val))

    torch.manual_seed(seed + 1)                  # the dropout masks
    train(model, split.x_train, split.y_train, nn.CrossEntropyLoss(), opt, epochs,
          batch_size=batch_size, seed=seed, after_epoch=record)
    model.eval()
    return DropoutRun(p, history, model, split)


def monte_carlo_vs_scaling(run: DropoutRun, samples=(1, 2, 5, 10, 20, 50, 100),
                           seed: int = 0) -> dict[str, np.ndarray | float]:
    """Validation accuracy of a trained dropout network two ways: the single full network in
    eval mode (inverted dropout, the same as scaling the weights by 1 - p), and the average of
    the softmax outputs of ``k`` thinned networks sampled in train mode, for every ``k`` in
    ``samples`` (one sequence of masks, seeded). Returns ``samples``, ``mc_acc`` (one per k) and
    ``scaled_acc``. Used by chapter 8."""
    model, x, y = run.model, run.split.x_val, run.split.y_val
    _, scaled_acc = _measure(model, x, y)
    torch.manual_seed(seed)
    model.train()
    total, accs, done = torch.zeros(len(y), 10), [], 0
    with torch.no_grad():
        for k in sorted(samples):
            while done < k:
                total += F.softmax(model(x), dim=1)
                done += 1
            accs.append((total.argmax(1) == y).float().mean().item())
    model.eval()
    return {"samples": np.array(sorted(samples)), "mc_acc": np.array(accs),
            "scaled_acc": scaled_acc}


def _unit_inputs(m: int, weight_scale: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The demo unit's inputs and weights: float64 draws from a seeded generator."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(m, generator=g, dtype=torch.float64) * 2 - 1
    w = torch.randn(m, generator=g, dtype=torch.float64) * weight_scale
    return x, w


@dataclass
class UnitEnsemble:
    """Every thinned version of the chapter's one unit: ``z`` (2^M,) the pre-activation of each
    keep mask, ``prob`` its probability, ``y`` its output; ``mean`` the exact ensemble mean,
    ``scaled`` the output of the unit with weights times 1 - p, and ``geometric`` the normalised
    weighted geometric mean of the outputs (sigmoid only, else NaN). Used by chapter 8."""

    z: np.ndarray
    prob: np.ndarray
    y: np.ndarray
    mean: float
    scaled: float
    geometric: float


def unit_ensemble(activation: str = "sigmoid", p: float = 0.5, weight_scale: float = 1.0,
                  m: int = 8, seed: int = 0) -> UnitEnsemble:
    """The demo's unit: ``m`` inputs and weights drawn with ``seed`` (inputs uniform on
    [-1, 1], weights normal times ``weight_scale``), no bias, ``activation`` one of
    :data:`UNIT_ACTIVATIONS`. Its inputs are dropped with probability ``p`` and kept ones are not
    rescaled (the lecture's view). All 2^m keep masks are enumerated with torch. Used by
    chapter 8."""
    act = UNIT_ACTIVATIONS[activation]
    x, w = _unit_inputs(m, weight_scale, seed)
    masks = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=torch.float64)] * m)
    masks = masks.reshape(-1, m)
    kept = masks.sum(1)
    prob = (1 - p) ** kept * p ** (m - kept)
    z = masks @ (w * x)
    y = act(z)
    mean = float((prob * y).sum())
    scaled = float(act(((1 - p) * w) @ x))
    geometric = float("nan")
    if activation == "sigmoid":
        log_g = (prob * F.logsigmoid(z)).sum()
        log_g_not = (prob * F.logsigmoid(-z)).sum()
        geometric = float(torch.sigmoid(log_g - log_g_not))
    return UnitEnsemble(z.numpy(), prob.numpy(), y.numpy(), mean, scaled, geometric)


def ensemble_gap(activation: str, p: float = 0.5, scales=None, m: int = 8,
                 seeds=range(20)) -> tuple[np.ndarray, np.ndarray]:
    """Mean over ``seeds`` of |ensemble mean - weight-scaled output| of :func:`unit_ensemble`,
    for every weight scale in ``scales`` (default: 0.1 to 10, log-spaced). Returns (scales,
    gaps). Used by chapter 8."""
    scales = np.geomspace(0.1, 10, 15) if scales is None else np.asarray(scales, dtype=float)
    gaps = np.array([np.mean([abs(u.mean - u.scaled) for u in
                              (unit_ensemble(activation, p, s, m, seed) for seed in seeds)])
                     for s in scales])
    return scales, gaps
