#!/bin/bash
# Integration test of `alioth img`: images made by qemu-img (v2/v3, cluster
# sizes 4K/64K/2M, sparse/full/empty, zlib/zstd compression, zero clusters,
# extended L2) are converted to raw by alioth and by qemu-img and compared
# byte for byte; raw->qcow2 output must pass `qemu-img check` and round-trip.
# Usage: run-img-tests.sh path/to/alioth. Exits 77 (skip) without qemu-img.
set -u

ALIOTH=${1:?usage: $0 path/to/alioth}
command -v qemu-img >/dev/null || { echo "qemu-img not installed: skipping"; exit 77; }
command -v qemu-io >/dev/null || { echo "qemu-io not installed: skipping"; exit 77; }

# tmpfs when there is one: qemu-img flushes its output, slow on some disks
T=$(mktemp -d "$( [ -d /dev/shm ] && [ -w /dev/shm ] && echo /dev/shm || echo /tmp)/alioth-img.XXXXXX")
trap 'rm -rf "$T"' EXIT
FAILED=0
PASSED=0

pass() { PASSED=$((PASSED + 1)); }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }

# allocated bytes of a file (blocks actually backed by the file system)
allocated() { echo $(($(stat -c %b "$1") * 512)); }

# A 24 MiB raw disk: scattered random extents, a written run of zeros, a
# partially filled cluster, and holes (the tail is a hole).
make_pattern() {
	local f=$1
	truncate -s 24M "$f"
	dd if=/dev/urandom of="$f" bs=4k seek=0 count=3 conv=notrunc status=none
	dd if=/dev/urandom of="$f" bs=64k seek=17 count=5 conv=notrunc status=none
	dd if=/dev/zero of="$f" bs=64k seek=40 count=8 conv=notrunc status=none
	dd if=/dev/urandom of="$f" bs=512 seek=$((5 * 2048 + 3)) count=1 conv=notrunc status=none
	dd if=/dev/urandom of="$f" bs=1M seek=9 count=2 conv=notrunc status=none
	# compressible, non-zero data
	yes "alioth qcow2 test line" | head -c 1M | dd of="$f" bs=1M seek=14 conv=notrunc status=none
}

# check_convert NAME IMAGE [sparse]: alioth and qemu-img must agree.
check_convert() {
	local name=$1 img=$2 sparse=${3:-}
	local ours="$T/$name.ours.raw" ref="$T/$name.ref.raw"
	if ! "$ALIOTH" img convert "$img" "$ours" 2>"$T/err"; then
		fail "$name: alioth img convert failed: $(cat "$T/err")"
		return
	fi
	qemu-img convert -f qcow2 -O raw "$img" "$ref"
	if ! cmp -s "$ours" "$ref"; then
		fail "$name: output differs from qemu-img's"
		return
	fi
	if [ -n "$sparse" ]; then
		local size used
		size=$(stat -c %s "$ours")
		used=$(allocated "$ours")
		if [ "$used" -gt $((size / 2)) ]; then
			fail "$name: output not sparse ($used of $size bytes allocated)"
			return
		fi
	fi
	pass
	rm -f "$ours" "$ref"
}

