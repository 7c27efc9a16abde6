#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# The wire parser under libFuzzer (selftests/fuzz/wire_fuzz.c): the seed
# corpus parses clean, a mutant parser that forgets a block's end is
# caught, and PCRAM_FUZZ_SECONDS (20) of fuzzing find no crash, leak,
# sanitizer report or broken invariant. Skips only when the compiler
# cannot link libFuzzer. PCRAM_SRCDIR is the source tree, PCRAM_FUZZ_DIR
# the built fuzzers (build/fuzz), PCRAM_FUZZ_CC their compiler.
set -u
src=${PCRAM_SRCDIR:?PCRAM_SRCDIR is not set}
dir=${PCRAM_FUZZ_DIR:?PCRAM_FUZZ_DIR is not set}
seconds=${PCRAM_FUZZ_SECONDS:-20}
echo "TAP version 13"
if [ ! -x "$dir/wire_fuzz" ] &&
   ! why=$(sh "$src/selftests/fuzz/have-libfuzzer" "${PCRAM_FUZZ_CC:-clang}"); then
	echo "1..0 # SKIP $why"
	exit 4
fi
echo "1..3"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rc=0
n=0
result() {
	n=$((n + 1))
	if [ -s "$tmp/fail" ]; then
		sed 's/^/# /' "$tmp/fail"
		echo "not ok $n wire_fuzz.$1"
		rc=1
	else
		echo "ok $n wire_fuzz.$1"
	fi
	: >"$tmp/fail"
}
: >"$tmp/fail"

# Why the fuzzer failed: the broken invariant or the sanitizer's report,
# then its last words (the input, where it is kept).
tail_of() {
	grep -E '^wire_fuzz: |ERROR: |runtime error: ' "$1"
	tail -n 12 "$1"
}

# 1. Every seed (one valid message of each type, and a session) runs clean.
if [ ! -x "$dir/wire_fuzz" ]; then
	echo "$dir/wire_fuzz was not built, yet the compiler links libFuzzer" >"$tmp/fail"
else
	for seed in hello blocks received ready discard page zero request \
		    switchover complete checksum shutdown session zero_past_end; do
		[ -f "$dir/seeds/$seed" ] || echo "no seed $dir/seeds/$seed"
	done >"$tmp/fail"
fi
if [ -s "$tmp/fail" ]; then
	:
elif ! "$dir/wire_fuzz" "$dir"/seeds/* >"$tmp/log" 2>&1; then
	tail_of "$tmp/log" >"$tmp/fail"
fi
result seeds_run_clean

# 2. The test of the test: a parser that lets a range run past its block
# (fuzz.mk's FUZZ_MUTATE) must make the harness abort on the seed made for it.
if [ ! -x "$dir/wire_fuzz_mutant" ]; then
	echo "$dir/wire_fuzz_mutant was not built" >"$tmp/fail"
elif "$dir/wire_fuzz_mutant" "$dir/seeds/zero_past_end" >"$tmp/log" 2>&1; then
	echo "a parser that accepts a ZERO past the block's end went unnoticed" >"$tmp/fail"
elif ! grep -q 'wire_fuzz: .*invariant broken: off + len <= b->length' "$tmp/log"; then
	echo "the mutant failed, but not on the range invariant:" >"$tmp/fail"
	tail_of "$tmp/log" >>"$tmp/fail"
fi
result mutant_is_caught

# 3. Fuzzing from the seeds. New inputs go to a scratch corpus; a crash
# is kept in $dir to reproduce with '$dir/wire_fuzz FILE'.
mkdir "$tmp/corpus"
if ! "$dir/wire_fuzz" -max_total_time="$seconds" -max_len=16384 -timeout=10 \
	-print_final_stats=1 -artifact_prefix="$dir/" \
	"$tmp/corpus" "$dir/seeds" >"$tmp/log" 2>&1; then
	tail_of "$tmp/log" >"$tmp/fail"
elif ! grep -q '[[:space:]]DONE[[:space:]]' "$tmp/log"; then
	echo "the fuzzer did not say it was done:" >"$tmp/fail"
	tail_of "$tmp/log" >>"$tmp/fail"
fi
grep -E '^INFO: Seed:|[[:space:]]DONE[[:space:]]' "$tmp/log" | sed 's/^/# /'
result "no_crash_in_${seconds}s"
exit $rc
