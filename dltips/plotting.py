"""Figure helpers. Figures are built with ``matplotlib.figure.Figure`` (not pyplot), so nothing
is shown twice and widget demos can redraw them; a notebook displays a returned figure."""
from __future__ import annotations

import io

from matplotlib.figure import Figure

from .training import History

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#d62728"


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.2,
               **subplot_kw) -> tuple[Figure, object]:
    """A figure with a grid of axes, ``width`` x ``height`` inches per panel.
    Used by chapters 1-11."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, subplot_kw=subplot_kw or None)
    return fig, axes


def plot_history(history: History, axes=None, title: str = "") -> Figure:
    """Loss and accuracy per epoch, training against validation, on two panels.
    Used by chapter 1."""
    if axes is None:
        fig, axes = new_figure(ncols=2)
    else:
        fig = axes[0].figure
    epochs = range(1, len(history.train_loss) + 1)
    ax_loss, ax_acc = axes
    ax_loss.plot(epochs, history.train_loss, color=TRAIN_COLOR, label="training")
    ax_loss.plot(epochs, history.val_loss, color=VAL_COLOR, label="validation")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title=f"{title} loss".strip())
    ax_acc.plot(epochs, history.train_acc, color=TRAIN_COLOR, label="training")
    ax_acc.plot(epochs, history.val_acc, color=VAL_COLOR, label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02), title=f"{title} accuracy".strip())
    ax_acc.legend(loc="lower right")
    return fig


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure rendered as PNG bytes. Used by chapters 1-11."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _show_figures_in_notebooks() -> None:
    """Let a Figure that ends a notebook cell display as a PNG, as pyplot's figures do."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return
    shell = get_ipython()
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(Figure, figure_png)


_show_figures_in_notebooks()
