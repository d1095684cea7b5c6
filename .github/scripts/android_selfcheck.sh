#!/usr/bin/env bash
# The app on a real Android system (an emulator booted by android-emulator-runner):
#   1. install the APK, start its launchable activity, and pass only when logcat shows the app's
#      "self-check passed ... N/N golden rows" line (N: the installed bundle's golden.json);
#      fail on the refusal screen's line or a crash;
#   2. start it as another app could, with python-for-android's org.kivy.LAUNCH intent naming a
#      foreign folder whose main.py prints FOREIGN_MARK, and pass only when the app ignores it:
#      its own self-check passes, the foreign code never ran, and LockedActivity says so;
#   3. replace the installed bundle's golden.json with an altered one (manifest rewritten to
#      match, through run-as: the debug APK is debuggable), start again, and pass only on the
#      refusal.
# A screenshot and the logcat of each launch go to OUT_DIR.
#
#   bash .github/scripts/android_selfcheck.sh APK OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/app_verdict.sh"

# Where python-for-android unpacks the app (main.py's folder), relative to the app's data
# folder that run-as starts in; the bundle is main.py's model/ folder.
APP_FILES=files/app
BUNDLE="$APP_FILES/model"
FIRST_START_S=300  # a cold emulator unpacks the app before Python starts
RESTART_S=180
FOREIGN=/data/local/tmp/pocketml-foreign  # a folder of another party's code on the device
FOREIGN_MARK=foreign-main-py-ran

# badging_value APK FIELD: the name= of a line of aapt's badging (package, launchable-activity).
badging_value() {
  "$AAPT" dump badging "$1" | sed -n "s/^$2: name='\([^']*\)'.*/\1/p"
}

# launch NAME EXPECTED ROWS LIMIT [AM_START_ARGS...]: start the activity with an empty logcat,
# then wait for EXPECTED; keep evidence.
launch() {
  local name=$1 expected=$2 rows=$3 limit=$4 status=0
  shift 4
  adb logcat -c
  adb shell am start -W -n "$PACKAGE/$ACTIVITY" "$@"
  await_verdict "$expected" "$rows" "$limit" "$OUT/$name.logcat.txt" \
    refresh_log "$OUT/$name.logcat.txt" || status=$?
  adb exec-out screencap -p > "$OUT/$name.png"
  refresh_log "$OUT/$name.logcat.txt"
  adb shell am force-stop "$PACKAGE"
  return "$status"
}

# refresh_log FILE: the app's Python output and any crash, as logcat holds them now.
refresh_log() {
  { adb logcat -d -s python:V; adb logcat -d -b crash; } > "$1" 2>&1 || true
}

main() {
  local apk=$1
  OUT=$2
  mkdir -p "$OUT"
  AAPT=$(ls "$ANDROID_HOME"/build-tools/*/aapt | sort -V | tail -n 1)
  PACKAGE=$(badging_value "$apk" package)
  ACTIVITY=$(badging_value "$apk" launchable-activity)
  echo "installing $apk: $PACKAGE/$ACTIVITY"
  adb install -r "$apk"
  # The first start unpacks the app; only then does the bundle exist on the device.
  adb shell am start -W -n "$PACKAGE/$ACTIVITY" >/dev/null
  local waited=0
  until adb shell run-as "$PACKAGE" ls "$BUNDLE/golden.json" >/dev/null 2>&1; do
    [ "$waited" -lt "$FIRST_START_S" ] || { echo "no $BUNDLE/golden.json in the app's files"; exit 1; }
    sleep 2; waited=$((waited + 2))
  done
  adb shell am force-stop "$PACKAGE"
  mkdir -p "$OUT/bundle"
  for name in golden.json manifest.json; do
    adb exec-out run-as "$PACKAGE" cat "$BUNDLE/$name" > "$OUT/bundle/$name"
  done
  local rows
  rows=$(golden_rows "$OUT/bundle/golden.json")
  launch selfcheck passed "$rows" "$FIRST_START_S"

  adb shell "mkdir -p $FOREIGN && echo 'print(\"$FOREIGN_MARK\")' > $FOREIGN/main.py && chmod -R a+rX $FOREIGN"
  launch foreign-launch passed "$rows" "$RESTART_S" -a org.kivy.LAUNCH -d "file://$FOREIGN"
  if grep -q "$FOREIGN_MARK" "$OUT/foreign-launch.logcat.txt"; then
    echo "the app ran the main.py of $FOREIGN: org.kivy.LAUNCH is open"; exit 1
  fi
  grep -q "ignored an org.kivy.LAUNCH intent" "$OUT/foreign-launch.logcat.txt" \
    || { echo "no word from LockedActivity: is android.entrypoint its class?"; exit 1; }

  python3 "$here/alter_golden.py" "$OUT/bundle"
  for name in golden.json manifest.json; do
    # one string: the device's shell must see the redirection inside run-as's sh -c
    adb exec-in "run-as $PACKAGE sh -c 'cat > $BUNDLE/$name'" < "$OUT/bundle/$name"
  done
  launch altered-golden refused "$rows" "$RESTART_S"
  echo "the app passed its self-check on this emulator, ignored a foreign org.kivy.LAUNCH, and refused the altered bundle"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
