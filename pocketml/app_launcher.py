"""Start the Kivy app on this desktop, or build its Android APK with buildozer.

The app lives in mobile_app/ and never imports pocketml; these functions only run it as a
separate program, pointing it at a bundle through the POCKETML_BUNDLE environment variable."""

from __future__ import annotations

import configparser
import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from pocketml.errors import UserError

APP = Path(__file__).resolve().parents[1] / "mobile_app"
DEFAULT_BUNDLE = APP / "model"
WORKFLOW = ".github/workflows/android-apk.yml"
# What python-for-android needs on the build machine, besides buildozer and a JDK.
BUILD_TOOLS = ("git", "zip", "unzip", "autoconf", "automake", "libtoolize", "pkg-config", "cmake")
SDK_HOST = ("dl.google.com", 443)  # where buildozer downloads the Android SDK and NDK from


def app_bundle() -> Path:
    """mobile_app/model beside this package, wherever pocketml is run from: where `pocketml all`
    writes the bundle and `pocketml app` and `pocketml apk` read it."""
    if not (APP / "main.py").is_file():
        raise UserError(f"the app is not at {APP}: run pocketml from a clone of the repository.")
    return DEFAULT_BUNDLE


def run_app(bundle: Path | None = None) -> int:
    """Run mobile_app/main.py on the bundle (default mobile_app/model); the app's exit status."""
    bundle = Path(bundle or app_bundle()).resolve()
    if importlib.util.find_spec("kivy") is None:
        raise UserError("Kivy is not installed: pip install -e '.[app]'.")
    if not (bundle / "manifest.json").is_file():
        raise UserError(f"no model bundle in {bundle}: run `pocketml all` (or "
                        "`pocketml bundle artifacts/kidney`) first.")
    env = {**os.environ, "POCKETML_BUNDLE": str(bundle), "KIVY_NO_ARGS": "1"}
    return subprocess.call([sys.executable, str(APP / "main.py")], cwd=APP, env=env)


def build_apk() -> int:
    """`buildozer android debug` in mobile_app/; 2, with what is missing, when it cannot run.

    Every check happens before buildozer starts, because buildozer's first step is a download
    of several GB that would otherwise fail half an hour later."""
    if not (DEFAULT_BUNDLE / "manifest.json").is_file():
        raise UserError(f"no model bundle in {DEFAULT_BUNDLE}: run `pocketml all` first; "
                        "the APK packages it.")
    missing = missing_for_apk()
    if missing:
        print("pocketml: cannot build the APK on this machine:\n"
              + "\n".join(f"  - {m}" for m in missing)
              + f"\nInstall what is listed and try again, or build it on GitHub: "
                f"push the repository and run the android-apk workflow ({WORKFLOW}), which "
                "uploads the APK as the artifact pocketml-debug-apk.", file=sys.stderr)
        return 2
    return subprocess.call([buildozer_command(), "android", "debug"], cwd=APP,
                           stdin=subprocess.DEVNULL)


def missing_for_apk() -> list[str]:
    """What stops `buildozer android debug` here, each with how to get it; empty when nothing."""
    if platform.system() not in ("Linux", "Darwin"):
        return [f"buildozer builds Android packages on Linux or macOS, not {platform.system()}"]
    missing = []
    if buildozer_would_ask_about_root():
        missing.append("a normal user: this runs as root, where buildozer stops to ask "
                       "\"continue [y/n]?\" and, with no one to answer, fails. Run pocketml apk as "
                       "a normal user, or, in a throwaway container where root is expected, "
                       "BUILDOZER_WARN_ON_ROOT=0 pocketml apk")
    if not buildozer_command():
        missing.append("buildozer: pip install -e '.[app]'")
    if not shutil.which("javac"):
        missing.append("a Java 17 JDK (javac): apt-get install openjdk-17-jdk")
    tools = [tool for tool in BUILD_TOOLS if not shutil.which(tool)]
    if tools:
        missing.append(f"build tools {', '.join(tools)}: apt-get install git zip unzip autoconf "
                       "automake libtool pkg-config cmake libffi-dev libssl-dev zlib1g-dev")
    if not android_sdk_present() and not reachable(*SDK_HOST):
        missing.append(f"the Android SDK and NDK: not in ~/.buildozer/android/platform (nor "
                       f"APP_ANDROID_SDK_PATH/APP_ANDROID_NDK_PATH), and {SDK_HOST[0]} cannot "
                       "be reached to download them")
    return missing


def buildozer_would_ask_about_root() -> bool:
    """Root, with buildozer's warn_on_root on (buildozer.spec's [buildozer] section, which the
    BUILDOZER_WARN_ON_ROOT variable overrides, as buildozer reads it)."""
    if getattr(os, "geteuid", lambda: None)() != 0:
        return False
    spec = configparser.ConfigParser(interpolation=None)
    spec.read(APP / "buildozer.spec")
    warn = os.environ.get("BUILDOZER_WARN_ON_ROOT",
                          spec.get("buildozer", "warn_on_root", fallback="1"))
    return warn.strip() == "1"


def buildozer_command() -> str | None:
    beside_python = Path(sys.executable).with_name("buildozer")
    return str(beside_python) if beside_python.is_file() else shutil.which("buildozer")


def android_sdk_present() -> bool:
    """Whether buildozer would find an SDK and NDK without downloading: in its own folder, or
    where the spec's android.sdk_path / android.ndk_path (or their APP_ANDROID_* variables) say."""
    platform_dir = Path.home() / ".buildozer" / "android" / "platform"
    in_buildozer_dir = (platform_dir / "android-sdk").is_dir() and any(
        platform_dir.glob("android-ndk-r*"))
    named = [os.environ.get("APP_ANDROID_SDK_PATH"), os.environ.get("APP_ANDROID_NDK_PATH")]
    return in_buildozer_dir or all(path and Path(path).is_dir() for path in named)


def reachable(host: str, port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
