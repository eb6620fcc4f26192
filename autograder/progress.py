"""Progress of a grading run: a line per submission, with a count and an estimate of the time left.

On a terminal the last line is a bar that redraws in place (``\\r``), cleared before every log line
so that the two never mix. Anywhere else (a file, a pipe, CI) there is no bar and no control
character: every log line starts with ``[done/total]``, and the estimate is a line of its own after
each tenth of the run.
"""
from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    """Counts finished submissions out of ``total`` and writes log lines to ``stream``."""

    WIDTH = 24

    def __init__(self, total: int, stream=None, clock=time.monotonic):
        self.total = total
        self.done = 0
        self.stream = stream if stream is not None else sys.stdout
        self.clock = clock
        self.started = clock()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._next_tenth = 1
        self._bar_shown = False

    def eta(self) -> float | None:
        """Seconds left at the rate so far, or None before the first submission finishes."""
        if self.done == 0:
            return None
        return (self.clock() - self.started) / self.done * (self.total - self.done)

    def _status(self) -> str:
        eta = self.eta()
        left = f"about {_clock(eta)} left" if eta is not None else "estimating time left"
        return f"{self.done}/{self.total} graded, {left}"

    def log(self, message: str) -> None:
        """Write one log line (not counted as a finished submission)."""
        if self.tty:
            if self._bar_shown:
                self.stream.write("\r\x1b[K")
                self._bar_shown = False
            self.stream.write(message + "\n")
            self._draw()
        else:
            self.stream.write(message + "\n")
        self.stream.flush()

    def finished(self, message: str) -> None:
        """One more submission is graded; ``message`` says how it went."""
        self.done += 1
        if self.tty:
            self.log(message)
            return
        self.stream.write(f"[{self.done}/{self.total}] {message}\n")
        if self.total >= 10 and self.done < self.total and \
                self.done * 10 >= self._next_tenth * self.total:
            self._next_tenth = self.done * 10 // self.total + 1
            self.stream.write(f"progress: {self._status()}\n")
        self.stream.flush()

    def _draw(self) -> None:
        if not self.total or self.done >= self.total:
            if self._bar_shown:
                self.stream.write("\r\x1b[K")
                self._bar_shown = False
            return
        filled = self.WIDTH * self.done // self.total
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        self.stream.write(f"[{bar}] {self._status()}")
        self._bar_shown = True

    def start(self) -> None:
        """Show the bar (on a terminal) before the first submission finishes."""
        if self.tty:
            self._draw()
            self.stream.flush()

    def close(self) -> None:
        if self.tty and self._bar_shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._bar_shown = False


class LineStream:
    """A write-only stream that hands each complete line to ``log`` (a function of one string)."""

    def __init__(self, log):
        self._log = log
        self._buffer = ""

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> None:
        self._buffer += text
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            self._log(line)

    def flush(self) -> None:
        pass
