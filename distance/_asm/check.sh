#!/usr/bin/env bash
# Regenerates the amd64 assembly of package distance from this avo generator
# and fails if the committed kernels_amd64.s / kernels_amd64_stubs.go differ
# from what the generator produces (someone edited generated code, or the
# generator changed without regenerating). Run from anywhere:
#   distance/_asm/check.sh
set -euo pipefail
cd "$(dirname "$0")"
go run . -out ../kernels_amd64.s -stubs ../kernels_amd64_stubs.go -pkg distance
git diff --exit-code -- ../kernels_amd64.s ../kernels_amd64_stubs.go
# An untracked output would pass the diff above; require both to be committed.
git ls-files --error-unmatch ../kernels_amd64.s ../kernels_amd64_stubs.go >/dev/null
echo "distance/_asm: generated assembly is up to date"
