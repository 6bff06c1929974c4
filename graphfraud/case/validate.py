"""Validation at the boundary: raw tables in, a typed :class:`~graphfraud.case.model.Case` out.

Validation happens here, once. Every input row is either used or
recorded in ``Case.rejected`` with the table, row, column, offending value and
reason; a missing table or column raises :class:`~graphfraud.errors.SchemaError`
naming every problem at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from ..errors import SchemaError
from .model import Case
from .schema import ALL_TABLE_NAMES, OPTIONAL_TABLE_NAMES, TABLES, TIME_FORMAT, Column, TableSpec

__all__ = ["case_from_frames", "load_tables", "resolve_columns"]

_TRUE = {"1", "true", "t", "yes", "y", "1.0"}
_FALSE = {"0", "false", "f", "no", "n", "0.0"}


# --------------------------------------------------------------------- validation


def resolve_columns(spec: TableSpec, columns: Iterable[str]) -> tuple[dict[str, str], list[str]]:
    """Map contract column names to the source's names (case and spaces ignored).

    Returns the mapping and the list of problems (missing columns, and two source
    columns matching one contract name, e.g. ``Account_ID`` and ``account_id``).
    A column the contract lets be absent (``Column.absent``) is simply not mapped.
    """
    by_norm: dict[str, list] = {}
    for c in columns:
        by_norm.setdefault(str(c).strip().lower(), []).append(c)
    mapping, problems = {}, []
    for col in spec.columns:
        found = by_norm.get(col.name, [])
        if len(found) > 1:
            # taking the first would silently drop the other column's data
            named = " and ".join(repr(str(c)) for c in found)
            problems.append(
                f"table '{spec.name}': columns {named} both match '{col.name}' "
                "(names are compared ignoring case and spaces); rename or drop one of them"
            )
        elif found:
            mapping[col.name] = found[0]
        elif col.absent is None:
            problems.append(
                f"table '{spec.name}': column '{col.name}' is missing (expected {_kind_words(col)}: {col.description})"
            )
    return mapping, problems


def _kind_words(col: Column) -> str:
    return {
        "id": "text identifier",
        "text": "text",
        "ts": "ISO-8601 timestamp",
        "flag": "0/1 flag",
        "int": "integer" + (f" {col.low:g}-{col.high:g}" if col.low is not None else ""),
        "float": "number",
        "enum": _expected(col.allowed),
    }[col.kind]


def _expected(allowed: tuple[str, ...]) -> str:
    """``one of A, B, C``; a long list (currency codes) is named by its size and a few common members."""
    if len(allowed) <= 8:
        return "one of " + ", ".join(allowed)
    common = [a for a in ("USD", "EUR", "GBP") if a in allowed] or list(allowed[:3])
    return f"one of {len(allowed)} codes such as {', '.join(common)}"


class _Coded:
    """A text column as integer codes over its distinct values (``-1`` = null).

    Cleaning and validating the distinct values instead of every row is what keeps
    typing 30M logins fast: a login table has a few hundred thousand distinct
    timestamps and IPs, not 30M.
    """

    def __init__(self, series: pd.Series):
        if isinstance(series.dtype, pd.CategoricalDtype):
            raw_codes = series.cat.codes.to_numpy().astype(np.int64)
            raw_uniques = np.asarray(series.cat.categories, dtype=object)
        else:
            raw_codes, raw_uniques = pd.factorize(series, use_na_sentinel=True)
            raw_codes = raw_codes.astype(np.int64)
            if _is_arrow_text(raw_uniques) and self._clean_arrow(raw_codes, raw_uniques):
                return
            raw_uniques = np.asarray(raw_uniques, dtype=object)
        self.raw_codes, self.raw_uniques = raw_codes, raw_uniques
        cleaned = np.array([_text(v).strip() for v in raw_uniques], dtype=object)
        self.bad_utf8_raw = _not_utf8(cleaned)
        if self.bad_utf8_raw.any():
            # those rows are rejected; an escaped stand-in keeps the categories writable and hashable
            cleaned[self.bad_utf8_raw] = [_shown(v) for v in cleaned[self.bad_utf8_raw]]
        # pristine: the source held exactly these strings (so SQL on the source sees what we see)
        self.pristine = bool(all(type(v) is str for v in raw_uniques) and (cleaned == raw_uniques).all()
                             and not (cleaned == "").any())
        cleaned[cleaned == ""] = None
        self._set(cleaned)

    def _clean_arrow(self, raw_codes: np.ndarray, raw_uniques) -> bool:
        """The common case, decided in Arrow: Arrow text is valid UTF-8, and none needs trimming or is empty.

        Returns False (nothing set) when some value does need cleaning: the general path does it.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        arr = pa.array(getattr(raw_uniques, "array", raw_uniques))
        if arr.null_count or len(arr) == 0:
            return False
        first, last = pc.utf8_slice_codeunits(arr, 0, 1), pc.utf8_slice_codeunits(arr, -1, 2**31 - 1)
        ws = pa.array(_WHITESPACE, type=arr.type)
        if pc.any(pc.is_in(first, value_set=ws)).as_py() or pc.any(pc.is_in(last, value_set=ws)).as_py():
            return False
        if pc.any(pc.equal(pc.utf8_length(arr), 0)).as_py():
            return False
        self.raw_codes = raw_codes
        self.raw_uniques = self.uniques = np.asarray(raw_uniques, dtype=object)
        self.bad_utf8_raw = np.zeros(len(arr), dtype=bool)
        self.pristine = True
        self.codes = raw_codes
        return True

    def _set(self, per_raw_unique: np.ndarray) -> None:
        """Re-code after cleaning, merging raw values that became equal (' a' and 'a')."""
        merged, self.uniques = pd.factorize(per_raw_unique, use_na_sentinel=True)
        self.uniques = np.asarray(self.uniques, dtype=object)
        lookup = np.append(merged.astype(np.int64), -1)  # raw code -1 stays null
        self.codes = lookup[self.raw_codes]

    def recode(self, per_unique: np.ndarray) -> None:
        """Replace the distinct values (e.g. upper-cased), merging those that become equal."""
        merged, uniques = pd.factorize(per_unique, use_na_sentinel=True)
        self.codes = np.append(merged.astype(np.int64), -1)[self.codes]
        self.uniques = np.asarray(uniques, dtype=object)

    def remap(self, fn) -> np.ndarray:
        """Apply ``fn`` to the distinct values; returns the new per-unique values (before merging)."""
        return np.array([fn(v) for v in self.uniques], dtype=object)

    @property
    def bad_utf8(self) -> np.ndarray:
        """Row mask: the source text was not valid UTF-8 (undecodable bytes)."""
        if not self.bad_utf8_raw.any():
            return np.zeros(len(self.raw_codes), dtype=bool)
        return np.append(self.bad_utf8_raw, False)[self.raw_codes]

    @property
    def null(self) -> np.ndarray:
        return self.codes < 0

    def raw(self) -> np.ndarray:
        return np.append(self.raw_uniques, None)[self.raw_codes]

    def rows(self, bad_unique: np.ndarray) -> np.ndarray:
        """Row mask from a mask over the distinct values."""
        return np.append(bad_unique, False)[self.codes]


