import os

from benchmarks.procs import TICKS, group_usage, machine, parse_hwm_bytes, parse_stat


def test_stat_with_spaces_and_parentheses_in_the_name() -> None:
    fields = ["S", "1", "4242", "4242"] + ["0"] * 7 + ["250", "50", "20", "5"]
    fields += ["0"] * 6 + ["1000"]
    line = "123 (tri ton) (x)) " + " ".join(fields)
    pgrp, cpu, rss_pages = parse_stat(line)
    assert pgrp == 4242
    assert abs(cpu - 325 / TICKS) < 1e-9  # own user + system, and reaped children's
    assert rss_pages == 1000


def test_peak_resident_set_from_status() -> None:
    assert parse_hwm_bytes("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t1024 kB\n") == 2048 * 1024
    assert parse_hwm_bytes("Name:\tkthread\n") == 0


def test_this_process_group_is_measured() -> None:
    usage = group_usage({"me": os.getpgrp()})["me"]
    assert usage.processes >= 1
    assert usage.rss_bytes > 0 and usage.peak_rss_bytes >= usage.rss_bytes // 2
    assert usage.cpu_s > 0


def test_machine_description() -> None:
    info = machine()
    assert info["cores"] >= 1 and info["memory_bytes"] > 0
