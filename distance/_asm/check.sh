#!/usr/bin/env bash
# Regenerates the amd64 assembly this avo generator owns — package
# distance's kernels, internal/kmeans's panel kernel and pq's fast-scan
# kernels — and fails if a committed .s or stub file differs from what the
# generator produces (someone edited generated code, or the generator
# changed without regenerating). Run from anywhere:
#   distance/_asm/check.sh
set -euo pipefail
cd "$(dirname "$0")"
gen() { # set, package directory, file stem, package name
  go run . -set "$1" -out "$2/$3.s" -stubs "$2/$3_stubs.go" -pkg "$4"
  outs+=("$2/$3.s" "$2/$3_stubs.go")
}
outs=()
gen distance .. kernels_amd64 distance
gen kmeans ../../internal/kmeans panel_amd64 kmeans
gen pq ../../pq fastscan_amd64 pq
git diff --exit-code -- "${outs[@]}"
# An untracked output would pass the diff above; require all to be committed.
git ls-files --error-unmatch "${outs[@]}" >/dev/null
echo "distance/_asm: generated assembly is up to date"
