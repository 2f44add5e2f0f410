#!/usr/bin/env bash
# Paired before/after benchmark of the generated kernels outside package
# distance: the k-means panel kernel (BenchmarkAssign, form=panel) and the
# pq fast-scan (BenchmarkScan, AVX2 and AVX-512 kernels over 1M codes). It builds the test binaries
# of a base revision and of the work tree, runs them alternately (A B A B …)
# and prints each run and the median per side, so that machine noise hits
# both alike.
#   distance/_asm/paired_bench.sh [base-rev [rounds]]   (default HEAD~1, 5)
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:-HEAD~1}
rounds=${2:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/base"
git archive "$base" | tar -x -C "$tmp/base"
for side in base new; do
  dir=.
  [ "$side" = base ] && dir="$tmp/base"
  (cd "$dir" && go test -c -o "$tmp/km.$side" ./internal/kmeans && go test -c -o "$tmp/pq.$side" ./pq)
done
grep -m1 'model name' /proc/cpuinfo || true
run() { # binary, benchmark regexp, metric
  "$1" -test.run '^$' -test.bench "$2" -test.benchtime 10x | awk -v m="$3" '{for (i = 2; i <= NF; i++) if ($i == m) print $(i-1)}'
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2}'; }
for r in $(seq "$rounds"); do
  for side in base new; do
    echo "panel $side $(run "$tmp/km.$side" 'Assign/form=panel$' Gpairs/s)" | tee -a "$tmp/panel"
    for impl in avx2 avx512; do
      echo "fastscan-$impl $side $(run "$tmp/pq.$side" "Scan/kind=fastscan4/impl=$impl\$" codes/s)" | tee -a "$tmp/fastscan-$impl"
    done
  done
done
for k in panel fastscan-avx2 fastscan-avx512; do
  for side in base new; do
    printf '%s %s median: %s\n' "$k" "$side" "$(awk -v s="$side" '$2 == s {print $3}' "$tmp/$k" | median)"
  done
done
