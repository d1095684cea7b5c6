#!/usr/bin/env bash
# The Debian packages the app, workflow and arm64 tests need, installed only where missing.
# Each package is checked by what it provides (a command, a file or a library), not by name:
# Node.js from NodeSource brings its own npm and declares `Conflicts: npm`, so asking apt for
# Debian's npm beside it fails with "held broken packages" although npm already works.
set -euo pipefail

# package   what proves it is there (cmd:NAME, file:PATH, lib:SONAME)
NEEDED="
xvfb                    cmd:Xvfb
xauth                   cmd:xauth
xclip                   cmd:xclip
libgl1                  lib:libGL.so.1
libgl1-mesa-dri         file:/usr/lib/x86_64-linux-gnu/dri/swrast_dri.so
libegl1                 lib:libEGL.so.1
libmtdev1               lib:libmtdev.so.1
nodejs                  cmd:node
npm                     cmd:npm
qemu-user-static        cmd:qemu-aarch64-static
debian-archive-keyring  file:/usr/share/keyrings/debian-archive-keyring.gpg
"

present() {
  local kind=${1%%:*} what=${1#*:}
  case $kind in
    cmd) command -v "$what" >/dev/null ;;
    file) test -e "$what" ;;
    lib) ldconfig -p | grep -q "$what" ;;
  esac
}

missing=()
while read -r package proof; do
  [ -n "$package" ] || continue
  present "$proof" || missing+=("$package")
done <<< "$NEEDED"

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "system-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
else
  echo "The app, workflow and arm64 tests need: sudo apt-get install ${missing[*]}" >&2
  exit 2
fi
