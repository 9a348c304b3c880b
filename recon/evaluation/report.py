"""IoU tables: printed (markdown), and written as CSV and JSON (atomically)."""
from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from recon.atomic_io import write_text_atomic

__all__ = ["IoUTable"]


class IoUTable:
    """Per-class IoU columns (values in [0, 1], shown x100) for one split.

    ``columns``: name -> {class name -> IoU, "mean" -> IoU}; ``counts``: class -> samples.
    Published columns hold values already x100 and may miss classes (shown as "-").
    """

    def __init__(self, split: str, classes: Sequence[str], counts: Mapping[str, int]) -> None:
        self.split = split
        self.classes = list(classes)
        self.counts = dict(counts)
        self.columns: dict[str, dict[str, float]] = {}
        self.published: dict[str, dict[str, float]] = {}

    def add(self, name: str, values: Mapping[str, float]) -> None:
        self.columns[name] = dict(values)

    def add_published(self, name: str, values_x100: Mapping[str, float]) -> None:
        self.published[name] = dict(values_x100)

    def _rows(self) -> list[list[str]]:
        header = ["class", *self.columns, *self.published, "samples"]
        rows = [header]
        for key in [*self.classes, "mean"]:
            row = [key]
            for values in self.columns.values():
                v = values.get(key, math.nan)
                row.append("-" if math.isnan(v) else f"{100 * v:.1f}")
            for values in self.published.values():
                row.append(f"{values[key]:.1f}" if key in values else "-")
            row.append(str(sum(self.counts.values())) if key == "mean" else str(self.counts.get(key, 0)))
            rows.append(row)
        return rows

    def markdown(self) -> str:
        rows = self._rows()
        lines = ["| " + " | ".join(rows[0]) + " |", "|---|" + "---:|" * (len(rows[0]) - 1)]
        for row in rows[1:]:
            cells = [f"**{c}**" if row[0] == "mean" else c for c in row]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def csv(self) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(self._rows())
        return buffer.getvalue()

    def as_dict(self) -> dict:
        return {"split": self.split, "classes": self.classes, "samples": self.counts,
                "iou": self.columns, "published_x100": self.published}

    @staticmethod
    def write_json(path: str | os.PathLike, tables: Sequence["IoUTable"], extra: Mapping | None = None) -> Path:
        payload = {"splits": {t.split: t.as_dict() for t in tables}, **(extra or {})}
        return write_text_atomic(path, json.dumps(payload, indent=2))
