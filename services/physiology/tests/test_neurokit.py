"""neurokit2 without scikit-learn and matplotlib until something uses them
(services/physiology/neurokit.py): the service's whole analysis runs with both still
deferred, and a neurokit2 function that needs one still works, importing it then.

Each check runs in a new interpreter: in this one, other tests may have imported the real
libraries already, and then nothing is deferred (also correct, only slower to start)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "physiology.csv"


def run(code: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_whole_analysis_runs_with_both_still_deferred() -> None:
    out = run(
        f"""
        import json, sys
        from services.physiology.analyzer import PhysiologyAnalyzer
        from services.physiology.neurokit import DEFERRED, deferred
        from veritas.physio_csv import read_physio_csv
        from veritas.v1 import modality_pb2
        request = modality_pb2.ModalityRequest()
        request.input.physiology.CopyFrom(read_physio_csv({str(SAMPLE)!r}))
        analyzer = PhysiologyAnalyzer()
        prepared = analyzer.prepare(request)
        windows = list(analyzer.windows(prepared, request.options))
        summary = analyzer.summarize(prepared, windows)
        real = [m for m in sys.modules if m.partition(".")[0] in DEFERRED
                and type(sys.modules[m]).__name__ != "_StandIn"]
        print(json.dumps({{"deferred": sorted(deferred()), "real": real,
                           "windows": len(windows), "features": len(summary.features)}}))
        """
    )
    assert out["deferred"] == ["matplotlib", "sklearn"] and out["real"] == []
    assert out["windows"] > 0 and out["features"] > 0


MIXTURE = """
import json
import numpy as np
rng = np.random.default_rng(7)
x = np.concatenate([rng.normal(0, 1, 200), rng.normal(8, 1, 200)])
probabilities, _ = nk.fit_mixture(x, n_clusters=2)  # scikit-learn's GaussianMixture
column = np.sort(np.asarray(probabilities, dtype=float)[:, 0])
"""


def test_a_neurokit2_function_that_needs_one_imports_it_then() -> None:
    out = run(
        "from services.physiology.neurokit import deferred, nk\n"
        "before = sorted(deferred())\n"
        + MIXTURE
        + """
from sklearn.mixture import GaussianMixture
import sklearn
print(json.dumps({"before": before, "after": sorted(deferred()), "column": column.tolist(),
                  "cls": GaussianMixture.__module__, "version": str(sklearn.__version__)}))
"""
    )
    plain = run(
        "import neurokit2 as nk\n" + MIXTURE + 'print(json.dumps({"column": column.tolist()}))'
    )
    assert out["before"] == ["matplotlib", "sklearn"] and out["after"] == ["matplotlib"]
    assert out["column"] == plain["column"] and len(out["column"]) == 400
    assert out["cls"].startswith("sklearn.mixture") and out["version"][0].isdigit()
