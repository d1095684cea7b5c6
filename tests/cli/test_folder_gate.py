"""One gate for every reader of a folder: `verify`, `diagnose`, `bench` and `explain` run
against the same tampered folders, and none of them answers for a folder another refuses.
Each refuses with verify's own message (explain on a bundle: the app's self-check), exit 2,
and writes nothing (no bench.json, no diagnosis)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from app_fixtures import write_manifest as write_bundle_manifest
from pocketml.cli import main
from pocketml.folder.manifest import write_manifest
from test_custody import swap_sodium_and_hemoglobin
from test_trust_chain import edit_json

# The row: a sick patient, whom the honest model gives > 99.9 %.
ROW = "sg=1.010,al=3,sod=130,hemo=9,pc=abnormal,htn=yes,dm=yes"


def schema_swapped(folder: Path) -> str:
    edit_json(folder / "schema.json", swap_sodium_and_hemoglobin)
    write_manifest(folder)  # the editor makes every checksum agree
    return "edited after training"


def onnx_byte_flipped(folder: Path) -> str:
    data = bytearray((folder / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.onnx").write_bytes(bytes(data))
    return "model.onnx does not match its checksum"


def link_to_etc(folder: Path) -> str:
    os.symlink("/etc", folder / "etc")
    return "etc: not listed in the manifest"


TAMPERED = {"schema with sod and hemo swapped, manifest rewritten": schema_swapped,
            "a byte of model.onnx flipped": onnx_byte_flipped,
            "a link to /etc in the folder": link_to_etc}


def readers(folder: Path, scratch: Path) -> dict[str, list[str]]:
    return {"verify": ["verify", str(folder)],
            "diagnose": ["diagnose", str(folder), "--format", "onnx",
                         "--out", str(scratch / "diagnosis")],
            "bench": ["bench", str(folder), "--repeats", "10"],
            "explain": ["explain", str(folder), "--row", ROW]}


def refusal(capsys, argv: list[str]) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2, (argv, captured.out, captured.err)
    assert captured.err.startswith("pocketml: error: ") and "Traceback" not in captured.err
    assert "Probability" not in captured.out  # no answer was given
    return captured.err


@pytest.mark.parametrize("tamper", TAMPERED.values(), ids=list(TAMPERED))
def test_every_reader_refuses_what_verify_refuses_with_its_message(kidney_copy, tmp_path,
                                                                   capsys, tamper):
    expected = tamper(kidney_copy)
    before = sorted(p.name for p in kidney_copy.iterdir())
    messages = {name: refusal(capsys, argv)
                for name, argv in readers(kidney_copy, tmp_path).items()}
    assert expected in messages["verify"], messages["verify"]
    for name, message in messages.items():
        assert message == messages["verify"], (name, message)
    assert sorted(p.name for p in kidney_copy.iterdir()) == before  # no bench.json
    assert not (tmp_path / "diagnosis").exists()


def test_a_bundle_failing_the_apps_self_check_gets_no_explanation(kidney_bundle, tmp_path,
                                                                   capsys):
    """Every file matches the (rewritten) manifest: only the app's golden self-check sees
    that the form now feeds sodium where the model takes hemoglobin."""
    bundle = Path(shutil.copytree(kidney_bundle, tmp_path / "model"))
    schema = json.loads((bundle / "schema.json").read_text())
    swap_sodium_and_hemoglobin(schema)
    (bundle / "schema.json").write_text(json.dumps(schema, indent=2))
    write_bundle_manifest(bundle)
    err = refusal(capsys, ["explain", str(bundle), "--row", ROW])
    assert "This form does not encode answers as the model was trained: 32 of 32" in err
    for name, argv in readers(bundle, tmp_path).items():
        refusal(capsys, argv)  # the model-folder commands refuse a bundle too
    assert not (tmp_path / "diagnosis").exists()


def test_an_honest_folder_and_its_bundle_are_explained(kidney_folder, kidney_bundle, capsys):
    for folder in (kidney_folder, kidney_bundle):
        assert main(["explain", str(folder), "--row", ROW]) == 0
        assert "Probability of ckd: > 99.9%" in capsys.readouterr().out


def test_explain_on_a_user_module_folder_says_it_has_no_form(kidney_copy, capsys):
    (kidney_copy / "source.json").write_text(json.dumps({"model": "mine:build",
                                                         "inputs": ["1,10"]}))
    err = refusal(capsys, ["explain", str(kidney_copy), "--row", ROW])
    assert "exported from your own module" in err and "no form" in err


def test_a_field_given_twice_is_refused(kidney_bundle, capsys):
    err = refusal(capsys, ["explain", str(kidney_bundle), "--row", ROW + ",sod=140"])
    assert "sod is given twice ('130' and '140')" in err
