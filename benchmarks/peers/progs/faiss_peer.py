"""faiss_peer measures FAISS the way nearbench measures nearkit.

For each index configuration: build on THREADS threads (and once on one),
then for each search setting recall@k against the given ground truth and
single-thread QPS, one query per search call, whole passes over the
queries until both --min-time and --min-queries are reached. One JSON
object per point on stdout, in nearbench's field names. The peers runner
(benchmarks/peers) chooses the FAISS build through PYTHONPATH and runs it
with /usr/bin/python3.

Index types: hnsw (IndexHNSWFlat: --M --efc, sweep --ef), flat
(IndexFlat), ivfflat (IVF<nlist>,Flat: --nlist, sweep --nprobe), ivfpq
(IVF<nlist>,PQ<m>: --nlist --m, sweep --nprobe).
"""

import argparse
import json
import sys
import time

import numpy as np
import faiss


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0 or raw[0] <= 0 or raw.size % (raw[0] + 1) != 0:
        sys.exit(f"faiss_peer: malformed vecs file {path}")
    d = int(raw[0])
    rows = raw.reshape(-1, d + 1)
    if not (rows[:, 0] == d).all():
        sys.exit(f"faiss_peer: rows of different dimensions in {path}")
    return np.ascontiguousarray(rows[:, 1:]).view(dtype)


def ints(s):
    return [int(x) for x in s.split(",") if x.strip()]


def build(make, base, threads):
    faiss.omp_set_num_threads(threads)
    t0 = time.perf_counter()
    index = make()
    if not index.is_trained:
        index.train(base)
    index.add(base)
    return index, time.perf_counter() - t0


def measure(index, queries, gt, k, min_time, min_queries):
    nq = queries.shape[0]
    faiss.omp_set_num_threads(1)
    for i in range(min(nq, 200)):
        index.search(queries[i:i + 1], k)
    hits, done, t0 = 0, 0, time.perf_counter()
    while True:
        for i in range(nq):
            _, ids = index.search(queries[i:i + 1], k)
            if done < nq:
                hits += len(set(ids[0].tolist()) & set(gt[i, :k].tolist()))
        done += nq
        el = time.perf_counter() - t0
        if el >= min_time and done >= min_queries:
            break
    return hits / (nq * k), done / el, done


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("base")
    ap.add_argument("query")
    ap.add_argument("gt")
    ap.add_argument("--metric", choices=["l2", "ip"], default="l2")
    ap.add_argument("--index", default="hnsw")
    ap.add_argument("--M", default="16")
    ap.add_argument("--efc", default="200")
    ap.add_argument("--ef", default="10,20,40,80,160,320")
    ap.add_argument("--nlist", default="1024")
    ap.add_argument("--m", default="16")
    ap.add_argument("--nprobe", default="1,2,4,8,16,32,64")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--min-time", type=float, default=1.0)
    ap.add_argument("--min-queries", type=int, default=1000)
    ap.add_argument("--library", default="faiss")
    a = ap.parse_args()

    base, queries = read_vecs(a.base, np.float32), read_vecs(a.query, np.float32)
    gt = read_vecs(a.gt, np.int32)
    d = base.shape[1]
    mt = faiss.METRIC_L2 if a.metric == "l2" else faiss.METRIC_INNER_PRODUCT

    def configs(kind):
        if kind == "flat":
            yield {}, (lambda: faiss.IndexFlat(d, mt)), [({}, None)]
        elif kind == "hnsw":
            for M in ints(a.M):
                for efc in ints(a.efc):
                    def make(M=M, efc=efc):
                        ix = faiss.IndexHNSWFlat(d, M, mt)
                        ix.hnsw.efConstruction = efc
                        return ix
                    yield {"M": M, "efc": efc}, make, [({"ef": ef}, ("efSearch", ef)) for ef in ints(a.ef)]
        elif kind in ("ivfflat", "ivfpq"):
            for nlist in ints(a.nlist):
                for m in (ints(a.m) if kind == "ivfpq" else [0]):
                    spec = f"IVF{nlist},Flat" if kind == "ivfflat" else f"IVF{nlist},PQ{m}"
                    bp = {"nlist": nlist} if kind == "ivfflat" else {"nlist": nlist, "m": m}
                    yield bp, (lambda spec=spec: faiss.index_factory(d, spec, mt)), \
                        [({"nprobe": p}, ("nprobe", p)) for p in ints(a.nprobe)]
        else:
            sys.exit(f"faiss_peer: unknown index type {kind}")

    for kind in a.index.split(","):
        for bp, make, sweep in configs(kind):
            _, build1 = build(make, base, 1)
            index, build_s = build(make, base, a.threads)
            print(f"[{a.library}] {kind} {bp}: built in {build_s:.2f}s ({a.threads} threads), {build1:.2f}s (1 thread)",
                  file=sys.stderr)
            for sp, setting in sweep:
                if setting is not None:
                    name, v = setting
                    if name == "efSearch":
                        index.hnsw.efSearch = v
                    else:
                        index.nprobe = v
                recall, qps, done = measure(index, queries, gt, a.k, a.min_time, a.min_queries)
                print(json.dumps({"library": a.library, "index": kind, "build_params": bp, "search_params": sp,
                                  "recall": recall, "qps": qps, "build_s": build_s, "build_s_1t": build1,
                                  "nq": int(queries.shape[0]), "single_queries": done}), flush=True)


if __name__ == "__main__":
    main()
