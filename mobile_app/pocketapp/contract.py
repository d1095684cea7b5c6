"""The bundle contract's names, defined once.

export/ writes these files and the app reads them; the app cannot import the desktop, so the
desktop (pocketml/folder/, export/) imports the names from here. tests/folder/test_contract.py
pins them: renaming one breaks every bundle already on a phone.
"""

MANIFEST = "manifest.json"  # every file with its sha256 and size
MANIFEST_FORMAT = "pocketml-manifest/1"
SIGNATURE = "manifest.sig"  # the manifest's Ed25519 signature: it cannot list itself
SCHEMA = "schema.json"  # inputs, classes, threshold: what the form is built from
SCHEMA_FORMAT = "pocketml-schema/1"
GOLDEN = "golden.json"  # the cases of the self-check at start
GOLDEN_FORMAT = "pocketml-golden/2"  # /2: each case carries the form's values
DELEGATES = "delegates.json"  # whether the model passed in fp16 arithmetic
TFLITE = "model.tflite"
ONNX = "model.onnx"
# The manifest's record of the runtime releases that computed `pocketml verify`'s rows, by
# runtime name ("litert": "ai-edge-litert 2.3.0"): the self-check line names it beside its own.
PROOF_RUNTIMES = "proof_runtimes"
# The manifest's record of how many golden cases the bundle was made with: an edit that cuts
# golden.json is caught, and a signature covers the count.
GOLDEN_CASES = "golden_cases"
REQUIRED = (TFLITE, SCHEMA)  # what every platform needs; ONNX is a desktop fallback
