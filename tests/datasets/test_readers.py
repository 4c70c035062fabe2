"""The readers: well-formed CSV, Parquet and NPZ become the same table; hostile files become an
UploadError with the right status and a message that names the problem."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest

from tests.datasets.files import (
    csv_bytes,
    million_columns_csv,
    npz_bomb,
    npz_bytes,
    npz_with_pickle,
    parquet_bytes,
    ten_megabyte_line_csv,
    truncated,
)
from uploads import Table, UploadError, UploadLimits, detect_format, read_table

LIMITS = UploadLimits(max_bytes=64 * 1024 * 1024, max_rows=1000, max_columns=100)
X = np.array([[1.0, 2.0], [3.0, 4.5], [5.0, -6.0]])
Y = np.array([0, 1, 1])


def read(data: bytes, fmt: str, target: str = "y", limits: UploadLimits = LIMITS) -> Table:
    return read_table(io.BytesIO(data), fmt=fmt, target=target, limits=limits)


def refused(data: bytes, fmt: str, target: str = "y", limits: UploadLimits = LIMITS) -> UploadError:
    with pytest.raises(UploadError) as caught:
        read(data, fmt, target, limits)
    return caught.value


@pytest.mark.parametrize(
    "fmt, data",
    [
        ("csv", csv_bytes(["a", "y", "b"], [[1, 0, 2], [3, 1, 4.5], [5, 1, -6]])),
        ("parquet", parquet_bytes({"a": X[:, 0], "y": Y, "b": X[:, 1]})),
        ("npz", npz_bytes(X=X.astype(np.float32), y=Y)),
    ],
)
def test_every_format_reads_to_the_same_features_and_target(fmt: str, data: bytes) -> None:
    table = read(data, fmt)
    assert table.X.dtype == np.float32 and table.X.tolist() == X.tolist()
    assert table.target.tolist() == Y.tolist()
    assert table.columns == (["x0", "x1"] if fmt == "npz" else ["a", "b"])


def test_csv_reads_quoted_names_spaces_a_bom_crlf_and_string_labels() -> None:
    data = '\ufeff"width", height ,species\r\n1.5, 2,setosa\r\n\r\n3,4e-1,virginica\r\n'.encode()
    table = read(data, "csv", target="species")
    assert table.columns == ["width", "height"]
    assert table.X.tolist() == [[1.5, 2.0], [3.0, pytest.approx(0.4)]]
    assert table.target.tolist() == ["setosa", "virginica"]


def test_an_npz_target_array_can_be_named() -> None:
    table = read(npz_bytes(X=X, labels=Y), "npz", target="labels")
    assert table.target_name == "labels" and table.rows == 3


@pytest.mark.parametrize(
    "data, fmt, status, words",
    [
        (b"", "csv", 422, ["empty"]),
        (b"a,y\n", "csv", 422, ["no data rows"]),
        (csv_bytes(["a", "b"], [[1, 2]]), "csv", 422, ["target column 'y' not found", "'a', 'b'"]),
        (csv_bytes(["a", "y"], [[1, 0], ["red", 1]]), "csv", 422, ["column 'a' is not numeric", "row 2", "'red'"]),
        (csv_bytes(["a", "y"], [[1, 0], ["", 1]]), "csv", 422, ["column 'a'", "empty cell", "row 2"]),
        (csv_bytes(["a", "b", "y"], [[1, 2, 0], [3, "nan", 1]]), "csv", 422, ["column 'b' is NaN at row 2 (line 3)"]),
        (csv_bytes(["a", "y"], [[1, 0], ["-inf", 1]]), "csv", 422, ["column 'a' is infinite at row 2"]),
        (csv_bytes(["a", "y"], [[1e39, 0], [1, 1]]), "csv", 422, ["column 'a'", "float32", "row 1"]),
        (csv_bytes(["a", "y"], [[1, "inf"], [1, 1]]), "csv", 422, ["column 'y' is infinite at row 1"]),
        (csv_bytes(["a", "y"], [[1, 0], [2, 1, 3]]), "csv", 422, ["row 2", "3 fields", "header has 2"]),
        (csv_bytes(["a", "a", "y"], [[1, 2, 0]]), "csv", 422, ["'a' appears twice"]),
        (csv_bytes(["y"], [[1]]), "csv", 422, ["only the target column"]),
        (b"a,y\n1,0\n\xff\xfe,1\n", "csv", 422, ["line 3", "not valid UTF-8"]),
        (b'a,y\n"1,0\n', "csv", 422, ["not valid CSV"]),
        (b"a,y\n1\x002,0\n", "csv", 422, ["column 'a' is not numeric", "row 1"]),
        (truncated(parquet_bytes({"a": X[:, 0], "y": Y})), "parquet", 422, ["not a readable Parquet file"]),
        (b"PAR1" + bytes(100), "parquet", 422, ["Parquet"]),
        (parquet_bytes({"a": ["x", "y", "z"], "y": Y}), "parquet", 422, ["column 'a' is not numeric"]),
        (parquet_bytes({"a": [1.0, None, 2.0], "y": Y}), "parquet", 422, ["column 'a'", "missing value at row 2"]),
        (parquet_bytes({"a": [1.0, float("nan"), 2.0], "y": Y}), "parquet", 422, ["column 'a' is NaN at row 2"]),
        (parquet_bytes({"a": X[:, 0], "b": Y}), "parquet", 422, ["target column 'y' not found", "'a', 'b'"]),
        (npz_with_pickle(), "npz", 422, ["'y'", "Python objects", "pickle"]),
        (npz_bytes(X=X), "npz", 422, ["lacks array(s) 'y'", "'X'"]),
        (npz_bytes(X=X, y=np.array([0, 1])), "npz", 422, ["X [n, d]", "(3, 2)", "(2,)"]),
        (npz_bytes(X=np.array([[1.0, np.inf]]), y=np.array([0])), "npz", 422, ["column 'x1' is infinite at row 1"]),
        (npz_bytes(X=np.array(["a", "b"]), y=Y[:2]), "npz", 422, ["features must be numbers"]),
        (truncated(npz_bytes(X=X, y=Y), 0.5), "npz", 422, ["not a readable NPZ"]),
        (b"PK\x03\x04garbage", "npz", 422, ["not a readable NPZ"]),
    ],
)
def test_hostile_files_are_refused_naming_the_problem(data: bytes, fmt: str, status: int, words: list[str]) -> None:
    error = refused(data, fmt)
    assert error.status_code == status, error.message
    for word in words:
        assert word in error.message, (word, error.message)


def test_a_million_column_header_is_refused_after_one_bounded_line() -> None:
    started = time.perf_counter()
    error = refused(million_columns_csv(), "csv")
    assert error.status_code == 413 and "more than 100 columns" in error.message
    assert time.perf_counter() - started < 1.0


def test_a_ten_megabyte_line_is_refused() -> None:
    error = refused(ten_megabyte_line_csv(), "csv")
    assert error.status_code == 422 and "line 2 is longer than" in error.message


def test_rows_columns_and_bytes_limits_are_413_for_every_format() -> None:
    small = UploadLimits(max_bytes=4096, max_rows=2, max_columns=3)
    rows = csv_bytes(["a", "y"], [[1, 0], [2, 1], [3, 1]])
    assert "at most 2" in refused(rows, "csv", limits=small).message
    wide = csv_bytes(["a", "b", "c", "y"], [[1, 2, 3, 0]])
    assert refused(wide, "csv", limits=small).status_code == 413
    assert refused(parquet_bytes({"a": [1, 2, 3], "y": [0, 1, 1]}), "parquet", limits=small).status_code == 413
    assert refused(npz_bytes(X=np.zeros((3, 1)), y=np.zeros(3)), "npz", limits=small).status_code == 413
    big = csv_bytes(["a", "y"], [[i, i % 2] for i in range(1000)])
    error = refused(big, "csv", limits=UploadLimits(max_bytes=4096, max_rows=10_000, max_columns=10))
    assert error.status_code == 413 and "at most 4096" in error.message


def test_an_npz_bomb_is_refused_from_its_headers_without_decompressing() -> None:
    started = time.perf_counter()
    error = refused(npz_bomb(), "npz")
    assert error.status_code == 413 and "'X' declares shape (1000000, 1000)" in error.message
    assert time.perf_counter() - started < 0.5
    # a real array of zeros: 80 MB compresses to ~80 KB, and its zip entry declares the 80 MB
    sink = io.BytesIO()
    np.savez_compressed(sink, X=np.zeros((10_000_000, 1)), y=np.zeros(10_000_000))
    error = refused(sink.getvalue(), "npz")
    assert error.status_code == 413 and "decompresses to 80000128 bytes" in error.message


def test_a_parquet_declaring_more_than_the_limit_is_refused_before_reading() -> None:
    data = parquet_bytes({"a": np.zeros(100_000), "y": np.zeros(100_000)})  # tiny on disk: zeros compress
    error = refused(data, "parquet", limits=UploadLimits(max_bytes=len(data) * 4, max_rows=10**6, max_columns=10))
    assert error.status_code == 413 and "decompresses to" in error.message


@pytest.mark.parametrize(
    "filename, content_type, fmt",
    [
        ("data.csv", "text/csv", "csv"),
        ("DATA.CSV", "application/octet-stream", "csv"),
        ("t.parquet", None, "parquet"),
        ("t.pq", "application/vnd.apache.parquet", "parquet"),
        ("a.npz", "application/zip", "npz"),
        ("../../x.csv", "text/csv", "csv"),
        (None, "text/csv", "csv"),
    ],
)
def test_the_format_comes_from_the_extension_or_the_content_type(
    filename: str | None, content_type: str | None, fmt: str
) -> None:
    assert detect_format(filename, content_type) == fmt


@pytest.mark.parametrize(
    "filename, content_type",
    [("photo.png", "image/png"), ("data.csv", "application/json"), ("data.xlsx", None), ("a.csv", "application/x-npz")],
)
def test_other_formats_are_415(filename: str, content_type: str | None) -> None:
    with pytest.raises(UploadError) as caught:
        detect_format(filename, content_type)
    assert caught.value.status_code == 415 and ".csv, .parquet or .npz" in caught.value.message
