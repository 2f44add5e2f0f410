#!/usr/bin/env bash
# Closing measurements for durable and collection. Run on a quiet machine,
# from anywhere; NEARKIT_BENCH_DIR picks the disk the logs go to (default:
# $TMPDIR). go test -count repeats each sub-benchmark back to back, so the
# rounds here are separate -count=1 runs: the variants of one benchmark
# alternate (A B C, A B C, …) and their ratios are paired. Compare medians,
# e.g. benchstat -col /writers durable-writers.txt.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${ROUNDS:-6}
out=${OUT:-.}
go test -c -o /tmp/durable.bench ./durable
go test -c -o /tmp/collection.bench ./collection
for i in $(seq "$rounds"); do
  /tmp/durable.bench -test.run '^$' -test.bench 'SyncAlwaysWriters' -test.benchtime 2s >> "$out/durable-writers.txt"
  /tmp/durable.bench -test.run '^$' -test.bench 'Overhead' -test.benchtime 3000x >> "$out/durable-overhead.txt"
  /tmp/durable.bench -test.run '^$' -test.bench 'Recovery|CheckpointPause' >> "$out/durable-recovery.txt"
  /tmp/collection.bench -test.run '^$' -test.bench 'FilteredQuery|QueryOverhead|Recovery' >> "$out/collection.txt"
  /tmp/collection.bench -test.run '^$' -test.bench 'CheckpointStall' -test.benchtime 5x >> "$out/collection-stall.txt"
done
grep -h Benchmark "$out"/durable-*.txt "$out"/collection*.txt
