"""python-for-android's org.kivy.LAUNCH path is closed for this app: buildozer.spec declares
LockedActivity (mobile_app/android_src) as the activity, and LockedActivity hands PythonActivity
a plain MAIN intent in place of a LAUNCH one. The class is compiled with the JDK here against
stand-ins with the signatures it overrides (python-for-android v2026.05.09's
pythonforandroid/bootstraps/sdl2/build/src/main/java/org/kivy/android/PythonActivity.java:
protected onCreate(Bundle), protected onNewIntent(Intent), the intent read back with
getIntent() when it decides what to run; android.app.Activity's getIntent/setIntent), and run."""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import pytest

from app_fixtures import APP

ACTIVITY = APP / "android_src" / "org" / "pocketml" / "ckd" / "LockedActivity.java"
STANDINS = {
    "android/os/Bundle.java": "package android.os; public class Bundle {}",
    "android/util/Log.java": """
        package android.util;
        public final class Log {
            public static final java.util.List<String> lines = new java.util.ArrayList<>();
            public static int w(String tag, String msg) { lines.add(tag + ": " + msg); return 0; }
        }""",
    "android/content/Intent.java": """
        package android.content;
        public class Intent {
            public static final String ACTION_MAIN = "android.intent.action.MAIN";
            private final String action, data;
            public Intent(String action) { this(action, null); }
            public Intent(String action, String data) { this.action = action; this.data = data; }
            public String getAction() { return action; }
            public String getDataString() { return data; }
        }""",
    "android/app/Activity.java": """
        package android.app;
        import android.content.Intent;
        import android.os.Bundle;
        public class Activity {
            private Intent intent;
            public Intent getIntent() { return intent; }
            public void setIntent(Intent newIntent) { intent = newIntent; }
            protected void onCreate(Bundle savedInstanceState) {}
            protected void onNewIntent(Intent intent) {}
        }""",
    # what PythonActivity decides from: the action of getIntent() once the app is unpacked
    "org/kivy/android/PythonActivity.java": """
        package org.kivy.android;
        import android.content.Intent;
        import android.os.Bundle;
        public class PythonActivity extends android.app.Activity {
            public String runs;
            @Override protected void onCreate(Bundle savedInstanceState) {
                super.onCreate(savedInstanceState);
                Intent intent = getIntent();
                runs = intent != null && "org.kivy.LAUNCH".equals(intent.getAction())
                    ? intent.getDataString() + "/main.py" : "files/app/main.py";
            }
            @Override protected void onNewIntent(Intent intent) { onCreate(null); }
        }""",
    # in LockedActivity's package: Android calls the protected lifecycle methods, so may this
    "org/pocketml/ckd/Launch.java": """
        package org.pocketml.ckd;
        import android.content.Intent;
        public class Launch {
            public static void main(String[] args) {
                Intent given = new Intent(args[0], args.length > 1 ? args[1] : null);
                LockedActivity activity = new LockedActivity();
                activity.setIntent(given);
                activity.onCreate(null);  // started by the intent
                System.out.println("cold: " + activity.runs);
                activity.setIntent(new Intent(Intent.ACTION_MAIN));
                activity.onCreate(null);
                activity.onNewIntent(given);  // the intent reaches a running activity
                System.out.println("warm: " + activity.runs);
                for (String line : android.util.Log.lines) System.out.println(line);
            }
        }""",
    "Probe.java": """
        import android.content.Intent;
        public class Probe {
            public static void main(String[] args) {
                org.kivy.android.PythonActivity activity = new org.kivy.android.PythonActivity() {
                    { setIntent(new Intent(args[0], args[1])); onCreate(null); }
                };
                System.out.println(activity.runs);
            }
        }""",
}


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    if shutil.which("javac") is None:
        pytest.fail("javac is needed to compile LockedActivity (apt-get install default-jdk)")
    root = tmp_path_factory.mktemp("java")
    for name, source in STANDINS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(source))
    sources = [str(root / name) for name in STANDINS] + [str(ACTIVITY)]
    subprocess.run(["javac", "-d", str(root / "classes"), *sources], check=True, timeout=120)
    return root / "classes"


def java(classes, main: str, *args: str) -> str:
    return subprocess.run(["java", "-cp", str(classes), main, *args], check=True,
                          capture_output=True, text=True, timeout=60).stdout


def launch(classes, *intent: str) -> str:
    return java(classes, "org.pocketml.ckd.Launch", *intent)


def test_a_foreign_launch_runs_the_apps_own_files(compiled):
    out = launch(compiled, "org.kivy.LAUNCH", "file:///data/local/tmp/foreign")
    assert "cold: files/app/main.py" in out and "warm: files/app/main.py" in out
    assert "/data/local/tmp/foreign/main.py" not in out
    assert out.count("python: pocketml: ignored an org.kivy.LAUNCH intent naming "
                     "file:///data/local/tmp/foreign") == 2


def test_the_launcher_starts_the_app_as_before(compiled):
    out = launch(compiled, "android.intent.action.MAIN")
    assert "cold: files/app/main.py" in out and "ignored" not in out


def test_the_stand_in_runs_the_foreign_folder_without_the_lock(compiled):
    """The stand-in follows PythonActivity: a LAUNCH intent that reaches it runs that folder,
    so the tests above pass only because LockedActivity stops it."""
    assert java(compiled, "Probe", "org.kivy.LAUNCH", "/x").strip() == "/x/main.py"


def test_buildozer_declares_it_as_the_activity():
    from buildozer import Buildozer

    spec = Buildozer(filename=str(APP / "buildozer.spec")).config
    assert spec.getdefault("app", "android.entrypoint") == "org.pocketml.ckd.LockedActivity"
    assert (APP / spec.getlist("app", "android.add_src")[0] / "org/pocketml/ckd").is_dir()
    assert "android_src" in spec.getlist("app", "source.exclude_dirs")  # not packaged as data
    assert "extends PythonActivity" in ACTIVITY.read_text()


def test_the_emulator_check_sends_a_foreign_launch_and_passes_only_if_ignored():
    script = (APP.parent / ".github" / "scripts" / "android_selfcheck.sh").read_text()
    foreign = script[script.index("launch foreign-launch"):script.index("alter_golden.py")]
    assert foreign.startswith('launch foreign-launch passed "$rows" "$RESTART_S" '
                              '-a org.kivy.LAUNCH -d "file://$FOREIGN"')
    assert 'grep -q "$FOREIGN_MARK"' in foreign and "exit 1" in foreign
    assert 'grep -q "ignored an org.kivy.LAUNCH intent"' in foreign
    assert "ignored an org.kivy.LAUNCH intent" in ACTIVITY.read_text()
