"""The channel between the judge and the student process: frames, and the values that cross it.

A frame is a 12-byte prefix (magic, header length, buffers length), a JSON header and the raw
bytes of the arrays it carries. Both lengths are capped, so a frame can never make the reader
allocate more than ``MAX_HEADER + MAX_BUFFERS`` bytes.

Values coming back from the student process are decoded by :func:`decode` from a closed set of
types, built by the judge itself: ``None``, bools, ints, floats, complex numbers, strings, bytes,
lists, tuples, sets, dicts, NumPy arrays and scalars, torch tensors (as dtype, shape and raw
bytes, from an allow-list of dtypes) and torch dtypes. Anything else the student's code returns
stays in the student process and comes back as a handle (an id and a type name, both only
data). Nothing is unpickled and no code is looked up by a name the student process sends.

This module is imported by both sides, so it needs only the standard library, NumPy and torch.
"""
from __future__ import annotations

import json
import math
import socket
import struct
import time

import numpy as np
import torch

MAGIC = b"AGW1"
PREFIX = struct.Struct(">4sII")
MAX_HEADER = 8 * 2**20        # bytes of JSON in one frame
MAX_BUFFERS = 256 * 2**20     # bytes of array data in one frame
MAX_DEPTH = 64                # nesting of containers in one value
MAX_NODES = 2_000_000         # items in one value
MAX_DIMS = 32

NUMPY_DTYPES = {name: np.dtype(name) for name in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "complex64", "complex128")}
TORCH_DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16,
    torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128)}


class ProtocolError(Exception):
    """A frame or value that breaks the format: the other side is broken or hostile."""


class ChannelClosed(ProtocolError):
    """The other end closed the channel (its process ended)."""


class ChannelTimeout(Exception):
    """No complete frame arrived before the deadline."""


# --- frames -----------------------------------------------------------------------------------

def send(sock: socket.socket, header: dict, buffers: list[bytes] = ()) -> None:
    """Send one frame: ``header`` (JSON-able) and the byte strings it refers to by index."""
    header = dict(header, buffers=[len(b) for b in buffers])
    data = json.dumps(header, separators=(",", ":")).encode()
    total = sum(len(b) for b in buffers)
    if len(data) > MAX_HEADER or total > MAX_BUFFERS:
        raise ProtocolError(f"message too large ({len(data) + total} bytes)")
    sock.sendall(PREFIX.pack(MAGIC, len(data), total) + data)
    for b in buffers:
        sock.sendall(b)


def _read_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    chunks, got = [], 0
    while got < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ChannelTimeout()
            sock.settimeout(left)
        else:
            sock.settimeout(None)
        try:
            chunk = sock.recv(min(n - got, 4 * 2**20))
        except socket.timeout:
            raise ChannelTimeout() from None
        except OSError as exc:
            raise ChannelClosed(f"the channel failed: {exc}") from None
        if not chunk:
            raise ChannelClosed("the other process closed the channel")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket, deadline: float | None = None) -> tuple[dict, list[bytes]]:
    """Read one frame; return its header and buffers. Raises ProtocolError for anything that
    is not a well-formed frame within the caps, ChannelTimeout past ``deadline``."""
    magic, header_len, total = PREFIX.unpack(_read_exact(sock, PREFIX.size, deadline))
    if magic != MAGIC or header_len > MAX_HEADER or total > MAX_BUFFERS:
        raise ProtocolError("malformed frame prefix")
    try:
        header = json.loads(_read_exact(sock, header_len, deadline))
    except (ValueError, RecursionError):
        raise ProtocolError("the frame header is not valid JSON") from None
    if not isinstance(header, dict):
        raise ProtocolError("the frame header is not an object")
    sizes = header.get("buffers")
    if (not isinstance(sizes, list) or not all(type(s) is int and s >= 0 for s in sizes)
            or sum(sizes) != total):
        raise ProtocolError("the frame's buffer sizes do not add up")
    data = _read_exact(sock, total, deadline) if total else b""
    buffers, at = [], 0
    for size in sizes:
        buffers.append(data[at:at + size])
        at += size
    return header, buffers


