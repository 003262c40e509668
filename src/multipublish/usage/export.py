"""CSV and JSON renderings of the analytics, for spreadsheets and scripts (CLI and REST share them)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from multipublish.usage.analytics import COST_COLUMNS, STAT_COLUMNS


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ";".join(f"{k}:{v}" for k, v in value.items())
    return value


def to_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV text with a header line (dict cells become ``key:value;...``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    return out.getvalue()


def report_csv(report: dict[str, Any]) -> str:
    """The report's per-platform and per-account statistics, one CSV (``group`` tells which)."""
    return to_csv([*report["by_platform"], *report["by_account"]], STAT_COLUMNS)


def costs_csv(costs: Sequence[dict[str, Any]]) -> str:
    """Monthly cost rows, plus one ``upload-post plan`` row per plan fee."""
    rows: list[dict[str, Any]] = []
    for month in costs:
        rows.extend(month["rows"])
        rows.extend(
            {
                "month": month["month"],
                "account_id": f["account_id"],
                "platform": "upload-post plan",
                "cost": f["fee"],
            }
            for f in month["plan_fees"]
        )
    return to_csv(rows, COST_COLUMNS)


def to_json(data: Any) -> str:
    """Indented JSON (datetimes as ISO strings)."""
    return json.dumps(data, indent=2, default=str)
