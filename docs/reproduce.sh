#!/bin/sh
# Regenerates every figure in README.md on this machine: run it on a quiet
# machine from the repository root (about 30-40 minutes on 2 cores) and
# paste the printed tables into README.md. It writes docs/peers.png,
# docs/fashion.png and, under ${OUT:-/tmp/nearkit-reproduce}, the raw JSON.
set -eu
OUT=${OUT:-/tmp/nearkit-reproduce}
mkdir -p "$OUT"
grep -m1 'model name' /proc/cpuinfo || true
nproc

# "Where it stands": nearkit beside hnswlib and FAISS, alternating rounds,
# ratio of single-thread QPS at equal recall (medians over rounds).
go run ./benchmarks/peers -rounds 5 -peers hnswlib -index hnsw,hnsw-sq8 -plot docs/peers.png -json "$OUT/peers.json" | tee "$OUT/peers.txt"

# "Which index should I use": every index type on Fashion-MNIST.
go run ./benchmarks/cmd/nearbench -dataset fashion-mnist -noprogress \
	-index flat,hnsw,hnsw-sq8,ivfflat,ivfsq8,ivfpq,ivfpqfs \
	-ef 10,20,40,80 -nprobe 4,8,16,32 -rerank 0,4 \
	-json "$OUT/choose.json" | tee "$OUT/choose.txt"

# The example grid.
go run ./examples/fashion -out docs/fashion.png
