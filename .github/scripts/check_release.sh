#!/usr/bin/env bash
# What a release build must be before anyone installs it: the APK and the AAB signed with the
# key of the keystore the build was given (P4A_RELEASE_* variables), the APK not debuggable
# (a debuggable app lets `adb shell run-as` read and replace its files, the bundle included),
# and inside both the pinned bundle-signing key, its pin and a bundle signed by it, verified by
# the app's own verifier (check_release_contents.py).
#
#   bash .github/scripts/check_release.sh BIN_DIR
set -euo pipefail
bin=$1
tools=$(ls -d "$ANDROID_HOME"/build-tools/* | sort -V | tail -n 1)

digest() { tr -d ':' | tr 'A-F' 'a-f'; }
expected=$(keytool -list -v -keystore "$P4A_RELEASE_KEYSTORE" -storepass "$P4A_RELEASE_KEYSTORE_PASSWD" \
  -alias "$P4A_RELEASE_KEYALIAS" | sed -n 's/^[[:space:]]*SHA256: //p' | digest)
[ -n "$expected" ] || { echo "no SHA-256 certificate digest for $P4A_RELEASE_KEYALIAS in the keystore"; exit 1; }

apk=$(ls "$bin"/*-release.apk)
aab=$(ls "$bin"/*-release.aab)
apk_signer=$("$tools/apksigner" verify --print-certs "$apk" \
  | sed -n 's/^Signer #1 certificate SHA-256 digest: //p' | digest)
aab_signer=$(keytool -printcert -jarfile "$aab" | sed -n 's/^[[:space:]]*SHA256: //p' | head -n 1 | digest)
jarsigner -verify "$aab" >/dev/null
for built in "$apk:$apk_signer" "$aab:$aab_signer"; do
  [ "${built#*:}" = "$expected" ] || { echo "${built%%:*} is signed by ${built#*:}, not by the keystore's $expected"; exit 1; }
done
if "$tools/aapt" dump badging "$apk" | grep -q '^application-debuggable'; then
  echo "$apk is debuggable: a release build must not be"; exit 1
fi
python "$(dirname "$0")/check_release_contents.py" "$apk" "$aab"
echo "$apk and $aab: signed by certificate $expected, not debuggable, bundle signed by the pinned key"
