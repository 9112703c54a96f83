"""The results index as a typed table (pyarrow, imported when used), written as Parquet or CSV.

Types are kept for pandas and polars users: counts are int64, rates and money float64, `success` a boolean, a
missing value (a seed of None, no error) a null, never the text "None"; the world's nested `metrics` are a JSON
string, since their keys differ from world to world. Two columns follow the index's own: the run's `agent` and
the `run` folder, so tables of several runs can be stacked and still told apart.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, BinaryIO

from simyard.platform.episode import EpisodeResult
from simyard.platform.export import ExportReport
from simyard.platform.export.readable import readable_results
from simyard.platform.export.target import write_aside
from simyard.platform.rundir import RunDir

#: Column -> pyarrow type factory name, in the index's field order (then the two run columns).
COLUMNS: dict[str, str] = {
    "task_id": "string", "world": "string", "subset": "string", "seed": "int64", "status": "string",
    "reason": "string", "success": "bool_", "progress": "float64", "steps": "int64", "invalid_actions": "int64",
    "reward": "float64", "prompt_tokens": "int64", "completion_tokens": "int64", "model_calls": "int64",
    "cost_usd": "float64", "duration_s": "float64", "error": "string", "attempts": "int64", "cut_replies": "int64",
    "metrics": "string", "agent": "string", "run": "string",
}


def results_table(results: list[EpisodeResult], agent: str = "", run: str = "") -> Any:
    """A `pyarrow.Table` with one row per result and the types of `COLUMNS`."""
    import pyarrow as pa

    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    index_fields = [name for name in COLUMNS if name not in ("metrics", "agent", "run")]
    for result in results:
        for name in index_fields:
            columns[name].append(getattr(result, name))
        columns["metrics"].append(json.dumps(result.metrics, ensure_ascii=False) if result.metrics else None)
    columns["agent"] = [agent] * len(results)
    columns["run"] = [run] * len(results)
    schema = pa.schema([(name, getattr(pa, kind)()) for name, kind in COLUMNS.items()])
    return pa.Table.from_pydict(columns, schema=schema)


def export_index(run: RunDir, out: Path, fmt: str) -> ExportReport:
    """Write the run's index to `out` as Parquet or CSV; rows of a damaged index that cannot be read are named."""
    results, skipped = readable_results(run)
    table = results_table(results, agent=run.manifest.config.agent, run=run.path.name)
    return write_index_table(table, out, fmt, skipped)


def write_index_table(table: Any, out: Path, fmt: str, skipped: list[str]) -> ExportReport:
    """Write a results table (see `results_table`) to `out` as Parquet or CSV, beside and then over any old file."""

    def write(handle: BinaryIO) -> None:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table, handle)
        else:
            import pyarrow.csv as pacsv

            pacsv.write_csv(table, handle)

    write_aside(out, write)
    return ExportReport(out=out, written=table.num_rows, skipped=skipped)
