#!/usr/bin/python3
"""FAISS reference numbers for nearkit's pq and kmeans tests.

Driven by pq/faiss_test.go and pq/opq/faiss_test.go through
pq/internal/pqtest (NEARKIT_PQ_FAISS=1 go test -run FAISS ./pq/...),
which writes the data as raw little-endian float32 row-major files so both
sides read identical vectors. Prints one JSON object on stdout.

  faiss_compare.py kmeans FILE N D K NITER SEED
      faiss.Kmeans training time and per-iteration objective.
  faiss_compare.py pq FILE N D M NBITS
      faiss.ProductQuantizer reconstruction MSE (mean over vectors of
      ||x - decode(encode(x))||^2), trained and evaluated on FILE.
  faiss_compare.py opq FILE N D M NBITS NITER
      faiss.OPQMatrix(D, M) (niter NITER) followed by ProductQuantizer,
      same MSE.
"""
import json
import sys
import time

import faiss
import numpy as np


def load(path, n, d):
    x = np.fromfile(path, dtype="<f4")
    assert x.size == n * d, (x.size, n, d)
    return np.ascontiguousarray(x.reshape(n, d))


def mse(x, rec):
    return float(((x.astype(np.float64) - rec.astype(np.float64)) ** 2).sum(axis=1).mean())


def main():
    cmd = sys.argv[1]
    path, n, d = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    x = load(path, n, d)
    out = {"faiss_version": faiss.__version__, "threads": faiss.omp_get_max_threads()}
    if cmd == "kmeans":
        k, niter, seed = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
        km = faiss.Kmeans(d, k, niter=niter, seed=seed, max_points_per_centroid=256, verbose=False)
        t0 = time.perf_counter()
        km.train(x)
        out["seconds"] = time.perf_counter() - t0
        out["objective"] = [float(v) for v in km.obj]
    elif cmd == "pq":
        m, nbits = int(sys.argv[5]), int(sys.argv[6])
        pq = faiss.ProductQuantizer(d, m, nbits)
        t0 = time.perf_counter()
        pq.train(x)
        out["train_seconds"] = time.perf_counter() - t0
        out["mse"] = mse(x, pq.decode(pq.compute_codes(x)))
    elif cmd == "opq":
        m, nbits, niter = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
        opq = faiss.OPQMatrix(d, m)
        opq.niter = niter
        pq = faiss.ProductQuantizer(d, m, nbits)
        t0 = time.perf_counter()
        opq.train(x)
        xr = opq.apply_py(x)
        pq.train(xr)
        out["train_seconds"] = time.perf_counter() - t0
        # The rotation is orthogonal: the error is the same in both spaces.
        out["mse"] = mse(xr, pq.decode(pq.compute_codes(xr)))
    else:
        raise SystemExit("unknown command " + cmd)
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