# --- values -----------------------------------------------------------------------------------

def _float(x: float):
    return x if math.isfinite(x) else {"$": "float", "v": repr(x)}


def encode(value, register) -> tuple[object, list[bytes]]:
    """``value`` as a JSON-able tree and a list of buffers. ``register(obj) -> (id, type_name)``
    is called for every object outside the closed set (it becomes a handle)."""
    buffers: list[bytes] = []

    def buf(data: bytes) -> int:
        buffers.append(data)
        return len(buffers) - 1

    def enc(x, depth):
        if depth > MAX_DEPTH:
            raise ProtocolError("the value is nested too deeply")
        t = type(x)
        if x is None or t is bool or t is str:
            return x
        if t is int:
            return x if abs(x) < 2**53 else {"$": "int", "v": str(x)}
        if t is float:
            return _float(x)
        if t is complex:
            return {"$": "complex", "re": _float(x.real), "im": _float(x.imag)}
        if t is bytes:
            return {"$": "bytes", "b": buf(x)}
        if t is list:
            return [enc(v, depth + 1) for v in x]
        if t is tuple or isinstance(x, torch.Size):
            return {"$": "tuple", "v": [enc(v, depth + 1) for v in x]}
        if t in (set, frozenset):
            return {"$": "set", "v": [enc(v, depth + 1) for v in x]}
        if t is dict or t.__name__ == "OrderedDict" and isinstance(x, dict):
            return {"$": "dict", "k": [enc(k, depth + 1) for k in x],
                    "v": [enc(v, depth + 1) for v in x.values()]}
        if isinstance(x, torch.Tensor) and type(x) in (torch.Tensor, torch.nn.Parameter):
            name = str(x.dtype).removeprefix("torch.")
            if name in TORCH_DTYPES and x.layout == torch.strided and not x.is_quantized:
                data = x.detach().cpu().contiguous()
                raw = data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b""
                return {"$": "tensor", "dtype": name, "shape": list(data.shape), "b": buf(raw),
                        "grad": bool(x.requires_grad)}
        if t is np.ndarray and x.dtype.name in NUMPY_DTYPES:
            return {"$": "ndarray", "dtype": x.dtype.name, "shape": list(x.shape),
                    "b": buf(np.ascontiguousarray(x).tobytes())}
        if isinstance(x, np.generic) and type(x) is x.dtype.type and x.dtype.name in NUMPY_DTYPES:
            return {"$": "npscalar", "dtype": x.dtype.name, "b": buf(x.tobytes())}
        if isinstance(x, torch.dtype) and str(x).removeprefix("torch.") in TORCH_DTYPES:
            return {"$": "torch.dtype", "v": str(x).removeprefix("torch.")}
        handle_id, type_name = register(x)
        return {"$": "handle", "id": handle_id, "type": type_name}

    return enc(value, 0), buffers


