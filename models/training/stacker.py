"""Train fusion's STACKER strategy from aligned multimodal data.

    python -m models.training.stacker --data F.csv [--out models/fusion]

F.csv has one row per analysed statement (the same statement seen by every modality), with
a header: `label`, optionally `group`, and `<m>_score`, `<m>_confidence`, `<m>_status` for
each modality m the data has (stacker_data.py; docs/fusion.md has the full description).

One module per job: reading the CSV as fusion sees it (stacker_data.py), fitting and
out-of-fold validation (stacker_fit.py), the card (stacker_card.py, rendered by card.py);
this one writes <out>/stacker.json (what fusion loads) and <out>/stacker.md (its card, every
number measured here). No stacker is shipped: there is no aligned multimodal data in this
repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from fusion.stacker import DEFAULT_PATH, Stacker
from models.training import card, stacker_card
from models.training.stacker_data import Dataset, read
from models.training.stacker_fit import train

__all__ = ["Dataset", "main", "read", "train", "write"]


def write(stacker: Stacker, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    model, doc = out / "stacker.json", out / "stacker.md"
    model.write_text(json.dumps(stacker.to_json(), indent=2) + "\n", encoding="utf-8")
    card.write(stacker_card.card(stacker), doc)
    return model, doc


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="aligned multimodal CSV")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_PATH.parent, help="folder for stacker.json/.md"
    )
    args = parser.parse_args(argv)
    try:
        data = read(args.data)
        stacker = train(data)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    model, doc = write(stacker, args.out)
    v = stacker.info["validation"]
    print(
        f"wrote {model} and {doc}: out-of-fold AUC {v['auc']:.3f} "
        f"[{v['auc_low']:.3f}, {v['auc_high']:.3f}] ({v['folds']})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
