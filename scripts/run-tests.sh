#!/bin/bash
# The whole test suite: installs dependencies, builds a release-style build
# and an ASan+UBSan build with -Werror, runs the unit tests (tier 1) and the
# project-built test guests on /dev/kvm (tier 2) in both, then the nested lab
# (tier 3). Tiers whose requirement is absent skip loudly. Ends with one line
# "N passed, N failed, N skipped" and exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/install-deps.sh || { echo "run-tests: dependency install failed"; exit 1; }

passed=0 failed=0 skipped=0
count_meson() { # build dir -> adds its testlog counts
	local log=$1/meson-logs/testlog.json
	[ -f "$log" ] || return
	read -r p f s < <(python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL"): p += 1
    elif r == "SKIP": s += 1
    else: f += 1
print(p, f, s)
PY
)
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
}

build() { # dir, extra meson args...
	local dir=$1; shift
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" -Dwerror=true "$@" >/dev/null || return 1
	fi
	ninja -C "$dir" >"$dir.build.log" 2>&1 || { cat "$dir.build.log"; return 1; }
}

run_suites() { # dir
	meson test -C "$1" --print-errorlogs --num-processes 2 --no-rebuild
	count_meson "$1"
}

if build build; then run_suites build; else echo "FAIL build (gcc)"; failed=$((failed + 1)); fi
if build build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
	-Dc_args=-fno-sanitize-recover=all; then
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_suites build-asan
else
	echo "FAIL build (asan)"; failed=$((failed + 1))
fi

# Fuzz targets for the guest-facing parsers: a short bounded run each.
fuzz_out=$(FUZZ_SECONDS=${FUZZ_SECONDS:-20} tests/fuzz/run-fuzzers.sh 2>&1); rc=$?
echo "$fuzz_out" | grep -E '^(PASS|FAIL|SKIP)'
if [ $rc -eq 77 ]; then
	echo "SKIP fuzzers (see above)"; skipped=$((skipped + 1))
else
	p=$(echo "$fuzz_out" | grep -c '^PASS'); f=$(echo "$fuzz_out" | grep -c '^FAIL')
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
	passed=$((passed + p)); failed=$((failed + f))
fi

if [ -x tests/lab/run-lab.sh ]; then
	out=$(ALIOTH_BIN="$ROOT/build/alioth" tests/lab/run-lab.sh 2>&1); rc=$?
	echo "$out"
	line=$(echo "$out" | grep -E '^lab: [0-9]+ passed, [0-9]+ failed' | tail -1)
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/^lab: ([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/^lab: [0-9]+ passed, ([0-9]+) failed.*/\1/')
		s=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
		passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
	elif [ $rc -eq 77 ]; then
		echo "SKIP nested lab (see above)"; skipped=$((skipped + 1))
	else
		echo "FAIL nested lab (exit $rc)"; failed=$((failed + 1))
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
