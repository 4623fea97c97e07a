"""docs/fusion.md states the constants the code uses."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "fusion.md"
ROW = re.compile(r"^\| `(?P<name>[A-Z_]+)` \| (?P<value>[0-9.]+) \| (?P<module>\w+)\.py \|", re.M)


def test_the_constants_table_matches_the_code():
    rows = list(ROW.finditer(DOC.read_text(encoding="utf-8")))
    assert len(rows) >= 10
    for row in rows:
        module = importlib.import_module(f"fusion.{row['module']}")
        assert getattr(module, row["name"]) == float(row["value"]), row["name"]
