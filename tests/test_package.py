"""Unit tests of the core of dltips: data, models, initialisation, training loops, plots,
widgets, gradient checks (chapter modules have tests of their own)."""
import io
import json
import re

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from dltips import data, gradcheck, initialisation, models, plotting, training, widgets
from dltips.chapters import diagnosis


def test_digits_split_sizes_and_train_only_standardisation():
    split = data.digits(seed=0, val_fraction=0.2, test_fraction=0.2)
    sizes = [len(split.x_train), len(split.x_val), len(split.x_test)]
    assert sum(sizes) == 1797 and sizes[1] == sizes[2] == round(0.2 * 1797)
    assert split.n_features == 64 and split.n_classes == 10
    mean = split.x_train.mean(dim=0)
    assert torch.allclose(mean, torch.zeros(64), atol=1e-5)  # standardised with train statistics
    assert not torch.allclose(split.x_val.mean(dim=0), torch.zeros(64), atol=1e-3)
    assert split.x_train.dtype == torch.float32 and split.y_train.dtype == torch.int64


def test_splits_are_seeded_and_disjoint():
    a, b, c = data.digits(seed=1), data.digits(seed=1), data.digits(seed=2)
    assert torch.equal(a.x_train, b.x_train)
    assert not torch.equal(a.x_train, c.x_train)
    rows = {tuple(r.tolist()) for r in a.x_train}
    assert not any(tuple(r.tolist()) in rows for r in a.x_test[:50])


def test_n_train_shrinks_only_the_training_part():
    split = data.digits(n_train=100)
    assert len(split.x_train) == 100 and len(split.x_val) == round(0.2 * 1797)


def test_bad_fractions_are_rejected():
    with pytest.raises(ValueError, match="fractions"):
        data.digits(val_fraction=0.6, test_fraction=0.5)


def test_synthetic_sets():
    moons = data.moons(n=200)
    assert moons.n_features == 2 and moons.n_classes == 2
    spirals = data.spirals(n=300, classes=3)
    assert spirals.n_classes == 3
    x, y = data.noisy_regression(n=50)
    assert x.shape == (50, 1) and y.shape == (50,)


def test_mlp_shape_and_layers():
    model = models.mlp(64, 10, depth=3, width=16, activation="tanh")
    assert len(models.linear_layers(model)) == 4
    assert model(torch.zeros(5, 64)).shape == (5, 10)
    assert len(models.linear_layers(models.mlp(4, 2, depth=0))) == 1
    with pytest.raises(ValueError, match="unknown activation"):
        models.mlp(4, 2, activation="swish")


def test_mlp_is_seeded():
    a, b = models.mlp(8, 3, seed=5), models.mlp(8, 3, seed=5)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_fit_validates_in_eval_mode_without_changing_weights():
    torch.manual_seed(0)
    x, y = torch.randn(40, 4), torch.randint(0, 3, (40,))
    split = data.Split(x, y, x[:30], y[:30], x[:0], y[:0])
    model = models.mlp(4, 3, depth=1, width=8)
    before = [p.clone() for p in model.parameters()]
    history = training.fit(model, split, 1, torch.optim.SGD(model.parameters(), lr=0.0),
                           batch_size=16)
    assert all(torch.equal(p, q) for p, q in zip(before, model.parameters()))
    assert not model.training and 0 <= history.val_acc[0] <= 1
    # the loss is the per-example mean, whatever the batching
    full = nn.CrossEntropyLoss()(model(x[:30]), y[:30]).item()
    assert history.val_loss[0] == pytest.approx(full, rel=1e-5)
    training.fit(model, split, 1, torch.optim.SGD(model.parameters(), lr=0.5), batch_size=16)
    assert not all(torch.equal(p, q) for p, q in zip(before, model.parameters()))


