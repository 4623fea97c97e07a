"""Build the `audio_cues` model: an explicit, uncalibrated vocal-cue model.

There is no labelled deceptive/truthful speech in this project's data, so nothing here is
trained. The model states the published evidence as a linear log-odds model instead:

- Each cue is a change from the subject's own baseline recording (or, without one, from the
  recording's own average), so the model compares a speaker with themself.
- Each weight is an effect size from a meta-analysis. For a cue whose two class-conditional
  distributions are normal with a common SD, the log-odds of deception are linear in the cue
  with slope d per SD (linear discriminant analysis), so `coef = d` on a cue scaled by that SD.
- The SD of a speaker's cue from one answer to the next is not known from this project's data:
  the scale is a stated assumption (see CUES), not a measurement.
- Intercept 0 (even prior odds) and no calibration: the output is a cue score, not a verdict.

Run: `.venv/bin/python -m models.training.audio_cues` (writes the ONNX file, config.pbtxt and
the model card; needs no data).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

from models.training.linear_onnx import linear_model, save
from models.training.triton_config import config_pbtxt, validated_domain_section

MODEL_NAME = "audio_cues"
VERSION = "1"
REPO_ROOT = Path(__file__).resolve().parents[2]
MODEL_DIR = REPO_ROOT / "models" / "repository" / MODEL_NAME
CARD_PATH = "models/cards/audio_cues.md"
SAMPLE = REPO_ROOT / "samples" / "speech.wav"
CAVEAT = (
    "explicit cue model: published meta-analytic effects (DePaulo et al. 2003), no labelled "
    "speech behind it, never validated; pitch change only"
)
VALIDATED_DOMAINS: tuple[str, ...] = ()  # no labelled speech: validated on no input domain
DOMAIN_NOTE = "none: no labelled speech; weights from published meta-analyses, never validated"

DEPAULO = (
    "DePaulo, B. M., Lindsay, J. J., Malone, B. E., Muhlenbruck, L., Charlton, K., & Cooper, "
    "H. (2003). Cues to deception. Psychological Bulletin, 129(1), 74-118."
)
SPORER = (
    "Sporer, S. L., & Schwandt, B. (2006). Paraverbal indicators of deception: A meta-analytic "
    "synthesis. Applied Cognitive Psychology, 20(4), 421-446."
)


@dataclass(frozen=True)
class Cue:
    """One model input: what it measures, its scaling and where its weight comes from."""

    name: str
    unit: str
    reference: float  # the value meaning "no change" (subtracted before scaling)
    scale: float  # assumed within-speaker SD of the cue between answers (an assumption)
    coef: float  # log-odds of deception per scaled unit = Cohen's d
    source: str
    scale_note: str


CUES: tuple[Cue, ...] = (
    Cue(
        name="pitch_change_st",
        unit="semitones",
        reference=0.0,
        scale=2.0,
        coef=0.21,
        source=(
            'DePaulo et al. (2003), cue "pitch, frequency": d = 0.21, liars\' voices higher '
            "(one of the few vocal cues with a significant combined effect). Direction "
            "confirmed by Sporer & Schwandt (2006), whose abstract reports pitch as positively "
            "related to deception; their magnitude is not used here."
        ),
        scale_note=(
            "2 semitones is an ASSUMED SD of a speaker's mean pitch from one answer to the "
            "next; it was not measured (no data here). A smaller true SD means the evidence "
            "per semitone is understated, a larger one that it is overstated."
        ),
    ),
)

# Measured and reported by the audio service, but given no weight, and why. "egemaps.*" stands
# for the 88 eGeMAPS functionals. tests/test_model.py checks that every emitted name is here.
UNWEIGHTED: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("pitch_mean_hz",),
        "absolute pitch is set by the speaker's sex, age and voice; the cue is its change from "
        "the same speaker's reference, `pitch_change_st`.",
    ),
    (
        (
            "pause_count",
            "pause_rate_per_min",
            "pause_mean_s",
            "pause_longest_s",
            "pause_rate_change_per_min",
            "pause_mean_change_s",
        ),
        "silent pauses showed no reliable association with deception in DePaulo et al. (2003) "
        "(a near-zero, non-significant combined effect); a prior of zero is the honest weight.",
    ),
    (
        (
            "speech_rate_syl_s",
            "articulation_rate_syl_s",
            "speech_rate_change_pct",
            "articulation_rate_change_pct",
        ),
        "rate of speaking: near-zero, non-significant combined effect in DePaulo et al. (2003).",
    ),
    (
        ("onset_latency_s", "response_latency_mean_s", "response_latency_max_s", "response_count"),
        "Sporer & Schwandt (2006) report response latency as positively related to deception, "
        "DePaulo et al. (2003) found no reliable effect: the two meta-analyses do not agree on "
        "it, and both moderate it by preparation. The onset latency is the time from the start "
        "of the recording to the first speech (a response latency only when the recording "
        "starts as the question ends); with question timestamps (AnalysisRequest.questions, "
        "or physiology.markers) the service measures each question's own response latency.",
    ),
    (
        ("loudness_mean_dbfs", "loudness_sd_db", "loudness_change_db"),
        "no loudness effect size that this project can cite with confidence; absolute level "
        "also depends on the microphone.",
    ),
    (
        (
            "jitter_local_pct",
            "shimmer_local_pct",
            "hnr_db",
            "pitch_sd_st",
            "pitch_range_st",
            "jitter_local_change_pp",
            "shimmer_local_change_pp",
            "hnr_change_db",
            "pitch_sd_change_st",
        ),
        "no effect size for these acoustic measures could be confirmed in either "
        'meta-analysis. DePaulo et al. report perceived "vocal tension" (d = 0.26), but it is '
        "a listener's rating with no established acoustic measure, so none is substituted.",
    ),
    (
        (
            "alpha_ratio_db",
            "hammarberg_index_db",
            "spectral_slope_0_500_db_hz",
            "spectral_slope_500_1500_db_hz",
            "alpha_ratio_change_db",
            "hammarberg_index_change_db",
        ),
        "spectral tilt follows vocal effort, but neither meta-analysis reports it as a cue; "
        "using it as a stand-in for perceived vocal tension would be a guess.",
    ),
    (
        ("egemaps.*",),
        "the eGeMAPS v02 functionals (Eyben et al. 2016), the field's standard set, reported "
        "so results compare with the literature; no meta-analysis gives deception effects for "
        "these parameters.",
    ),
    (
        ("speech_ratio", "speech_s", "voiced_s", "syllable_count", "speech_ratio_change"),
        "describe how much speech was measured (the basis of the window's quality), not cues. "
        "Message duration (shorter for lies in Sporer & Schwandt 2006) depends on the question "
        "asked, which this service does not see.",
    ),
)


def unweighted(name: str) -> bool:
    """Whether the card lists `name` as measured but not weighted."""
    for names, _ in UNWEIGHTED:
        for listed in names:
            if name == listed or (listed.endswith("*") and name.startswith(listed[:-1])):
                return True
    return False


PROBE_CHANGES_ST = (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)


def build() -> tuple[onnx.ModelProto, str]:
    """The ONNX model and its config.pbtxt."""
    names = [c.name for c in CUES]
    model = linear_model(
        names,
        mean=[c.reference for c in CUES],
        scale=[c.scale for c in CUES],
        coef=[c.coef for c in CUES],
        intercept=0.0,
        calibration=(1.0, 0.0),
        doc="audio_cues: uncalibrated vocal-cue model (meta-analytic weights, no training data)",
    )
    config = config_pbtxt(
        MODEL_NAME,
        names,
        calibrated=False,
        card=CARD_PATH,
        caveat=CAVEAT,
        validated_domains=VALIDATED_DOMAINS,
        domain_note=DOMAIN_NOTE,
    )
    return model, config


def probe(model_bytes: bytes) -> list[tuple[float, float, float]]:
    """(pitch change, probability, contribution) from the built ONNX model via onnxruntime."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    x = np.zeros((len(PROBE_CHANGES_ST), len(CUES)), dtype=np.float32)
    x[:, 0] = PROBE_CHANGES_ST
    prob, contrib = session.run(["probability", "contributions"], {"features": x})
    return [(float(v), float(p), float(c)) for v, p, c in zip(x[:, 0], prob[:, 0], contrib[:, 0])]


