"""Make a bundle whose self-check must fail: move golden.json's first expected output beyond
the tolerance and rewrite manifest.json so its checksums agree again. The integrity check then
passes and only the self-check on the device can catch it (an app built with a signing key
refuses it earlier, at the signature).

    python3 alter_golden.py BUNDLE_DIR      # changes golden.json and manifest.json in place
"""

import hashlib
import json
import sys
from pathlib import Path

bundle = Path(sys.argv[1])
golden_path, manifest_path = bundle / "golden.json", bundle / "manifest.json"
golden = json.loads(golden_path.read_text())
output = golden["cases"][0]["output"]
output[0] += -0.01 if output[0] > 0.5 else 0.01  # 1,000 times verify's float32 tolerance
data = (json.dumps(golden, indent=2) + "\n").encode()
golden_path.write_bytes(data)
manifest = json.loads(manifest_path.read_text())
manifest["files"]["golden.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
print(f"altered {golden_path}: row 1 now expects {output[0]:.7g}; manifest rewritten")
