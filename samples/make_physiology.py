"""Write samples/physiology.csv: 60 s of SIMULATED physiology for demos and smoke tests.

Signals come from neurokit2's simulators (no person was recorded): ECG at ~72 bpm, EDA with
a few skin conductance responses, respiration at 15 breaths/min, all at 100 Hz (ECG needs
it for beat timing), plus a 1 Hz heart-rate series in bpm derived from the simulated ECG's
R-peaks (what a heart-rate monitor would report). Format: veritas/physio_csv.py.

Run: `.venv/bin/python samples/make_physiology.py` (deterministic: fixed seeds).
"""

from __future__ import annotations

from pathlib import Path

import neurokit2 as nk
import numpy as np

OUT = Path(__file__).resolve().parent / "physiology.csv"
RATE_HZ = 100
DURATION_S = 60
SEED = 7


def heart_rate_series(ecg: np.ndarray, rate_hz: float, duration_s: int) -> np.ndarray:
    """Instantaneous heart rate at each R-peak, sampled at 1 Hz (linear interpolation)."""
    clean = nk.ecg_clean(ecg, sampling_rate=rate_hz)
    _, info = nk.ecg_peaks(clean, sampling_rate=rate_hz)
    peaks = np.asarray(info["ECG_R_Peaks"]) / rate_hz
    bpm = 60.0 / np.diff(peaks)
    return np.interp(np.arange(duration_s, dtype=float), peaks[1:], bpm)


# (kind, start_s, end_s, label): comparison and relevant questions alternating, 10 s apart.
MARKERS = (
    ("comparison", 5, 8, "C1"),
    ("relevant", 15, 18, "R1"),
    ("comparison", 25, 28, "C2"),
    ("relevant", 35, 38, "R2"),
    ("comparison", 45, 48, "C3"),
)


def main() -> None:
    ecg = nk.ecg_simulate(
        duration=DURATION_S, sampling_rate=RATE_HZ, heart_rate=72, random_state=SEED
    )
    eda = 2.0 + nk.eda_simulate(
        duration=DURATION_S,
        sampling_rate=RATE_HZ,
        scr_number=4,
        drift=-0.01,
        random_state=SEED,
    )
    rsp = nk.rsp_simulate(
        duration=DURATION_S, sampling_rate=RATE_HZ, respiratory_rate=15, random_state=SEED
    )
    hr = heart_rate_series(ecg, RATE_HZ, DURATION_S)
    lines = [
        "# SIMULATED physiology (neurokit2 0.2.12 simulators, seed 7): not a real recording.",
        "# ecg ~72 bpm (mV), eda with 4 SCRs (microsiemens), respiration 15 breaths/min",
        "# (arbitrary units); heart_rate: 1 Hz bpm series from the simulated ECG's R-peaks.",
        "# Written by samples/make_physiology.py; format: veritas/physio_csv.py.",
        "# Question markers (comparison-question format) at fixed times for the demo; the",
        "# simulated responses are not placed to match them.",
        *(f"# marker={kind},{start},{end},{label}" for kind, start, end, label in MARKERS),
        "# heart_rate.sampling_rate_hz=1",
        "time_s,heart_rate,ecg,eda,respiration",
    ]
    for i in range(len(ecg)):
        hr_cell = f"{hr[i // RATE_HZ]:.1f}" if i % RATE_HZ == 0 else ""
        lines.append(f"{i / RATE_HZ:.2f},{hr_cell},{ecg[i]:.4f},{eda[i]:.4f},{rsp[i]:.4f}")
    OUT.write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
