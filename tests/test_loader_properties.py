"""Property tests: whatever bytes or values a case holds, loading ends in a Case or a GraphFraudError.

When loading succeeds every input row is used or rejected (``read == used + rejected``),
and a rejected CSV record names the physical line where it starts.
"""

import csv
import io
import re
import sqlite3
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphfraud
from graphfraud.case.schema import TABLE_NAMES, TABLES
from graphfraud.errors import GraphFraudError

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LOGIN_COLUMNS = TABLES["logins"].column_names


def load_or_library_error(path, **kw):
    """The load's Case, or None when it raised a GraphFraudError; any other exception fails the test."""
    try:
        case = graphfraud.load_case(path, **kw)
    except GraphFraudError as exc:
        assert str(exc)  # never an empty message
        return None
    counts = case.row_counts()
    assert (counts["read"] == counts["used"] + counts["rejected"]).all(), counts
    assert not case.rejected["reason"].isna().any()
    case.rejected.to_csv(io.StringIO())  # the rejected rows can always be written out
    case.data_quality()
    case.rejection_summary()
    return case


def csv_folder(folder: Path, table: str, content: bytes) -> Path:
    for name in TABLE_NAMES:
        data = content if name == table else (",".join(TABLES[name].column_names) + "\n").encode()
        (folder / f"{name}.csv").write_bytes(data)
    return folder


_tables = st.sampled_from(TABLE_NAMES)


@SETTINGS
@given(_tables, st.binary(max_size=300))
def test_arbitrary_bytes_as_a_csv_file_load_or_raise_a_library_error(table, content):
    with tempfile.TemporaryDirectory() as d:
        load_or_library_error(csv_folder(Path(d), table, content))


@SETTINGS
@given(_tables, st.binary(max_size=300), st.sampled_from([b"", b"\xef\xbb\xbf"]), st.booleans())
def test_arbitrary_bytes_after_a_valid_header_load_or_raise_a_library_error(table, body, bom, utf16):
    header = ",".join(TABLES[table].column_names) + "\n"
    content = header.encode("utf-16") + body if utf16 else bom + header.encode() + body
    with tempfile.TemporaryDirectory() as d:
        load_or_library_error(csv_folder(Path(d), table, content), chunksize=3)


_cell_text = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "\n", "\r\n", '"', ",", "2025-08-01 10:00:00", "3000-01-01", "1e400", "inf", "nan",
                     "-1", "101", "99999999999999999999", "SUCCESS", "FAIL", "PAID", "CHARGEBACK", "0", "1", "A1"]),
)


@SETTINGS
@given(_tables, st.data())
def test_arbitrary_text_cells_in_csv_are_used_or_rejected_at_their_physical_line(table, data):
    columns = TABLES[table].column_names
    rows = data.draw(st.lists(st.one_of(st.tuples(*[_cell_text] * len(columns)), st.just(None)), max_size=12))
    buf = io.StringIO(newline="")
    # "\r\n" as terminator makes the writer quote every value holding \r or \n
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    starts, line = [], 2
    for row in rows:
        before = buf.tell()
        if row is None:
            buf.write("\r\n")  # a blank line
        else:
            writer.writerow(row)
        starts.append(line)
        line += len(re.findall(r"\r\n|\r|\n", buf.getvalue()[before:]))
    content = buf.getvalue().encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as d:
        case = load_or_library_error(csv_folder(Path(d), table, content), chunksize=4)
    if case is None:
        return
    assert case.row_counts().loc[table, "read"] == len(rows)
    rej = case.rejected[case.rejected["table"] == table]
    for row, at in zip(rej["row"], rej["line"]):
        assert at == starts[row], (row, at, starts)
    blank = [i for i, r in enumerate(rows) if r is None]
    assert set(blank) <= set(rej.loc[rej["reason"] == "blank line", "row"])


