"""Live demos: ipywidgets controls that redraw a figure, and the same demo explorable in the
static HTML book.

A demo is a plotting function ``draw(**values) -> Figure`` plus one widget per keyword. In
JupyterLab the controls redraw the figure live. The display also carries an HTML rendering for
the static book, whose pages have no kernel: when the book is built (the book's Sphinx extension
sets ``DLTIPS_STATIC_DEMOS=1``) the figure is drawn for every combination of the values listed
in ``grid``, and the page shows the same controls as HTML form elements that switch between
those precomputed figures (``book/_static/dltips-demo.js``). Controls not in ``grid`` stay at
their starting value in the page. The computation behind ``draw`` belongs in a plain function
of its own, so tests can call it without any widget.
"""
from __future__ import annotations

import base64
import html
import io
import itertools
import json
import math
import os
from collections import OrderedDict
from typing import Callable

import ipywidgets as w
from matplotlib.figure import Figure

from .plotting import describe_figure, figure_png

STATIC_ENV = "DLTIPS_STATIC_DEMOS"  # "1" while the book is built: precompute the grid
MAX_STATES = 60  # figures per demo in the static page (page weight and build time)
LIVE_CACHE = 64  # figures a live demo keeps, so going back to a setting is immediate


def _label(value) -> str:
    """How a control value is written in the page: 0.3, 1e-05, 64, relu."""
    return f"{value:g}" if isinstance(value, float) else str(value)


def _options(control: w.ValueWidget) -> list | None:
    """The values a selection control can take (None for a numeric slider)."""
    if isinstance(control, (w.Dropdown, w.SelectionSlider)):
        return [o[1] if isinstance(o, tuple) else o for o in control.options]
    return None


def _check_grid(controls: dict[str, w.ValueWidget], grid: dict[str, list]) -> dict[str, list]:
    """The static grid, checked: every value one the control can take, starting value included."""
    unknown = set(grid) - set(controls)
    if unknown:
        raise ValueError(f"grid names {sorted(unknown)}, which are not controls of this demo "
                         f"({sorted(controls)})")
    checked = {}
    for name, values in grid.items():
        control, values = controls[name], list(values)
        options = _options(control)
        for v in values:
            if options is not None and v not in options:
                raise ValueError(f"grid value {v!r} for {name!r} is not one of its options "
                                 f"{options}")
            if options is None and not control.min <= v <= control.max:
                raise ValueError(f"grid value {v!r} for {name!r} is outside its slider "
                                 f"[{control.min}, {control.max}]")
        if control.value not in values:
            raise ValueError(f"grid for {name!r} must include its starting value "
                             f"{control.value!r}: {values}")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"grid for {name!r} repeats a value: {values}")
        checked[name] = values
    states = math.prod(len(v) for v in checked.values())
    if states > MAX_STATES:
        raise ValueError(f"the grid has {states} combinations; at most {MAX_STATES} fit a page")
    return checked


def _compact_png(png: bytes) -> bytes:
    """The PNG with its colours reduced to a palette (about a third of the bytes, same look)."""
    from PIL import Image
    with Image.open(io.BytesIO(png)) as img:
        small = img.convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE)
        out = io.BytesIO()
        small.save(out, format="PNG", optimize=True)
    return out.getvalue() if len(out.getvalue()) < len(png) else png


