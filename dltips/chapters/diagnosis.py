"""Chapter 1: the recipe's measurements on the digits.

- :func:`train_mlp` and :func:`read_curves`: one training run and the recipe's reading of it;
  :func:`demo_history`, the same run for the chapter's demo, kept and cut to length;
- before training: :func:`initial_loss` and :func:`expected_initial_loss` (the loss of an
  untrained classifier), :func:`overfit_tiny_subset` (can the network memorise 20 examples?),
  :func:`loss_curve` and :func:`read_loss_curve` (the learning rate read from the loss curve);
- choosing the target and keeping the test set honest: :func:`nearest_neighbour_accuracy` (a
  baseline with no training) and :func:`best_of_k_inflation` (the optimism of picking the best
  of several models on one held-out set);
- the experiment, after He et al. (2016): :func:`bn_mlp`, :func:`degradation` and
  :func:`first_layer_gradient`.

Every function builds its own networks and data (the digits, split 60/20/20 by
:func:`dltips.data.digits`); none takes a model and a loader, so nothing here answers the
chapter's exercise.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data import Split, digits
from ..models import mlp
from ..training import History, LongestRuns, fit

N_CLASSES = 10


def train_mlp(depth: int = 2, activation: str = "relu", width: int = 64, epochs: int = 20,
              lr: float = 0.05, n_train: int | None = None, seed: int = 0,
              momentum: float = 0.9) -> History:
    """Train a plain MLP (:func:`dltips.models.mlp`, PyTorch's default initialisation) on the
    digits with SGD (momentum 0.9 unless given, batches of 64); return its per-epoch training
    and validation loss and accuracy. ``n_train`` keeps only the first ``n_train`` training
    examples. Used by chapter 1."""
    torch.manual_seed(seed)
    split = digits(seed=seed, n_train=n_train)
    model = mlp(split.n_features, split.n_classes, depth, width, activation, seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    return fit(model, split, epochs, optimizer, seed=seed)


#: the demo's starting number of epochs; a shorter run of the demo is cut from a run this long.
DEMO_EPOCHS = 15


def _train_setting(key: tuple, epochs: int) -> History:
    depth, activation, width, n_train, lr = key
    return train_mlp(depth, activation, width, epochs, lr, n_train)


def _cut_history(run: History, epochs: int) -> History:
    return History(run.train_loss[:epochs], run.train_acc[:epochs], run.val_loss[:epochs],
                   run.val_acc[:epochs])


_DEMO_RUNS = LongestRuns(_train_setting, epochs_of=lambda run: len(run.train_loss),
                         cut=_cut_history, minimum=DEMO_EPOCHS, kept=48)


def demo_history(depth: int, activation: str, width: int, epochs: int,
                 n_train: int | None = None, lr: float = 0.05) -> History:
    """What ``train_mlp(depth, activation, width, epochs, lr, n_train)`` returns, epoch for
    epoch, for the chapter's demo, which asks for many settings and many lengths.

    A setting is trained once, for ``max(epochs, DEMO_EPOCHS)`` epochs, and kept (the last 48
    settings); a shorter run is the first ``epochs`` epochs of a longer one, because
    :func:`dltips.training.fit` records each epoch the same way whatever the number of epochs
    that follow (:class:`dltips.training.LongestRuns`). Returns a new :class:`History` of
    ``epochs`` entries. Used by chapter 1.
    """
    return _DEMO_RUNS((depth, activation, width, n_train, lr), epochs)


def read_curves(history: History, target: float) -> str:
    """The recipe applied to the last epoch of ``history``, in words a reader can act on.
    Used by chapter 1."""
    train, val = history.train_acc[-1], history.val_acc[-1]
    if train < target:
        return (f"training accuracy {train:.1%} is below the target {target:.0%}: "
                "a problem on the TRAINING data (a bigger model or better optimisation)")
    if val < target:
        return (f"training {train:.1%} meets the target but validation {val:.1%} does not: "
                "a problem of generalisation (more data or regularisation)")
    return f"training {train:.1%} and validation {val:.1%} both meet the target {target:.0%}"


# --- before training ---------------------------------------------------------------------


def expected_initial_loss(logit_std: float, n_classes: int = N_CLASSES) -> float:
    """The cross-entropy an untrained classifier should show, to second order in its logits:
    ``ln K + s**2 (K - 1) / (2 K)`` for ``K`` classes and logits that are independent with
    standard deviation ``s`` (``ln K`` exactly when all logits are equal). A scalar. Used by
    chapter 1."""
    return math.log(n_classes) + logit_std ** 2 * (n_classes - 1) / (2 * n_classes)


def initial_loss(output_scale: float = 1.0, depth: int = 2, width: int = 32,
                 seed: int = 0) -> tuple[float, float]:
    """Build :func:`bn_mlp` (``depth`` hidden layers of ``width``), multiply its output layer's
    weights by ``output_scale``, and measure it untrained on the digits' training part, in eval
    mode: returns ``(mean cross-entropy, standard deviation of the logits)``, two floats.
    Used by chapter 1."""
    split = digits(seed=seed)
    model = bn_mlp(split.n_features, split.n_classes, depth, width, seed=seed)
    model.eval()
    with torch.no_grad():
        model[-1].weight.mul_(output_scale)
        logits = model(split.x_train)
        return F.cross_entropy(logits, split.y_train).item(), logits.std().item()


def overfit_tiny_subset(n_examples: int = 20, steps: int = 150, lr: float = 0.05,
                        softmax_twice: bool = False, seed: int = 0) -> tuple[np.ndarray, float]:
    """Train the chapter's usual network (two ReLU layers of 64, SGD with momentum 0.9) on the
    first ``n_examples`` training digits only, full batch, for ``steps`` steps.

    ``softmax_twice=True`` plants a classic bug: the network's outputs go through a softmax
    before ``F.cross_entropy``, which applies its own. Returns ``(losses, train_acc)``: the
    loss before each step, shape (steps,), and the final accuracy on those examples.
    Used by chapter 1.
    """
    split = digits(seed=seed)
    x, y = split.x_train[:n_examples], split.y_train[:n_examples]
    model = mlp(split.n_features, split.n_classes, 2, 64, "relu", seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = np.empty(steps)
    for step in range(steps):
        outputs = model(x)
        if softmax_twice:
            outputs = outputs.softmax(dim=1)
        loss = F.cross_entropy(outputs, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses[step] = loss.item()
    with torch.no_grad():
        train_acc = (model(x).argmax(dim=1) == y).float().mean().item()
    return losses, train_acc


def loss_curve(lr: float, epochs: int = 4, seed: int = 0) -> np.ndarray:
    """The training loss at every step of the chapter's usual network (two ReLU layers of 64,
    PyTorch's default initialisation) trained on the digits by plain SGD (no momentum) at
    learning rate ``lr``, in shuffled batches of 64 for ``epochs`` epochs.

    Returns shape (steps,); once the loss stops being finite the run ends, with ``inf`` as its
    last entry. Used by chapter 1.
    """
    split = digits(seed=seed)
    model = mlp(split.n_features, split.n_classes, 2, 64, "relu", seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        for idx in torch.randperm(len(split.y_train), generator=generator).split(64):
            loss = F.cross_entropy(model(split.x_train[idx]), split.y_train[idx])
            if not torch.isfinite(loss):
                losses.append(math.inf)
                return np.array(losses)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return np.array(losses)


def read_loss_curve(losses: np.ndarray, n_classes: int = N_CLASSES) -> str:
    """Name the learning-rate regime a training-loss curve shows (``losses`` of shape (steps,),
    from :func:`loss_curve`), comparing the mean loss over tenths of the run: ``'diverged'``
    (a non-finite loss, or one above ten times the first), ``'too low'`` (the last tenth still
    averages above 90 % of ``ln n_classes``, where an untrained classifier starts), ``'too
    high'`` (the last tenth has climbed back by more than a quarter of what the best tenth had
    gained) or ``'reasonable'``. A heuristic for the demo. Used by chapter 1."""
    losses = np.asarray(losses, dtype=float)
    if not np.all(np.isfinite(losses)) or losses.max() > 10 * losses[0]:
        return "diverged"
    tenth = max(1, len(losses) // 10)
    best = min(losses[i:i + tenth].mean() for i in range(0, len(losses) - tenth + 1))
    last = losses[-tenth:].mean()
    if last > 0.9 * math.log(n_classes):
        return "too low"
    if last - best > 0.25 * (losses[0] - best):
        return "too high"
    return "reasonable"


# --- the target and the held-out sets -----------------------------------------------------


def nearest_neighbour_accuracy(seed: int = 0) -> float:
    """Validation accuracy of the 1-nearest-neighbour classifier (Euclidean distance on the
    standardised pixels; no training at all) on the digits split by ``seed``: a baseline for
    the target. Used by chapter 1."""
    split = digits(seed=seed)
    nearest = torch.cdist(split.x_val, split.x_train).argmin(dim=1)
    return (split.y_train[nearest] == split.y_val).float().mean().item()


def best_of_k_inflation(accuracy: float, n_examples: int, k: int, trials: int = 20000,
                        seed: int = 0) -> float:
    """How much the best of ``k`` equally good models looks better than it is: ``k`` models
    whose true accuracy is ``accuracy`` are each scored on their own draw of ``n_examples``
    held-out examples (binomial noise), and the best score is kept. Returns the mean, over
    ``trials`` simulations, of (best observed accuracy - ``accuracy``). Used by chapter 1."""
    rng = np.random.default_rng(seed)
    scores = rng.binomial(n_examples, accuracy, size=(trials, k)) / n_examples
    return float(scores.max(axis=1).mean() - accuracy)


# --- the experiment: deeper plain networks train worse (He et al. 2016) ------------------------


def bn_mlp(in_features: int, out_features: int, depth: int, width: int = 32,
           seed: int = 0) -> nn.Sequential:
    """A plain (no shortcut) MLP as He et al.'s plain networks are built: ``depth`` hidden
    layers, each ``Linear(bias=False)`` -> ``BatchNorm1d`` -> ``ReLU``, with He normal weights
    (variance 2 / fan_in); the output layer keeps PyTorch's default initialisation. Input
    (N, in_features), output logits (N, out_features). Used by chapter 1."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    size = in_features
    for _ in range(depth):
        linear = nn.Linear(size, width, bias=False)
        nn.init.kaiming_normal_(linear.weight, nonlinearity="relu", generator=generator)
        layers += [linear, nn.BatchNorm1d(width), nn.ReLU()]
        size = width
    layers.append(nn.Linear(size, out_features))
    return nn.Sequential(*layers)


