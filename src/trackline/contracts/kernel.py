"""Compile a contract into one DuckDB SQL program: the validation kernel (design.md 3.1).

The program reads a relation named `input` (any Arrow table, batch or stream) and returns one
row per input row with the typed fields, the derived columns, `_errors` (every failed check's
code; empty when the row is valid) and, for rejected rows only, `_record` (the record as
received). Every engine runs this same text, so a laptop run and a distributed run agree by
construction.

Two input shapes are accepted:
- *json*: a `_raw` column holding one JSON text per record (NDJSON lines, bus messages); the
  object is parsed in SQL so a malformed line stays a row with its text;
- *columns*: one column per field, of any Arrow type (CSV as text, Parquet typed).
Optional columns `_source_file`, `_source_line` and `_malformed` (a reader's reason why the
record could not be split into fields) pass through.

Semantics chosen once for every engine (see docs/contracts.md):
- whitespace is space, tab, CR and LF; a string that is blank after trimming counts as missing;
- int64 accepts only optional sign and digits (not `1e3`, `1_000` nor `2.0`);
- float64 accepts decimal and exponent notation, not NaN or infinities;
- timestamps are ISO 8601; without an offset they are UTC; dates are `YYYY-MM-DD`;
- a check on a missing value passes (only `required` looks at presence); a rule that evaluates
  to NULL passes.

Reason codes are `contracts.reasons.Reason` (`required:<field>`...; `malformed` with its
`detail`, a `contracts.reasons.Malformed`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from trackline.contracts.reasons import Malformed, Reason
from trackline.contracts.spec import DUCKDB_TYPES, Contract, FieldSpec
from trackline.core import duck
from trackline.core.dialect import ident, literal

WS = "' \t\r\n'"
INT_RE = "[+-]?[0-9]{1,19}"
FLOAT_RE = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?"
DATE_RE = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
WS_RE = r"[ \t\r\n]*"  # the characters of WS, for a regex
TS_RE = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?)?"
    r" ?(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)?"
)

UNPARSED = "unparsed: checked again from the text"  # `_detail` of a row read_json could not parse
META_COLUMNS = ("_raw", "_source_file", "_source_line", "_malformed")
REJECTED_SCHEMA = pa.schema(
    [
        ("record", pa.string()),
        ("reasons", pa.list_(pa.string())),
        ("detail", pa.string()),
        ("source_file", pa.string()),
        ("source_line", pa.int64()),
    ]
)


@dataclass(frozen=True)
class Program:
    """A compiled kernel: SQL over the relation `input`, with `$now` as its one parameter."""

    sql: str
    shape: str  # "json" | "columns"


@dataclass
class KernelResult:
    valid: pa.Table
    rejected: pa.Table
    duplicates: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return int(self.valid.num_rows + self.rejected.num_rows + self.duplicates)


class Kernel:
    """The compiled validation program for one contract."""

    def __init__(
        self,
        contract: Contract,
        *,
        future_tolerance_seconds: int = 300,
        threads: int | None = None,
        memory_limit: str | None = None,
    ) -> None:
        self.contract = contract
        self.tolerance = future_tolerance_seconds
        self.threads = threads
        self.memory_limit = memory_limit
        self._con: duckdb.DuckDBPyConnection | None = None
        self._cache: dict[pa.Schema, Program] = {}

    # Compilation -------------------------------------------------------------------------
    def compile(self, schema: pa.Schema) -> Program:
        """The program for inputs of this Arrow schema (cached per schema)."""
        program = self._cache.get(schema)
        if program is None:
            program = self._compile(schema)
            self._cache[schema] = program
        return program

    @property
    def reads_files(self) -> bool:
        """Whether `file_program` can serve this contract: `WITH ORDINALITY` adds a column
        named `ordinality`, which a field of that name would clash with."""
        return all(f.lower() != "ordinality" for f in self.contract.fields)

    def file_program(self, path: str) -> Program:
        """The program over an NDJSON file that DuckDB reads itself (`read_json`), instead of
        the relation `input` (see sources/readers/ndjson_fast.py for when it reads the same).

        Each row is one line, numbered by its position (`_source_line`); `_record` is not
        read (NULL) and a line DuckDB could not parse into an object has every field NULL:
        it is rejected with `_detail` = `UNPARSED`, for the caller to check its text again.
        """
        return self._compile(pa.schema([("_raw", pa.string())]), json_file=path)

    def _compile(self, schema: pa.Schema, *, json_file: str | None = None) -> Program:
        c = self.contract
        names = set(schema.names)
        # json shape: only the raw text (and meta columns); anything else is a column input
        json_shape = "_raw" in names and names <= set(META_COLUMNS)
        meta = [
            f"{ident(m)}" if m in names else f"CAST(NULL AS {t}) AS {ident(m)}"
            for m, t in (("_source_file", "VARCHAR"), ("_source_line", "BIGINT"))
        ]
        malformed = "_malformed" if "_malformed" in names else "CAST(NULL AS VARCHAR)"
        if json_shape and json_file is not None:
            raw_cte = _read_json_cte(c, json_file)
            raw_types: dict[str, pa.DataType] = {f: pa.string() for f in c.fields}
        elif json_shape:
            # One parse to validate, one to extract every field as text into a struct (cheaper
            # than a list of paths: struct fields are read without copying). Valid JSON whose
            # first non-blank character is `{` is an object: no third parse needed to say so.
            shape = json.dumps({f: "VARCHAR" for f in c.fields})
            detail = _json_detail(malformed)
            src = f"SELECT {', '.join(meta)}, _raw AS _record, {detail} AS _detail FROM input"
            ext = (
                "SELECT *, CASE WHEN _detail IS NULL THEN json_transform(_record, "
                f"{literal(shape)}) END AS _v FROM src"
            )
            values = ", ".join(f"_v.{ident(f)} AS {ident('r__' + f)}" for f in c.fields)
            raw_cte = (
                f"src AS ({src}), ext AS ({ext}), "
                f"raw AS (SELECT _source_file, _source_line, _record, _detail, {values} "
                "FROM ext)"
            )
            raw_types = {f: pa.string() for f in c.fields}
        else:
            record_cols = [n for n in schema.names if not n.startswith("_")]
            record = (
                "json_object(" + ", ".join(f"{literal(n)}, {ident(n)}" for n in record_cols) + ")"
                if record_cols
                else "'{}'"
            )
            if "_raw" in names:  # a reader's own text of the record wins (malformed CSV rows)
                record = f"coalesce(_raw, CAST({record} AS VARCHAR))"
            values = ", ".join(
                f"{ident(f) if f in names else 'CAST(NULL AS VARCHAR)'} AS {ident('r__' + f)}"
                for f in c.fields
            )
            raw_cte = (
                f"raw AS (SELECT {', '.join(meta)}, {record} AS _record, "
                f"{malformed} AS _detail, {values} FROM input)"
            )
            raw_types = {f: (schema.field(f).type if f in names else pa.string()) for f in c.fields}

        typed_cols: list[str] = []
        present_cols: list[str] = []
        trimmed_cols: list[str] = []
        for name, spec in c.fields.items():
            r = ident("r__" + name)
            text = _text_input(spec, raw_types[name])
            if text is not None:  # trim once; every later use reads the column
                trimmed_cols.append(f"{_trim(text.format(r=r))} AS {ident('t__' + name)}")
            # (a field whose checks never read `t__` does not pay for it: DuckDB drops it)
            expr, present = _cast(r, ident("t__" + name), spec, raw_types[name])
            if spec.normalize == "second":
                expr = f"date_trunc('second', {expr})"
            typed_cols.append(f"{expr} AS {ident(name)}")
            present_cols.append(f"{present} AS {ident('p__' + name)}")
        trimmed = "trimmed AS (SELECT *" + "".join(f", {t}" for t in trimmed_cols) + " FROM raw)"
        typed = (
            "typed AS (SELECT _source_file, _source_line, _record, _detail, "
            f"{', '.join(typed_cols)}, {', '.join(present_cols)} FROM trimmed)"
        )
        derived_cols = [f"try({sql}) AS {ident(name)}" for name, sql in c.derived.items()]
        derived = "derived AS (SELECT *" + "".join(f", {d}" for d in derived_cols) + " FROM typed)"
        # One cheap boolean decides; the list of codes is built only for rows that failed
        # (building a list per row costs more than all the checks together).
        checks = [(f"coalesce({cond}, false)", code) for cond, code in self._checks()]
        failed = " OR ".join(cond for cond, _ in checks) or "false"
        codes = ", ".join(f"CASE WHEN {cond} THEN {literal(code)} END" for cond, code in checks)
        errors = (
            f"CASE WHEN _detail IS NOT NULL THEN [{literal(Reason.MALFORMED.code)}] "
            f"WHEN {failed} THEN [x FOR x IN [{codes}] IF x IS NOT NULL] "
            "ELSE []::VARCHAR[] END"
        )
        checked = f"checked AS (SELECT *, {errors} AS _errors FROM derived)"
        out_cols = ", ".join(ident(n) for n in c.output_columns)
        final = (
            f"SELECT {out_cols}, _errors, "
            "CASE WHEN len(_errors) > 0 THEN _record END AS _record, "
            "_detail, _source_file, _source_line FROM checked"
        )
        # `$now` is always a parameter, used or not, so every caller can pass it
        params = "_params AS (SELECT CAST($now AS TIMESTAMPTZ) AS now)"
        sql = f"WITH {params}, {raw_cte}, {trimmed}, {typed}, {derived}, {checked} {final}"
        return Program(sql=sql, shape="json" if json_shape else "columns")

    def reason_codes(self) -> list[str]:
        """Every reason code this contract's program can emit, in check order."""
        return [Reason.MALFORMED.code, *(code for _, code in self._checks())]

    def _checks(self) -> Iterable[tuple[str, str]]:
        """Each check as (condition that means 'failed', reason code)."""
        c = self.contract
        required = set(c.primary_key)
        for name, spec in c.fields.items():
            f, p = ident(name), ident("p__" + name)
            if spec.required or name in required:
                yield f"NOT {p}", Reason.REQUIRED.of(name)
            if spec.type != "string":  # a string given is a string: never NULL once present
                yield f"{p} AND {f} IS NULL", Reason.TYPE.of(name)
            if spec.min is not None:
                yield f"{f} < {literal(spec.min)}", Reason.MIN.of(name)
            if spec.max is not None:
                yield f"{f} > {literal(spec.max)}", Reason.MAX.of(name)
            if spec.pattern is not None:
                yield f"NOT regexp_matches({f}, {literal(spec.pattern)})", Reason.PATTERN.of(name)
            if spec.enum is not None:
                allowed = ", ".join(literal(v) for v in spec.enum)
                yield f"{f} NOT IN ({allowed})", Reason.ENUM.of(name)
            if spec.not_future:
                limit = f"(CAST($now AS TIMESTAMPTZ) + INTERVAL {self.tolerance} SECOND)"
                if spec.type == "date":
                    limit = f"CAST({limit} AS DATE)"
                yield f"{f} > {limit}", Reason.NOT_FUTURE.of(name)
        for name, sql in c.rules.items():
            yield f"NOT coalesce(try(CAST(({sql}) AS BOOLEAN)), true)", Reason.RULE.of(name)

    # Execution ---------------------------------------------------------------------------
    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The kernel's own in-memory DuckDB: checking touches no database file."""
        if self._con is None:
            self._con = new_connection(self.threads, self.memory_limit)
        return self._con

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def json_problems(self, raw: pa.Array, malformed: pa.Array) -> pa.Array:
        """Why each JSON text is not an object (NULL where it is one), as the json-shape
        program says it: `malformed` (a reader's reason) first, then invalid JSON, then
        valid JSON that is not an object. A small query, for the few lines read_json refused.
        """
        con = self.connection
        con.register("_texts", pa.table({"_raw": raw, "_malformed": malformed}))
        try:
            out = duck.fetch_table(con, f"SELECT {_json_detail('_malformed')} AS d FROM _texts")
        finally:
            con.unregister("_texts")
        return out.column("d").combine_chunks()

    def run(
        self, data: pa.Table | pa.RecordBatch, *, now: datetime | None = None, dedup: bool = True
    ) -> KernelResult:
        """Validate one Arrow batch: valid rows, rejected rows with reasons, duplicates.

        Duplicates are rows whose primary key repeats an earlier valid row in the same batch
        (ordered by source file and line); they are counted, not returned.
        """
        table = pa.Table.from_batches([data]) if isinstance(data, pa.RecordBatch) else data
        program = self.compile(table.schema)
        con = self.connection
        con.register("input", table)
        try:
            checked = duck.fetch_table(con, program.sql, {"now": now or datetime.now(UTC)})
        finally:
            con.unregister("input")
        return split(self.contract, checked, dedup=dedup, con=con)