#: what Python's str.strip() removes: a value starting or ending with one of these needs cleaning
_WHITESPACE = [chr(c) for c in (*range(0x9, 0xE), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                                0x2028, 0x2029, 0x202F, 0x205F, 0x3000)]


def _is_arrow_text(values) -> bool:
    """Distinct values held as Arrow strings (pandas' default text): every one is a valid UTF-8 str."""
    arr = getattr(values, "array", values)
    return hasattr(arr, "__arrow_array__") and str(getattr(arr, "dtype", "")) in ("str", "string")


def _text(v) -> str:
    # SQLite hands back ints for numeric-looking ids; 100.0 from a float column is "100".
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    if isinstance(v, (bytes, bytearray, memoryview)):
        # undecodable bytes survive as lone surrogates, so the row is rejected, not silently altered
        return bytes(v).decode("utf-8", "surrogateescape")
    return str(v)


def _not_utf8(values: np.ndarray) -> np.ndarray:
    """Mask of strings that cannot be written as UTF-8 (lone surrogates from undecodable bytes)."""
    try:
        "".join(values).encode("utf-8")  # one C call for the common, clean case
        return np.zeros(len(values), dtype=bool)
    except UnicodeEncodeError:
        return np.array([not _encodes(v) for v in values], dtype=bool)


