"""Render a run's quality and slice reports as Markdown and as a standalone HTML page.

Both formats come from one neutral document (sections of paragraphs and tables of plain text),
so they always show the same facts. Every text is user data until proven otherwise (genre
names, rejection reasons, even the dataset name), so the writers escape ALL of it: HTML with
`html.escape`, Markdown by backslash-escaping its punctuation (many Markdown viewers pass raw
HTML through). The HTML page has inline CSS, no scripts and a Content-Security-Policy that
forbids them, so a value that slipped through could still not run.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Any

#: Longest user value shown in a cell before it is cut with an ellipsis.
MAX_TEXT = 80
MISSING = "(missing)"
NONE = "–"
FLAG_LABELS = {"small_n": "small n", "under_represented": "under-represented"}


# Formatting -------------------------------------------------------------------------------
def fmt_num(x: Any) -> str:
    """A number for people: ints with separators, floats to 4 significant digits."""
    if x is None:
        return NONE
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return f"{x:,}"
    if isinstance(x, float):
        if not math.isfinite(x):
            return str(x)
        if abs(x) >= 1e15:
            return f"{x:.3e}"
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.4g}"
    return fmt_value(x)


def fmt_pct(x: float | None) -> str:
    """A percentage already on the 0-100 scale."""
    return NONE if x is None else f"{fmt_num(float(x))}%"


def fmt_value(v: Any, limit: int = MAX_TEXT) -> str:
    """A data value (slice value, top value, min/max) as short text; NULL as "(missing)"."""
    if v is None:
        return MISSING
    if isinstance(v, bool | int | float):
        return fmt_num(v)
    text = str(v)
    if not text:
        return '""'
    if any(c in text for c in "\r\n\t"):
        text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# The neutral document -----------------------------------------------------------------------
@dataclass
class Cell:
    text: str
    #: CSS classes; "flag" and "missing" also change the Markdown rendering.
    cls: str = ""


@dataclass
class Table:
    headers: list[str]
    #: "l" or "r" per column.
    align: list[str]
    rows: list[list[Cell]] = field(default_factory=list)
    row_cls: list[str] = field(default_factory=list)

    def add(self, cells: list[Cell | str], cls: str = "") -> None:
        self.rows.append([c if isinstance(c, Cell) else Cell(c) for c in cells])
        self.row_cls.append(cls)


@dataclass
class Section:
    title: str
    level: int = 2
    blocks: list[str | Table] = field(default_factory=list)


def _value_cell(v: Any) -> Cell:
    return Cell(fmt_value(v), "missing" if v is None else "")


def _flags_cell(flags: list[str]) -> Cell:
    if not flags:
        return Cell("")
    return Cell(", ".join(FLAG_LABELS.get(f, f) for f in flags), "flag")


def _run_section(run: dict[str, Any], quality: dict[str, Any]) -> list[Section]:
    counts = run.get("counts") or {}
    facts = Table(["Field", "Value"], ["l", "l"])
    facts.add(["Run id", str(run.get("run_id", NONE))])
    facts.add(["Dataset", str(run.get("dataset", quality.get("dataset", NONE)))])
    if "contract_version" in quality:
        facts.add(["Contract version", str(quality["contract_version"])])
    for key in ("status", "started_at", "finished_at", "engine"):
        if run.get(key) is not None:
            facts.add([key.replace("_", " ").capitalize(), str(run[key])])

    numbers = [counts.get(k) for k in ("input", "valid", "rejected", "duplicates")]
    table = Table(
        ["Input", "Valid", "Rejected", "Duplicates", "Accounted for"], ["r", "r", "r", "r", "l"]
    )
    if all(isinstance(n, int) for n in numbers):
        inp, valid, rejected, dups = numbers
        balanced = inp == valid + rejected + dups  # type: ignore[operator]
        ok = Cell("yes") if balanced else Cell("NO: input ≠ valid + rejected + duplicates", "flag")
    else:
        ok = Cell(NONE)
    table.add([*(fmt_num(n) for n in numbers), ok])
    summary = Section("Run", blocks=[facts, "Row counts:", table])

    reasons = counts.get("rejected_by_reason") or quality.get("rejected_by_reason") or {}
    rejected = Section("Rejected rows by reason")
    if reasons:
        total = sum(int(n) for n in reasons.values())
        t = Table(["Reason", "Rows", "Share of rejected"], ["l", "r", "r"])
        for reason, n in sorted(reasons.items(), key=lambda kv: (-int(kv[1]), str(kv[0]))):
            t.add(
                [
                    fmt_value(reason),
                    fmt_num(int(n)),
                    fmt_pct(100.0 * int(n) / total if total else None),
                ]
            )
        rejected.blocks.append(t)
        rejected.blocks.append(
            "A row counts once per failed check, so reasons can sum to more than the rejected rows."
        )
    else:
        rejected.blocks.append("No rows were rejected.")
    return [summary, rejected]


def _profile_section(quality: dict[str, Any]) -> Section:
    rows = quality.get("rows")
    section = Section(
        "Column profile",
        blocks=[
            f"{fmt_num(rows)} accepted rows. Distinct counts are approximate (HyperLogLog); "
            "top values are exact counts of non-missing values."
        ],
    )
    t = Table(
        ["Column", "Type", "Null %", "Distinct ≈", "Min", "Max", "Mean", "Std dev", "Top values"],
        ["l", "l", "r", "r", "r", "r", "r", "r", "l"],
    )
    for name, c in (quality.get("columns") or {}).items():
        typ = str(c.get("type", NONE)) + (" (derived)" if c.get("derived") else "")
        if c.get("top_values") is not None:
            top = " · ".join(
                f"{fmt_value(tv['value'], 40)} ({fmt_num(tv['count'])})" for tv in c["top_values"]
            )
        elif c.get("true_pct") is not None:
            top = f"true: {fmt_pct(c['true_pct'])}"
        else:
            top = ""
        lo, hi = c.get("min"), c.get("max")
        t.add(
            [
                str(name),
                typ,
                fmt_pct(c.get("null_pct")),
                fmt_num(c.get("distinct")),
                NONE if lo is None else fmt_value(lo),
                NONE if hi is None else fmt_value(hi),
                fmt_num(c.get("mean")),
                fmt_num(c.get("stddev")),
                top,
            ]
        )
    section.blocks.append(t)
    return section


def _slice_sections(slices: dict[str, Any]) -> list[Section]:
    overall = slices.get("overall") or {}
    metrics: dict[str, Any] = overall.get("metrics") or {}
    min_n, min_share = slices.get("min_n"), slices.get("min_share")
    intro = Section(
        "Slices (bias report)",
        blocks=[
            f"Flags: small n = fewer than {fmt_num(min_n)} rows; under-represented = share below "
            f"{fmt_num(min_share)} × an even share (1 / number of values). Disparity compares "
            f"values with at least {fmt_num(min_n)} rows. Ratios are value mean / overall mean."
        ],
    )
    if metrics:
        t = Table(["Metric", "Overall mean", "Rows with a value"], ["l", "r", "r"])
        for m, s in metrics.items():
            t.add([str(m), fmt_num(s.get("mean")), fmt_num(s.get("n"))])
        intro.blocks += [f"Overall: {fmt_num(overall.get('n'))} rows.", t]
    else:
        intro.blocks.append(
            f"Overall: {fmt_num(overall.get('n'))} rows; the contract declares no metrics."
        )
    sections = [intro]
    if not slices.get("slices"):
        intro.blocks.append("The contract declares no slice columns.")
    for column, s in (slices.get("slices") or {}).items():
        sec = Section(
            f"Slice: {column}",
            level=3,
            blocks=[f"{fmt_num(s.get('distinct_values'))} distinct values."],
        )
        headers, align = ["Value", "Rows", "Share"], ["l", "r", "r"]
        for m in metrics:
            headers += [f"{m} mean", f"{m} diff", f"{m} ratio"]
            align += ["r", "r", "r"]
        t = Table([*headers, "Flags"], [*align, "l"])
        for v in s.get("values") or []:
            cells: list[Cell | str] = [
                _value_cell(v.get("value")),
                fmt_num(v.get("n")),
                fmt_pct(100.0 * v.get("share", 0.0)),
            ]
            for m in metrics:
                vm = (v.get("metrics") or {}).get(m) or {}
                cells += [
                    fmt_num(vm.get("mean")),
                    fmt_num(vm.get("diff")),
                    fmt_num(vm.get("ratio")),
                ]
            flags = list(v.get("flags") or [])
            t.add([*cells, _flags_cell(flags)], "flagged" if flags else "")
        sec.blocks.append(t)
        if s.get("other_values"):
            sec.blocks.append(
                f"Plus {fmt_num(s['other_values'])} more values "
                f"({fmt_num(s.get('other_rows'))} rows) not listed."
            )
        sec.blocks.append(
            f"Share disparity (largest / smallest value): {fmt_num(s.get('share_disparity'))}."
        )
        disparity = s.get("disparity") or {}
        if disparity:
            d = Table(
                [
                    "Metric",
                    "Highest mean",
                    "Lowest mean",
                    "Max / min",
                    "Max − min",
                    "Values compared",
                ],
                ["l", "l", "l", "r", "r", "r"],
            )
            for m, dm in disparity.items():
                if dm is None:
                    d.add(
                        [
                            str(m),
                            Cell(f"no value has {fmt_num(min_n)}+ rows with a mean", "missing"),
                            "",
                            "",
                            "",
                            "0",
                        ]
                    )
                    continue
                d.add(
                    [
                        str(m),
                        f"{fmt_value(dm.get('max_value'), 40)}: {fmt_num(dm.get('max_mean'))}",
                        f"{fmt_value(dm.get('min_value'), 40)}: {fmt_num(dm.get('min_mean'))}",
                        fmt_num(dm.get("max_min_ratio")),
                        fmt_num(dm.get("max_min_diff")),
                        fmt_num(dm.get("values_compared")),
                    ]
                )
            sec.blocks += ["Disparity:", d]
        sections.append(sec)
    return sections


def _document(
    run: dict[str, Any], quality: dict[str, Any], slices: dict[str, Any]
) -> tuple[str, list[Section]]:
    dataset = run.get("dataset", quality.get("dataset", ""))
    title = f"trackline run report: {dataset} / {run.get('run_id', '')}"
    return title, [*_run_section(run, quality), _profile_section(quality), *_slice_sections(slices)]


# Markdown -----------------------------------------------------------------------------------
_MD_SPECIAL = set("\\`*_[]<>|#&!{}")


def md_escape(text: str) -> str:
    """Text safe in a Markdown paragraph or table cell: punctuation escaped, one line."""
    one_line = " ".join(text.splitlines())
    return "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in one_line)


def _md_cell(cell: Cell) -> str:
    text = md_escape(cell.text)
    if "flag" in cell.cls.split() and text:
        return f"**⚠ {text}**"
    if "missing" in cell.cls.split():
        return f"*{text}*"
    return text


def render_markdown(run: dict[str, Any], quality: dict[str, Any], slices: dict[str, Any]) -> str:
    """The report as GitHub-flavoured Markdown (tables), every value escaped."""
    title, sections = _document(run, quality, slices)
    out = [f"# {md_escape(title)}", ""]
    for sec in sections:
        out += [f"{'#' * sec.level} {md_escape(sec.title)}", ""]
        for block in sec.blocks:
            if isinstance(block, str):
                out += [md_escape(block), ""]
                continue
            out.append("| " + " | ".join(md_escape(h) for h in block.headers) + " |")
            out.append("|" + "|".join("---:" if a == "r" else ":---" for a in block.align) + "|")
            for row in block.rows:
                out.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


# HTML ---------------------------------------------------------------------------------------
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328;
       margin: 2rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.25rem; margin-top: 2rem;
       border-bottom: 1px solid #d0d7de; padding-bottom: .25rem; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; vertical-align: top; }
th { background: #f6f8fa; text-align: left; }
td.r, th.r { text-align: right; font-variant-numeric: tabular-nums; }
tr.flagged td { background: #fff8c5; }
.flag { color: #9a3412; font-weight: 600; }
.missing { color: #6e7781; font-style: italic; }
.scroll { overflow-x: auto; }
"""


