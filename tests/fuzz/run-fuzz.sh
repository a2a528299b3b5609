#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# run-fuzz.sh FUZZER SEEDS SECONDS ARTIFACT_DIR [DICT [LIBFUZZER OPTION...]]
# A short campaign as a test: FUZZER runs for SECONDS from the seed corpus
# SEEDS (read only: new inputs go to a temporary directory, removed after).
# A finding fails the test; its input is kept as ARTIFACT_DIR/crash-* (or
# leak-*, timeout-*) and can be replayed with: FUZZER ARTIFACT_DIR/crash-...
set -eu
fuzzer=$1 seeds=$2 secs=$3 artifacts=$4
dict=${5:-}
[ $# -ge 5 ] && shift 5 || shift $#
extra="$*"
work=$(mktemp -d "${TMPDIR:-/tmp}/tdxsim-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$artifacts/"
[ -n "$dict" ] && [ -f "$dict" ] && set -- "$@" -dict="$dict"
# shellcheck disable=SC2086
set -- "$@" $extra
rc=0
"$fuzzer" "$@" "$work" "$seeds" || rc=$?
exit $rc