def _encodes(v: str) -> bool:
    try:
        v.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _shown(v: str) -> str:
    """A value as it can be written to a UTF-8 report: undecodable bytes as ``\\xff``."""
    if _encodes(v):
        return v
    try:
        return v.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return v.encode("utf-8", "backslashreplace").decode("utf-8")


class _Problems:
    def __init__(self, table: str, offset: int, n: int):
        self.table, self.offset, self.n = table, offset, n
        self.bad = np.zeros(n, dtype=bool)
        self.parts: list[pd.DataFrame] = []

    def add(self, mask: np.ndarray, column: str, raw_values, reason) -> None:
        """Record rows where ``mask`` holds; ``reason`` is a string or a function of the value.

        ``raw_values`` is an array of the source values, or a function returning it
        (called only when something is wrong, since building it costs time).
        """
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        self.bad[idx] = True
        raw = raw_values() if callable(raw_values) else raw_values
        vals = [None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else _shown(_text(v))
                for v in np.asarray(raw, dtype=object)[idx]]
        reasons = [reason(v) for v in vals] if callable(reason) else [reason] * len(idx)
        self.parts.append(
            pd.DataFrame(
                {
                    "table": self.table,
                    "row": idx + self.offset,
                    "column": column,
                    "value": pd.Series([None if v is None else v[:200] for v in vals], dtype=object),
                    "reason": reasons,
                    "line": pd.array([pd.NA] * len(idx), dtype="Int64"),
                }
            )
        )

    def blank(self, mask: np.ndarray, reason: str = "blank line") -> None:
        """Rows with no value at all get this one rejection instead of one per required column."""
        if not mask.any():
            return
        self.parts = [p[~mask[p["row"].to_numpy() - self.offset]] for p in self.parts]
        self.add(mask, "", np.full(self.n, None, dtype=object), reason)

    def frame(self) -> pd.DataFrame:
        parts = [p for p in self.parts if len(p)]
        if not parts:
            return _empty_rejected()
        return pd.concat(parts, ignore_index=True)


def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "table": pd.Series(dtype=object),
            "row": pd.Series(dtype="int64"),
            "column": pd.Series(dtype=object),
            "value": pd.Series(dtype=object),
            "reason": pd.Series(dtype=object),
            "line": pd.Series(dtype="Int64"),
        }
    )


