"""dltips.chapters.batchnorm: the chapter's network with and without batch norm, the recorded
activations of the demo, the learning-rate runs of the experiment and the scale invariance."""
import math

import numpy as np
import torch
from torch import nn

from dltips.chapters import batchnorm as B


def test_batchnorm_mlp_puts_a_batchnorm_between_every_hidden_linear_and_its_activation():
    model = B.batchnorm_mlp(64, 10, depth=3, width=16, batch_norm=True, seed=2)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU"] * 3 + ["Linear"]
    bns = [m for m in model if isinstance(m, nn.BatchNorm1d)]
    assert all(m.momentum == 0.1 and m.eps == 1e-5 for m in bns)
    plain = B.batchnorm_mlp(64, 10, depth=3, width=16, batch_norm=False, seed=2)
    assert [type(m).__name__ for m in plain] == ["Linear", "ReLU"] * 3 + ["Linear"]
    # the same weights with and without batch norm; He init: zero biases
    for a, b in zip([m for m in model if isinstance(m, nn.Linear)],
                    [m for m in plain if isinstance(m, nn.Linear)]):
        assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
        assert torch.count_nonzero(a.bias) == 0


def test_record_activations_keeps_the_inputs_of_every_nonlinearity():
    r = B.record_activations(0.1, True, steps=6, record_at=(0, 3, 6), depth=3, width=8,
                             batch_size=32, seed=0)
    assert r.steps == [0, 3, 6] and len(r.values) == 3
    assert all(len(v) == 3 and all(a.shape == (32 * 8,) for a in v) for v in r.values)
    assert r.loss.shape == (7,) and not r.diverged
    # at step 0 the batch-norm layers have gamma 1 and beta 0: every feature standardised
    first = r.values[0][1].reshape(32, 8)
    assert np.allclose(first.mean(0), 0, atol=1e-5)
    assert np.allclose(first.var(0), 1, atol=1e-3)
    # seeded: the same run twice gives the same losses and activations
    a = B.record_activations(0.1, False, steps=4, record_at=(0, 4), depth=2, width=8, seed=1)
    b = B.record_activations(0.1, False, steps=4, record_at=(0, 4), depth=2, width=8, seed=1)
    assert np.array_equal(a.loss, b.loss)
    assert all(np.array_equal(x, y) for x, y in zip(a.values[1], b.values[1]))


def test_record_activations_fills_nan_after_divergence():
    r = B.record_activations(10.0, False, steps=30, record_at=(0, 30), depth=4, width=64)
    assert r.diverged
    assert np.isfinite(r.loss[0]) and np.isnan(r.loss[-1])
    assert all(np.all(np.isnan(v)) for v in r.values[-1])
    assert np.all(np.isfinite(r.values[0][0]))


def test_train_at_lr_records_eval_mode_losses_and_flags_divergence():
    ok = B.train_at_lr(0.1, True, depth=2, width=16, epochs=2, seed=0)
    assert len(ok.train_loss) == 2 and ok.final_loss < math.log(10) and not ok.diverged
    assert 0.5 < ok.val_acc <= 1
    again = B.train_at_lr(0.1, True, depth=2, width=16, epochs=2, seed=0)
    assert again.train_loss == ok.train_loss
    bad = B.train_at_lr(30.0, False, depth=4, width=16, epochs=2, seed=0)
    assert bad.diverged


def test_lr_sweep_shape():
    sweep = B.lr_sweep(lrs=(0.1, 0.3), seeds=(0,), depth=2, width=8, epochs=1)
    assert set(sweep) == {False, True}
    assert [[r.lr for r in row] for row in sweep[True]] == [[0.1], [0.3]]
    assert all(r.batch_norm for row in sweep[True] for r in row)


def test_scale_invariance_output_unchanged_gradient_inversely_proportional():
    res = B.scale_invariance(scales=(1.0, 10.0, 100.0))
    assert res["output_change"][0] == 0
    assert np.all(res["output_change"] < 1e-3)
    ratios = res["grad_norm"][0] / res["grad_norm"]
    assert np.allclose(ratios, [1.0, 10.0, 100.0], rtol=1e-3)


def test_record_activations_default_steps_match_the_demo_slider():
    r = B.record_activations(0.01, True)
    assert r.steps == list(range(0, 61, 10))     # the demo's step slider: 0 to 60 by 10
    assert len(r.values) == 7 and len(r.values[0]) == 4 and r.loss.shape == (61,)