# expect_fail NAME STATUS PATTERN CMD...: exit status and one-line message.
expect_fail() {
	local name=$1 want=$2 pattern=$3
	shift 3
	"$@" >"$T/out" 2>"$T/err"
	local rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "$name: exit status $rc, expected $want ($(cat "$T/err"))"
	elif [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -q -- "$pattern" "$T/err"; then
		fail "$name: expected one line matching '$pattern', got: $(cat "$T/err")"
	else
		pass
	fi
}

RAW="$T/pattern.raw"
make_pattern "$RAW"

# sparse and compressed images: v2 and v3, three cluster sizes
for compat in 0.10 1.1; do
	for cs in 4k 64k 2M; do
		img="$T/sparse-$compat-$cs.qcow2"
		qemu-img convert -f raw -O qcow2 -o compat=$compat,cluster_size=$cs "$RAW" "$img"
		check_convert "sparse-v$compat-$cs" "$img" sparse
		img="$T/zlib-$compat-$cs.qcow2"
		qemu-img convert -c -f raw -O qcow2 -o compat=$compat,cluster_size=$cs "$RAW" "$img"
		check_convert "zlib-v$compat-$cs" "$img" sparse
	done
done
for cs in 4k 64k 2M; do
	img="$T/zstd-$cs.qcow2"
	qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd,cluster_size=$cs "$RAW" "$img"
	check_convert "zstd-$cs" "$img" sparse
done

# empty and completely full images
qemu-img create -q -f qcow2 "$T/empty.qcow2" 1G
check_convert empty "$T/empty.qcow2" sparse
[ "$(stat -c %s "$T/empty.qcow2")" -lt 1048576 ] || fail "empty: qemu-img made a big file"
head -c 6M /dev/urandom >"$T/full.raw"
for compat in 0.10 1.1; do
	qemu-img convert -f raw -O qcow2 -o compat=$compat "$T/full.raw" "$T/full-$compat.qcow2"
	check_convert "full-v$compat" "$T/full-$compat.qcow2"
done
qemu-img convert -c -f raw -O qcow2 -o compression_type=zstd "$T/full.raw" "$T/full-zstd.qcow2"
check_convert full-zstd "$T/full-zstd.qcow2"

# zero clusters (v3 zero flag over data), discards, and a size that is
# not a multiple of the cluster size
img="$T/zero.qcow2"
qemu-img create -q -f qcow2 -o cluster_size=64k "$img" 5000k
qemu-io -c "write -P 0x5a 0 4M" -c "write -z 64k 192k" -c "write -z -u 1M 128k" \
	-c "discard 2M 64k" -c "write -P 0x11 4999k 1k" "$img" >/dev/null
check_convert zero-flag "$img"
qemu-img create -q -f qcow2 -o compat=0.10 "$T/zero-v2.qcow2" 4M
qemu-io -c "write -P 0x5a 0 1M" -c "write -z 64k 192k" "$T/zero-v2.qcow2" >/dev/null
check_convert zero-v2 "$T/zero-v2.qcow2"

# extended L2 entries: subclusters allocated, zero and unallocated
img="$T/extl2.qcow2"
qemu-img create -q -f qcow2 -o extended_l2=on,cluster_size=128k "$img" 8M
qemu-io -c "write -P 0xab 4k 4k" -c "write -P 0xcd 100k 40k" -c "write -z 300k 8k" \
	-c "write -P 0xef 1M 128k" -c "write -z 1040k 4k" "$img" >/dev/null
check_convert extended-l2 "$img" sparse

# raw -> qcow2: qemu-img check, round trip through qemu-img and alioth
for src in "$RAW" "$T/full.raw"; do
	name=$(basename "$src" .raw)
	out="$T/$name.alioth.qcow2"
	if ! "$ALIOTH" img convert -f raw -O qcow2 "$src" "$out" 2>"$T/err"; then
		fail "raw->qcow2 $name: $(cat "$T/err")"
		continue
	fi
	if ! qemu-img check -q "$out"; then
		fail "raw->qcow2 $name: qemu-img check failed"
		continue
	fi
	qemu-img convert -f qcow2 -O raw "$out" "$T/rt-qemu.raw"
	"$ALIOTH" img convert "$out" "$T/rt-alioth.raw"
	if cmp -s "$src" "$T/rt-qemu.raw" && cmp -s "$src" "$T/rt-alioth.raw"; then
		pass
	else
		fail "raw->qcow2 $name: round trip differs"
	fi
done
# zero clusters stay unallocated
if [ "$(stat -c %s "$T/pattern.alioth.qcow2")" -gt $((8 * 1048576)) ]; then
	fail "raw->qcow2: zero clusters were allocated"
else
	pass
fi
truncate -s 3000 "$T/odd.raw"
echo hello | dd of="$T/odd.raw" conv=notrunc status=none
"$ALIOTH" img convert --source-format=raw --target-format qcow2 "$T/odd.raw" "$T/odd.qcow2" &&
	qemu-img check -q "$T/odd.qcow2" &&
	[ "$(qemu-img info --output=json "$T/odd.qcow2" | grep -c '"virtual-size": 3072')" = 1 ] &&
	pass || fail "raw->qcow2: odd size"

# info
"$ALIOTH" img info "$T/zstd-64k.qcow2" >"$T/out" || fail "info failed"
for want in "file format: qcow2" "cluster size: 65536" "version: 3" \
	"virtual size: 25165824 bytes" "compression type: zstd" "allocated bytes: "; do
	grep -q "^$want" "$T/out" || fail "info: missing '$want'"
done
"$ALIOTH" img info "$T/sparse-0.10-4k.qcow2" | grep -q "^version: 2$" || fail "info: v2"
"$ALIOTH" img info "$RAW" | grep -q "^file format: raw$" || fail "info: raw"
pass

# unsupported features and broken images: exit 1, one line naming the problem
qemu-img create -q -f qcow2 -b "$T/empty.qcow2" -F qcow2 "$T/overlay.qcow2"
expect_fail backing 1 "backing files are not supported" \
	"$ALIOTH" img convert "$T/overlay.qcow2" "$T/x.raw"
# (qemu-img needs seconds to make a LUKS image: set crypt_method = 2 instead)
cp "$T/empty.qcow2" "$T/luks.qcow2"
printf '\0\0\0\2' | dd of="$T/luks.qcow2" bs=1 seek=32 conv=notrunc status=none
expect_fail encrypted 1 "encrypted images are not supported (LUKS" \
	"$ALIOTH" img convert "$T/luks.qcow2" "$T/x.raw"
qemu-img create -q -f qcow2 -o data_file="$T/data.raw" "$T/ext.qcow2" 1M
expect_fail data-file 1 "external data files are not supported" \
	"$ALIOTH" img convert "$T/ext.qcow2" "$T/x.raw"
head -c 200000 "$T/sparse-1.1-64k.qcow2" >"$T/truncated.qcow2"
expect_fail truncated 1 "past the end of the file" \
	"$ALIOTH" img convert "$T/truncated.qcow2" "$T/x.raw"
expect_fail not-qcow2 1 "not a qcow2 image" "$ALIOTH" img convert "$RAW" "$T/x.raw"
[ ! -e "$T/x.raw" ] && pass || fail "failed conversion left its output behind"
expect_fail missing 1 "No such file" "$ALIOTH" img convert "$T/nope" "$T/x.raw"
cp "$T/full-1.1.qcow2" "$T/same.qcow2"
expect_fail same-file 1 "same file" "$ALIOTH" img convert "$T/same.qcow2" "$T/same.qcow2"
cmp -s "$T/same.qcow2" "$T/full-1.1.qcow2" && pass || fail "same-file: input damaged"

# command line
expect_fail bad-format 2 "unknown format 'vmdk'" "$ALIOTH" img convert -f vmdk a b
expect_fail raw-raw 2 "from raw to raw is not supported" "$ALIOTH" img convert -f raw a b
expect_fail no-output 2 "<OUTPUT>" "$ALIOTH" img convert a
expect_fail twice 2 "cannot be used multiple times" "$ALIOTH" img convert -f raw -f raw a b
expect_fail bad-sub 2 "unrecognized subcommand 'create'" "$ALIOTH" img create
"$ALIOTH" img --help | grep -q "^Usage: alioth img <COMMAND>$" && pass || fail "img --help"
"$ALIOTH" img convert --help | grep -q -- "-f, --source-format <SOURCE_FORMAT>  Input file format \[default: qcow2\]" &&
	pass || fail "img convert --help"
"$ALIOTH" help img convert | grep -q "^Usage: alioth img convert" && pass || fail "help img convert"

echo "img: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
