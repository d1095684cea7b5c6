"""The bundle contract's names, pinned: export/ writes these files and apps already on phones
read them, so renaming one is a break, not a refactor. The desktop takes them from the app's
own module; nothing else spells them."""

from __future__ import annotations

import re
from pathlib import Path

from pocketml.pocketapp import contract

ROOT = Path(__file__).resolve().parents[2]


def test_the_names_are_pinned():
    assert (contract.MANIFEST, contract.MANIFEST_FORMAT, contract.SIGNATURE) == (
        "manifest.json", "pocketml-manifest/1", "manifest.sig")
    assert (contract.SCHEMA, contract.SCHEMA_FORMAT) == ("schema.json", "pocketml-schema/1")
    assert (contract.GOLDEN, contract.GOLDEN_FORMAT) == ("golden.json", "pocketml-golden/2")
    assert contract.DELEGATES == "delegates.json"
    assert (contract.TFLITE, contract.ONNX) == ("model.tflite", "model.onnx")
    assert contract.REQUIRED == ("model.tflite", "schema.json")


def test_no_module_defines_them_again():
    """A second `MANIFEST = "manifest.json"` would be a second contract that can drift."""
    names = "|".join(("MANIFEST", "MANIFEST_FORMAT", "SIGNATURE", "SCHEMA", "SCHEMA_FORMAT",
                      "GOLDEN", "GOLDEN_FORMAT", "DELEGATES"))
    definition = re.compile(rf"^({names}) = ", re.MULTILINE)
    sources = [p for folder in ("pocketml", "train", "export", "mobile_app")
               for p in (ROOT / folder).rglob("*.py") if p.name != "contract.py"]
    assert len(sources) > 50
    assert [str(p.relative_to(ROOT)) for p in sources if definition.search(p.read_text())] == []
