from benchmarks.triton_log import load_counts, loads_in_flight, model_load_times

LOG = """\
I1127 23:56:20.867427 1876 model_lifecycle.cc:472] "loading: audio_cues:1"
I1127 23:56:20.894035 1876 model_lifecycle.cc:472] "loading: text_deception:1"
I1127 23:56:24.643545 1876 python_be.cc:2249] "TRITONBACKEND_ModelInstanceInitialize: x"
I1127 23:56:26.659893 1876 model_lifecycle.cc:839] "successfully loaded 'audio_cues'"
I1127 23:56:26.926230 1876 model_lifecycle.cc:839] "successfully loaded 'text_deception'"
I1127 23:59:00.000000 1876 model_lifecycle.cc:472] "loading: audio_cues:2"
I1127 23:59:09.000000 1876 model_lifecycle.cc:839] "successfully loaded 'audio_cues'"
"""


def test_each_model_from_loading_to_loaded() -> None:
    times = model_load_times(LOG)
    assert list(times) == ["audio_cues", "text_deception"]
    assert abs(times["audio_cues"] - (26.659893 - 20.867427)) < 1e-6
    assert abs(times["text_deception"] - (26.926230 - 20.894035)) < 1e-6


def test_a_load_across_midnight() -> None:
    log = (
        'I1127 23:59:59.500000 1 model_lifecycle.cc:472] "loading: m:1"\n'
        "I1128 00:00:01.000000 1 model_lifecycle.cc:839] \"successfully loaded 'm'\"\n"
    )
    assert abs(model_load_times(log)["m"] - 1.5) < 1e-6


def test_a_model_that_never_loaded_is_absent() -> None:
    assert model_load_times('I1127 10:00:00.000000 1 m.cc:1] "loading: m:1"\n') == {}


def test_reloads_are_counted() -> None:
    assert load_counts(LOG) == {"audio_cues": 2, "text_deception": 1}


def test_loads_in_flight() -> None:
    assert loads_in_flight(LOG) == 0
    head = LOG.split("I1127 23:59:09")[0]  # the reload of audio_cues has not finished
    assert loads_in_flight(head) == 1
