"""The card of `audio_cues`, filled from its constants and from measurements of the built model.

Every number comes from CUES, from running the built ONNX model with onnxruntime, or from
running the audio analyzer on the bundled sample (both measured here).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from models.training.audio_cues_weights import CUES, DEPAULO, SPORER, UNWEIGHTED
from models.training.card import Card, Section, Served

PROBE_CHANGES_ST = (-4.0, -2.0, -1.0, 0.0, 1.0, 2.0, 4.0)
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


def probe(model_bytes: bytes) -> list[tuple[float, float, float]]:
    """(pitch change, probability, contribution) from the built ONNX model via onnxruntime."""
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    x = np.zeros((len(PROBE_CHANGES_ST), len(CUES)), dtype=np.float32)
    x[:, 0] = PROBE_CHANGES_ST
    prob, contrib = session.run(["probability", "contributions"], {"features": x})
    return [(float(v), float(p), float(c)) for v, p, c in zip(x[:, 0], prob[:, 0], contrib[:, 0])]


def sample_analysis(model_bytes: bytes, sample: bytes) -> str:
    """The sample (wav bytes) through the audio analyzer (2 s windows) and the built model."""
    from services.audio.analyzer import AudioAnalyzer
    from veritas.v1 import common_pb2, modality_pb2

    request = modality_pb2.ModalityRequest(options=common_pb2.Options(window_s=SAMPLE_WINDOW_S))
    request.input.media.CopyFrom(common_pb2.Media(data=sample, mime_type="audio/wav"))
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


@dataclass
class Facts(Served):
    """What the card reports: the model's contract and what was measured on it."""

    probe: list[tuple[float, float, float]]
    sample: str  # sample_analysis()


SUMMARY = """\
**Uncalibrated. No labelled data. Its output is never a verdict.** This is a cue model: it
restates published, small average effects from meta-analyses of vocal cues to deception as a
linear log-odds score. Nothing in it was fitted to, or validated on, recordings of lies and
truths, and no accuracy figure exists for it."""

FORMS_PITCH_CHANGE = """\
How the audio service forms `pitch_change_st`: 12 x log2(mean F0 of the window / reference
mean F0), F0 from Praat (two-pass autocorrelation pitch). The reference is the subject's
baseline recording (`baseline.audio`, truthful control answers) when one is given. Without a
baseline the reference is the recording's own mean F0: windows then show only within-recording
variation, and the whole-input result is exactly 0 (no pitch evidence). A live stream without
a baseline is measured against the stream so far, so its windows' changes move as the stream
grows. The service says which reference was used in the result's notes."""

MEASURES = """\
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
  rates in percent, the rest as differences (`*_change_*`)."""

CONFOUNDS = """\
- Pitch rises with arousal of any kind: stress, fear of not being believed (truthful people
  under suspicion too), anger, excitement, speaking louder, and speaking to an audience.
- Pitch changes with vocal effort, speaking style (questions vs. statements), fatigue, colds,
  and the recording chain; a baseline from a different microphone, room or time of day
  shifts everything.
- Pitch tracking errors (octave jumps, creaky voice) move mean F0 by several semitones.
- The meta-analytic effects are averages over many small studies with heterogeneous results
  (both meta-analyses report moderators such as motivation, preparation and content); they
  say little about any single speaker or utterance.
- Most source studies are laboratory lies by students, mostly in English."""

MUST_NOT = """\
- Deciding, alone or as the main evidence, whether a person lied; employment, immigration,
  insurance, credit, policing, court, or border decisions about a person.
- Screening people without their informed consent, or covert analysis.
- Presenting its score to anyone as a finding of deception. It is a pointer for a trained
  human reviewer to listen again, next to the other evidence and its caveats."""

