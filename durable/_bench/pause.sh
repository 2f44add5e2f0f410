#!/usr/bin/env bash
# Checkpoint pause and writer stalls, before and after a change, paired:
# builds the PKG test binary (default collection) at BEFORE (a commit;
# default a7a8744, main before the copy-on-write checkpoint) with this
# tree's BENCHFILE (default collection/durability_bench_test.go) dropped
# in, and at the working tree, then alternates BENCH (default
# CheckpointStall) between them ROUNDS times. Compare the medians of
# pause-ms, first-pause-ms and stall-p99-ms. For the 100k×128 HNSW index
# under durable.Index:
#   PKG=durable BENCH=CheckpointWriters BENCHFILE=durable/bench_test.go \
#     BENCHTIME=3x BEFORE=406ca24 durable/_bench/pause.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
before=${BEFORE:-a7a8744}
rounds=${ROUNDS:-5}
pkg=${PKG:-collection}
bench=${BENCH:-CheckpointStall}
benchfile=${BENCHFILE:-collection/durability_bench_test.go}
benchtime=${BENCHTIME:-4x}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$before" | tar -x -C "$tmp"
cp "$benchfile" "$tmp/$benchfile"
(cd "$tmp" && go test -c -o "$tmp/before.test" "./$pkg")
go test -c -o "$tmp/after.test" "./$pkg"
for i in $(seq "$rounds"); do
  for v in before after; do
    echo -n "$v "
    "$tmp/$v.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$benchtime" | grep Benchmark
  done
done
