"""The simulator to boot: the newest available iOS runtime, and the newest iPhone that runtime
supports, as "DEVICE_TYPE_ID RUNTIME_ID". Picking each on its own can pair a device type newer
than the runtime (a new Xcode lists iPhones its older runtimes cannot run), and
`simctl create` then fails with "Incompatible device".

    xcrun simctl list -j runtimes | python3 pick_simulator.py"""

from __future__ import annotations

import json
import sys


def version(runtime: dict) -> tuple[int, ...]:
    return tuple(int(part) for part in runtime["version"].split("."))


def pick(listing: dict) -> tuple[str, str]:
    runtimes = sorted((r for r in listing["runtimes"]
                       if r.get("platform") == "iOS" and r.get("isAvailable")), key=version)
    for runtime in reversed(runtimes):
        phones = [t for t in runtime.get("supportedDeviceTypes", [])
                  if t.get("productFamily", t.get("name", "")[:6]) == "iPhone"]
        if phones:
            return phones[-1]["identifier"], runtime["identifier"]
    raise SystemExit("no available iOS runtime supports an iPhone: install one in Xcode "
                     "(Settings > Platforms) or with `xcodebuild -downloadPlatform iOS`")


if __name__ == "__main__":
    print(*pick(json.load(sys.stdin)))