def _h(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(t: Table) -> str:
    def cls(*names: str) -> str:
        joined = " ".join(n for n in names if n)
        return f' class="{_h(joined)}"' if joined else ""

    head = "".join(
        f"<th{cls('r' if a == 'r' else '')}>{_h(h)}</th>"
        for h, a in zip(t.headers, t.align, strict=True)
    )
    body = []
    for row, row_cls in zip(t.rows, t.row_cls, strict=True):
        tds = "".join(
            f"<td{cls('r' if a == 'r' else '', c.cls)}>{_h(c.text)}</td>"
            for c, a in zip(row, t.align, strict=True)
        )
        body.append(f"<tr{cls(row_cls)}>{tds}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def render_html(run: dict[str, Any], quality: dict[str, Any], slices: dict[str, Any]) -> str:
    """The report as one standalone HTML page: inline CSS, no scripts, everything escaped."""
    title, sections = _document(run, quality, slices)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta http-equiv="Content-Security-Policy" '
        "content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_h(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_h(title)}</h1>",
    ]
    for sec in sections:
        level = min(max(sec.level, 2), 6)
        parts.append(f"<section><h{level}>{_h(sec.title)}</h{level}>")
        for block in sec.blocks:
            parts.append(f"<p>{_h(block)}</p>" if isinstance(block, str) else _html_table(block))
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
