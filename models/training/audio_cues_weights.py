"""What `audio_cues` weighs, and what it measures but does not weigh, with the sources.

There is no labelled deceptive/truthful speech in this project's data, so nothing is trained.
Each weight is an effect size from a meta-analysis: for a cue whose two class-conditional
distributions are normal with a common SD, the log-odds of deception are linear in the cue
with slope d per SD (linear discriminant analysis), so `coef = d` on a cue scaled by that SD.
The SD of a speaker's cue from one answer to the next is not known from this project's data:
the scale is a stated assumption (see CUES), not a measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

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
# for the 88 eGeMAPS functionals. models/tests/test_audio_model.py checks that every emitted
# name is here.
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
