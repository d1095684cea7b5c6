"""Opt-in (`pytest -m ecosystem`, 5 to 15 min): architectures from the ecosystem, built from small
configs with random weights, MobileNetV2 trained for seconds (tests/export/ecosystem_models.py),
exported in every default format.
Each file passes parity in every runtime, or its export names the operation the format cannot
represent; each says which dimensions it kept dynamic."""

from __future__ import annotations

import pytest

from ecosystem_models import ARCHITECTURES, build
from pocketml.export.api import export_module, verify_module
from pocketml.export.formats import DEFAULT_FORMATS

pytestmark = pytest.mark.ecosystem
SILENT = dict(log=lambda _: None)


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict:
    """Each architecture's export results and parity document, made once."""
    done = {}

    def get(name: str):
        if name not in done:
            module, example, ranges, dynamic = build(name)
            folder = tmp_path_factory.mktemp("ecosystem")
            results = export_module(module, example, folder, input_ranges=ranges,
                                    dynamic_dims=dynamic, **SILENT)
            done[name] = results, verify_module(module, example, folder, input_ranges=ranges,
                                                dynamic_dims=dynamic, **SILENT)
        return done[name]
    return get


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_each_format_passes_parity_or_names_the_operation_it_cannot_represent(exported, name):
    results, document = exported(name)
    assert [r.format for r in results] == list(DEFAULT_FORMATS)
    for r in results:
        if r.ok:
            entry = document["formats"][r.format]
            assert entry["passed"], (r.format, entry)
            assert r.dimensions.startswith("batch ")
        else:
            assert " cannot represent operation " in r.error, (r.format, r.error)
            assert len(r.error.splitlines()) == 1