def test_fit_rejects_a_split_without_validation_data():
    x, y = torch.zeros(4, 2), torch.zeros(4, dtype=torch.int64)
    split = data.Split(x, y, x[:0], y[:0], x[:0], y[:0])
    model = models.mlp(2, 2)
    with pytest.raises(ValueError, match="no data"):
        training.fit(model, split, 1, torch.optim.SGD(model.parameters(), lr=0.1))


def test_fit_records_one_entry_per_epoch_and_learns():
    torch.manual_seed(0)
    history = diagnosis.train_mlp(depth=1, width=32, epochs=5, lr=0.05)
    assert len(history.train_loss) == len(history.val_acc) == 5
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_acc[-1] > 0.8


def test_longest_runs_trains_a_setting_once_per_longer_request_and_keeps_the_last_used():
    trained = []

    def train(key, epochs):
        trained.append((key, epochs))
        return [f"{key}:{e}" for e in range(epochs)]

    runs = training.LongestRuns(train, epochs_of=len, cut=lambda run, e: run[:e], minimum=5,
                                kept=2)
    assert runs("a", 3) == ["a:0", "a:1", "a:2"] and trained == [("a", 5)]
    assert runs("a", 5) == [f"a:{e}" for e in range(5)] and len(trained) == 1  # cut, not trained
    assert runs("a", 7)[-1] == "a:6" and trained[-1] == ("a", 7)  # longer: trained again
    runs("b", 1)
    runs("a", 2)       # "a" used last, so "b" is the oldest
    runs("c", 1)       # a third setting: "b" is dropped, "a" kept
    assert len(trained) == 4
    runs("a", 7)
    assert len(trained) == 4
    runs("b", 1)
    assert trained[-1] == ("b", 5)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        runs("a", 0)


def test_read_curves_follows_the_recipe():
    h = training.History([1.0], [0.5], [1.0], [0.5])
    assert "TRAINING" in diagnosis.read_curves(h, 0.9)
    h = training.History([0.1], [0.99], [1.0], [0.6])
    assert "generalisation" in diagnosis.read_curves(h, 0.9)
    h = training.History([0.1], [0.99], [0.1], [0.95])
    assert "both meet" in diagnosis.read_curves(h, 0.9)


def test_numeric_gradient_matches_the_analytic_one():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    grad = gradcheck.numeric_gradient(lambda v: float(np.sum(v ** 3)), x.copy())
    assert gradcheck.relative_error(grad, 3 * x ** 2) < 1e-7
    dout = rng.normal(size=(3, 4))
    g2 = gradcheck.numeric_gradient_of_output(np.tanh, x.copy(), dout)
    assert gradcheck.relative_error(g2, dout * (1 - np.tanh(x) ** 2)) < 1e-7
    assert gradcheck.relative_error(grad, grad + 1e-2) > 1e-5


