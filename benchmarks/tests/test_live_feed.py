"""The live streams' inputs: distinct, real time, complete when sent (no mesh)."""

import itertools

import cv2
import numpy as np
import pytest

from benchmarks import live_feed
from benchmarks.streaming import Feed
from benchmarks.workloads import Samples
from veritas.v1 import common_pb2

SAMPLES = Samples()


@pytest.fixture(scope="module")
def pool() -> list[bytes]:
    return live_feed.frame_pool(SAMPLES.video, size=24)


def _pixels(jpeg: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)


def test_a_tagged_jpeg_is_other_bytes_with_the_same_pixels(pool: list[bytes]) -> None:
    tagged = live_feed.tagged_jpeg(pool[0], "stream 3 frame 17")
    assert tagged != pool[0] and b"stream 3 frame 17" in tagged
    assert np.array_equal(_pixels(tagged), _pixels(pool[0]))
    with pytest.raises(ValueError):
        live_feed.tagged_jpeg(b"not a jpeg", "x")


def test_the_frame_pool_is_distinct_images(pool: list[bytes]) -> None:
    assert len(pool) == 24
    images = [_pixels(f) for f in pool]
    assert len({i.tobytes() for i in images}) == 24
    # Pool frame i is video frame i with brightness offset BRIGHTNESS_OFFSETS[i % 8].
    capture = cv2.VideoCapture(str(SAMPLES.video))
    plain = [capture.read()[1] for _ in range(2)]
    capture.release()
    offset = live_feed.BRIGHTNESS_OFFSETS[1]
    assert float(images[1].mean()) - float(plain[1].mean()) == pytest.approx(offset, abs=1.0)
    assert float(images[0].mean()) == pytest.approx(float(plain[0].mean()), abs=0.5)


def test_video_frames_in_real_time_each_unique(pool: list[bytes]) -> None:
    chunks = list(live_feed.video_chunks(pool, 30.0, 2.0, stream=1))
    assert len(chunks) == 60
    assert [c.send_s for c in chunks] == pytest.approx([i / 30 for i in range(60)])
    assert all(c.start_s == c.end_s == c.message.video_frame.timestamp_s for c in chunks)
    assert len({c.message.video_frame.image for c in chunks}) == 60


def test_audio_chunks_are_16k_pcm_sent_when_complete() -> None:
    source = (np.arange(16000 * 3) % 1000).astype(np.int16)  # 3 s, loops in a 5 s stream
    chunks = list(live_feed.audio_chunks(source, 5.0))
    assert len(chunks) == 50
    first = chunks[0].message.audio_chunk
    assert first.sample_rate_hz == 16000 and first.channels == 1
    pcm = np.frombuffer(first.pcm16, dtype="<i2")
    assert len(pcm) == 1600
    assert np.max(np.abs(pcm.astype(int) - source[:1600])) <= 2  # dithered by <= 2 LSB
    for k, c in enumerate(chunks):
        assert c.start_s == pytest.approx(k / 10) and c.end_s == pytest.approx((k + 1) / 10)
        assert c.send_s == c.end_s and c.message.audio_chunk.timestamp_s == c.start_s
    # The loop is never the same samples twice.
    looped = np.frombuffer(chunks[30].message.audio_chunk.pcm16, dtype="<i2")
    assert not np.array_equal(looped, pcm)


def test_physiology_every_channel_at_its_rate_per_second() -> None:
    physiology = SAMPLES.physiology
    chunks = list(live_feed.physiology_chunks(physiology, 3.0))
    rates = {c.name: c.sampling_rate_hz for c in physiology.channels}
    assert len(chunks) == 3 * len(rates)
    for c in chunks:
        part = c.message.physio_samples
        assert len(part.samples) == round(rates[part.name])
        assert c.lane == f"physiology:{part.name}"
        assert c.send_s == c.end_s and part.start_s == c.start_s
    assert sorted({c.end_s for c in chunks}) == [1.0, 2.0, 3.0]


def test_transcript_segments_are_phrases_sent_when_spoken() -> None:
    phrases = live_feed.phrases(SAMPLES.transcript)
    assert " ".join(phrases) == " ".join(SAMPLES.transcript.split())
    assert all(1 <= len(p.split()) <= live_feed.SEGMENT_WORDS for p in phrases)
    following = SAMPLES.text(0)
    chunks = list(live_feed.transcript_chunks([SAMPLES.transcript, following], 60.0))
    texts = [c.message.transcript_segment.text for c in chunks]
    assert texts[: len(phrases)] == phrases
    assert texts[len(phrases)] == live_feed.phrases(following)[0]  # the next text, no loop
    for a, b in itertools.pairwise(chunks):
        assert a.end_s < b.start_s  # a pause between segments
    assert all(c.send_s == c.end_s <= 60.0 for c in chunks)
    assert chunks[0].end_s < 3.0  # even a short stream gets a segment


def test_streams_speak_texts_no_other_stream_or_loop_says(pool: list[bytes]) -> None:
    feed = Feed(SAMPLES)
    first, second = (list(itertools.islice(feed.texts(), 20)) for _ in range(2))
    assert len(set(first + second)) == 40
    feed.frames = pool  # a cached_property: no 900-frame pool for this test
    said = ["One two three.", "Four five six seven."]
    feed.texts = lambda: iter(said)  # type: ignore[method-assign]
    chunks = [c for c in feed.multimodal(30.0, 20.0) if c.modality == "text"]
    assert [c.message.transcript_segment.text for c in chunks] == said


def test_questions_repeat_every_loop() -> None:
    markers = SAMPLES.physiology.markers
    chunks = list(live_feed.question_chunks(markers, 60.0, 130.0))
    assert len(chunks) == 3 * len(markers) - sum(1 for m in markers if m.start_s >= 10)
    assert chunks[len(markers)].message.question.start_s == markers[0].start_s + 60


def test_merged_is_in_send_order_and_loses_nothing(pool: list[bytes]) -> None:
    source = np.zeros(16000, dtype=np.int16)
    kinds = [
        list(live_feed.video_chunks(pool, 30.0, 3.0)),
        list(live_feed.audio_chunks(source, 3.0)),
        list(live_feed.physiology_chunks(SAMPLES.physiology, 3.0)),
    ]
    merged = list(live_feed.merged(*(iter(k) for k in kinds)))
    assert len(merged) == sum(map(len, kinds))
    assert all(a.send_s <= b.send_s for a, b in itertools.pairwise(merged))
    kinds_seen = {c.message.WhichOneof("payload") for c in merged}
    assert kinds_seen == {"video_frame", "audio_chunk", "physio_samples"}
    assert isinstance(merged[0].message, common_pb2.LiveChunk)