SAMPLE_FEATURES = (
    "onset_latency_s",
    "speech_ratio",
    "pause_count",
    "speech_rate_syl_s",
    "articulation_rate_syl_s",
    "pitch_mean_hz",
    "pitch_change_st",
    "jitter_local_pct",
    "shimmer_local_pct",
    "hnr_db",
    "loudness_mean_dbfs",
    "alpha_ratio_db",
    "hammarberg_index_db",
    "egemaps.F0semitoneFrom27.5Hz_sma3nz_amean",
    "egemaps.loudness_sma3_amean",
)
SAMPLE_WINDOW_S = 2.0


def sample_analysis(model_bytes: bytes) -> str:
    """samples/speech.wav through the audio analyzer (2 s windows) and the built model."""
    from services.audio.analyzer import AudioAnalyzer
    from veritas.v1 import common_pb2, modality_pb2

    request = modality_pb2.ModalityRequest(options=common_pb2.Options(window_s=SAMPLE_WINDOW_S))
    request.input.media.CopyFrom(common_pb2.Media(data=SAMPLE.read_bytes(), mime_type="audio/wav"))
    analyzer = AudioAnalyzer()
    prepared = analyzer.prepare(request)
    windows = list(analyzer.windows(prepared, request.options))
    columns = [*windows, analyzer.summarize(prepared, windows)]
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    x = np.array([[w.features[c.name] for c in CUES] for w in columns], dtype=np.float32)
    prob = session.run(["probability"], {"features": x})[0][:, 0]
    head = " | ".join(f"{w.start_s:g}-{w.end_s:g} s" for w in windows)
    lines = [
        f"| feature | unit | {head} | whole |",
        "|---|---|" + "---|" * len(columns),
    ]
    for name in SAMPLE_FEATURES:
        cells = " | ".join(
            f"{w.features[name]:.3g}" if name in w.features else "-" for w in columns
        )
        lines.append(f"| `{name}` | {columns[-1].units[name]} | {cells} |")
    lines.append("| model probability | | " + " | ".join(f"{p:.3f}" for p in prob) + " |")
    n_egemaps = sum(k.startswith("egemaps.") for k in columns[-1].features)
    return (
        "\n".join(lines) + f"\n\nEach column carries {len(columns[-1].features)} features in all "
        f"({n_egemaps} of them eGeMAPS); the table shows one or two of each family. "
        "No baseline was given, so changes are against the recording's own average: the "
        "whole-input pitch change is 0 by construction and the model says 0.5."
    )