@dataclass
class Run:
    """One training run of the experiment: its per-epoch ``history`` (training metrics
    measured during each epoch, in train mode) and the final ``train_error`` and ``val_error``
    of the trained network in eval mode, on the whole training and validation parts.
    Used by chapter 1."""

    history: History
    train_error: float
    val_error: float


def degradation(depths: tuple[int, ...] = (2, 20), width: int = 32, epochs: int = 20,
                lr: float = 0.1, seeds: tuple[int, ...] = (0, 1, 2),
                batch_size: int = 64) -> dict[int, list[Run]]:
    """Train :func:`bn_mlp` of each depth on the digits with plain SGD (no momentum, no weight
    decay) under the same budget, once per seed (the seed draws the split, the weights and the
    batches); returns depth -> one :class:`Run` per seed. Used by chapter 1."""
    runs: dict[int, list[Run]] = {}
    for depth in depths:
        runs[depth] = []
        for seed in seeds:
            split = digits(seed=seed)
            model = bn_mlp(split.n_features, split.n_classes, depth, width, seed=seed)
            optimizer = torch.optim.SGD(model.parameters(), lr=lr)
            history = fit(model, split, epochs, optimizer, batch_size=batch_size, seed=seed)
            runs[depth].append(Run(history, *_errors(model, split)))
    return runs


def _errors(model: nn.Module, split: Split) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        return tuple((model(x).argmax(dim=1) != y).float().mean().item()
                     for x, y in ((split.x_train, split.y_train), (split.x_val, split.y_val)))


def first_layer_gradient(depth: int, kind: str = "bn", width: int = 32, seed: int = 0,
                         n_examples: int = 256) -> float:
    """Norm of the first layer's weight gradient in an untrained network, after one backward
    pass of the cross-entropy on ``n_examples`` training digits (train mode). ``kind`` is
    ``"bn"`` (:func:`bn_mlp`) or ``"tanh"`` (a plain tanh MLP with PyTorch's default
    initialisation, no normalisation). A float. Used by chapter 1."""
    split = digits(seed=seed)
    if kind == "bn":
        model = bn_mlp(split.n_features, split.n_classes, depth, width, seed=seed)
    elif kind == "tanh":
        model = mlp(split.n_features, split.n_classes, depth, width, "tanh", seed=seed)
    else:
        raise ValueError(f"unknown kind {kind!r}; choose 'bn' or 'tanh'")
    model.train()
    loss = F.cross_entropy(model(split.x_train[:n_examples]), split.y_train[:n_examples])
    loss.backward()
    return model[0].weight.grad.norm().item()
