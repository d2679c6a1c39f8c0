"""Parsing and validation of uploaded CSV datasets, shared by the api's upload route and workers.

The format:

- UTF-8 text (a leading byte-order mark is allowed), comma-separated, quoting as in RFC 4180.
- The first row is a header naming every column; names are trimmed and must be unique and
  non-empty.
- The label column is the one named ``label`` (exactly, after trimming), or else the last column.
  Labels are any non-empty text. If every label is an integer, classes are ordered numerically;
  otherwise they are ordered as text. Class k is the k-th label in that order.
- Every other column is a numeric feature: each cell a finite decimal number (``1``, ``-0.5``,
  ``2e3``); missing values are not supported.
- Spaces after a comma are ignored and blank lines are skipped. Errors name the 1-based line
  of the file (the header is line 1).
- Limits: at most ``max_bytes`` bytes, at least :data:`MIN_ROWS` data rows, between 2 and
  :data:`MAX_CLASSES` classes, at most :data:`MAX_COLUMNS` columns.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np

MIN_ROWS = 10
MAX_CLASSES = 1000
MAX_COLUMNS = 10_000
LABEL_COLUMN = "label"
_CHUNK_ROWS = 4096


class CsvDatasetError(ValueError):
    """Malformed CSV content; ``line`` (1-based) and ``column`` say where, when known."""

    def __init__(self, message: str, *, line: int | None = None, column: str | None = None):
        where = []
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.line = line
        self.column = column


@dataclass(frozen=True, eq=False)
class CsvTable:
    """A parsed CSV dataset: features (n, D) float64, labels (n,) int64 in [0, n_classes)."""

    features: np.ndarray
    labels: np.ndarray
    feature_names: tuple[str, ...]
    label_name: str
    class_names: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CsvDatasetError(
            f"the file is not UTF-8 text (invalid byte at offset {error.start})"
        ) from None


def _header(row: list[str]) -> tuple[list[str], int]:
    """Column names and the index of the label column."""
    names = [name.strip() for name in row]
    if len(names) < 2:
        raise CsvDatasetError(
            "the header needs at least two columns: one feature and the label", line=1
        )
    if len(names) > MAX_COLUMNS:
        raise CsvDatasetError(f"more than {MAX_COLUMNS} columns", line=1)
    for index, name in enumerate(names):
        if not name:
            raise CsvDatasetError(f"column {index + 1} of the header has no name", line=1)
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise CsvDatasetError("this column name appears twice in the header", column=name)
        seen.add(name)
    if all(_is_number(name) for name in names):
        raise CsvDatasetError("the first row must be a header naming the columns", line=1)
    label_index = names.index(LABEL_COLUMN) if LABEL_COLUMN in names else len(names) - 1
    return names, label_index


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _to_floats(cells: list[list[str]], lines: list[int], feature_names: list[str]) -> np.ndarray:
    """Feature cells of a chunk of rows -> float64 (rows, D); names the first bad cell."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = np.empty((len(cells), len(feature_names)))
        for i, (row, line) in enumerate(zip(cells, lines, strict=True)):
            for j, (cell, name) in enumerate(zip(row, feature_names, strict=True)):
                values[i, j] = _parse_number(cell, line, name)
    if not np.isfinite(values).all():
        i, j = np.argwhere(~np.isfinite(values))[0]
        raise CsvDatasetError(
            f"{cells[i][j].strip()!r} is not a finite number",
            line=lines[i],
            column=feature_names[j],
        )
    return values


def _parse_number(cell: str, line: int, column: str) -> float:
    text = cell.strip()
    if not text:
        raise CsvDatasetError(
            "empty value; missing values are not supported", line=line, column=column
        )
    try:
        return float(text)
    except ValueError:
        raise CsvDatasetError(f"{text!r} is not a number", line=line, column=column) from None


def _class_order(labels: list[str]) -> list[str]:
    distinct = set(labels)
    try:
        return sorted(distinct, key=int)
    except ValueError:
        return sorted(distinct)


def parse_csv(raw: bytes, max_bytes: int) -> CsvTable:
    """Parse and validate an uploaded CSV dataset (format in the module docstring).

    Raises :class:`CsvDatasetError` naming the line and column for: more than ``max_bytes``
    bytes, non-UTF-8 content, an empty file or header, rows whose length differs from the
    header's, empty or non-numeric or non-finite features, empty labels, fewer than
    :data:`MIN_ROWS` rows, and fewer than 2 or more than :data:`MAX_CLASSES` classes.
    """
    if len(raw) > max_bytes:
        raise CsvDatasetError(f"the file has {len(raw)} bytes; the limit is {max_bytes}")
    text = _decode(raw)
    if not text.strip():
        raise CsvDatasetError("the file is empty")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True, skipinitialspace=True)
    try:
        header_row = next(reader)
        while not header_row:
            header_row = next(reader)
    except csv.Error as error:
        raise CsvDatasetError(f"malformed CSV: {error}", line=reader.line_num) from None
    names, label_index = _header(header_row)
    feature_names = [name for i, name in enumerate(names) if i != label_index]
    label_name = names[label_index]

    chunks: list[np.ndarray] = []
    labels: list[str] = []
    cells: list[list[str]] = []
    lines: list[int] = []
    try:
        for row in reader:
            if not row:
                continue
            line = reader.line_num
            if len(row) != len(names):
                raise CsvDatasetError(
                    f"expected {len(names)} values like the header, got {len(row)}", line=line
                )
            label = row.pop(label_index).strip()
            if not label:
                raise CsvDatasetError("empty label", line=line, column=label_name)
            labels.append(label)
            cells.append(row)
            lines.append(line)
            if len(cells) == _CHUNK_ROWS:
                chunks.append(_to_floats(cells, lines, feature_names))
                cells, lines = [], []
    except csv.Error as error:
        raise CsvDatasetError(f"malformed CSV: {error}", line=reader.line_num) from None
    if cells:
        chunks.append(_to_floats(cells, lines, feature_names))

    if len(labels) < MIN_ROWS:
        raise CsvDatasetError(f"the file has {len(labels)} data rows; at least {MIN_ROWS} needed")
    classes = _class_order(labels)
    if len(classes) < 2:
        raise CsvDatasetError(
            f"the label column has a single class {classes[0]!r}; at least 2 are needed",
            column=label_name,
        )
    if len(classes) > MAX_CLASSES:
        raise CsvDatasetError(
            f"the label column has {len(classes)} distinct values; at most {MAX_CLASSES} classes "
            "are supported",
            column=label_name,
        )
    index = {name: k for k, name in enumerate(classes)}
    return CsvTable(
        features=np.concatenate(chunks),
        labels=np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels)),
        feature_names=tuple(feature_names),
        label_name=label_name,
        class_names=tuple(classes),
    )
