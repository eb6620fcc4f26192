"""The judge's side of the channel: one submission's student process, and stand-ins for it.

In the judge, a tests cell sees each contract name (``accuracy``, ``EarlyStopping``) as a
:class:`StudentName`: calling it sends the arguments to the student process by value (pickled by
the trusted judge), runs the student's code there, and returns the result decoded from plain data
(:mod:`autograder.wire`). Arguments the code changed in place (a model's weights, an optimizer's
state, a random generator) are written back (:mod:`autograder.inplace`). An object the student's
code returns that is not plain data (an instance of the student's class) stays in the student
process behind a :class:`Handle`; handles forward attribute reads and calls, and refuse ``==``,
``bool()``, hashing, iteration and conversion, so every comparison runs on plain data here.
"""
from __future__ import annotations

import builtins
import io
import pickle
import time
import types

from . import inplace, wire

STARTUP_TIMEOUT = 180.0  # seconds for a student process to import numpy and torch
STUDENT_ERROR_TYPES = ("ValueError", "TypeError", "RuntimeError", "KeyError", "IndexError",
                       "AttributeError", "NameError", "ZeroDivisionError", "NotImplementedError",
                       "ArithmeticError", "LookupError", "OverflowError", "FloatingPointError",
                       "AssertionError", "RecursionError", "MemoryError", "StopIteration")


class CellTimeout(BaseException):
    """The student's code ran past the cell's time limit (its process was killed)."""


class StudentCrashed(BaseException):
    """The student process died, or broke the protocol (it was killed)."""


class AuthoringError(Exception):
    """A tests cell broke a rule the grader relies on (an instructor's mistake)."""


class StudentError(Exception):
    """An exception raised by the student's code, as data: ``type_name``, ``message``, ``where``.

    Subclasses also derive from the builtin exception of the same name, so ``except ValueError``
    in a tests cell catches a ValueError the student raised.
    """

    type_name = "Exception"
    where = ""

    def __str__(self) -> str:
        return self.args[0] if self.args else ""


_ERROR_CLASSES = {name: type(f"Student{name}", (StudentError, getattr(builtins, name)), {})
                  for name in STUDENT_ERROR_TYPES}


def student_error(info) -> StudentError:
    """A StudentError from the ``error`` field of a reply (type-checked here)."""
    if not isinstance(info, dict):
        info = {}
    type_name = info.get("type") if type(info.get("type")) is str else "Exception"
    message = info.get("message") if type(info.get("message")) is str else ""
    where = info.get("where") if type(info.get("where")) is str else ""
    cls = _ERROR_CLASSES.get(type_name, StudentError)
    exc = cls(message[:2000])
    exc.type_name, exc.where = type_name[:100], where[:300]
    return exc


class _Refusing:
    """Stand-ins refuse whatever would let a student object decide a comparison."""

    __slots__ = ()

    def _refuse(self, *_args, **_kwargs):
        raise TypeError(f"{self!r} lives in the student's process: compare plain values (call "
                        "a method or read an attribute that returns numbers, arrays or strings)")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __bool__ = __len__ = __iter__ = __contains__ = __getitem__ = __setitem__ = _refuse
    __float__ = __int__ = __index__ = __complex__ = __array__ = _refuse
    __hash__ = _refuse  # type: ignore[assignment]


class StudentName(_Refusing):
    """A name of the student namespace (a contract function or class, or a setup function
    marked to run with the student's code)."""

    __slots__ = ("_session", "_name")

    def __init__(self, session: "Session", name: str):
        object.__setattr__(self, "_session", session)
        object.__setattr__(self, "_name", name)

    def __call__(self, *args, **kwargs):
        return self._session.call({"name": self._name}, args, kwargs)

    def __repr__(self) -> str:
        return f"<{self._name} of the student's notebook>"


class Handle(_Refusing):
    """An object that stays in the student process, known here by its id."""

    __slots__ = ("_session", "_id", "_type", "_generation")

    def __init__(self, session: "Session", handle_id: int, type_name: str):
        for key, value in (("_session", session), ("_id", handle_id), ("_type", type_name),
                           ("_generation", session.generation)):
            object.__setattr__(self, key, value)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._session.getattr(self, name)

    def __setattr__(self, name, value):
        raise TypeError(f"{self!r}: setting attributes of student objects is not supported")

    def __call__(self, *args, **kwargs):
        return self._session.call({"handle": self._session.handle_id(self)}, args, kwargs)

    def __repr__(self) -> str:
        return f"<{self._type} object of the student's code>"


class _ArgPickler(pickle.Pickler):
    """Pickles a call's arguments; stand-ins become references, and objects defined in a tests
    cell (which the student process does not have) are refused with an AuthoringError."""

    def __init__(self, file, session: "Session"):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.session = session

    def persistent_id(self, obj):
        if type(obj) is StudentName:
            return ("name", obj._name)
        if type(obj) is Handle:
            return ("handle", self.session.handle_id(obj))
        return None

    def reducer_override(self, obj):
        if isinstance(obj, (type, types.FunctionType)) and getattr(obj, "__module__", "") == "__main__":
            name = getattr(obj, "__qualname__", "?")
            if self.session.setup_objects.get(name) is not obj:
                raise AuthoringError(
                    f"the tests pass {name!r} to the student's code, but it is defined in a tests "
                    "cell; define it in a setup cell (or in dltips) so the student process has it")
        return NotImplemented


