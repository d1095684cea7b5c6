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
import time
from pathlib import Path

from pocketml.folder.errors import UserError
from pocketml.pocketapp.contract import MANIFEST

APP = Path(__file__).resolve().parents[1] / "mobile_app"
DEFAULT_BUNDLE = APP / "model"
WORKFLOW = ".github/workflows/phone.yml"
# What python-for-android needs on the build machine, besides buildozer, Cython and a JDK: it
# compiles a host Python and the recipes' C code. No Rust: no recipe the app uses needs it (the
# signature check is pure Python).
BUILD_TOOLS = ("git", "zip", "unzip", "autoconf", "automake", "libtoolize", "pkg-config", "cmake",
               "make", "gcc", "patch")
HEADERS = ("libffi", "openssl", "zlib")  # pkg-config names of the host Python's libraries
APT_LINE = ("apt-get install git zip unzip autoconf automake libtool pkg-config cmake "
            "build-essential patch libffi-dev libssl-dev zlib1g-dev")
# buildozer signs a release build with the keystore these name (python-for-android's names).
RELEASE_KEYSTORE = ("P4A_RELEASE_KEYSTORE", "P4A_RELEASE_KEYSTORE_PASSWD", "P4A_RELEASE_KEYALIAS",
                    "P4A_RELEASE_KEYALIAS_PASSWD")
KEYTOOL_LINE = ("keytool -genkeypair -v -keystore ~/.pocketml/release.keystore -alias pocketml "
                "-keyalg RSA -keysize 4096 -validity 10000")
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
    if not (bundle / MANIFEST).is_file():
        raise UserError(f"no model bundle in {bundle}: run `pocketml all` (or "
                        "`pocketml bundle artifacts/kidney`) first.")
    env = {**os.environ, "POCKETML_BUNDLE": str(bundle), "KIVY_NO_ARGS": "1"}
    return subprocess.call([sys.executable, str(APP / "main.py")], cwd=APP, env=env)


def build_apk(release: bool = False) -> int:
    """`buildozer android debug` (or `release`: signed, not debuggable) in mobile_app/; 2, with
    what is missing, when it cannot run.

    Every check happens before buildozer starts, because buildozer's first step is a download
    of several GB that would otherwise fail half an hour later."""
    if not (DEFAULT_BUNDLE / MANIFEST).is_file():
        raise UserError(f"no model bundle in {DEFAULT_BUNDLE}: run `pocketml all` first; "
                        "the APK packages it.")
    if release:  # before any tool is looked for: an unsigned release must never be started
        from pocketml.release_trust import check_release_trust

        print(f"release: the app trusts key {check_release_trust(APP, DEFAULT_BUNDLE)}, and the "
              "bundle is signed by it")
    missing = missing_for_apk() + (missing_for_release() if release else [])
    if missing:
        print(f"pocketml: cannot build the {'release' if release else 'debug'} APK on this "
              "machine:\n" + "\n".join(f"  - {m}" for m in missing)
              + f"\nInstall what is listed and try again, or build it on GitHub: push the "
                f"repository and run the phone workflow ({WORKFLOW}), which uploads the debug "
                "APK as the artifact pocketml-debug-apk (and, with the keystore secrets, the "
                "release as pocketml-release).", file=sys.stderr)
        return 2
    started = time.time()
    status = subprocess.call([buildozer_command(), "android", "release" if release else "debug"],
                             cwd=APP, stdin=subprocess.DEVNULL)
    for built in sorted((APP / "bin").glob("*")) if status == 0 else []:
        if built.stat().st_mtime >= started:
            print(f"wrote {built} ({built.stat().st_size / 1e6:.1f} MB)")
    return status


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
    if importlib.util.find_spec("Cython") is None:
        missing.append("Cython, which python-for-android compiles Kivy and pyjnius with: "
                       "pip install 'cython<3.1'")
    tools = [tool for tool in BUILD_TOOLS if not shutil.which(tool)]
    headers = [name for name in HEADERS if shutil.which("pkg-config") and subprocess.run(
        ["pkg-config", "--exists", name], check=False).returncode != 0]
    if tools or headers:
        missing.append(f"build tools {', '.join(tools + [f'{h} headers' for h in headers])}: "
                       + APT_LINE)
    if not android_sdk_present() and not reachable(*SDK_HOST):
        missing.append(f"the Android SDK and NDK: not in ~/.buildozer/android/platform (nor "
                       f"APP_ANDROID_SDK_PATH/APP_ANDROID_NDK_PATH), and {SDK_HOST[0]} cannot "
                       "be reached to download them")
    return missing


def missing_for_release() -> list[str]:
    """What a signed release build lacks: the keystore and its passwords, as buildozer reads
    them from the environment."""
    unset = [name for name in RELEASE_KEYSTORE if not os.environ.get(name)]
    if unset:
        return [f"the release keystore: set {', '.join(unset)} (make a keystore once with "
                f"`{KEYTOOL_LINE}`; mobile_app/README.md, \"Release builds\")"]
    keystore = Path(os.environ["P4A_RELEASE_KEYSTORE"]).expanduser()
    if not keystore.is_file():
        return [f"the release keystore: P4A_RELEASE_KEYSTORE={keystore} is not a file"]
    return []


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
