"""Chapter 2's sigmoid-versus-tanh measurements: slopes, output means and per-layer shrinkage."""
import pytest
import torch

from dltips.chapters import gradients


def test_hidden_statistics_shapes_and_values():
    sig = gradients.hidden_statistics(4, "sigmoid")
    tanh = gradients.hidden_statistics(4, "tanh")
    for stats in (sig, tanh):
        assert len(stats["slope"]) == len(stats["mean_output"]) == 4
    assert all(0 < s <= 0.25 for s in sig["slope"])      # the sigmoid's slope never exceeds 1/4
    assert all(0.2 < m < 0.8 for m in sig["mean_output"])  # all-positive outputs
    assert all(0.5 < s <= 1.0 for s in tanh["slope"])      # tanh near its steepest point
    assert all(abs(m) < 0.1 for m in tanh["mean_output"])  # centred on zero


def test_hidden_statistics_slope_is_the_mean_derivative():
    # ReLU's derivative is 1 on positive inputs, 0 elsewhere: the mean slope is the active fraction
    from dltips.models import hidden_outputs
    stats = gradients.hidden_statistics(3, "relu", weight_scale=2.0)
    model = gradients._network(3, "relu", 32, 0, 2.0, torch.float64)
    x = gradients._batch(256, 0)[0].to(torch.float64)
    with torch.no_grad():
        outputs, _ = hidden_outputs(model, x)
    assert stats["slope"] == pytest.approx([(h > 0).double().mean().item() for h in outputs])


def test_larger_weights_saturate_tanh_and_stop_its_gradient_vanishing():
    sweep = gradients.weight_scale_sweep("tanh", [0.5, 1.0, 6.0], depth=6)
    assert sweep["scale"] == [0.5, 1.0, 6.0]
    assert sweep["slope"][0] > sweep["slope"][1] > sweep["slope"][2]
    assert sweep["shrink"][0] > sweep["shrink"][1] > 1 > sweep["shrink"][2]
    sig = gradients.weight_scale_sweep("sigmoid", [1.0], depth=6)
    assert sig["shrink"][0] > 3 and sig["mean_output"][0] == pytest.approx(0.5, abs=0.05)
    with pytest.raises(ValueError):
        gradients.weight_scale_sweep("tanh", [1.0], depth=2)
