#!/usr/bin/env python3
"""Compare nearbench and faiss_bench.sh JSON lines written by faiss.sh.

Usage: compare.py DIR [TARGET ...]   (targets default 0.9 0.95)

DIR holds nearkit.R.json and faiss.R.json for rounds R = 1, 2, ... For each
index type and re-ranking factor it prints recall@10 per nprobe (median
over rounds) for both libraries and their difference, then the ratio
nearkit / FAISS of QPS at each target recall, interpolated between sweep
points (log QPS linear in recall) within a round, median over rounds:
single thread (one query per call) and batched (one call, 2 threads).
"""
import glob
import json
import math
import os
import statistics
import sys


def load(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                out.append(json.loads(line))
    return out


def key(r):
    bp, sp = r["build_params"], r["search_params"]
    return (r["index"], bp.get("nlist"), bp.get("m", 0), sp.get("rerank", 0))


def at_recall(points, target, field):
    """QPS at recall target from (recall, record) points, or None."""
    pts = sorted((p["recall"], p[field]) for p in points if p.get(field))
    best = None
    for (r0, q0), (r1, q1) in zip(pts, pts[1:]):
        if r0 <= target <= r1 and r1 > r0:
            t = (target - r0) / (r1 - r0)
            q = math.exp(math.log(q0) + t * (math.log(q1) - math.log(q0)))
            best = q if best is None else max(best, q)
    for r, q in pts:
        if abs(r - target) < 1e-12:
            best = q if best is None else max(best, q)
    return best


def main():
    d = sys.argv[1]
    targets = [float(t) for t in sys.argv[2:]] or [0.9, 0.95]
    rounds = {}
    for lib in ("nearkit", "faiss"):
        for path in glob.glob(os.path.join(d, lib + ".*.json")):
            rnd = int(path.rsplit(".", 2)[1])
            for r in load(path):
                rounds.setdefault(rnd, {}).setdefault(lib, []).append(r)
    keys = sorted({key(r) for rd in rounds.values() for recs in rd.values() for r in recs},
                  key=lambda k: tuple(str(x) for x in k))
    print(f"{len(rounds)} rounds; medians over rounds")
    print()
    print(f"{'index':8} {'nlist':>5} {'m':>3} {'rerank':>6} {'nprobe':>6} {'nearkit':>8} {'faiss':>8} {'diff':>7}")
    for k in keys:
        per = {}
        for rd in rounds.values():
            for lib, recs in rd.items():
                for r in recs:
                    if key(r) == k:
                        per.setdefault(r["search_params"]["nprobe"], {}).setdefault(lib, []).append(r["recall"])
        for np_ in sorted(per):
            a = per[np_].get("nearkit")
            b = per[np_].get("faiss")
            ra = statistics.median(a) if a else float("nan")
            rb = statistics.median(b) if b else float("nan")
            print(f"{k[0]:8} {k[1]:>5} {k[2]:>3} {k[3]:>6} {np_:>6} {ra:8.4f} {rb:8.4f} {ra - rb:+7.4f}")
    print()
    print(f"{'index':8} {'nlist':>5} {'m':>3} {'rerank':>6} {'target':>6} {'QPS 1t':>8} {'batch 2t':>9}  (nearkit / FAISS)")
    for k in keys:
        for t in targets:
            cells = []
            for field in ("qps", "qps_batch"):
                ratios = []
                for rd in rounds.values():
                    a = at_recall([r for r in rd.get("nearkit", []) if key(r) == k], t, field)
                    b = at_recall([r for r in rd.get("faiss", []) if key(r) == k], t, field)
                    if a and b:
                        ratios.append(a / b)
                cells.append(f"{statistics.median(ratios):.2f}x" if ratios else "n/a")
            print(f"{k[0]:8} {k[1]:>5} {k[2]:>3} {k[3]:>6} {t:6.2f} {cells[0]:>8} {cells[1]:>9}")


if __name__ == "__main__":
    main()