def split(
    contract: Contract,
    checked: pa.Table,
    *,
    dedup: bool = True,
    con: duckdb.DuckDBPyConnection | None = None,
) -> KernelResult:
    """Split a checked table into valid and rejected parts, counting duplicate keys."""
    ok = pc.equal(pc.list_value_length(checked["_errors"]), 0)
    ok = pc.fill_null(ok, False)
    valid = checked.filter(ok).select(contract.output_columns)
    bad = checked.filter(pc.invert(ok))
    rejected = pa.table(
        {
            "record": bad["_record"],
            "reasons": bad["_errors"],
            "detail": bad["_detail"],
            "source_file": bad["_source_file"],
            "source_line": bad["_source_line"],
        },
        schema=REJECTED_SCHEMA,
    )
    duplicates = 0
    if dedup and valid.num_rows:
        key = contract.key_columns
        before = valid.num_rows
        valid = first_per_key(valid, key, con)
        duplicates = before - valid.num_rows
    return KernelResult(
        valid=valid,
        rejected=rejected,
        duplicates=duplicates,
        reasons=count_reasons(rejected["reasons"]),
    )


def first_per_key(
    table: pa.Table, key: list[str], con: duckdb.DuckDBPyConnection | None = None
) -> pa.Table:
    """Keep the first row (in table order) of each primary key."""
    con = con or new_connection()
    indexed = table.append_column("__i", pa.array(range(table.num_rows), pa.int64()))
    con.register("__t", indexed)
    try:
        keys = ", ".join(ident(k) for k in key)
        keep = duck.table(con, f"SELECT min(__i) AS i FROM __t GROUP BY {keys} ORDER BY i")
    finally:
        con.unregister("__t")
    return table.take(keep["i"])


