"""Parsing and validation of uploaded CSV datasets."""

from __future__ import annotations

import numpy as np
import pytest

from caviar.csv_dataset import MAX_CLASSES, CsvDatasetError, parse_csv

LIMIT = 1_000_000


def csv_bytes(header: str, rows: list[str]) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


def ten_rows(label: str = "{k}") -> list[str]:
    return [f"{i},{i * 0.5}," + label.format(k=i % 2) for i in range(10)]


def test_parses_features_and_maps_string_labels_in_text_order() -> None:
    rows = [f"{i},{-i}.5,{['dog', 'cat', 'baby chick'][i % 3]}" for i in range(12)]
    table = parse_csv(csv_bytes("weight,height,animal", rows), LIMIT)
    assert table.feature_names == ("weight", "height") and table.label_name == "animal"
    assert table.class_names == ("baby chick", "cat", "dog")
    assert table.features.shape == (12, 2) and table.features.dtype == np.float64
    np.testing.assert_array_equal(table.features[1], [1.0, -1.5])
    assert table.labels.dtype == np.int64
    assert table.labels[:3].tolist() == [2, 1, 0]  # dog, cat, baby chick


def test_integer_labels_are_ordered_numerically() -> None:
    rows = [f"{i},{[10, 2, 7][i % 3]}" for i in range(12)]
    table = parse_csv(csv_bytes("x,y", rows), LIMIT)
    assert table.class_names == ("2", "7", "10")
    assert table.labels[:3].tolist() == [2, 0, 1]


def test_a_column_named_label_is_the_label_wherever_it_is() -> None:
    rows = [f"{i % 2},{i},{i * 2}" for i in range(10)]
    table = parse_csv(csv_bytes("label,a,b", rows), LIMIT)
    assert table.label_name == "label" and table.feature_names == ("a", "b")
    np.testing.assert_array_equal(table.features[3], [3.0, 6.0])


def test_bom_quotes_spaces_crlf_and_blank_lines_are_accepted() -> None:
    text = '\ufeff"x", y ,label\r\n' + "".join(
        f' {i} ,"{i}e-1", "c{i % 2}"\r\n\r\n' for i in range(10)
    )
    table = parse_csv(text.encode(), LIMIT)
    assert table.feature_names == ("x", "y") and table.n_rows == 10
    assert table.class_names == ("c0", "c1")
    np.testing.assert_allclose(table.features[4], [4.0, 0.4])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "empty"),
        (b" \n\n  \n", "empty"),
        (b"x,label\n\xff\xfe,1\n", "not UTF-8"),
        (b"onlyone\n1\n2\n", "at least two columns"),
        (b"1,2,3\n4,5,6\n", "header"),
        (b"a,a,label\n1,2,3\n", "column 'a'.*twice"),
        (b"a,,label\n1,2,3\n", "column 2 of the header has no name"),
    ],
)
def test_bad_files_and_headers(raw: bytes, message: str) -> None:
    with pytest.raises(CsvDatasetError, match=message):
        parse_csv(raw, LIMIT)


def test_too_large() -> None:
    raw = csv_bytes("a,b,label", ten_rows())
    with pytest.raises(CsvDatasetError, match=f"{len(raw)} bytes; the limit is 50"):
        parse_csv(raw, 50)


def test_ragged_row_names_its_line() -> None:
    rows = ten_rows()
    rows[4] = "1,2"
    with pytest.raises(CsvDatasetError, match=r"^line 6: expected 3 values like the header, got 2"):
        parse_csv(csv_bytes("a,b,label", rows), LIMIT)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("abc", "'abc' is not a number"),
        ("", "empty value"),
        ("inf", "'inf' is not a finite"),
        ("nan", "'nan' is not a finite"),
    ],
)
def test_bad_feature_names_line_and_column(cell: str, message: str) -> None:
    rows = ten_rows()
    rows[7] = f"7,{cell},1"
    with pytest.raises(CsvDatasetError, match=rf"^line 9, column 'b': {message}") as caught:
        parse_csv(csv_bytes("a,b,label", rows), LIMIT)
    assert caught.value.line == 9 and caught.value.column == "b"


def test_bad_feature_is_found_beyond_the_first_chunk() -> None:
    rows = [f"{i},{i % 2}" for i in range(5000)]
    rows[4500] = "x4500,1"
    with pytest.raises(CsvDatasetError, match=r"^line 4502, column 'a': 'x4500'"):
        parse_csv(csv_bytes("a,label", rows), LIMIT)


def test_empty_label() -> None:
    rows = ten_rows()
    rows[0] = "0,0, "
    with pytest.raises(CsvDatasetError, match=r"^line 2, column 'label': empty label"):
        parse_csv(csv_bytes("a,b,label", rows), LIMIT)


def test_fewer_than_two_classes() -> None:
    with pytest.raises(CsvDatasetError, match="single class 'same'"):
        parse_csv(csv_bytes("a,b,label", ten_rows("same")), LIMIT)


def test_too_many_classes() -> None:
    rows = [f"{i},c{i}" for i in range(MAX_CLASSES + 1)]
    with pytest.raises(CsvDatasetError, match=f"{MAX_CLASSES + 1} distinct values"):
        parse_csv(csv_bytes("a,label", rows), 10 * LIMIT)


def test_too_few_rows() -> None:
    with pytest.raises(CsvDatasetError, match="9 data rows; at least 10"):
        parse_csv(csv_bytes("a,b,label", ten_rows()[:9]), LIMIT)


def test_malformed_quoting() -> None:
    rows = ten_rows()
    rows[2] = '2,"1"x,0'
    with pytest.raises(CsvDatasetError, match="malformed CSV"):
        parse_csv(csv_bytes("a,b,label", rows), LIMIT)


def test_error_is_a_value_error() -> None:
    assert issubclass(CsvDatasetError, ValueError)
