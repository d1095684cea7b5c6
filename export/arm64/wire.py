"""The messages between pocketml and its arm64 guest: a JSON line listing the arrays that
follow (dtype, shape), then each array's raw bytes. Plain bytes, so neither side unpickles."""

from __future__ import annotations

import json

import numpy as np


def write_message(stream, header: dict, arrays=()) -> None:
    arrays = [np.ascontiguousarray(a) for a in arrays]
    header = {**header, "arrays": [{"dtype": a.dtype.str, "shape": list(a.shape)} for a in arrays]}
    stream.write(json.dumps(header).encode() + b"\n")
    for a in arrays:
        stream.write(a.tobytes())
    stream.flush()


def read_arrays(stream, header: dict) -> list[np.ndarray]:
    arrays = []
    for spec in header.get("arrays", []):
        dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
        size = dtype.itemsize * int(np.prod(shape, dtype=np.int64))
        data = stream.read(size)
        if len(data) != size:
            raise EOFError(f"the message ended after {len(data)} of {size} bytes")
        arrays.append(np.frombuffer(data, dtype).reshape(shape).copy())
    return arrays


def read_message(stream) -> tuple[dict, list[np.ndarray]] | None:
    """None at the end of the stream."""
    line = stream.readline()
    if not line:
        return None
    header = json.loads(line)
    return header, read_arrays(stream, header)
