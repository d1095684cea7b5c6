"""Every number and option is bounded or refused, before any work: `bench --repeats` beyond
what memory holds (a ValueError and "Unable to allocate 745 GiB" before), `all --out` (the
model went to the default place), `--arm64-cpus` without `--arm64` (test_arm64_health.py)
and a field given twice to `explain --row` (test_folder_gate.py)."""

from __future__ import annotations

import pytest

from test_output_folders import refused


@pytest.mark.parametrize("repeats", ["99999999999999999999", "100000000000", "1000001", "9"])
def test_bench_repeats_out_of_bounds_are_refused(tmp_path, capsys, repeats):
    err = refused(capsys, ["bench", str(tmp_path / "nowhere"), "--repeats", repeats],
                  f"--repeats {repeats}: give from 10 to 1,000,000 timed runs")
    assert "Traceback" not in err


def test_all_out_is_refused_with_the_option_that_does_it(tmp_path, capsys):
    refused(capsys, ["all", "--out", str(tmp_path / "mine")],
            f"--out {tmp_path / 'mine'}: `pocketml all` writes one folder per model",
            f"--artifacts {tmp_path / 'mine'}")
    assert not (tmp_path / "mine").exists()