def decode(tree, buffers: list[bytes], make_handle=None):
    """Rebuild a value encoded by :func:`encode`, from the closed set only. ``make_handle(id,
    type_name)`` builds the judge's stand-in for a handle. Raises ProtocolError on anything else.
    """
    count = [0]

    def need(cond, what):
        if not cond:
            raise ProtocolError(f"malformed value: {what}")

    def get_buffer(node):
        i = node.get("b")
        need(type(i) is int and 0 <= i < len(buffers), "bad buffer index")
        return buffers[i]

    def shape_of(node):
        shape = node.get("shape")
        need(isinstance(shape, list) and len(shape) <= MAX_DIMS
             and all(type(s) is int and 0 <= s < 2**40 for s in shape), "bad shape")
        return tuple(shape)

    def number(v):
        if type(v) in (int, float):
            return float(v)
        need(isinstance(v, dict) and v.get("$") == "float" and v.get("v") in ("nan", "inf", "-inf"),
             "bad float")
        return float(v["v"])

    def dec(x, depth):
        count[0] += 1
        need(count[0] <= MAX_NODES and depth <= MAX_DEPTH, "too large or too deep")
        if x is None or type(x) in (bool, str, int):
            return x
        if type(x) is float:
            return x
        if type(x) is list:
            return [dec(v, depth + 1) for v in x]
        need(type(x) is dict, "unknown node")
        tag = x.get("$")
        if tag == "float":
            return number(x)
        if tag == "int":
            need(type(x.get("v")) is str and len(x["v"]) <= 4000, "bad int")
            try:
                return int(x["v"])
            except ValueError:
                raise ProtocolError("malformed value: bad int") from None
        if tag == "complex":
            return complex(number(x.get("re")), number(x.get("im")))
        if tag == "bytes":
            return bytes(get_buffer(x))
        if tag in ("tuple", "set"):
            need(type(x.get("v")) is list, "bad sequence")
            items = [dec(v, depth + 1) for v in x["v"]]
            if tag == "tuple":
                return tuple(items)
            try:
                return set(items)
            except TypeError:
                raise ProtocolError("malformed value: unhashable set item") from None
        if tag == "dict":
            keys, values = x.get("k"), x.get("v")
            need(type(keys) is list and type(values) is list and len(keys) == len(values),
                 "bad dict")
            out = {}
            for k, v in zip(keys, values):
                key = dec(k, depth + 1)
                try:
                    hash(key)
                except TypeError:
                    raise ProtocolError("malformed value: unhashable dict key") from None
                need(_is_key(key), "dict key of a type that cannot be a key here")
                out[key] = dec(v, depth + 1)
            return out
        if tag == "ndarray":
            dtype = NUMPY_DTYPES.get(x.get("dtype"))
            need(dtype is not None, "dtype not allowed")
            shape, raw = shape_of(x), get_buffer(x)
            need(math.prod(shape) * dtype.itemsize == len(raw), "buffer size does not match")
            return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if tag == "npscalar":
            dtype = NUMPY_DTYPES.get(x.get("dtype"))
            need(dtype is not None, "dtype not allowed")
            raw = get_buffer(x)
            need(len(raw) == dtype.itemsize, "buffer size does not match")
            return np.frombuffer(raw, dtype=dtype)[0]
        if tag == "tensor":
            dtype = TORCH_DTYPES.get(x.get("dtype"))
            need(dtype is not None, "dtype not allowed")
            shape, raw = shape_of(x), get_buffer(x)
            itemsize = torch.empty((), dtype=dtype).element_size()
            need(math.prod(shape) * itemsize == len(raw), "buffer size does not match")
            if not raw:
                t = torch.empty(shape, dtype=dtype)
            else:
                t = torch.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)
            need(type(x.get("grad")) is bool, "bad grad flag")
            if x["grad"] and (t.is_floating_point() or t.is_complex()):
                t.requires_grad_(True)
            return t
        if tag == "torch.dtype":
            dtype = TORCH_DTYPES.get(x.get("v"))
            need(dtype is not None, "dtype not allowed")
            return dtype
        if tag == "handle":
            need(make_handle is not None and type(x.get("id")) is int and type(x.get("type")) is str,
                 "bad handle")
            return make_handle(x["id"], x["type"][:200])
        raise ProtocolError("malformed value: unknown tag")

    return dec(tree, 0)


def _is_key(key) -> bool:
    if type(key) is tuple:
        return all(_is_key(k) for k in key)
    return key is None or type(key) in (bool, int, float, complex, str, bytes, torch.dtype) or (
        isinstance(key, np.generic))


def is_plain(value, depth: int = 0) -> bool:
    """Whether ``value`` is plain data of the closed set (no handles, no arbitrary objects)."""
    if depth > MAX_DEPTH:
        return False
    t = type(value)
    if value is None or t in (bool, int, float, complex, str, bytes):
        return True
    if t in (list, tuple, set, frozenset):
        return all(is_plain(v, depth + 1) for v in value)
    if t is dict:
        return all(is_plain(k, depth + 1) and is_plain(v, depth + 1) for k, v in value.items())
    if t is np.ndarray:
        return value.dtype.name in NUMPY_DTYPES
    if t in (torch.Tensor, torch.nn.Parameter):
        return str(value.dtype).removeprefix("torch.") in TORCH_DTYPES
    return isinstance(value, np.generic) and value.dtype.name in NUMPY_DTYPES
