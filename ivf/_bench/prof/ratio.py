#!/usr/bin/env python3
"""QPS at equal recall from the output of prof -runs.

Usage: ratio.py OUT [BASE] [TARGET ...]   (BASE defaults to "pq m=16",
targets to 0.9 0.95)

For each index of OUT (encoding and M) it takes the Pareto frontier of its
(nprobe, rerank) points — the fastest point at each recall, dropping points
slower than one of higher recall — and interpolates QPS at each target
recall, log QPS linear in recall between the two frontier points around
it. It prints that for wall and thread-CPU time, and the ratio to BASE.
"""
import math
import re
import sys

LINE = re.compile(
    r"^(\w+) m=(\d+) nlist=\d+ nprobe=(\d+) rerank=(\d+): ([\d.]+) µs/query wall .*?"
    r"([\d.]+) µs/query thread CPU .*?recall@\d+ ([\d.]+)")


def frontier(pts):
    # pts: (recall, qps, label); keep points no other point beats on both.
    pts = sorted(pts, key=lambda p: (-p[0], -p[1]))
    out, best = [], 0.0
    for p in pts:
        if p[1] > best:
            out.append(p)
            best = p[1]
    return sorted(out)


def at(front, target):
    for lo, hi in zip(front, front[1:]):
        if lo[0] <= target <= hi[0]:
            if hi[0] == lo[0]:
                return max(lo[1], hi[1]), hi[2]
            f = (target - lo[0]) / (hi[0] - lo[0])
            q = math.exp(math.log(lo[1]) + f * (math.log(hi[1]) - math.log(lo[1])))
            return q, f"{lo[2]}..{hi[2]}"
    if front and front[-1][0] >= target and front[0][0] >= target:
        return front[0][1], front[0][2]
    return None, "not reached"


def main():
    args = sys.argv[1:]
    path = args.pop(0)
    base = "pq m=16"
    if args and not re.match(r"^[\d.]+$", args[0]):
        base = args.pop(0)
    targets = [float(a) for a in args] or [0.9, 0.95]
    idx = {}
    for line in open(path, encoding="utf-8"):
        m = LINE.match(line.strip())
        if not m:
            continue
        enc, mm, np_, rr, wall, cpu, rec = m.groups()
        key = f"{enc} m={mm}"
        label = f"np{np_}/r{rr}"
        idx.setdefault(key, {"wall": [], "cpu": []})
        idx[key]["wall"].append((float(rec), 1e6 / float(wall), label))
        idx[key]["cpu"].append((float(rec), 1e6 / float(cpu), label))
    for clock in ("cpu", "wall"):
        print(f"QPS at recall@10 ({'thread CPU' if clock == 'cpu' else 'wall'} time), ratio to {base}:")
        for t in targets:
            ref = at(frontier(idx[base][clock]), t)[0] if base in idx else None
            for key in idx:
                q, lab = at(frontier(idx[key][clock]), t)
                if q is None:
                    print(f"  {t:.2f}  {key:10s}  not reached")
                    continue
                r = f"{q / ref:.2f}×" if ref else "-"
                print(f"  {t:.2f}  {key:10s}  {q:8.0f} QPS  ({lab})  {r}")


if __name__ == "__main__":
    main()
