"""Chapter 10: input preprocessing and weight initialisation.

- :func:`own_statistics_accuracy` trains a small network on digits standardised with training
  statistics, then evaluates it on test data standardised with training statistics and, the
  bug, with the statistics of each test batch itself;
- :func:`sgd_path` runs per-example SGD for a linear unit with two inputs that are all positive
  (like a sigmoid layer's outputs) or centred, and records the path and the gradient signs
  (the zig-zag of LeCun et al. 1998);
- :func:`whitening_steps` centres, decorrelates (PCA) and whitens a synthetic 2-D cloud;
- :func:`symmetric_training` trains a one-hidden-layer network from all-zero, constant and
  random weights and measures how different its hidden units became;
- :func:`deep_net` builds the chapter's deep MLP with an initialisation scheme and scale (by
  ``torch.nn.init``); :func:`layer_activations` runs one batch through it (the demo);
  :func:`train_deep` trains it on the digits (the experiment, after Glorot & Bengio 2010 and
  He et al. 2015).

Every function builds its own data and network; nothing here takes an array a student could
pass or returns a weight matrix, so nothing answers the chapter's exercise.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

from ..data import digits
from ..models import hidden_outputs, linear_layers, mlp
from ..optimizers import make_optimizer
from ..training import History, train

#: initialisation schemes of :func:`deep_net`: the standard deviation of every weight of a
#: layer with ``fan_in`` inputs and ``fan_out`` outputs, before the demo's scale factor.
SCHEMES = {
    "normal": lambda fan_in, fan_out: 1.0,                            # N(0, 1) times the scale
    "xavier": lambda fan_in, fan_out: math.sqrt(2.0 / (fan_in + fan_out)),
    "he": lambda fan_in, fan_out: math.sqrt(2.0 / fan_in),
}


# -- standardising with whose statistics? ---------------------------------------------------------

def _raw_digits(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The digits' raw pixel values (0..16), shuffled by ``seed`` and cut into 1,200 training
    and 597 test examples."""
    data = load_digits()
    order = np.random.default_rng(seed).permutation(len(data.target))
    x, y = data.data[order].astype(np.float64), data.target[order]
    return x[:1200], y[:1200], x[1200:], y[1200:]


def own_statistics_accuracy(batch_sizes=(597, 100, 20, 5, 2, 1), epochs: int = 15,
                            seed: int = 0) -> dict[str, object]:
    """Train an MLP (one ReLU layer of 64 units, Adam, ``epochs`` epochs) on 1,200 raw digits
    standardised with their own (training) statistics; then measure test accuracy (597 digits)
    when the test data are standardised (a) with the training statistics, (b) batch by batch,
    each test batch of size ``b`` with its own statistics, for every ``b`` in ``batch_sizes``,
    and (c) the test examples of the digits 0 and 1 only, with their own statistics vs the
    training ones. Returns ``train_stats`` (a), ``own_stats`` (b, one per batch size),
    ``batch_sizes``, ``two_classes_train_stats`` and ``two_classes_own_stats`` (c).
    Used by chapter 10."""
    torch.manual_seed(seed)
    x_tr, y_tr, x_te, y_te = _raw_digits(seed)
    # the statistics of each group of digits, computed in place here (this module offers no
    # standardising function: that is the chapter's exercise)
    stats = {"train": (x_tr.mean(axis=0), x_tr.std(axis=0))}
    scaled = lambda x, mean, std: (x - mean) / np.where(std == 0, 1.0, std)  # noqa: E731
    xt = torch.tensor(scaled(x_tr, *stats["train"]), dtype=torch.float32)
    model = mlp(64, 10, depth=1, width=64, seed=seed)
    train(model, xt, torch.tensor(y_tr), nn.CrossEntropyLoss(),
          make_optimizer(model.parameters(), "adam", 1e-2), epochs, batch_size=100, seed=seed)
    model.eval()

    def accuracy(x: np.ndarray, y: np.ndarray) -> float:
        with torch.no_grad():
            pred = model(torch.tensor(x, dtype=torch.float32)).argmax(1).numpy()
        return float(np.mean(pred == y))

    own = []
    for b in batch_sizes:
        parts = [scaled(part, part.mean(axis=0), part.std(axis=0))
                 for part in (x_te[i:i + b] for i in range(0, len(x_te), b))]
        own.append(accuracy(np.concatenate(parts), y_te))
    two = x_te[y_te <= 1]
    return {"batch_sizes": np.array(batch_sizes), "own_stats": np.array(own),
            "train_stats": accuracy(scaled(x_te, *stats["train"]), y_te),
            "two_classes_train_stats": accuracy(scaled(two, *stats["train"]), y_te[y_te <= 1]),
            "two_classes_own_stats": accuracy(scaled(two, two.mean(axis=0), two.std(axis=0)),
                                              y_te[y_te <= 1])}


# -- zero-centred inputs ---------------------------------------------------------------------------

