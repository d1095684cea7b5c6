"""Lock the iOS app to portrait in the Info.plist of the Xcode project kivy-ios generated.

kivy-ios's main.m (export_orientation) reads UISupportedInterfaceOrientations from the app's
Info.plist and sets KIVY_ORIENTATION from it before Python starts, so a default set in main.py
never applies, and kivy-ios's template allows every orientation. UIKit reads the same key (and
its ~ipad variant on iPads) to decide where it rotates. Written to a temporary name, then renamed.

    python mobile_app/ios/lock_portrait.py pocketmlckd-ios/pocketmlckd-Info.plist"""

from __future__ import annotations

import os
import plistlib
import sys
from pathlib import Path

PORTRAIT = ["UIInterfaceOrientationPortrait"]
KEYS = ("UISupportedInterfaceOrientations", "UISupportedInterfaceOrientations~ipad")


def lock_portrait(plist: Path) -> None:
    plist = Path(plist)
    try:
        info = plistlib.loads(plist.read_bytes())
    except (OSError, plistlib.InvalidFileException) as err:
        raise SystemExit(f"{plist}: not a readable Info.plist ({err}); give the one "
                         "`toolchain create` wrote (NAME-ios/NAME-Info.plist).") from None
    info.update({key: list(PORTRAIT) for key in KEYS})
    staging = plist.with_name(f".{plist.name}.tmp")
    staging.write_bytes(plistlib.dumps(info))
    os.replace(staging, plist)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__.rsplit("\n\n", 1)[1].strip())
    lock_portrait(Path(sys.argv[1]))
    print(f"{sys.argv[1]}: portrait only")