def _data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class Demo:
    """Controls plus the figure they drive. Display it as the last expression of a cell.
    Used by chapters 1-11, through :func:`demo`."""

    def __init__(self, draw: Callable[..., Figure], controls: dict[str, w.ValueWidget],
                 title: str = "", grid: dict[str, list] | None = None):
        self.draw = draw
        self.controls = controls
        self.title = title
        self.grid = _check_grid(controls, grid or {})
        self._pngs: OrderedDict[tuple, bytes] = OrderedDict()
        self.output = w.Output()
        self.figure = draw(**self.values())
        self._show(self._png(self.values(), self.figure))
        for control in controls.values():
            control.observe(self._redraw, names="value")
        self.box = w.VBox([w.HBox(list(controls.values()), layout=w.Layout(flex_flow="row wrap")),
                           self.output])

    def values(self) -> dict:
        """The controls' current values, by keyword."""
        return {name: control.value for name, control in self.controls.items()}

    def _png(self, values: dict, fig: Figure | None = None) -> bytes:
        """The figure at ``values`` as PNG, drawn once per setting (the last LIVE_CACHE kept)."""
        key = tuple(repr(values[name]) for name in self.controls)
        if key not in self._pngs:
            self._pngs[key] = figure_png(fig if fig is not None else self.draw(**values))
            while len(self._pngs) > LIVE_CACHE:
                self._pngs.popitem(last=False)
        self._pngs.move_to_end(key)
        return self._pngs[key]

    def _show(self, png: bytes) -> None:
        self.output.clear_output(wait=True)
        with self.output:
            from IPython.display import Image, display
            display(Image(png))

    def _redraw(self, _change=None) -> None:
        self._show(self._png(self.values()))

    def states(self) -> dict[tuple[int, ...], tuple[bytes, str]]:
        """Every combination of the grid's values (by index) -> its figure (PNG) and alt text.
        Without ``DLTIPS_STATIC_DEMOS=1`` only the current setting is drawn."""
        start = self.values()
        if os.environ.get(STATIC_ENV) != "1":
            index = tuple(values.index(start[name]) for name, values in self.grid.items())
            fig = self.draw(**start)
            return {index: (_compact_png(figure_png(fig)), describe_figure(fig))}
        out = {}
        for index in itertools.product(*(range(len(v)) for v in self.grid.values())):
            values = {**start, **{name: self.grid[name][i]
                                  for name, i in zip(self.grid, index)}}
            fig = self.draw(**values)
            out[index] = (_compact_png(figure_png(fig)), describe_figure(fig))
        return out

    def static_html(self) -> str:
        """The demo as an HTML fragment: a control (range input or select) per grid entry, a
        list of the fixed settings, the figures of every state and the starting one shown."""
        start = self.values()
        states = self.states()
        first = tuple(values.index(start[name]) for name, values in self.grid.items())
        inputs = []
        for name, values in self.grid.items():
            control = self.controls[name]
            label = html.escape(control.description or name)
            current = values.index(start[name])
            if _options(control) is not None and not isinstance(control, w.SelectionSlider):
                options = "".join(f'<option value="{i}"{" selected" if i == current else ""}>'
                                  f'{html.escape(_label(v))}</option>'
                                  for i, v in enumerate(values))
                inputs.append(f'<label class="dltips-demo-control"><span>{label}</span>'
                              f'<select data-control="{html.escape(name)}">{options}</select>'
                              f'</label>')
            else:
                labels = html.escape(json.dumps([_label(v) for v in values]))
                inputs.append(f'<label class="dltips-demo-control"><span>{label}</span>'
                              f'<input type="range" min="0" max="{len(values) - 1}" step="1" '
                              f'value="{current}" data-control="{html.escape(name)}" '
                              f'data-labels="{labels}" '
                              f'aria-valuetext="{html.escape(_label(start[name]))}"/>'
                              f'<output>{html.escape(_label(start[name]))}</output></label>')
        fixed = [f"{html.escape(c.description or n)} = {html.escape(_label(c.value))}"
                 for n, c in self.controls.items() if n not in self.grid]
        png, alt = states[first]
        images: dict[str, int] = {}  # a figure drawn the same for two settings is stored once
        for p, _ in states.values():
            images.setdefault(_data_url(p), len(images))
        payload = json.dumps({"images": list(images),
                              "states": {"-".join(map(str, k)): [images[_data_url(p)], a]
                                         for k, (p, a) in states.items()}}).replace("</", "<\\/")
        title = html.escape(self.title or self.draw.__name__)
        note = ("Every control is live when the chapter runs in JupyterLab" +
                (f"; here these stay fixed: {', '.join(fixed)}" if fixed else "") + ".")
        return (f'<div class="dltips-demo" data-first="{"-".join(map(str, first))}">'
                f'<p class="dltips-demo-title"><b>Interactive demo:</b> {title}</p>'
                f'<div class="dltips-demo-controls">{"".join(inputs)}</div>'
                f'<p class="dltips-demo-note">{note}</p>'
                f'<img class="dltips-demo-figure" src="{_data_url(png)}" '
                f'alt="{html.escape(alt)}"/>'
                f'<script type="application/json" class="dltips-demo-states">{payload}</script>'
                f'</div>')

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = self.box._repr_mimebundle_(include=include, exclude=exclude) or {}
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = f"Demo({self.title or self.draw.__name__}: {self.values()})"
        return bundle


def demo(draw: Callable[..., Figure], title: str = "", grid: dict[str, list] | None = None,
         **controls: w.ValueWidget) -> Demo:
    """Build a :class:`Demo`; each keyword names a ``draw`` argument and the widget setting it.
    ``grid`` maps control names to the values the static book precomputes (each list includes
    the starting value; at most MAX_STATES combinations). Used by chapters 1-11."""
    return Demo(draw, controls, title, grid)


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


def log_values(low_exp: float, high_exp: float, extra=()) -> list[float]:
    """The 1-2-3-5 steps of each decade from 10**low_exp to 10**high_exp, plus ``extra``,
    sorted: 0.01, 0.02, 0.03, 0.05, 0.1, ... Used by chapters 4, 5, 7, 9 and 10."""
    values = {round(m * 10.0 ** e, 12) for e in range(math.floor(low_exp), math.ceil(high_exp) + 1)
              for m in (1, 2, 3, 5)}
    values = {v for v in values if 10 ** low_exp - 1e-12 <= v <= 10 ** high_exp + 1e-12}
    return sorted(values | {float(v) for v in extra})


def log_slider(value: float, low_exp: float, high_exp: float, description: str,
               extra=()) -> w.SelectionSlider:
    """A slider over :func:`log_values` (learning rates, lambdas): round values the prose can
    name, ``extra`` ones it asks for, and ``value``. Used by chapters 4, 5, 7, 9 and 10."""
    values = sorted(set(log_values(low_exp, high_exp, extra)) | {float(value)})
    return w.SelectionSlider(options=[(_label(v), v) for v in values], value=float(value),
                             description=description, continuous_update=False,
                             style={"description_width": "initial"})


def choice(value, options: list, description: str) -> w.Dropdown:
    """A dropdown of named options. Used by chapters 1-5, 7, 8, 10 and 11."""
    return w.Dropdown(value=value, options=options, description=description)
