"""Builders for upload files, well-formed and hostile, shared by the unit and service tests."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def csv_bytes(header: list[str], rows: list[list[Any]]) -> bytes:
    lines = [",".join(header)] + [",".join(str(v) for v in row) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def blobs_csv(n: int = 300, seed: int = 0) -> bytes:
    """Three separable classes in 2-D, labels 0..2 in column 'label' (last)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centers = np.array([[0.0, 4.0], [4.0, 0.0], [-4.0, -4.0]])
    X = centers[y] + rng.normal(0, 0.7, (n, 2))
    return csv_bytes(
        ["a", "b", "label"], [[f"{x0:.4f}", f"{x1:.4f}", int(t)] for (x0, x1), t in zip(X, y, strict=True)]
    )


def linear_regression_csv(n: int = 300, seed: int = 0) -> bytes:
    """price = 3·size − 2·age + noise: a target a linear model fits well."""
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, (n, 2))
    y = 3 * X[:, 0] - 2 * X[:, 1] + rng.normal(0, 0.1, n)
    return csv_bytes(
        ["price", "size", "age"], [[f"{t:.4f}", f"{a:.4f}", f"{b:.4f}"] for (a, b), t in zip(X, y, strict=True)]
    )


def parquet_bytes(columns: dict[str, Any]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


def npz_bytes(**arrays: np.ndarray) -> bytes:
    sink = io.BytesIO()
    np.savez(sink, **arrays)  # type: ignore[arg-type]
    return sink.getvalue()


def npz_with_pickle() -> bytes:
    """y is an object array: np.savez stores it as a pickle."""
    return npz_bytes(X=np.zeros((4, 2), np.float32), y=np.array([{"a": 1}, None, 2, "x"], dtype=object))


def npz_bomb(rows: int = 1_000_000, columns: int = 1000) -> bytes:
    """X declares rows×columns float64 (8 GB at the defaults) in a zip of a few KiB.

    Written by hand: the .npy header and a stream of compressed zeros that is never finished,
    so building the file costs nothing; a reader that trusted it would decompress gigabytes.
    """
    header = _npy_header(np.dtype(np.float64), (rows, columns))
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("X.npy", "w", force_zip64=True) as member:
            member.write(header)
            chunk = bytes(1 << 20)
            for _ in range(16):  # 16 MiB of zeros compress to ~16 KiB; the header claims 8 GB
                member.write(chunk)
        archive.writestr("y.npy", _npy_header(np.dtype(np.int64), (rows,)) + bytes(8 * 16))
    return sink.getvalue()


def _npy_header(dtype: np.dtype[Any], shape: tuple[int, ...]) -> bytes:
    sink = io.BytesIO()
    np.lib.format.write_array_header_1_0(sink, {"descr": dtype.str, "fortran_order": False, "shape": shape})
    return sink.getvalue()  # magic, length and header


def truncated(data: bytes, keep: float = 0.6) -> bytes:
    return data[: int(len(data) * keep)]


def million_columns_csv() -> bytes:
    return (",".join(f"c{i}" for i in range(1_000_000)) + ",y\n").encode()


def ten_megabyte_line_csv() -> bytes:
    return b"a,y\n" + b"1" * (10 * 1024 * 1024) + b",0\n"
