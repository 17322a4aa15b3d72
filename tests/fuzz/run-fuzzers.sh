#!/bin/sh
# Builds every libFuzzer target of tests/fuzz with clang (outside Meson, all
# sources compiled with -fsanitize=fuzzer,address,undefined) and runs each for
# a bounded time. Prints "PASS <target>" or "FAIL <target>"; exits 0 when all
# pass, 1 on any failure, 77 (skip) when clang or its libFuzzer runtime is
# missing.
#
# Environment: CLANG (default clang), FUZZ_SECONDS (default 30 per target),
# FUZZ_RUNS (if set, -runs=N instead of a time limit), FUZZ_OUT (build and
# corpus directory, default a fresh temporary one).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CLANG=${CLANG:-clang}
secs=${FUZZ_SECONDS:-30}
out=${FUZZ_OUT:-$(mktemp -d /tmp/alioth-fuzz.XXXXXX)}
mkdir -p "$out"

skip() {
	echo "SKIP: $*" >&2
	echo "SKIP: install clang and its libFuzzer runtime (Debian 12: apt-get install clang libclang-rt-14-dev)" >&2
	exit 77
}

command -v "$CLANG" >/dev/null 2>&1 || skip "$CLANG not found"
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' \
	>"$out/probe.c"
"$CLANG" -fsanitize=fuzzer,address,undefined "$out/probe.c" -o "$out/probe" >"$out/probe.log" 2>&1 ||
	{ cat "$out/probe.log" >&2; skip "$CLANG cannot link -fsanitize=fuzzer (libFuzzer runtime missing)"; }

# Every tests/fuzz/fuzz_*.c is a target. sources_<name>: the repository
# sources it needs besides itself; libs_<name>: extra link flags; an optional
# shell function seed_<name> DIR writes seed inputs.
targets=$(cd "$here" && ls fuzz_*.c | sed 's/\.c$//')
sources_fuzz_virtq="src/virtio/virtq.c src/mem/guest_mem.c src/util/log.c src/util/util.c"
sources_fuzz_qcow2=""          # it includes what it tests
libs_fuzz_qcow2="-lz -lzstd"
maxlen_fuzz_qcow2=65536        # maxlen_<name>: largest input (default 8192)

CFLAGS="-std=gnu17 -D_GNU_SOURCE -fno-strict-aliasing -g -O1 -Wall -Wextra -Werror
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I$root/src"

# Seeds: well-formed queues the fuzzer can mutate from (split with an
# indirect table, packed with a chain and an indirect table). Layout is the
# one fuzz_virtq.c documents.
seed_fuzz_virtq() {
	python3 - "$1" <<'PY'
import struct, sys, os
d = sys.argv[1]
def write(name, hdr, ops, mem):
    hdr = bytes(hdr) + bytes(16 - len(hdr))
    ops = b"".join(bytes(o) for o in ops)
    ops += bytes([2, 0]) * (32 - len(ops) // 2)
    with open(os.path.join(d, name), "wb") as f:
        f.write(hdr + ops + bytes(mem))
def put(mem, off, fmt, *v):
    struct.pack_into("<" + fmt, mem, off, *v)
ops = [(0, 0), (0, 0), (1, 5), (2, 0), (1, 3), (2, 0), (3, 0), (4, 0), (5, 0), (0, 0)]
# split, size 8, EVENT_IDX + INDIRECT: desc 0, avail 128, used 152
m = bytearray(0x3200)
put(m, 0, "QIHH", 0x1000, 32, 4, 0)
put(m, 16, "QIHH", 0x2000, 16, 1, 2)
put(m, 32, "QIHH", 0x2100, 16, 2, 0)
put(m, 128, "HHHH", 0, 2, 0, 1)
put(m, 0x1000, "QIHH", 0x3000, 8, 1, 1)
put(m, 0x1010, "QIHH", 0x3100, 8, 2, 0)
write("split-indirect", [6, 3], ops, m)
# packed, size 5, EVENT_IDX + INDIRECT: desc 0, driver event 80
m = bytearray(0x3200)
put(m, 0, "QIHH", 0x2000, 16, 0, 0x81)
put(m, 16, "QIHH", 0x2100, 16, 7, 0x82)
put(m, 32, "QIHH", 0x1000, 32, 3, 0x84)
put(m, 80, "HH", 0x8001, 2)
put(m, 0x1000, "QIHH", 0x3000, 8, 0, 0)
put(m, 0x1010, "QIHH", 0x3100, 8, 0, 2)
write("packed-indirect", [7, 0, 4, 0], ops, m)
PY
}

failed=0
for t in $targets; do
	eval "srcs=\${sources_$t:-}"
	eval "libs=\${libs_$t:-}"
	eval "maxlen=\${maxlen_$t:-8192}"
	files="$root/tests/fuzz/$t.c"
	for s in $srcs; do files="$files $root/$s"; done
	# shellcheck disable=SC2086
	if ! "$CLANG" $CFLAGS $files $libs -o "$out/$t" >"$out/$t.build.log" 2>&1; then
		cat "$out/$t.build.log"
		echo "FAIL $t (build)"
		failed=1
		continue
	fi
	mkdir -p "$out/$t.corpus" "$out/$t.seeds"
	if command -v "seed_$t" >/dev/null 2>&1; then
		"seed_$t" "$out/$t.seeds" || echo "warning: seeding $t failed" >&2
	fi
	if [ -n "${FUZZ_RUNS:-}" ]; then
		limit="-runs=$FUZZ_RUNS"
	else
		limit="-max_total_time=$secs"
	fi
	if (cd "$out" && "./$t" "$limit" -max_len="$maxlen" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 "$t.corpus" "$t.seeds" >"$t.log" 2>&1); then
		echo "PASS $t ($(grep -o 'stat::number_of_executed_units: *[0-9]*' "$out/$t.log" | grep -o '[0-9]*$') runs)"
	else
		tail -n 40 "$out/$t.log"
		echo "FAIL $t (log and crash input in $out)"
		failed=1
	fi
done
exit $failed