REFERENCES = (
    DEPAULO,
    SPORER,
    """de Jong, N. H., & Wempe, T. (2009). Praat script to detect syllable nuclei and measure
  speech rate automatically. Behavior Research Methods, 41(2), 385-390 (articulation rate).""",
    """Boersma, P., & Weenink, D. Praat: doing phonetics by computer (pitch, jitter, shimmer, HNR),
  via parselmouth (Jadoul, Thompson & de Boer, 2018, Journal of Phonetics 71, 1-15).""",
    """Eyben, F., Scherer, K. R., Schuller, B. W., et al. (2016). The Geneva Minimalistic Acoustic
  Parameter Set (GeMAPS) for voice research and affective computing. IEEE Transactions on
  Affective Computing, 7(2), 190-202 (eGeMAPS), computed with openSMILE (Eyben, Woellmer &
  Schuller, 2010, ACM Multimedia).""",
)


def card(f: Facts) -> Card:
    weights = "\n".join(
        f"| `{c.name}` | {c.unit} | {c.reference:g} | {c.scale:g} | {c.coef:+.2f} | {c.source} |"
        for c in CUES
    )
    scale_notes = "\n".join(f"- `{c.name}`: {c.scale_note}" for c in CUES)
    unweighted = "\n".join(
        f"- {', '.join(f'`{n}`' for n in names)}: {why}" for names, why in UNWEIGHTED
    )
    probe_rows = "\n".join(f"| {v:+.1f} | {c:+.4f} | {p:.4f} |" for v, p, c in f.probe)
    return Card(
        name=f.name,
        version=f.version,
        module="models.training.audio_cues",
        summary=SUMMARY,
        numbers_from=(
            "the numbers below come from its constants, from running the built `model.onnx` "
            "with onnxruntime, or from running the audio analyzer on the sample"
        ),
        domain=f.domain,
        what_it_is=f"""\
Input `features` = [{", ".join(f"`{c.name}`" for c in CUES)}] (FP32), produced by the audio
service (`services/audio`). Outputs `probability` and `contributions` (signed log-odds per
input), as every Veritas linear model:

    z = (x - reference) / scale;  contribution = coef * z;  probability = sigmoid(sum + 0)

The intercept is 0 (even prior odds: the base rate of lying in any real use is unknown), and
there is no Platt scaling (slope 1, offset 0).""",
        serving=f"""\
Triton config parameter `calibrated` is `"false"` and parameter `caveat` reads "{f.caveat}";
the service adds both to the notes of every score it returns.""",
        about=(
            Section(
                "Inputs, scaling and weights",
                f"""| input | unit | reference | scale | coef (log-odds per scaled unit) | source |
|---|---|---|---|---|---|
{weights}

Why `coef = d`: if a cue is normally distributed with the same SD in truthful and deceptive
answers and the means differ by d SDs, the log-odds of deception are linear in the cue with
slope d per SD (linear discriminant analysis). Cues are treated as independent (they are
summed), which overstates the evidence when cues are correlated.

Scaling (assumptions, not measurements):
{scale_notes}

{FORMS_PITCH_CHANGE}""",
            ),
            Section(
                "What the audio service measures (every window, and the whole input)", MEASURES
            ),
            Section("Measured but not weighted", unweighted),
        ),
        data="Training data: none: there is no labelled deceptive or truthful speech in this "
        "project's data.",
        split="None: there is nothing to split.",
        metrics="Metrics (balanced accuracy, ROC AUC, bootstrap CIs): none, because there are no "
        "labelled recordings to measure them on.",
        calibration="Calibration (ECE): not measurable, not calibrated. Reliability plot: none, "
        "for the same reason (no labelled recordings).",
        baselines="The only honest baseline is chance (0.5). There is no evidence that this "
        "model beats it on any data set.",
        measured=(
            Section(
                "The bundled sample, analysed",
                f"""\
`samples/speech.wav` (4 s of read speech, no ground truth; see samples/AUDIO_SOURCE.md),
2 s windows:

{f.sample}""",
            ),
            Section(
                "Behaviour of the built model (onnxruntime)",
                f"""| pitch_change_st | contribution | probability |
|---|---|---|
{probe_rows}""",
            ),
        ),
        confounds=CONFOUNDS,
        must_not=MUST_NOT,
        references=REFERENCES,
    )
