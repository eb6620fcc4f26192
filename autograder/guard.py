"""Undo what student code did to the modules that tests rely on.

A :class:`Guard` records, before any student code runs, the namespace of every loaded module of
the guarded packages (numpy, torch, builtins, math, dltips, ...), the attributes of the classes
defined there and the code of their Python functions. :meth:`Guard.restore` puts back anything
that was replaced, so ``np.allclose = lambda *a, **k: True`` or a swapped
``torch.Tensor.__eq__`` has no effect on the verdict. It runs before every tests cell and before
every comparison of ``dltips.checks``.

Out of reach of this defence (and of any in-process one): code that walks the interpreter's
frames or memory to reach the grader's own objects. Such code is plain to see in a submission;
the feedback lists suspicious constructs for the instructor (see ``worker.SUSPICIOUS``).
"""
from __future__ import annotations

import sys
import threading
import types
import warnings

GUARDED = ("builtins", "numpy", "torch", "math", "cmath", "operator", "functools", "dltips",
           "sklearn", "scipy", "random", "numbers", "collections", "itertools",
           "copy", "unittest", "inspect", "re", "json", "io")
# What the quick restore covers: what dltips.checks itself relies on while comparing.
QUICK = ("builtins", "math", "numpy", "dltips", "operator", "functools", "torch",
         "torch.functional", "torch._tensor", "torch.nn.functional")
_IMMUTABLE = 1 << 8  # Py_TPFLAGS_IMMUTABLETYPE
_MISSING = object()


def _guarded(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in GUARDED)


def _quick(name: str) -> bool:
    return name in QUICK or name.startswith(("numpy.", "dltips."))


class Guard:
    def __init__(self):
        self.modules: dict[str, tuple[types.ModuleType, dict]] = {}
        self.classes: dict[type, dict] = {}
        self.functions: list[tuple[types.FunctionType, tuple]] = []
        self.quick: Guard | None = None

    def snapshot(self) -> "Guard":
        """Record the current state of every loaded guarded module."""
        seen_functions = set()
        with warnings.catch_warnings():  # touching deprecated aliases (torch) warns
            warnings.simplefilter("ignore")
            self._record(seen_functions, _guarded)
            self.quick = Guard()
            self.quick._record(set(), _quick)
        return self

    def restore_quick(self) -> list[str]:
        """Restore only what the comparisons of ``dltips.checks`` use (numpy, builtins, math,
        dltips, torch's top level and functional API): cheap enough to run before every check."""
        return self.quick.restore() if self.quick is not None else []

    def _record(self, seen_functions: set, wanted) -> None:
        for name, module in list(sys.modules.items()):
            if module is None or not wanted(name) or not isinstance(module, types.ModuleType):
                continue
            namespace = dict(vars(module))
            self.modules[name] = (module, namespace)
            for value in namespace.values():
                if isinstance(value, type) and not value.__flags__ & _IMMUTABLE \
                        and value not in self.classes:
                    self.classes[value] = dict(value.__dict__)
                elif isinstance(value, types.FunctionType) and id(value) not in seen_functions:
                    seen_functions.add(id(value))
                    self.functions.append((value, _function_state(value)))

    def restore(self) -> list[str]:
        """Put back everything recorded; return a description of what had been changed."""
        changed = []
        sys.settrace(None)
        sys.setprofile(None)
        threading.settrace(None)
        threading.setprofile(None)
        for name, (module, namespace) in self.modules.items():
            if sys.modules.get(name) is not module:
                sys.modules[name] = module
                changed.append(f"sys.modules[{name!r}]")
            current = vars(module)
            for key, value in namespace.items():
                if current.get(key, _MISSING) is not value:
                    current[key] = value
                    changed.append(f"{name}.{key}")
        for cls, attributes in self.classes.items():
            current = cls.__dict__
            if len(current) == len(attributes) and all(
                    current.get(k, _MISSING) is v for k, v in attributes.items()):
                continue
            for key in [k for k in current if k not in attributes]:
                _try(delattr, cls, key)
                changed.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
            for key, value in attributes.items():
                if current.get(key, _MISSING) is not value:
                    _try(setattr, cls, key, value)
                    changed.append(f"{cls.__module__}.{cls.__qualname__}.{key}")
        for function, state in self.functions:
            if _function_state(function) != state:
                (function.__code__, function.__defaults__, function.__kwdefaults__) = state
                changed.append(f"{function.__module__}.{function.__qualname__}")
        return changed


def _function_state(function: types.FunctionType) -> tuple:
    return (function.__code__, function.__defaults__, function.__kwdefaults__)


def _try(action, *args) -> None:
    try:
        action(*args)
    except (AttributeError, TypeError):
        pass