def clean_chunk(spec: TableSpec, raw: pd.DataFrame, mapping: Mapping[str, str], offset: int = 0):
    """Type one chunk of a source table; return the typed rows, the rejections and pristineness.

    ``offset`` is the position of the chunk's first row in the source table, so
    rejection row numbers refer to the whole table. The third value is True when
    every value was used exactly as the source stored it.
    """
    n = len(raw)
    problems = _Problems(spec.name, offset, n)
    out: dict[str, object] = {}
    pristine = True
    blank = np.ones(n, dtype=bool)  # no value in any contract column (a blank CSV line)
    columns = [col for col in spec.columns if col.name in mapping or col.absent == "null"]
    for col in columns:
        if col.name not in mapping:  # absent="null": typed as all null, no problem to report
            out[col.name] = np.full(n, np.nan) if col.kind in ("int", "float") else _Coded(
                pd.Series([None] * n, dtype=object))
            continue
        series = raw[mapping[col.name]]
        if col.kind == "flag":
            out[col.name], null, ok, empty = _flag(series, col, problems)
        elif col.kind in ("int", "float"):
            out[col.name], null, ok = _number(series, col, problems)
            empty = null
        elif col.kind == "ts" and pd.api.types.is_datetime64_any_dtype(series.dtype):
            out[col.name], null = _typed_timestamps(series, col, problems)
            ok, empty = False, null  # not the contract's text, so SQL cannot run on the source as is
        else:
            coded = _Coded(series)
            ok = coded.pristine
            empty = coded.null
            if col.kind in ("id", "text"):
                problems.add(coded.bad_utf8, col.name, coded.raw,
                             lambda v, c=col.name: f"{c} is not valid UTF-8 text: {v!r} (save the file as UTF-8)")
            if col.kind == "enum":
                # matched ignoring case, stored in the contract's spelling (SUCCESS, EUR, email_domain)
                spelling = {a.upper(): a for a in col.allowed}
                canon = np.array([spelling.get(u, u) for u in coded.remap(str.upper)], dtype=object)
                bad_u = ~np.isin(canon, np.array(col.allowed, dtype=object))
                expected = " or ".join(col.allowed) if len(col.allowed) <= 8 else _expected(col.allowed)
                problems.add(coded.rows(bad_u), col.name, coded.raw,
                             lambda v, c=col.name, e=expected: f"unknown {c} value {v!r} (expected {e})")
                ok = ok and bool((canon == coded.uniques).all())
                coded.recode(canon)
            if col.kind == "ts":
                out[col.name], ok_ts = _timestamps(coded, col, problems)
                ok = ok and ok_ts
            else:
                out[col.name] = coded
            null = coded.null
        if col.required:
            problems.add(null, col.name, np.full(n, None, dtype=object), f"{col.name} is missing (required)")
        pristine = pristine and ok
        blank &= empty
    problems.blank(blank)
    keep = ~problems.bad
    rows = np.flatnonzero(keep)
    typed = {col.name: _final(col, out[col.name], rows) for col in columns}
    frame = pd.DataFrame(typed)
    frame["_row"] = rows + offset
    rejected = problems.frame()
    return frame, rejected, pristine and rejected.empty


def _out_of_range(v) -> str:
    return f"timestamp out of range {v!r} (pandas handles 1677-09-21 to 2262-04-11)"


def _timestamps(coded: _Coded, col: Column, problems: _Problems) -> tuple[np.ndarray, bool]:
    parsed = _parse_ts(coded.uniques)
    # pandas may parse at second/microsecond resolution; nanoseconds only reach 1677-2262
    out_u = ((parsed < pd.Timestamp.min) | (parsed > pd.Timestamp.max)).to_numpy()
    problems.add(coded.rows(out_u), col.name, coded.raw, _out_of_range)
    parsed = parsed.mask(out_u).astype("datetime64[ns]")
    bad_u = parsed.isna().to_numpy() & ~out_u
    problems.add(coded.rows(bad_u), col.name, coded.raw, lambda v: f"unparseable timestamp {v!r}")
    bad_u |= out_u
    canonical = bool((parsed.dt.strftime(TIME_FORMAT).to_numpy(dtype=object)[~bad_u]
                      == coded.uniques[~bad_u]).all())
    values = np.append(parsed.to_numpy(), np.datetime64("NaT", "ns"))[coded.codes]
    return values, canonical


