"""Arguments that student code changes in place: which they are, what comes back, and how.

A tests cell may hand the student's function a model, an optimizer, an array or a random
generator and then look at it afterwards (``train_one_epoch`` must change the weights). Those
arguments go to the student process by value, so their new state has to come back:

- the judge lists the *targets* among the arguments (:func:`targets`) and sends them along;
- after the call the student process describes each one as plain data (:func:`capture`);
- the judge checks that description against its own object and writes it in (:func:`apply`):
  same keys, shapes and dtypes, or an error that names the argument.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .wire import is_plain

MAX_TARGETS = 256


def targets(args: tuple, kwargs: dict) -> list:
    """The objects among ``args``/``kwargs`` whose state may change: tensors, arrays, random
    generators, modules, optimizers, and dicts and lists of plain data (depth-first, once each)."""
    found, seen = [], set()

    def walk(x, depth):
        if depth > 8 or len(found) >= MAX_TARGETS or id(x) in seen:
            return
        if isinstance(x, (torch.Tensor, np.ndarray, np.random.Generator, nn.Module,
                          torch.optim.Optimizer)):
            seen.add(id(x))
            found.append(x)
        elif type(x) in (list, dict):
            seen.add(id(x))
            found.append(x)
            for v in (x.values() if type(x) is dict else x):
                walk(v, depth + 1)
        elif type(x) is tuple:
            for v in x:
                walk(v, depth + 1)

    walk(args, 0)
    walk(kwargs, 0)
    return found


def grads(obj):
    """The stored gradients of a target (pickling drops them): ``{name: grad}`` for a module,
    the ``.grad`` of a tensor, None otherwise (run in the judge, before the call)."""
    if isinstance(obj, nn.Module):
        return {n: p.grad for n, p in obj.named_parameters() if p.grad is not None}
    if isinstance(obj, torch.Tensor):
        return obj.grad
    return None


def restore_grads(obj, stored) -> None:
    """Put back the gradients :func:`grads` saw (run in the student process, after unpickling)."""
    if isinstance(obj, nn.Module) and stored:
        params = dict(obj.named_parameters())
        for name, grad in stored.items():
            params[name].grad = grad
    elif isinstance(obj, torch.Tensor) and stored is not None:
        obj.grad = stored


def capture(obj) -> dict:
    """The new state of one target, as plain data (run in the student process)."""
    if isinstance(obj, nn.Module):
        modules = [m for _, m in obj.named_modules()]
        return {"kind": "module", "state": dict(obj.state_dict()),
                "grads": {n: p.grad for n, p in obj.named_parameters()},
                "modes": [bool(m.training) for m in modules],
                "attrs": [{k: v for k, v in vars(m).items()
                           if not k.startswith("_") and k != "training" and is_plain(v)}
                          for m in modules]}
    if isinstance(obj, torch.optim.Optimizer):
        return {"kind": "optimizer", "state": obj.state_dict()}
    if isinstance(obj, torch.Tensor):
        return {"kind": "tensor", "value": obj.detach(), "grad": obj.grad}
    if isinstance(obj, np.ndarray):
        return {"kind": "ndarray", "value": obj}
    if isinstance(obj, np.random.Generator):
        return {"kind": "generator", "state": obj.bit_generator.state}
    if type(obj) in (dict, list) and is_plain(obj):
        return {"kind": type(obj).__name__, "value": obj}
    return {"kind": "unchanged"}


def _same_tensor_layout(new, old, what: str) -> None:
    if not isinstance(new, torch.Tensor) or new.shape != old.shape or new.dtype != old.dtype:
        raise ValueError(f"{what}: your code replaced it with something of another shape or "
                         f"type ({_describe(new)} instead of {_describe(old)})")


def _describe(x) -> str:
    if isinstance(x, (torch.Tensor, np.ndarray)):
        return f"{type(x).__name__} {tuple(x.shape)} {x.dtype}"
    return type(x).__name__


def apply(obj, state, what: str) -> None:
    """Write ``state`` (from :func:`capture`, decoded) into the judge's ``obj``; raise
    ValueError naming ``what`` if it does not fit."""
    if not isinstance(state, dict) or not isinstance(state.get("kind"), str):
        raise ValueError(f"{what}: its new state could not be read")
    kind = state["kind"]
    if kind == "unchanged":
        return
    if isinstance(obj, nn.Module) and kind == "module":
        _apply_module(obj, state, what)
    elif isinstance(obj, torch.optim.Optimizer) and kind == "optimizer":
        try:
            obj.load_state_dict(state["state"])
        except Exception as exc:  # noqa: BLE001 - any mismatch is the submission's
            raise ValueError(f"{what}: the optimizer's new state does not fit it ({exc})") from None
    elif isinstance(obj, torch.Tensor) and kind == "tensor":
        _same_tensor_layout(state.get("value"), obj, what)
        with torch.no_grad():
            obj.copy_(state["value"])
        _set_grad(obj, state.get("grad"), what)
    elif isinstance(obj, np.ndarray) and kind == "ndarray":
        new = state.get("value")
        if not isinstance(new, np.ndarray) or new.shape != obj.shape or new.dtype != obj.dtype:
            raise ValueError(f"{what}: your code replaced it with {_describe(new)} instead of "
                             f"{_describe(obj)}")
        if obj.flags.writeable:
            obj[...] = new
    elif isinstance(obj, np.random.Generator) and kind == "generator":
        try:
            obj.bit_generator.state = state["state"]
        except Exception as exc:  # noqa: BLE001
            raise ValueError(f"{what}: the random generator's new state is not valid ({exc})") \
                from None
    elif type(obj) is dict and kind == "dict" and type(state.get("value")) is dict:
        obj.clear()
        obj.update(state["value"])
    elif type(obj) is list and kind == "list" and type(state.get("value")) is list:
        obj[:] = state["value"]
    else:
        raise ValueError(f"{what}: its new state is of the wrong kind ({kind})")


def _set_grad(param: torch.Tensor, grad, what: str) -> None:
    if grad is None:
        param.grad = None
        return
    _same_tensor_layout(grad, param, f"{what} (its gradient)")
    param.grad = grad.detach()


def _apply_module(module: nn.Module, state: dict, what: str) -> None:
    current = module.state_dict()
    new = state.get("state")
    if type(new) is not dict or set(new) != set(current):
        raise ValueError(f"{what}: the model's parameters and buffers changed names (a layer was "
                         "added or removed?)")
    for key, tensor in current.items():
        _same_tensor_layout(new[key], tensor, f"{what}, '{key}'")
    with torch.no_grad():
        for key, tensor in current.items():
            tensor.copy_(new[key])
    grads = state.get("grads")
    if type(grads) is not dict:
        raise ValueError(f"{what}: the gradients could not be read")
    for name, param in module.named_parameters():
        _set_grad(param, grads.get(name), f"{what}, '{name}'")
    modules = [m for _, m in module.named_modules()]
    modes, attrs = state.get("modes"), state.get("attrs")
    if (type(modes) is not list or type(attrs) is not list or len(modes) != len(modules)
            or len(attrs) != len(modules)):
        raise ValueError(f"{what}: the model's layers changed")
    for m, mode, values in zip(modules, modes, attrs):
        if type(mode) is not bool or type(values) is not dict:
            raise ValueError(f"{what}: the model's layers changed")
        m.training = mode
        for key, value in values.items():
            if (type(key) is str and key in vars(m) and not key.startswith("_")
                    and is_plain(vars(m)[key]) and is_plain(value)):
                setattr(m, key, value)
