"""Live demos: ipywidgets controls that redraw a figure, with a static fallback for the HTML book.

A demo is a plotting function ``draw(**values) -> Figure`` plus one widget per keyword. In
JupyterLab the controls redraw the figure live. The display also carries an HTML rendering of
the figure at the starting values with the control settings listed, which the static book shows
(its pages have no kernel to recompute with). The computation behind ``draw`` belongs in a plain
function of its own, so tests can call it without any widget.
"""
from __future__ import annotations

import base64
import html
from typing import Callable

import ipywidgets as w
from matplotlib.figure import Figure

from .plotting import figure_png


class Demo:
    """Controls plus the figure they drive. Display it as the last expression of a cell.
    Used by chapters 1-5, through :func:`demo`."""

    def __init__(self, draw: Callable[..., Figure], controls: dict[str, w.ValueWidget],
                 title: str = ""):
        self.draw = draw
        self.controls = controls
        self.title = title
        self.output = w.Output()
        self.figure = draw(**self.values())
        self._show(self.figure)
        for control in controls.values():
            control.observe(self._redraw, names="value")
        self.box = w.VBox([w.HBox(list(controls.values()), layout=w.Layout(flex_flow="row wrap")),
                           self.output])

    def values(self) -> dict:
        """The controls' current values, by keyword."""
        return {name: control.value for name, control in self.controls.items()}

    def _show(self, fig: Figure) -> None:
        self.output.clear_output(wait=True)
        with self.output:
            from IPython.display import Image, display
            display(Image(figure_png(fig)))

    def _redraw(self, _change=None) -> None:
        self.figure = self.draw(**self.values())
        self._show(self.figure)

    def static_html(self) -> str:
        """The figure at the current values, with the control settings, as an HTML fragment."""
        png = base64.b64encode(figure_png(self.figure)).decode("ascii")
        settings = ", ".join(f"{html.escape(c.description or name)} = "
                             f"{html.escape(str(c.value))}" for name, c in self.controls.items())
        return (f'<div class="dltips-demo"><p class="dltips-demo-settings"><b>Interactive demo'
                f'</b> (shown at {settings}; open this chapter in JupyterLab to change them)</p>'
                f'<img src="data:image/png;base64,{png}" alt="{html.escape(self.title)}"/></div>')

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.box._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = f"Demo({self.title or self.draw.__name__}: {self.values()})"
        return bundle


def demo(draw: Callable[..., Figure], title: str = "", **controls: w.ValueWidget) -> Demo:
    """Build a :class:`Demo`; each keyword names a ``draw`` argument and the widget setting it.
    Used by chapters 1-11."""
    return Demo(draw, controls, title)


def slider(value: int, low: int, high: int, description: str, step: int = 1) -> w.IntSlider:
    """An integer slider that recomputes only when released (demos train small networks).
    Used by chapters 1, 2, 4-6, 8, 9 and 11."""
    return w.IntSlider(value=value, min=low, max=high, step=step, description=description,
                       continuous_update=False, style={"description_width": "initial"})


def float_slider(value: float, low: float, high: float, description: str,
                 step: float = 0.01) -> w.FloatSlider:
    """A float slider that recomputes only when released. Used by chapters 2-6, 8 and 11."""
    return w.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                         continuous_update=False, style={"description_width": "initial"})


def log_slider(value: float, low_exp: float, high_exp: float, description: str) -> w.FloatLogSlider:
    """A base-10 log slider from 10**low_exp to 10**high_exp (learning rates, lambdas).
    Used by chapters 4, 5, 7, 9 and 10."""
    return w.FloatLogSlider(value=value, base=10, min=low_exp, max=high_exp, step=0.25,
                            description=description, continuous_update=False,
                            style={"description_width": "initial"})


def choice(value: str, options: list[str], description: str) -> w.Dropdown:
    """A dropdown of named options. Used by chapters 1-5, 7, 8, 10 and 11."""
    return w.Dropdown(value=value, options=options, description=description)