def count_reasons(reasons: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    if len(reasons) == 0:
        return {}
    flat = pc.list_flatten(reasons)
    counts = pc.value_counts(flat)
    return {str(v["values"]): int(v["counts"]) for v in counts.to_pylist()}


def new_connection(
    threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection set up the way every kernel run expects (UTC).

    The IN-clause optimizer is off: it plans a long `IN (...)` list (an enum, a rule) as a
    join, and a join does not keep the input's row order, which the engine's streaming dedup
    relies on (and on one row at a time a list test is no slower).
    """
    con = duck.connect(threads=threads, memory_limit=memory_limit)
    con.execute("SET disabled_optimizers = 'in_clause'")
    return con


def _json_detail(malformed: str) -> str:
    """Why a JSON text `_raw` is malformed (NULL when it is an object). Valid JSON whose
    first non-blank character is `{` is an object: no second parse needed to say so."""
    return (
        f"CASE WHEN {malformed} IS NOT NULL THEN {malformed} "
        f"WHEN NOT json_valid(_raw) THEN {literal(Malformed.INVALID_JSON.text)} "
        f"WHEN ord(_raw) <> 123 AND NOT regexp_matches(_raw, '^{WS_RE}[{{]') "
        f"THEN {literal(Malformed.NOT_AN_OBJECT.text)} END"
    )


def _read_json_cte(c: Contract, path: str) -> str:
    """The `raw` relation from DuckDB's own NDJSON reader: every field as text, one row per
    line (a line it cannot parse is a row of NULLs, which `ignore_errors` keeps in place)."""
    columns = "{" + ", ".join(f"{literal(f)}: 'VARCHAR'" for f in c.fields) + "}"
    unparsed = " AND ".join(f"{ident(f)} IS NULL" for f in c.fields) or "true"
    values = ", ".join(f"{ident(f)} AS {ident('r__' + f)}" for f in c.fields)
    return (
        "raw AS (SELECT CAST(NULL AS VARCHAR) AS _source_file, "
        "CAST(ordinality AS BIGINT) AS _source_line, CAST(NULL AS VARCHAR) AS _record, "
        f"CASE WHEN {unparsed} THEN {literal(UNPARSED)} END AS _detail, {values} "
        f"FROM read_json({literal(path)}, format = 'newline_delimited', records = true, "
        f"ignore_errors = true, columns = {columns}) WITH ORDINALITY)"
    )


def _trim(v: str) -> str:
    """trim() over space, tab, CR and LF, paying for it only when an end may be whitespace.

    DuckDB's two-argument trim costs several times a test of the first and last code points,
    and almost every value has nothing to trim. `ord` is -1 for '' and at most 32 for every
    blank or control character, so the test is cheap and never misses a value to trim
    (`v[-1]`, the last character, costs half of `right(v, 1)`).
    """
    return f"CASE WHEN ord({v}) <= 32 OR ord({v}[-1]) <= 32 THEN trim({v}, {WS}) ELSE {v} END"


def _not_blank(v: str) -> str:
    """`trim(v) <> ''` without the trim for a value that starts with a visible character
    (almost all of them); NULL is blank."""
    return f"CASE WHEN ord({v}) > 32 THEN true ELSE coalesce({_trim(v)} <> '', false) END"


def _is_text(t: pa.DataType) -> bool:
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t))


def _compatible(spec: FieldSpec, t: pa.DataType) -> bool:
    """Typed inputs that cast to the field's type without going through text."""
    if spec.type in ("int64", "float64"):
        return bool(pa.types.is_integer(t) or pa.types.is_floating(t))
    if spec.type in ("timestamp", "date"):
        return bool(pa.types.is_timestamp(t) or pa.types.is_date(t))
    return spec.type == "bool" and bool(pa.types.is_boolean(t))


def _text_input(spec: FieldSpec, raw_type: pa.DataType) -> str | None:
    """How to read the raw value as text (a format with {r}), or None for a typed input."""
    if _is_text(raw_type):
        return "{r}"
    return None if _compatible(spec, raw_type) else "CAST({r} AS VARCHAR)"


def _cast(r: str, t: str, spec: FieldSpec, raw_type: pa.DataType) -> tuple[str, str]:
    """SQL for the typed value and for 'a value was given' of one field.

    `r` is the raw column, `t` its trimmed text (present when `_text_input` is not None).
    """
    target = DUCKDB_TYPES[spec.type]
    if _text_input(spec, raw_type) is None:
        if spec.type == "int64" and pa.types.is_floating(raw_type):
            expr = f"CASE WHEN {r} = trunc({r}) THEN TRY_CAST({r} AS BIGINT) END"
        elif spec.type == "float64":
            expr = f"CASE WHEN isfinite({r}) THEN CAST({r} AS DOUBLE) END"
        else:
            expr = f"TRY_CAST({r} AS {target})"
        return expr, f"{r} IS NOT NULL"
    # Only a normalised string (or a typed value cast to text) reads the trimmed text; every
    # other check reads the raw text and allows blanks around it, so nothing is trimmed.
    trimmed = not _is_text(raw_type) or (spec.type == "string" and spec.normalize is not None)
    u = t if trimmed else r
    present = f"coalesce({t} <> '', false)" if trimmed else _not_blank(r)
    if spec.type == "string":
        value = {
            None: r if _is_text(raw_type) else f"CAST({r} AS VARCHAR)",
            "trim": t,
            "lower_trim": f"lower({t})",
            "upper_trim": f"upper({t})",
        }[spec.normalize]
        return f"CASE WHEN {present} THEN {value} END", present
    if spec.type == "int64":  # the cast itself skips blanks around the number
        expr = (
            f"CASE WHEN regexp_full_match({u}, '{WS_RE}(?:{INT_RE}){WS_RE}') "
            f"THEN TRY_CAST({u} AS BIGINT) END"
        )
    elif spec.type == "float64":
        expr = (
            f"CASE WHEN regexp_full_match({u}, '{WS_RE}(?:{FLOAT_RE}){WS_RE}') AND "
            f"isfinite(TRY_CAST({u} AS DOUBLE)) THEN TRY_CAST({u} AS DOUBLE) END"
        )
    elif spec.type == "bool":
        expr = (
            f"CASE lower({t}) WHEN 'true' THEN true WHEN 'false' THEN false "
            "WHEN '1' THEN true WHEN '0' THEN false END"
        )
    elif spec.type == "timestamp":
        # DuckDB's cast is the ISO parser; the digit guard refuses 'epoch', 'infinity', 'now'
        expr = (
            f"CASE WHEN ord({u}) BETWEEN 48 AND 57 THEN TRY_CAST({u} AS TIMESTAMPTZ) "
            f"WHEN left(ltrim({u}, {WS}), 1) BETWEEN '0' AND '9' "
            f"THEN TRY_CAST({u} AS TIMESTAMPTZ) END"
        )
    else:  # date
        expr = (
            f"CASE WHEN regexp_full_match({t}, '{DATE_RE}') THEN TRY_CAST({t} AS DATE) "
            f"WHEN left({t}, 1) BETWEEN '0' AND '9' THEN "
            f"CAST(TRY_CAST({t} AS TIMESTAMPTZ) AS DATE) END"
        )
    return expr, present