def card(rows: list[tuple[float, float, float]], sample: str) -> str:
    """The model card; every number in it comes from CUES, from running the built model, or
    from running the audio analyzer on the bundled sample."""
    weights = "\n".join(
        f"| `{c.name}` | {c.unit} | {c.reference:g} | {c.scale:g} | {c.coef:+.2f} | {c.source} |"
        for c in CUES
    )
    scale_notes = "\n".join(f"- `{c.name}`: {c.scale_note}" for c in CUES)
    unweighted = "\n".join(
        f"- {', '.join(f'`{n}`' for n in names)}: {why}" for names, why in UNWEIGHTED
    )
    probe_rows = "\n".join(f"| {v:+.1f} | {c:+.4f} | {p:.4f} |" for v, p, c in rows)
    return f"""# Model card: audio_cues (version {VERSION})

**Uncalibrated. No labelled data. Its output is never a verdict.** This is a cue model: it
restates published, small average effects from meta-analyses of vocal cues to deception as a
linear log-odds score. Nothing in it was fitted to, or validated on, recordings of lies and
truths, and no accuracy figure exists for it. Triton config parameter `calibrated` is
`"false"` and parameter `caveat` reads "{CAVEAT}"; the service adds both
to the notes of every score it returns.

Built by `models/training/audio_cues.py` (`.venv/bin/python -m models.training.audio_cues`),
which also wrote this card; the numbers below come from its constants, from running the
built `model.onnx` with onnxruntime, or from running the audio analyzer on the sample.

{validated_domain_section(VALIDATED_DOMAINS, DOMAIN_NOTE)}
## What it computes
Input `features` = [{", ".join(f"`{c.name}`" for c in CUES)}] (FP32), produced by the audio
service (`services/audio`). Outputs `probability` and `contributions` (signed log-odds per
input), as every Veritas linear model:

    z = (x - reference) / scale;  contribution = coef * z;  probability = sigmoid(sum + 0)

The intercept is 0 (even prior odds: the base rate of lying in any real use is unknown), and
there is no Platt scaling (slope 1, offset 0).

## Inputs, scaling and weights
| input | unit | reference | scale | coef (log-odds per scaled unit) | source |
|---|---|---|---|---|---|
{weights}

Why `coef = d`: if a cue is normally distributed with the same SD in truthful and deceptive
answers and the means differ by d SDs, the log-odds of deception are linear in the cue with
slope d per SD (linear discriminant analysis). Cues are treated as independent (they are
summed), which overstates the evidence when cues are correlated.

Scaling (assumptions, not measurements):
{scale_notes}

How the audio service forms `pitch_change_st`: 12 x log2(mean F0 of the window / reference
mean F0), F0 from Praat (two-pass autocorrelation pitch). The reference is the subject's
baseline recording (`baseline.audio`, truthful control answers) when one is given. Without a
baseline the reference is the recording's own mean F0: windows then show only within-recording
variation, and the whole-input result is exactly 0 (no pitch evidence). A live stream without
a baseline is measured against the stream so far, so its windows' changes move as the stream
grows. The service says which reference was used in the result's notes.

## What the audio service measures (every window, and the whole input)
Input: wav, flac, ogg or mp3, any rate from 8 to 192 kHz, mono or up to 8 channels; decoded
with libsndfile, mixed to mono, resampled to 16 kHz (polyphase filter).
- Voice activity and pauses: webrtcvad (30 ms frames) gated by level; silent pauses of at
  least 250 ms between speech: `pause_count`, `pause_rate_per_min`, `pause_mean_s`,
  `pause_longest_s`, `speech_ratio`, `speech_s`.
- Speech rate: syllable nuclei after de Jong & Wempe (2009) per second of the span
  (`speech_rate_syl_s`) and per second of speech (`articulation_rate_syl_s`).
- Onset latency (`onset_latency_s`, in the window that starts the recording and in the
  whole-input result): seconds from the start of the recording to the first speech frame.
  It equals the response latency when the recording starts as the question ends.
- Response latency per question (`response_latency_mean_s`, `response_latency_max_s`,
  `response_count`, and one `response` event per answered question, in the whole-input
  result): with question timestamps on the shared timeline (`AnalysisRequest.questions`, or
  the physiology question markers), the time from each question's end to the first speech
  before the next question (at most 10 s).
- Pitch (mean F0, SD and 5-95% range in semitones), jitter, shimmer, HNR: Praat via
  parselmouth, the reference implementation (two-pass pitch range fitted to the speaker).
- Loudness: Praat intensity over speech frames in dBFS (mean, SD), and eGeMAPS loudness.
- Spectral tilt: alpha ratio, Hammarberg index and spectral slopes 0-500 and 500-1500 Hz over
  voiced frames, from eGeMAPS, under plain names (`alpha_ratio_db`, ...).
- eGeMAPS v02 functionals (88, `egemaps.<name>`) via openSMILE 2.6 (Eyben et al. 2016).
- Changes against the reference (baseline, or the recording itself): pitch in semitones,
  rates in percent, the rest as differences (`*_change_*`).

## Measured but not weighted
{unweighted}

## The bundled sample, analysed
`samples/speech.wav` (4 s of read speech, no ground truth; see samples/AUDIO_SOURCE.md),
2 s windows:

{sample}

## Behaviour of the built model (onnxruntime)
| pitch_change_st | contribution | probability |
|---|---|---|
{probe_rows}

## Data, split, metrics, calibration
- Training data: none. Split: none. Metrics (balanced accuracy, ROC AUC, bootstrap CIs): none,
  because there are no labelled recordings to measure them on. Calibration (ECE): not
  measurable, not calibrated. Reliability plot: none, for the same reason.
- Baselines: the only honest baseline is chance (0.5). There is no evidence that this model
  beats it on any data set.

## Known confounds and limits
- Pitch rises with arousal of any kind: stress, fear of not being believed (truthful people
  under suspicion too), anger, excitement, speaking louder, and speaking to an audience.
- Pitch changes with vocal effort, speaking style (questions vs. statements), fatigue, colds,
  and the recording chain; a baseline from a different microphone, room or time of day
  shifts everything.
- Pitch tracking errors (octave jumps, creaky voice) move mean F0 by several semitones.
- The meta-analytic effects are averages over many small studies with heterogeneous results
  (both meta-analyses report moderators such as motivation, preparation and content); they
  say little about any single speaker or utterance.
- Most source studies are laboratory lies by students, mostly in English.

## Uses it must not be put to
- Deciding, alone or as the main evidence, whether a person lied; employment, immigration,
  insurance, credit, policing, court, or border decisions about a person.
- Screening people without their informed consent, or covert analysis.
- Presenting its score to anyone as a finding of deception. It is a pointer for a trained
  human reviewer to listen again, next to the other evidence and its caveats.

## References
- {DEPAULO}
- {SPORER}
- de Jong, N. H., & Wempe, T. (2009). Praat script to detect syllable nuclei and measure
  speech rate automatically. Behavior Research Methods, 41(2), 385-390 (articulation rate).
- Boersma, P., & Weenink, D. Praat: doing phonetics by computer (pitch, jitter, shimmer, HNR),
  via parselmouth (Jadoul, Thompson & de Boer, 2018, Journal of Phonetics 71, 1-15).
- Eyben, F., Scherer, K. R., Schuller, B. W., et al. (2016). The Geneva Minimalistic Acoustic
  Parameter Set (GeMAPS) for voice research and affective computing. IEEE Transactions on
  Affective Computing, 7(2), 190-202 (eGeMAPS), computed with openSMILE (Eyben, Woellmer &
  Schuller, 2010, ACM Multimedia).
"""


def main() -> None:
    model, config = build()
    save(model, MODEL_DIR / VERSION / "model.onnx")
    (MODEL_DIR / "config.pbtxt").write_text(config)
    card_path = REPO_ROOT / CARD_PATH
    card_path.parent.mkdir(parents=True, exist_ok=True)
    model_bytes = model.SerializeToString()
    card_path.write_text(card(probe(model_bytes), sample_analysis(model_bytes)))
    print(f"wrote {MODEL_DIR / VERSION / 'model.onnx'}, {MODEL_DIR / 'config.pbtxt'}, {card_path}")


if __name__ == "__main__":
    main()
