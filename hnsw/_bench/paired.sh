#!/bin/sh
# paired.sh BEFORE_REV [PAIRS] — paired before/after single-thread search
# benchmark of package hnsw on Fashion-MNIST (float32 and SQ8, k=10).
# Builds ./paired against BEFORE_REV (a temporary worktree) and the working
# tree, builds each index once with the working tree's code (the same file
# is searched by both, so both walk the same graph), then alternates
# before/after runs PAIRS times and prints per ef the median QPS of each
# and the ratio after/before.
set -eu
before=${1:?usage: paired.sh BEFORE_REV [PAIRS]}
pairs=${2:-5}
efs=${EFS:-10,20,40,80,120,200}
root=$(git rev-parse --show-toplevel)
work=${WORK:-/tmp/nearkit-paired}
mkdir -p "$work"
if [ ! -d "$work/before" ]; then git -C "$root" worktree add --detach "$work/before" "$before" >/dev/null; fi
mkdir -p "$work/before/hnsw/_bench/paired"
cp "$root/hnsw/_bench/paired/main.go" "$work/before/hnsw/_bench/paired/"
(cd "$work/before" && go build -o "$work/paired-before" ./hnsw/_bench/paired)
(cd "$root" && go build -o "$work/paired-after" ./hnsw/_bench/paired)
for q in none sq8; do
	[ -f "$work/fm-$q.hnsw" ] || "$work/paired-after" -build -quant $q -index "$work/fm-$q.hnsw"
done
: >"$work/runs.tsv"
i=0
while [ $i -lt "$pairs" ]; do
	for q in none sq8; do
		for v in before after; do
			"$work/paired-$v" -index "$work/fm-$q.hnsw" -ef "$efs" |
				sed "s/^/$q	$v	/" >>"$work/runs.tsv"
		done
	done
	i=$((i + 1))
done
grep -m1 'model name' /proc/cpuinfo
awk -F'\t' '{ k = $1 "\t" $3; v[k, $2, ++n[k, $2]] = $4; r[k] = $5 }
function med(k, s,   a, m, i, j, t) {
	m = n[k, s]; for (i = 1; i <= m; i++) a[i] = v[k, s, i]
	for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
	return m % 2 ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2
}
END {
	printf "quant\tef\trecall\tbefore_qps\tafter_qps\tratio\n"
	for (k in r) { b = med(k, "before"); a = med(k, "after"); printf "%s\t%.4f\t%.0f\t%.0f\t%.3f\n", k, r[k], b, a, a / b }
}' "$work/runs.tsv" | sort -t'	' -k1,1 -k2,2n