class Session:
    """One submission's student process as the judge sees it: started by ``start()`` (returns a
    :class:`autograder.sandbox.StudentProcess`), replayed after a kill, time-limited per cell."""

    def __init__(self, start, timeout: float):
        self._start = start
        self.timeout = timeout
        self.child = None
        self.generation = 0
        self.deadline: float | None = None
        self.replay: list[tuple[str, str]] = []   # (source, filename) run after every start
        self.setup_objects: dict[str, object] = {}
        self.oom = False

    # -- the process ---------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.child is not None

    def start(self) -> None:
        """Start a fresh student process and wait until it has imported numpy and torch."""
        self.generation += 1
        self.child = self._start()
        try:
            header, _ = wire.receive(self.child.sock, time.monotonic() + STARTUP_TIMEOUT)
        except (wire.ProtocolError, wire.ChannelTimeout, OSError) as exc:
            self.kill()
            raise StudentCrashed(f"the student process did not start ({type(exc).__name__}: "
                                 f"{exc})") from None
        if header.get("ready") is not True:
            self.kill()
            raise StudentCrashed("the student process did not start")

    def kill(self) -> None:
        if self.child is not None:
            self.oom = self.oom or self.child.oom_killed()
            self.child.kill()
            self.child = None

    def ensure(self) -> None:
        """Start the process if it is not running, and replay the cells that ran before."""
        if self.child is not None:
            return
        self.start()
        for source, filename in self.replay:  # each cell gets its own time limit again
            self.deadline = time.monotonic() + self.timeout
            try:
                self.run_cell(source, filename)
            except StudentError:
                pass  # it failed the first time too
        self.deadline = None

    def run_cell(self, source: str, filename: str) -> None:
        """Run a cell's code in the student process; raises StudentError, CellTimeout or
        StudentCrashed."""
        header, _ = self.request({"op": "run", "source": source, "filename": filename})
        if header.get("ok") is not True:
            raise student_error(header.get("error"))

    def request(self, header: dict, buffers: list[bytes] = ()) -> tuple[dict, list[bytes]]:
        if self.child is None:
            self.ensure()
        deadline = self.deadline if self.deadline is not None else time.monotonic() + self.timeout
        try:
            wire.send(self.child.sock, header, list(buffers))
            return wire.receive(self.child.sock, deadline)
        except wire.ChannelTimeout:
            self.kill()
            raise CellTimeout(f"stopped after {self.timeout:g} s: an endless loop, or far too "
                              "slow") from None
        except (wire.ProtocolError, OSError) as exc:
            self.kill()
            if self.oom:
                raise StudentCrashed("the student's code used more memory than the sandbox "
                                     "allows") from None
            if isinstance(exc, wire.ChannelClosed):
                raise StudentCrashed("the Python process running the student's code died") \
                    from None
            raise StudentCrashed(f"the student's process broke the protocol ({exc})") from None

    # -- calls ---------------------------------------------------------------------------------
    def handle_id(self, handle: Handle) -> int:
        if handle._generation != self.generation or self.child is None:
            raise StudentCrashed("an object of the student's code is gone: its process was "
                                 "restarted after an earlier failure")
        return handle._id

    def _make_handle(self, handle_id: int, type_name: str) -> Handle:
        return Handle(self, handle_id, type_name)

    def _decode_reply(self, header: dict, buffers: list[bytes]):
        if header.get("ok") is False:
            raise student_error(header.get("error"))
        try:
            if header.get("ok") is not True:
                raise wire.ProtocolError("no result")
            data = wire.decode(header.get("result"), buffers, self._make_handle)
            if type(data) is not dict or type(data.get("sync")) is not list or "value" not in data:
                raise wire.ProtocolError("malformed result")
        except wire.ProtocolError as exc:
            self.kill()
            raise StudentCrashed(f"the student's process sent a reply the grader cannot read "
                                 f"({exc})") from None
        return data["value"], data["sync"]

    def call(self, target: dict, args: tuple, kwargs: dict):
        if self.child is None:
            self.ensure()
        found = inplace.targets(args, kwargs)
        payload = io.BytesIO()
        _ArgPickler(payload, self).dump((args, kwargs, found, [inplace.grads(t) for t in found]))
        header, buffers = self.request({"op": "call", "target": target}, [payload.getvalue()])
        value, sync = self._decode_reply(header, buffers)
        if len(sync) != len(found):
            self.kill()
            raise StudentCrashed("the student's process sent a reply the grader cannot read")
        for i, (obj, state) in enumerate(zip(found, sync)):
            try:
                inplace.apply(obj, state, f"argument {i + 1} ({type(obj).__name__})")
            except ValueError as exc:
                raise student_error({"type": "ValueError", "message": str(exc)}) from None
        return value

    def getattr(self, handle: Handle, name: str):
        header, buffers = self.request({"op": "getattr", "handle": self.handle_id(handle),
                                        "name": name})
        return self._decode_reply(header, buffers)[0]

    def get(self, name: str):
        header, buffers = self.request({"op": "get", "name": name})
        return self._decode_reply(header, buffers)[0]
