#!/bin/sh
# qgraph.sh [ROUNDS] — the QGraph mode beside float32 hnsw and hnswlib,
# single-thread QPS at equal recall@10 (M=16, efConstruction=200), in
# alternating rounds (benchmarks/peers rotates the libraries' order every
# round and reports medians of the per-round ratios). Run on a quiet
# machine; DATASET may be fashion-mnist (default), synthetic, a path
# prefix (X_base.fvecs, X_query.fvecs) or an ann-benchmarks .hdf5 file
# (e.g. glove-100-angular.hdf5 with METRIC=cosine).
set -eu
rounds=${1:-3}
root=$(git rev-parse --show-toplevel)
cd "$root"
grep -m1 'model name' /proc/cpuinfo
go run ./benchmarks/peers -dataset "${DATASET:-fashion-mnist}" ${METRIC:+-metric "$METRIC"} \
	-index hnsw,hnsw-qg -peers hnswlib -M 16 -efc 200 \
	-ef 10,15,20,30,40,60,80,120,200,320 -targets 0.9,0.95,0.99 \
	-rounds "$rounds" -json "${JSON:-/tmp/qgraph-peers.json}"
