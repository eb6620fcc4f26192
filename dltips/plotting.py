"""Figure helpers. Figures are built with ``matplotlib.figure.Figure`` (not pyplot), so nothing
is shown twice and widget demos can redraw them; a notebook displays a returned figure."""
from __future__ import annotations

import io
import re

import matplotlib
from matplotlib.figure import Figure
from matplotlib.text import Text

from .training import History

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#d62728"


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 4.2, height: float = 3.2,
               margins: dict | None = None, **subplot_kw) -> tuple[Figure, object]:
    """A figure with a grid of axes, ``width`` x ``height`` inches per panel, laid out by
    matplotlib's constrained layout; or, with ``margins`` (GridSpec's left, right, bottom, top,
    wspace, hspace, as fractions of the figure), at fixed positions: demos do that, since the
    automatic layout doubles the time a redraw takes. Used by chapters 1-11."""
    fig = Figure(figsize=(width * ncols, height * nrows),
                 layout=None if margins else "constrained")
    axes = fig.subplots(nrows, ncols, squeeze=True, subplot_kw=subplot_kw or None,
                        gridspec_kw=margins)
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


def _axis_text(ax) -> str:
    """One panel in words: its title, what is plotted against what, and its legend's labels."""
    words = []
    if ax.get_title():
        words.append(f"\u201c{ax.get_title()}\u201d")
    x, y = ax.get_xlabel(), ax.get_ylabel()
    if x or y:
        words.append(f"{y or 'values'} against {x or 'position'}")
    legend = ax.get_legend()
    labels = [t.get_text() for t in legend.get_texts()] if legend is not None else []
    if labels:
        words.append("showing " + ", ".join(labels))
    return ", ".join(words) or "a plot"


def describe_figure(fig: Figure) -> str:
    """What a figure shows, in words, for its alt text: its title and, panel by panel, each
    panel's title, axes and legend. Used by chapters 1-11 (every figure and demo)."""
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
    head = fig._suptitle.get_text() + ". " if getattr(fig, "_suptitle", None) else ""
    if len(panels) == 1:
        text = f"{head}Figure: {_axis_text(panels[0])}."
    else:
        text = (f"{head}Figure of {len(panels)} panels. " +
                " ".join(f"Panel {i}: {_axis_text(ax)}." for i, ax in enumerate(panels, 1)))
    return _plain(text)


def _plain(text: str) -> str:
    """Mathtext as words a screen reader can say: $\\|\\theta_t\\|$ -> |theta_t|."""
    text = re.sub(r"\\[,;:! ]", " ", text.replace("$", ""))
    return re.sub(r"\\([A-Za-z]+|.)", r"\1", text).replace("{", "").replace("}", "")


# The book's text column is about 690 px wide (sphinx-book-theme at 1280 px): a figure wider than
# READABLE_WIDTH inches at 110 dpi is shown shrunk, so its text is enlarged by the same factor.
READABLE_WIDTH = 8.7


def _readable_text(fig: Figure) -> None:
    """Enlarge the text of a figure wider than READABLE_WIDTH (once per figure), so that its
    tick labels read at the size of a narrow figure's once the page scales it to its column."""
    scale = fig.get_figwidth() / READABLE_WIDTH
    if scale <= 1 or getattr(fig, "_dltips_readable", False):
        return
    fig._dltips_readable = True
    ticks = []
    for ax in fig.axes:
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            labels = axis.get_ticklabels()
            size = labels[0].get_fontsize() if labels else matplotlib.rcParams["font.size"]
            ticks.append((ax, name, size * scale))
    for text in fig.findobj(Text):
        text.set_fontsize(text.get_fontsize() * scale)
    for ax, name, size in ticks:  # tick labels are made anew when drawn: set their size
        ax.tick_params(axis=name, which="both", labelsize=size)


def figure_png(fig: Figure, dpi: int = 110) -> bytes:
    """The figure rendered as PNG bytes (text enlarged if it is wide); its description (:func:`describe_figure`) travels in
    the PNG's Description field, from which the book takes the image's alt text.
    Used by chapters 1-11."""
    _readable_text(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Description": describe_figure(fig)})
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
