"""Tables as plain data, then as rich tables, markdown, CSV or JSON: what the CLI prints, and a web viewer can reuse.

A table is a list of rows of display strings, header first (`cells`). The functions here never interpret markup:
rich tables are built from `rich.text.Text` cells, so a task id or a model's text shows as it is.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # metrics pulls in numpy; listing commands need none of it
    from simyard.platform.metrics import Comparison, GroupStats

#: The columns of `bench compare --format csv`, in order.
COMPARE_COLUMNS = ["group", "name", "n", "success_a", "success_b", "success_diff", "only_a", "only_b", "success_p",
                   "success_verdict", "progress_a", "progress_b", "progress_diff", "progress_low", "progress_high",
                   "progress_p", "progress_verdict"]


# ------------------------------------------------------------------------------------------- cell formatting


def pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.1%}"


def interval(low: float, high: float, percent: bool) -> str:
    if math.isnan(low) or math.isnan(high):
        return "-"
    return f"[{low * 100:.1f}, {high * 100:.1f}]" if percent else f"[{low:.2f}, {high:.2f}]"


def num(value: float, digits: int = 2) -> str:
    return "-" if math.isnan(value) else f"{value:.{digits}f}"


def p_value(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def group_label(row: GroupStats | Any) -> str:
    return "all" if row.group == "all" else f"{row.group}: {row.name}"


# ------------------------------------------------------------------------------------------------ the tables


def stats_cells(rows: list[GroupStats]) -> list[list[str]]:
    """Report rows as display strings, header first.

    Token, cut-reply and cost columns appear only when some episode used a model or was priced, so model-free runs
    stay narrow; `infra_failed` appears only when the machinery failed (those episodes are not in `n`). A world's
    own metrics (`GroupStats.metrics`) follow, one column each, `-` in rows whose episodes did not report it.
    """
    tokens = any(row.prompt_tokens or row.completion_tokens or row.model_calls for row in rows)
    cost = any(row.cost_usd is not None for row in rows)
    infra = any(row.infra_failed for row in rows)
    header = ["group", "n", "success [95% CI]", "progress [95% CI]", "invalid", "steps/ep"]
    header += ["tokens in/out", "cut replies"] * tokens + ["cost $"] * cost + ["errors"] + ["infra_failed"] * infra
    extra = metric_names(rows)
    header += extra
    cells = [header]
    for row in rows:
        line = [
            group_label(row),
            str(row.n),
            f"{pct(row.success_rate)} {interval(row.success_low, row.success_high, percent=True)}",
            f"{num(row.progress_mean)} {interval(row.progress_low, row.progress_high, percent=False)}",
            pct(row.invalid_rate),
            num(row.mean_steps, 1),
        ]
        line += [f"{row.prompt_tokens}/{row.completion_tokens}", pct(row.cut_rate)] * tokens
        line += ["-" if row.cost_usd is None else f"{row.cost_usd:.4f}"] * cost
        line += [str(row.errors)] + [str(row.infra_failed)] * infra
        cells.append(line + [num(row.metrics[name]) if name in row.metrics else "-" for name in extra])
    return cells


def metric_names(rows: list[GroupStats]) -> list[str]:
    """The world metrics any row has, in the order first seen."""
    return list(dict.fromkeys(name for row in rows for name in row.metrics))


def stats_records(rows: list[GroupStats]) -> tuple[list[dict[str, Any]], list[str]]:
    """Report rows as flat records for CSV (each world metric a `metric_<name>` column) and their columns."""
    extra = metric_names(rows)
    records = []
    for row in rows:
        record = row.to_dict()
        metrics = record.pop("metrics")
        record.update({f"metric_{name}": metrics.get(name) for name in extra})
        records.append(record)
    columns = [name for name in (records[0] if records else {})]
    return records, columns


def compare_cells(comparison: Comparison) -> list[list[str]]:
    """A comparison's rows as display strings, header first."""
    cells = [["group", "n", "success A→B", "A/B only", "p", "verdict", "progress Δ [95% CI]", "p", "verdict"]]
    for row in comparison.rows:
        cells.append([
            group_label(row),
            str(row.n),
            f"{pct(row.success_a)}→{pct(row.success_b)}",
            f"{row.only_a}/{row.only_b}",
            p_value(row.success_p),
            row.success_verdict,
            f"{row.progress_diff:+.2f} {interval(row.progress_low, row.progress_high, percent=False)}",
            p_value(row.progress_p),
            row.progress_verdict,
        ])
    return cells


def stats_table(rows: list[GroupStats], title: str) -> Table:
    """The report as a rich table."""
    return rich_table(stats_cells(rows), title=title, left=("group",))


# ------------------------------------------------------------------------------------------------ the formats


def rich_table(cells: list[list[str]], title: str | None = None, left: Sequence[str] | None = None) -> Table:
    """A rich table of `cells` (header first). Cells are literal text; `left` names the left-justified columns
    (all of them when None)."""
    table = Table(title=Text(title) if title is not None else None)
    header, *body = cells or [[]]
    for column in header:
        justify = "left" if left is None or column in left else "right"
        table.add_column(Text(column), justify=justify)
    for row in body:
        table.add_row(*(cell if isinstance(cell, Text) else Text(str(cell)) for cell in row))
    return table


def markdown(cells: list[list[str]]) -> str:
    """A GitHub-flavoured markdown table of `cells` (header first); pipes in cells are escaped."""

    def line(row: list[str]) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in row) + " |"

    header, *body = cells
    return "\n".join([line(header), "|" + "|".join("---" for _ in header) + "|", *map(line, body)])


def csv_text(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    """Rows of raw values as CSV with a header row; NaN and None become empty cells."""
    if not columns:
        from simyard.platform.metrics import GroupStats

        columns = list(rows[0]) if rows else list(GroupStats.__dataclass_fields__)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if is_nan(row.get(key)) or row.get(key) is None else row.get(key)
                         for key in columns})
    return buffer.getvalue()


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def jsonable(value: Any) -> Any:
    """NaN becomes null: JSON has no NaN, and strict parsers reject Python's."""
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [jsonable(item) for item in value]
    return None if is_nan(value) else value
