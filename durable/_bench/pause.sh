#!/usr/bin/env bash
# Checkpoint pause and writer stalls, before and after a change, paired:
# builds the collection test binary at BEFORE (a commit; default a7a8744,
# main before the copy-on-write checkpoint) with this tree's
# durability_bench_test.go dropped in, and at the working tree, then
# alternates BenchmarkCheckpointStall between them ROUNDS times. Compare
# the medians of pause-ms, first-pause-ms and stall-p99-ms.
set -euo pipefail
cd "$(dirname "$0")/../.."
before=${BEFORE:-a7a8744}
rounds=${ROUNDS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$before" | tar -x -C "$tmp"
cp collection/durability_bench_test.go "$tmp/collection/"
(cd "$tmp" && go test -c -o "$tmp/before.test" ./collection)
go test -c -o "$tmp/after.test" ./collection
for i in $(seq "$rounds"); do
  for v in before after; do
    echo -n "$v "
    "$tmp/$v.test" -test.run '^$' -test.bench CheckpointStall -test.benchtime 4x | grep Benchmark
  done
done
