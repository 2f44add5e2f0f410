#!/usr/bin/env bash
# nearkit ivf beside FAISS 1.7.3 (the AVX2 build of the shared
# faiss_build_avx2.sh) on Fashion-MNIST (60,000 × 784, L2): IVF-Flat nlist
# 256, IVF-PQ m=16 with and without re-ranking (IndexRefineFlat), and 4-bit
# fast-scan, on the same fvecs files and ground truth. Rounds alternate the
# order of the two libraries so that a loaded machine weighs on both; the
# comparison (compare.py) takes medians over rounds of recall per nprobe
# and of QPS at recall 0.95 (single thread, and one batched call on 2
# threads).
#
#   ivf/_bench/faiss.sh                    # 3 rounds, everything
#   ROUNDS=5 INDEX=ivfflat ivf/_bench/faiss.sh
#   OUT=/tmp/ivf-faiss ivf/_bench/faiss.sh  # keep the JSON lines there
#
# Another set: PREFIX names $DATA/PREFIX_base.fvecs and PREFIX_query.fvecs
# (both libraries then use FAISS's cached PREFIX_gt.ivecs), NLIST and M the
# lists and subquantizers. The issue's 1,000,000 × 128 clustered set is
# written once by the scale command:
#
#   go run ./ivf/_bench/scale -dir ~/.cache/nearkit-data -n 1000000 -dim 128 -gen-only
#   PREFIX=synth-n1000000-d128 NLIST=1024 M=32 ivf/_bench/faiss.sh
#
# Run it on a quiet machine for the closing numbers; it prints the CPU
# model and the load average before every round.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
peers=${PEERS_DIR:-/work/shared/peers}
DATA=${DATA:-${XDG_CACHE_HOME:-$HOME/.cache}/nearkit-data}
ROUNDS=${ROUNDS:-3}
INDEX=${INDEX:-ivfflat,ivfpq,ivfpqfs}
NPROBE=${NPROBE:-1,2,4,8,16,32,64}
RERANK=${RERANK:-0,10}
OUT=${OUT:-$(mktemp -d)}
PREFIX=${PREFIX:-fmnist}
NLIST=${NLIST:-256}
M=${M:-16}
QUERIES=${QUERIES:-0}
mkdir -p "$OUT"
export PATH=$PATH:/usr/local/go/bin
(cd "$root" && go build -o "$OUT/nearbench" ./benchmarks/cmd/nearbench)
# The same files for both: faiss_bench.sh converts Fashion-MNIST to fvecs
# and caches the top-100 ground truth as fmnist_gt.ivecs in $DATA.
[ -f "$DATA/${PREFIX}_base.fvecs" ] || [ "$PREFIX" != fmnist ] || DATA=$DATA "$peers/faiss_bench.sh" --index flat --min-queries 1 >/dev/null
[ -f "$DATA/${PREFIX}_gt.ivecs" ] || DATA=$DATA PREFIX=$PREFIX "$peers/faiss_bench.sh" --index flat --min-queries 1 >/dev/null
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')" >&2

run_nearkit() {
  local r=$1 idx
  for idx in ${INDEX//,/ }; do
    local extra=()
    case $idx in ivfpq|ivfpqfs) extra=(-m "$M" -rerank "$RERANK") ;; esac
    "$OUT/nearbench" -dataset "$DATA/$PREFIX" -index "$idx" -nlist "$NLIST" -nprobe "$NPROBE" \
      "${extra[@]}" -threads 2 -queries "$QUERIES" -noprogress -json "$OUT/nearkit.$r.json" >&2
  done
}
run_faiss() {
  local r=$1 idx
  for idx in ${INDEX//,/ }; do
    local extra=()
    case $idx in ivfpq|ivfpqfs) extra=(--m "$M" --rerank "$RERANK" --residual 1) ;; esac
    DATA=$DATA PREFIX=$PREFIX NEARKIT_FAISS=avx2 "$peers/faiss_bench.sh" --index "$idx" --nlist "$NLIST" \
      --nprobe "$NPROBE" "${extra[@]}" --batch >>"$OUT/faiss.$r.json"
  done
}
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  if [ $((r % 2)) = 1 ]; then run_nearkit "$r"; run_faiss "$r"; else run_faiss "$r"; run_nearkit "$r"; fi
done
python3 "$here/compare.py" "$OUT"
echo "JSON lines in $OUT" >&2