def _typed_timestamps(series: pd.Series, col: Column, problems: _Problems) -> tuple[np.ndarray, np.ndarray]:
    """A column that already holds timestamps (Arrow timestamps, datetime64 frames): no text round trip.

    An aware column is converted to UTC and made naive (the contract's form). Values
    at second to microsecond resolution can lie outside what nanoseconds hold; those
    rows are rejected like out-of-range text.
    """
    if getattr(series.dtype, "tz", None) is not None:
        series = series.dt.tz_convert(None)
    arr = series.to_numpy()
    null = np.isnat(arr)
    # compare as integers in the column's own unit: numpy would overflow converting to ns first
    per_unit = int(np.timedelta64(1, np.datetime_data(arr.dtype)[0]) // np.timedelta64(1, "ns"))
    low, high = -(-pd.Timestamp.min.value // per_unit), pd.Timestamp.max.value // per_unit
    ticks = arr.view(np.int64)
    out = ~null & ((ticks < low) | (ticks > high))
    if out.any():
        raw = np.full(len(arr), None, dtype=object)
        raw[out] = [str(pd.Timestamp(v)) for v in arr[out]]
        problems.add(out, col.name, raw, _out_of_range)
        arr = np.where(out, np.datetime64("NaT"), arr)
    return arr.astype("datetime64[ns]"), null


def _parse_ts(values: np.ndarray) -> pd.Series:
    """ISO-8601 text to naive UTC timestamps at whatever resolution pandas picks; NaT if unparseable."""
    try:
        parsed = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", errors="coerce", utc=True)
    except (ValueError, TypeError, OverflowError):
        # one odd value must not sink the column: parse one by one (only on this rare path)
        parsed = pd.Series([_parse_one_ts(v) for v in values], dtype="datetime64[us, UTC]")
    return parsed.dt.tz_convert(None)


def _parse_one_ts(v):
    try:
        return pd.to_datetime(pd.Series([v], dtype=object), format="ISO8601", errors="coerce",
                              utc=True).astype("datetime64[us, UTC]").iloc[0]
    except (ValueError, TypeError, OverflowError):
        return pd.NaT


def _flag(series: pd.Series, col: Column, problems: _Problems):
    no_null = np.zeros(len(series), dtype=bool)
    if pd.api.types.is_bool_dtype(series.dtype) and not series.isna().any():
        return series.to_numpy(dtype=bool), no_null, False, no_null
    if pd.api.types.is_integer_dtype(series.dtype) and not series.isna().any():
        arr = series.to_numpy()
        bad = (arr != 0) & (arr != 1)
        problems.add(bad, col.name, arr, lambda v, c=col.name: f"{c} must be 0 or 1, got {v!r}")
        return arr == 1, no_null, True, no_null
    coded = _Coded(series)
    low = coded.remap(str.lower)
    is_true = np.isin(low, list(_TRUE))
    is_false = np.isin(low, list(_FALSE))
    problems.add(coded.null, col.name, coded.raw, f"{col.name} is missing (expected 0 or 1)")
    problems.add(coded.rows(~is_true & ~is_false), col.name, coded.raw,
                 lambda v, c=col.name: f"{c} must be 0 or 1, got {v!r}")
    # a null flag is already rejected above; don't count it twice as "required"
    return coded.rows(is_true), no_null, False, coded.null


def _number(series: pd.Series, col: Column, problems: _Problems):
    numeric = (pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
               and not pd.api.types.is_complex_dtype(series.dtype))
    if numeric:
        num = series.to_numpy(dtype="float64", na_value=np.nan)
        null = np.isnan(num)
        raw = lambda: series.to_numpy(dtype=object, na_value=None)  # noqa: E731
    else:
        coded = _Coded(series)
        num_u = _to_float(coded.uniques)
        num = np.append(num_u, np.nan)[coded.codes]
        null = coded.null
        raw = coded.raw
        problems.add(coded.rows(np.isnan(num_u)), col.name, raw, lambda v, c=col.name: f"{c} is not a number: {v!r}")
    # inf, -inf and text such as 1e400 (which parses to inf) are no amount or score
    infinite = np.isinf(num)
    problems.add(infinite, col.name, raw, lambda v, c=col.name: f"{c} is not a finite number: {v!r}")
    if col.kind == "int":
        finite = np.isfinite(num)
        # beyond 2**53 a float no longer holds every integer, and beyond 2**63 int64 wraps round
        huge = finite & (np.abs(num) >= _EXACT_INT)
        problems.add(huge, col.name, raw,
                     lambda v, c=col.name: f"{c} is too large to be stored exactly (limit ±2**53): {v!r}")
        frac = finite & ~huge & (num != np.round(num))
        problems.add(frac, col.name, raw, lambda v, c=col.name: f"{c} must be a whole number, got {v!r}")
        num = np.where(huge | infinite, np.nan, num)  # rejected rows: keep the int64 cast below well defined
    if col.low is not None:
        out = ~np.isnan(num) & ~infinite & ((num < col.low) | (num > col.high))
        problems.add(out, col.name, raw, lambda v, c=col: f"{c.name} out of range {c.low:g}-{c.high:g}: {v!r}")
    return num, null, numeric


_EXACT_INT = float(2**53)


def _to_float(values: np.ndarray) -> np.ndarray:
    """Distinct source values to float64; NaN where a value is not a number."""
    try:
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(dtype="float64",
                                                                                       na_value=np.nan)
    except (ValueError, TypeError, OverflowError):
        return np.array([_one_float(v) for v in values], dtype="float64")


def _one_float(v) -> float:
    try:
        return float(v)
    except (ValueError, TypeError, OverflowError):
        return np.nan


def _final(col: Column, value, rows: np.ndarray):
    """The typed column for the kept ``rows``."""
    if isinstance(value, _Coded):
        codes = value.codes[rows]
        if col.categorical or col.kind == "enum":
            return pd.Categorical.from_codes(codes, categories=pd.Index(value.uniques, dtype=object))
        return pd.Series(np.append(value.uniques, None)[codes], dtype=object)
    arr = np.asarray(value)[rows]
    if col.kind == "ts":
        return pd.Series(arr, dtype="datetime64[ns]")
    if col.kind == "flag":
        return arr.astype(bool)
    if col.kind == "int":
        if col.required:
            return arr.astype("int64")
        nan = np.isnan(arr)
        return pd.arrays.IntegerArray(np.where(nan, 0, arr).astype("int64"), nan)
    return arr.astype("float64")


def concat_chunks(spec: TableSpec, chunks: list[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate typed chunks, merging categoricals without going through object arrays."""
    if not chunks:
        kept = [c.name for c in spec.columns if c.absent != "omit"]
        chunks = [clean_chunk(spec, pd.DataFrame({c: pd.Series(dtype=object) for c in kept}),
                              {c: c for c in kept})[0]]
    if len(chunks) == 1:
        return chunks[0].reset_index(drop=True)
    cols = {}
    for name in chunks[0].columns:
        parts = [c[name] for c in chunks]
        if isinstance(parts[0].dtype, pd.CategoricalDtype):
            cols[name] = union_categories(parts)
        else:
            cols[name] = pd.concat(parts, ignore_index=True)
    return pd.DataFrame(cols)


def union_categories(parts: list[pd.Series]) -> pd.Categorical:
    """``union_categoricals(parts)``: categories in order of first appearance, codes recoded.

    pandas recodes each part against the whole union (an index lookup of every
    category per part): 30 parts of a 1M-account login table took minutes. Here each
    part's own categories are looked up once in one Arrow hash table.

    Examples
    --------
    >>> a, b = pd.Series(["x", "y"], dtype="category"), pd.Series(["y", "z", None], dtype="category")
    >>> union_categories([a, b]).tolist()
    ['x', 'y', 'y', 'z', nan]
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    cats = [np.asarray(p.cat.categories, dtype=object) for p in parts]
    try:
        arrow = [pa.array(c, type=pa.string()) for c in cats]
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # categories that are not all text
        return union_categoricals(parts)
    union = pc.unique(pa.chunked_array(arrow, type=pa.string()))
    codes = []
    for part, c in zip(parts, arrow):
        lookup = np.append(pc.index_in(c, value_set=union).to_numpy(zero_copy_only=False), -1).astype(np.int64)
        codes.append(lookup[part.cat.codes.to_numpy()])
    categories = pd.Index(union.to_numpy(zero_copy_only=False), dtype=parts[0].cat.categories.dtype)
    return pd.Categorical.from_codes(np.concatenate(codes) if codes else np.zeros(0, np.int64), categories)


def finish_table(spec: TableSpec, typed: pd.DataFrame, rejected: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Table-wide checks (duplicate keys) after all chunks are typed."""
    key = [spec.unique] if isinstance(spec.unique, str) else list(spec.unique or ())
    if key and len(typed) and all(k in typed.columns for k in key):
        rejected, typed = _duplicates(spec.name, typed, key, rejected)
    typed = typed.drop(columns="_row").reset_index(drop=True)
    for col in spec.columns:
        if col.categorical and col.name in typed.columns:
            typed[col.name] = _drop_unused_categories(typed[col.name])
    return typed, rejected


def _duplicates(table: str, typed: pd.DataFrame, key: list[str], rejected: pd.DataFrame):
    """Reject repeated keys (the first occurrence is kept); a row with a null key is not a duplicate."""
    keys = typed[key].astype(object)
    has_key = keys.notna().all(axis=1).to_numpy()
    dup = has_key & keys.duplicated(keep="first").to_numpy()
    if not dup.any():
        return rejected, typed
    first = {}
    for k, r in zip(map(tuple, keys[has_key].to_numpy()), typed["_row"].to_numpy()[has_key]):
        first.setdefault(k, r)
    rows = keys[dup]
    named = " and ".join(key)
    shown = [k[0] if len(key) == 1 else ", ".join(map(str, k)) for k in map(tuple, rows.to_numpy())]
    extra = pd.DataFrame({
        "table": table,
        "row": typed["_row"].to_numpy()[dup],
        "column": key[0] if len(key) == 1 else ",".join(key),
        "value": pd.Series([str(v) for v in shown], dtype=object),
        "reason": [f"duplicate {named}; the first occurrence (row {first[k]}) is kept"
                   for k in map(tuple, rows.to_numpy())],
        "line": pd.array([pd.NA] * int(dup.sum()), dtype="Int64"),
    })
    return pd.concat([rejected, extra], ignore_index=True), typed.loc[~dup]


def _drop_unused_categories(s: pd.Series) -> pd.Series:
    """``s.cat.remove_unused_categories()`` by counting codes (pandas' own sorts every code)."""
    codes = s.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(s.cat.categories)) > 0
    if used.all():
        return s
    lookup = np.append(np.cumsum(used) - 1, -1)  # old code -> new code; -1 (null) stays null
    return pd.Series(pd.Categorical.from_codes(lookup[codes], s.cat.categories[used]), index=s.index, name=s.name)


def assemble_case(tables: Mapping[str, tuple[pd.DataFrame, pd.DataFrame, int, bool]], source: str) -> Case:
    """Build a :class:`Case` from per-table ``(typed, rejected, rows_read, pristine)``."""
    rejected_parts = [t[1] for t in tables.values() if len(t[1])]
    rejected = pd.concat(rejected_parts, ignore_index=True) if rejected_parts else _empty_rejected()
    rejected = rejected.sort_values(["table", "row", "column"], kind="stable").reset_index(drop=True)
    # an optional table the source does not have stays out of input_rows: it was not read
    present = [name for name in ALL_TABLE_NAMES if name in tables]
    return Case(
        **{name: tables[name][0] for name in present},
        rejected=rejected,
        input_rows={name: int(tables[name][2]) for name in present},
        source=source,
        pristine=frozenset(name for name in present if tables[name][3]),
    )


def load_tables(
    sources: Mapping[str, Iterable[pd.DataFrame]],
    source: str,
    locate: Mapping[str, Callable[[np.ndarray], np.ndarray]] | None = None,
) -> Case:
    """Validate and type chunked raw tables (one iterable of DataFrames per table).

    ``locate`` maps a table to a function from rejected row positions (0-based,
    sorted) to the 1-based physical line where each record starts in the source
    file; it is called only for tables with rejections, so a clean load never pays
    for it. Without it ``rejected.line`` is null. An optional table (``blocklist``,
    ``fx_rates``) missing from ``sources`` is left empty.
    """
    tables = {}
    for name in ALL_TABLE_NAMES:
        if name in OPTIONAL_TABLE_NAMES and name not in sources:
            continue
        spec = TABLES[name]
        typed_parts, rejected_parts, offset, mapping, pristine = [], [], 0, None, True
        for raw in sources[name]:
            if mapping is None:
                mapping, problems = resolve_columns(spec, raw.columns)
                if problems:
                    raise SchemaError(problems, source)
            typed, rej, ok = clean_chunk(spec, raw, mapping, offset)
            pristine = pristine and ok
            offset += len(raw)
            typed_parts.append(typed)
            if len(rej):
                rejected_parts.append(rej)
        typed = concat_chunks(spec, typed_parts)
        rejected = pd.concat(rejected_parts, ignore_index=True) if rejected_parts else _empty_rejected()
        typed, rejected = finish_table(spec, typed, rejected)
        if len(rejected) and locate and name in locate:
            rows = np.unique(rejected["row"].to_numpy(dtype=np.int64))
            lines = pd.Series(np.asarray(locate[name](rows), dtype=np.int64), index=rows)
            line = pd.Series(lines.reindex(rejected["row"].to_numpy()).to_numpy(), dtype="Int64")
            rejected["line"] = line.mask(line <= 0).to_numpy()  # 0: the scan could not place it
        tables[name] = (typed, rejected, offset, pristine and rejected.empty)
    return assemble_case(tables, source)


def case_from_frames(
    logins: pd.DataFrame,
    users: pd.DataFrame | None = None,
    ip_reputation: pd.DataFrame | None = None,
    ec2_activity: pd.DataFrame | None = None,
    payments: pd.DataFrame | None = None,
    security_findings: pd.DataFrame | None = None,
    blocklist: pd.DataFrame | None = None,
    fx_rates: pd.DataFrame | None = None,
) -> Case:
    """Validate DataFrames already in memory and return a :class:`Case`.

    ``logins`` is required; a table left out is taken as empty (no rows) so a
    notebook can start from logins alone. Column names are matched ignoring case
    and surrounding spaces.

    Raises
    ------
    SchemaError
        when a given table lacks contract columns (every problem listed).

    Examples
    --------
    >>> import pandas as pd
    >>> case = case_from_frames(logins=pd.DataFrame({
    ...     "event_ts": ["2025-08-01 10:00:00"], "account_id": ["A1"], "ip": ["1.2.3.4"],
    ...     "country_iso": ["DE"], "result": ["success"], "mfa_used": [1], "device_id": ["d1"]}))
    >>> case.logins["result"].tolist(), len(case.users)
    (['SUCCESS'], 0)
    """
    given = {
        "users": users,
        "logins": logins,
        "ip_reputation": ip_reputation,
        "ec2_activity": ec2_activity,
        "payments": payments,
        "security_findings": security_findings,
    }
    given.update({name: frame for name, frame in (("blocklist", blocklist), ("fx_rates", fx_rates))
                  if frame is not None})
    problems = []
    for name, frame in given.items():
        if frame is None:
            given[name] = pd.DataFrame({c.name: pd.Series(dtype=object) for c in TABLES[name].columns
                                        if c.absent != "omit"})
        elif not isinstance(frame, pd.DataFrame):
            problems.append(f"table '{name}' must be a pandas DataFrame, got {type(frame).__name__}")
        else:
            problems += resolve_columns(TABLES[name], frame.columns)[1]
    if problems:
        raise SchemaError(problems, "<frames>")
    return load_tables({name: [frame.reset_index(drop=True)] for name, frame in given.items()}, "<frames>")


def empty_table(name: str) -> pd.DataFrame:
    """The typed table ``name`` with no rows (the columns a source without it would give)."""
    spec = TABLES[name]
    return finish_table(spec, concat_chunks(spec, []), _empty_rejected())[0]