@dataclass
class SgdPath:
    """Per-example SGD of a linear unit y = w . x with squared error: ``path`` (steps + 1, 2)
    the weights after every step, ``grads`` (steps, 2) every step's gradient, ``same_sign`` the
    fraction of steps whose two gradient components had the same sign, ``target`` the weights
    that generated the data, ``x`` (n, 2) the inputs and ``losses`` the mean squared error after
    every step. Used by chapter 10."""

    path: np.ndarray
    grads: np.ndarray
    same_sign: float
    target: np.ndarray
    x: np.ndarray
    losses: np.ndarray


#: the inputs :func:`sgd_path` can feed its unit
INPUTS = ("raw", "centred", "standardised")


def sgd_path(inputs: str = "raw", steps: int = 60, lr: float = 0.5, n: int = 200,
             seed: int = 0) -> SgdPath:
    """``steps`` steps of SGD with one example per step (examples drawn at random, seeded),
    from w = 0, for a linear unit with two inputs and the target weights (1, -1). The inputs
    are sigmoid outputs, sigmoid of standard normal numbers with correlation 0.5 (all in
    (0, 1), mean about 0.5): ``"raw"``; the same numbers minus their mean: ``"centred"``; or
    also divided by their standard deviation: ``"standardised"``. The gradient for one example
    is (w . x - y) x: with all-positive x its two components always share the sign of the
    error. Used by chapter 10."""
    gen = torch.Generator().manual_seed(seed)
    if inputs not in INPUTS:
        raise ValueError(f"unknown inputs {inputs!r}; choose one of {INPUTS}")
    z = torch.randn(n, 2, generator=gen, dtype=torch.float64)
    x = torch.sigmoid(z @ torch.tensor([[1.0, 0.5], [0.0, 0.75 ** 0.5]], dtype=torch.float64))
    if inputs != "raw":
        x = x - x.mean(0)
    if inputs == "standardised":
        x = x / x.std(0, unbiased=False)
    target = torch.tensor([1.0, -1.0], dtype=torch.float64)
    y = x @ target
    w = torch.zeros(2, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    path, grads, losses = [w.detach().clone()], [], []
    for i in torch.randint(n, (steps,), generator=gen):
        opt.zero_grad()
        (0.5 * (x[i] @ w - y[i]) ** 2).backward()
        grads.append(w.grad.detach().clone())
        opt.step()
        path.append(w.detach().clone())
        with torch.no_grad():
            losses.append(float(F.mse_loss(x @ w, y)))
    g = torch.stack(grads).numpy()
    nonzero = np.all(g != 0, axis=1)
    same = float(np.mean(np.sign(g[nonzero, 0]) == np.sign(g[nonzero, 1])))
    return SgdPath(torch.stack(path).numpy(), g, same, target.numpy(), x.numpy(),
                   np.array(losses))


def whitening_steps(n: int = 400, seed: int = 0) -> dict[str, np.ndarray]:
    """A correlated 2-D Gaussian cloud away from the origin, and what preprocessing does to it:
    ``raw`` (n, 2), ``centred`` (mean subtracted), ``decorrelated`` (rotated onto the principal
    axes of its covariance: PCA) and ``whitened`` (each principal axis divided by its standard
    deviation: covariance = identity); ``covariances`` maps each step to its 2x2 covariance.
    Used by chapter 10."""
    rng = np.random.default_rng(seed)
    raw = rng.normal(size=(n, 2)) @ np.array([[2.0, 1.2], [0.0, 0.5]]) + np.array([5.0, 3.0])
    centred = raw - raw.mean(axis=0)
    cov = centred.T @ centred / n
    eigval, eigvec = np.linalg.eigh(cov)
    order = np.argsort(eigval)[::-1]
    eigval, eigvec = eigval[order], eigvec[:, order]
    decorrelated = centred @ eigvec
    whitened = decorrelated / np.sqrt(eigval)
    steps = {"raw": raw, "centred": centred, "decorrelated": decorrelated, "whitened": whitened}
    steps["covariances"] = {k: np.cov(v.T, bias=True) for k, v in steps.items()}
    return steps


# -- symmetry ---------------------------------------------------------------------------------------

def symmetric_training(init: str, epochs: int = 20, width: int = 32, seed: int = 0
                       ) -> dict[str, float]:
    """Train a network with one tanh layer of ``width`` units on the digits (SGD with momentum,
    learning rate 0.05, batches of 64) from ``init``: ``"zero"`` (every weight and bias 0),
    ``"constant"`` (every weight 0.05, biases 0) or ``"random"`` (PyTorch's default). Returns
    the final training and validation accuracy and ``unit_spread``: the largest difference
    between any hidden unit's incoming weights and those of unit 0 (0 means all units are the
    same unit). Used by chapter 10."""
    split = digits(seed=seed)
    model = mlp(split.n_features, split.n_classes, depth=1, width=width, activation="tanh",
                seed=seed)
    if init != "random":
        value = {"zero": 0.0, "constant": 0.05}[init]
        with torch.no_grad():
            for layer in linear_layers(model):
                layer.weight.fill_(value)
                layer.bias.zero_()
    opt = make_optimizer(model.parameters(), "momentum", 0.05)
    train(model, split.x_train, split.y_train, nn.CrossEntropyLoss(), opt, epochs,
          batch_size=64, seed=seed)
    model.eval()
    with torch.no_grad():
        acc = [float((model(x).argmax(1) == y).float().mean())
               for x, y in ((split.x_train, split.y_train), (split.x_val, split.y_val))]
    hidden = linear_layers(model)[0].weight.detach()
    return {"train_acc": acc[0], "val_acc": acc[1],
            "unit_spread": float((hidden - hidden[0]).abs().max())}


# -- deep networks: initialisation scheme and scale ------------------------------------------------

def deep_net(activation: str = "tanh", scheme: str = "xavier", scale: float = 1.0,
             depth: int = 10, width: int = 128, in_features: int = 64, out_features: int = 10,
             seed: int = 0) -> nn.Sequential:
    """:func:`dltips.models.mlp` with ``depth`` hidden layers of ``width`` units and every
    ``nn.Linear`` re-initialised by ``torch.nn.init.normal_`` with standard deviation
    ``scale * SCHEMES[scheme](fan_in, fan_out)`` (so ``"xavier"`` and ``"he"`` at scale 1 are
    ``xavier_normal_`` and ``kaiming_normal_(nonlinearity='relu')``), biases 0, one seeded
    generator. Used by chapter 10."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown scheme {scheme!r}; choose one of {sorted(SCHEMES)}")
    model = mlp(in_features, out_features, depth, width, activation, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for layer in linear_layers(model):
            fan_out, fan_in = layer.weight.shape
            nn.init.normal_(layer.weight, 0.0, scale * SCHEMES[scheme](fan_in, fan_out),
                            generator=gen)
            layer.bias.zero_()
    return model


@functools.lru_cache(maxsize=1)
def _demo_batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``n`` standardised training digits of :func:`dltips.data.digits` (seed 0) and
    their labels, loaded once."""
    split = digits(seed=0)
    return split.x_train[:n], split.y_train[:n]


def layer_activations(activation: str = "tanh", scheme: str = "xavier", scale: float = 1.0,
                      depth: int = 10, width: int = 128, n: int = 500,
                      seed: int = 0) -> list[np.ndarray]:
    """One forward pass of ``n`` standardised training digits through :func:`deep_net`: the
    output (n, width) of every hidden layer after its activation, input to output, as float
    arrays. Used by chapter 10."""
    x, _ = _demo_batch(n)
    model = deep_net(activation, scheme, scale, depth, width, seed=seed)
    with torch.no_grad():
        outputs, _ = hidden_outputs(model, x)
    return [h.numpy() for h in outputs]


def layer_gradients(activation: str = "tanh", scheme: str = "xavier", scale: float = 1.0,
                    depth: int = 10, width: int = 128, n: int = 500,
                    seed: int = 0) -> np.ndarray:
    """The standard deviation of the loss gradient with respect to every ``nn.Linear``
    weight matrix of :func:`deep_net`, input to output (shape (depth + 1,)), after one backward
    pass of the cross-entropy of ``n`` standardised training digits. Used by chapter 10."""
    x, y = _demo_batch(n)
    model = deep_net(activation, scheme, scale, depth, width, seed=seed)
    F.cross_entropy(model(x), y).backward()
    return np.array([float(layer.weight.grad.std()) for layer in linear_layers(model)])


def train_deep(activation: str, scheme: str, scale: float = 1.0, epochs: int = 15,
               depth: int = 10, width: int = 128, lr: float = 0.01, batch_size: int = 64,
               seed: int = 0) -> History:
    """Train :func:`deep_net` on the digits (:func:`dltips.data.digits`, 1,078 training and
    359 validation digits) with SGD and momentum 0.9 (learning rate ``lr``, mini-batches of
    ``batch_size``) and record, after every epoch, training and validation loss and accuracy in
    eval mode. Non-finite losses are recorded as NaN. Used by chapter 10."""
    split = digits(seed=seed)
    model = deep_net(activation, scheme, scale, depth, width, split.n_features, split.n_classes,
                     seed=seed)
    opt = make_optimizer(model.parameters(), "momentum", lr)
    history = History()

    def measure(x, y):
        with torch.no_grad():
            logits = model(x)
            loss = float(F.cross_entropy(logits, y))
            return (loss if math.isfinite(loss) else float("nan"),
                    float((logits.argmax(1) == y).float().mean()))

    def record():
        model.eval()
        history.record(measure(split.x_train, split.y_train), measure(split.x_val, split.y_val))
        model.train()

    train(model, split.x_train, split.y_train, nn.CrossEntropyLoss(), opt, epochs,
          batch_size=batch_size, seed=seed, after_epoch=record)
    return history