def test_plot_history_draws_both_curves():
    fig = plotting.plot_history(training.History([1, 0.5], [0.5, 0.8], [1.1, 0.7], [0.4, 0.7]))
    assert isinstance(fig, Figure)
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2
    assert plotting.figure_png(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_demo_redraws_when_a_control_changes_and_has_a_static_rendering():
    calls = []

    def draw(a, kind):
        calls.append((a, kind))
        fig, ax = plotting.new_figure()
        ax.plot([0, a])
        return fig

    demo = widgets.demo(draw, title="line", a=widgets.slider(1, 0, 5, "slope"),
                        kind=widgets.choice("x", ["x", "y"], "kind"))
    assert calls == [(1, "x")]
    demo.controls["a"].value = 3
    assert calls[-1] == (3, "x") and demo.values() == {"a": 3, "kind": "x"}
    bundle = demo._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "slope = 3" in bundle["text/html"] and "data:image/png;base64," in bundle["text/html"]
    calls.clear()
    demo.controls["a"].value = 1  # drawn before: shown again without drawing
    assert calls == [] and demo.values() == {"a": 1, "kind": "x"}


def _line_demo(calls):
    def draw(a, kind, lr):
        calls.append((a, kind, lr))
        fig, ax = plotting.new_figure()
        ax.plot([0, a * lr], label=kind)
        ax.set(title=f"{kind}", xlabel="x", ylabel="y")
        ax.legend()
        return fig
    return draw


def test_a_static_demo_holds_every_grid_state_and_real_controls(monkeypatch):
    monkeypatch.setenv(widgets.STATIC_ENV, "1")
    calls = []
    demo = widgets.demo(_line_demo(calls), title="line", grid={"a": [0, 1, 3], "kind": ["x", "y"]},
                        a=widgets.slider(1, 0, 5, "slope"),
                        kind=widgets.choice("x", ["x", "y", "z"], "kind"),
                        lr=widgets.log_slider(0.3, -2, 1, "lr"))
    calls.clear()
    page = demo.static_html()
    assert sorted(calls) == sorted((a, k, 0.3) for a in (0, 1, 3) for k in ("x", "y"))
    payload = json.loads(re.search(r'<script type="application/json" class="dltips-demo-states">'
                                   r'(.*?)</script>', page).group(1))
    states = payload["states"]
    assert sorted(states) == [f"{i}-{j}" for i in range(3) for j in range(2)]
    # a = 0 draws the same flat line for both kinds but its own legend: six figures, once each
    assert sorted(i for i, _ in states.values()) == list(range(6)) == \
        list(range(len(payload["images"])))
    assert 'type="range" min="0" max="2" step="1" value="1" data-control="a"' in page
    assert '<select data-control="kind"><option value="0" selected>x</option>' in page
    assert "z</option>" not in page, "only grid values are offered"
    assert "here these stay fixed: lr = 0.3" in page
    assert 'data-first="1-0"' in page and "“x”, y against x, showing x" in states["1-0"][1]


def test_a_figure_that_two_settings_share_is_stored_once(monkeypatch):
    monkeypatch.setenv(widgets.STATIC_ENV, "1")

    def draw(a, ignored):
        fig, ax = plotting.new_figure()
        ax.plot([0, a])
        return fig
    page = widgets.demo(draw, grid={"a": [0, 1, 3], "ignored": ["x", "y"]},
                        a=widgets.slider(1, 0, 5, "a"),
                        ignored=widgets.choice("x", ["x", "y"], "ignored")).static_html()
    assert page.count("data:image/png") == 1 + 3  # the one shown, and three for six states


def test_without_the_build_a_demo_draws_only_its_starting_state(monkeypatch):
    monkeypatch.delenv(widgets.STATIC_ENV, raising=False)
    calls = []
    demo = widgets.demo(_line_demo(calls), grid={"a": [0, 1, 3]}, a=widgets.slider(1, 0, 5, "a"),
                        kind=widgets.choice("x", ["x"], "kind"), lr=widgets.log_slider(1.0, 0, 1, "lr"))
    calls.clear()
    page = demo.static_html()
    assert calls == [(1, "x", 1.0)] and page.count("data:image/png") == 2  # shown + its state


@pytest.mark.parametrize("grid, problem", [
    ({"b": [1]}, "not controls"), ({"a": [0, 9]}, "outside its slider"),
    ({"a": [0, 2]}, "starting value"), ({"a": [1, 1]}, "repeats"),
    ({"kind": ["x", "w"]}, "not one of its options"),
    ({"a": [0, 1, 2, 3, 4, 5], "lr": widgets.log_values(-2, 1)}, "combinations"),
])
def test_a_grid_that_cannot_be_shown_is_refused_with_the_reason(grid, problem):
    with pytest.raises(ValueError, match=problem):
        widgets.demo(_line_demo([]), grid=grid, a=widgets.slider(1, 0, 5, "a"),
                     kind=widgets.choice("x", ["x", "y"], "kind"),
                     lr=widgets.log_slider(0.3, -2, 1, "lr"))


def test_log_sliders_reach_round_values_and_the_ones_asked_for():
    assert widgets.log_values(-2, 0) == [0.01, 0.02, 0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0]
    options = [v for _, v in widgets.log_slider(0.3, -2.5, 1, "lr", extra=(0.19, 0.21)).options]
    assert {0.005, 0.3, 3.0, 0.19, 0.21} <= set(options) and options == sorted(options)
    assert min(options) >= 10 ** -2.5 and max(options) == 10.0


def test_figures_say_what_they_show_and_wide_ones_get_larger_text():
    fig, axes = plotting.new_figure(ncols=3)
    axes[0].plot([1, 2], label="training")
    axes[0].set(title="loss", xlabel="epoch", ylabel="cross-entropy")
    axes[0].legend()
    text = plotting.describe_figure(fig)
    assert text.startswith("Figure of 3 panels.") and \
        "Panel 1: “loss”, cross-entropy against epoch, showing training." in text
    from PIL import Image
    png = plotting.figure_png(fig)
    assert Image.open(io.BytesIO(png)).text["Description"] == text
    wide = axes[0].title.get_fontsize()
    plotting.figure_png(fig)  # a second rendering does not enlarge again
    assert axes[0].title.get_fontsize() == wide
    narrow, ax = plotting.new_figure()
    ax.set_title("loss")
    plotting.figure_png(narrow)
    assert wide == pytest.approx(ax.title.get_fontsize() * 3 * 4.2 / plotting.READABLE_WIDTH)


def test_initialise_schemes_set_the_variance_and_zero_biases():
    model = nn.Sequential(nn.Linear(400, 300), nn.ReLU(), nn.Linear(300, 200))
    for scheme, var in [("he", lambda i, o: 2 / i), ("lecun", lambda i, o: 1 / i),
                        ("xavier", lambda i, o: 2 / (i + o))]:
        initialisation.initialise(model, scheme, seed=1)
        for layer in (model[0], model[2]):
            fan_out, fan_in = layer.weight.shape
            assert layer.weight.var().item() == pytest.approx(var(fan_in, fan_out), rel=0.05)
            assert torch.all(layer.bias == 0)
    before = model[0].weight.clone()
    initialisation.initialise(model, "default")
    assert torch.equal(model[0].weight, before)
    with pytest.raises(ValueError):
        initialisation.initialise(model, "orthogonal")


def test_mlp_prelu_and_maxout():
    prelu = models.mlp(5, 3, depth=2, width=7, activation="prelu", seed=0)
    slopes = [m for m in prelu if isinstance(m, nn.PReLU)]
    assert len(slopes) == 2 and all(m.weight.shape == (7,) for m in slopes)
    maxout = models.mlp(5, 3, depth=2, width=7, activation="maxout", pieces=3, seed=0)
    x = torch.randn(4, 5)
    assert maxout(x).shape == (4, 3)
    layer = maxout[0]
    assert isinstance(layer, models.Maxout) and layer.linear.out_features == 21
    manual = torch.stack([x @ layer.linear.weight[m * 3 + k] + layer.linear.bias[m * 3 + k]
                          for m in range(7) for k in range(3)], dim=1).view(4, 7, 3).max(2).values
    torch.testing.assert_close(layer(x), manual)
    relu = models.mlp(5, 3, depth=1, activation="relu", seed=0)
    assert any(isinstance(m, nn.ReLU) for m in relu)


def test_maxout_gradient_reaches_only_the_selected_piece():
    torch.manual_seed(0)
    layer = models.Maxout(3, 2, 4)
    x = torch.randn(1, 3)
    layer(x).sum().backward()
    grads = layer.linear.bias.grad.view(2, 4)
    assert torch.equal((grads != 0).sum(dim=1), torch.tensor([1, 1]))
    chosen = layer.pieces_of(x).argmax(dim=2)[0]
    assert torch.equal(grads.argmax(dim=1), chosen)
