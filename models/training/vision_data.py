"""The labelled data of `vision_behaviour`: the Real-life Trial clips' human MUMIN codes.

Pérez-Rosas et al. (ICMI 2015) coded each courtroom clip with 39 binary MUMIN behaviour codes;
`subject` and `sex` come from Mambreyan et al. (ICPR 2022). Read from
`$VERITAS_DATA_DIR/rldd_gestures/gestures.csv`. The model reads only the codes the vision
service measures from video (services/vision/behaviour.py); what it leaves out, and why, is
listed here and written into the card.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from services.vision.behaviour import BEHAVIOUR_CODES
from veritas.config import data_dir

REPO_ROOT = Path(__file__).resolve().parents[2]

# gestures.csv columns the service measures automatically AND the model reads. The service
# also emits `closeMouth`; in the coded data it is exactly 1 - openMouth, so it adds nothing.
FEATURES: tuple[str, ...] = tuple(c for c in BEHAVIOUR_CODES if c != "closeMouth")
# Left out, and why (written into the card).
EXCLUDED: dict[str, str] = {
    "sex": "a confound (women's clips are mostly lies), never a feature",
    "closeMouth": "exactly 1 - openMouth in the coded data (the service still reports it)",
    "Laugh, waggle, downR, lipsRetracted, lipsProtruded": (
        "measurable in principle but coded in at most 4 of 121 clips; the service does not "
        "measure them (downR's meaning next to downRHead is also ambiguous in the release)"
    ),
    "backHead, otherGaze": "never coded present in this data",
    "OtherGestures, otherEyebrowMovement, OtherEyeMovements, otherHeadM": (
        "catch-all codes with no definition a measurement could follow"
    ),
    "singleHand, bothHands, otherHandM, complexHandM, sidewaysHand, downHands, upHands": (
        "hand movements: the vision service tracks the face only"
    ),
}


def load() -> pd.DataFrame:
    """One row per clip; `y` is 1 for a deceptive clip."""
    frame = pd.read_csv(data_dir() / "rldd_gestures" / "gestures.csv")
    frame["y"] = (frame["class"] == "deceptive").astype(int)
    return frame
