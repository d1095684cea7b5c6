# What the app's own log says about a launch, for the emulator and simulator checks
# (sourced by android_selfcheck.sh and ios_selfcheck.sh; tests/app/test_workflows.py runs it on the
# real app's output). Kivy writes each "pocketml: ..." log call as "[LEVEL  ] [pocketml    ] ...",
# to logcat's "python" tag on Android and to the process's stderr on iOS.

# main.py logs this once every golden row matched on the device; ROWS is golden.json's count.
passed_pattern() { echo "\[pocketml *\] self-check passed on .*: $1/$1 golden rows"; }
# main.py's refusal screen: a damaged, unsigned or failing bundle ("refused DIR: why").
REFUSED_PATTERN='\[pocketml *\] refused '
# A crash: a Python traceback, a Java one, or a model the runtime could not load.
CRASHED_PATTERN='Traceback \(most recent call last\)|FATAL EXCEPTION|\[pocketml *\] the model could not be loaded'

# verdict LOG ROWS: passed, refused, crashed or pending (nothing decisive yet).
verdict() {
  if grep -Eq "$CRASHED_PATTERN" "$1"; then echo crashed
  elif grep -Eq "$REFUSED_PATTERN" "$1"; then echo refused
  elif grep -Eq "$(passed_pattern "$2")" "$1"; then echo passed
  else echo pending
  fi
}

# await_verdict EXPECTED ROWS TIMEOUT_S LOG REFRESH...: run REFRESH (which rewrites LOG) every
# 2 s until LOG is decisive or TIMEOUT_S pass; 0 when the verdict is EXPECTED, 1 otherwise.
await_verdict() {
  local expected=$1 rows=$2 timeout_s=$3 log=$4 found=pending waited=0
  shift 4
  while [ "$found" = pending ] && [ "$waited" -lt "$timeout_s" ]; do
    sleep 2
    waited=$((waited + 2))
    "$@"
    found=$(verdict "$log" "$rows")
  done
  echo "app: $found after ${waited} s (expected $expected)"
  grep -E "\[pocketml *\]" "$log" || true
  [ "$found" = "$expected" ]
}

# golden_rows GOLDEN_JSON: how many golden cases the bundle's self-check runs.
golden_rows() { python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["cases"]))' "$1"; }
