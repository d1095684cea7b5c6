#!/usr/bin/env bash
# The app on an iOS simulator: boot a new iPhone simulator, install the .app that Xcode built
# for it, launch it with its stdout and stderr captured, and pass only when the app's
# "self-check passed ... N/N golden rows" line appears (N: the bundle's golden.json); fail on
# the refusal screen's line or a crash. The console output and a screenshot go to OUT_DIR.
#
#   bash .github/scripts/ios_selfcheck.sh APP_DIR.app OUT_DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/app_verdict.sh"

# kivy-ios's Xcode project copies the app folder (main.py's) into the .app under this name.
APP_FOLDER=YourApp
START_S=600  # the first start compiles nothing, but a cold simulator is slow

main() {
  local app=$1 out=$2 bundle_id device kind runtime rows status=0
  mkdir -p "$out"
  bundle_id=$(/usr/libexec/PlistBuddy -c "Print :CFBundleIdentifier" "$app/Info.plist")
  rows=$(golden_rows "$app/$APP_FOLDER/model/golden.json")
  read -r kind runtime < <(xcrun simctl list -j runtimes | python3 "$here/pick_simulator.py")
  device=$(xcrun simctl create pocketml "$kind" "$runtime")
  xcrun simctl boot "$device"
  xcrun simctl bootstatus "$device" -b
  xcrun simctl install "$device" "$app"
  echo "launching $bundle_id on $kind ($runtime)"
  xcrun simctl launch --console --terminate-running-process "$device" "$bundle_id" \
    > "$out/selfcheck.console.txt" 2>&1 &
  local console=$!
  await_verdict passed "$rows" "$START_S" "$out/selfcheck.console.txt" true || status=$?
  xcrun simctl io "$device" screenshot "$out/selfcheck.png"
  kill "$console" 2>/dev/null || true
  xcrun simctl shutdown "$device"
  return "$status"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  main "$@"
fi