_sql_value = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=10),
    st.binary(max_size=6),
    st.sampled_from(["2025-08-01 10:00:00", "1500-01-01", "SUCCESS", "FAIL", "PAID", "1", "0", "A1", "1.1.1.1"]),
)
# a cell is stored as given, or its bytes are stored as TEXT (possibly not UTF-8)
_sql_cell = st.tuples(_sql_value, st.booleans())


@SETTINGS
@given(_tables, st.data())
def test_any_sqlite_cell_of_any_type_is_used_or_rejected(table, data):
    columns = TABLES[table].column_names
    rows = data.draw(st.lists(st.tuples(*[_sql_cell] * len(columns)), max_size=10))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "c.sqlite"
        with sqlite3.connect(path) as conn:
            for name in TABLE_NAMES:
                conn.execute(f"CREATE TABLE {name} ({', '.join(TABLES[name].column_names)})")
            for row in rows:
                exprs, values = [], []
                for value, as_text in row:
                    if as_text and isinstance(value, bytes):
                        exprs.append("CAST(? AS TEXT)")
                    else:
                        exprs.append("?")
                    values.append(value)
                conn.execute(f"INSERT INTO {table} VALUES ({', '.join(exprs)})", values)
        conn.close()
        case = load_or_library_error(path, chunksize=3)
    assert case is not None
    assert case.row_counts().loc[table, "read"] == len(rows)


_py_value = st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=8), st.binary(max_size=4),
                      st.booleans(), st.sampled_from(["2025-08-01", "2262-04-12", "1e400", "-inf"]))


@SETTINGS
@given(_tables, st.data())
def test_any_python_value_in_a_dataframe_is_used_or_rejected(table, data):
    columns = TABLES[table].column_names
    rows = data.draw(st.lists(st.tuples(*[_py_value] * len(columns)), max_size=10))
    frames = {"logins": pd.DataFrame(columns=list(LOGIN_COLUMNS))}
    frames[table] = pd.DataFrame(rows, columns=list(columns))
    try:
        case = graphfraud.case_from_frames(**frames)
    except GraphFraudError:
        return
    counts = case.row_counts()
    assert (counts["read"] == counts["used"] + counts["rejected"]).all()
    assert counts.loc[table, "read"] == len(rows)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(-2**40, 2**40), st.integers(0, 5)), max_size=40))
def test_distinct_rows_equals_python_set(rows):
    import numpy as np

    from graphfraud.case.arrays import distinct_rows

    keys = [np.array([r[i] for r in rows], dtype=np.int64) for i in range(3)]
    got = list(zip(*(k.tolist() for k in distinct_rows(*keys)))) if rows else []
    assert got == sorted(set(rows))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", "é", "A100", " "])), max_size=8),
                min_size=1, max_size=5))
def test_union_categories_equals_pandas_union_categoricals(chunks):
    from pandas.api.types import union_categoricals

    from graphfraud.case.validate import union_categories

    parts = [pd.Series(pd.Categorical(c, categories=pd.Index(sorted({v for v in c if v is not None}), dtype="str")))
             for c in chunks]
    want, got = union_categoricals(parts), union_categories(parts)
    assert list(got.categories) == list(want.categories)
    assert got.codes.tolist() == want.codes.tolist()


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.integers(-3, 3), st.integers(-2**40, 2**40), st.integers(0, 5)), max_size=40),
       st.booleans())
def test_sort_order_equals_lexsort(rows, presort_last):
    import numpy as np

    from graphfraud.case.arrays import sort_order

    if presort_last:  # the path that skips the first sort when the last key is already in order
        rows = sorted(rows, key=lambda r: r[2])
    keys = [np.array([r[i] for r in rows], dtype=np.int64) for i in range(3)]
    assert sort_order(*keys).tolist() == np.lexsort(keys[::-1]).tolist()
    wide = [keys[0], keys[1] % 2**20, keys[2] * 2**50]  # too wide for one int64, the first two fit: two sorts
    assert sort_order(*wide).tolist() == np.lexsort(wide[::-1]).tolist()
