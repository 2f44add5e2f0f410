#!/usr/bin/env bash
# Closing measurements for durable and collection. Run on a quiet machine,
# from the repository root; NEARKIT_BENCH_DIR picks the disk the logs go to
# (default: $TMPDIR). -count alternates the sub-benchmarks of each
# benchmark, so ratios between them are paired; compare medians
# (benchstat -col /writers, /log, /index).
set -euo pipefail
cd "$(dirname "$0")/../.."
count=${COUNT:-6}
go test -run '^$' -bench 'SyncAlwaysWriters' -benchtime 2s -count "$count" ./durable
go test -run '^$' -bench 'Overhead' -benchtime 3000x -count "$count" ./durable
go test -run '^$' -bench 'Recovery|CheckpointPause' -count "$count" ./durable
go test -run '^$' -bench 'Query' -count "$count" ./collection
