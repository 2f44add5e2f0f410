"""Writes small ann-benchmarks-shaped HDF5 files with h5py, one per layout
the reader supports (and a few it refuses), for hdf5's tests.

usage: /usr/bin/python3 gen.py OUTDIR

Every file holds train (20x6), test (5x6), neighbors (5x3) and distances
(5x3) with values computable from their indices (see values below) and a
root attribute distance='euclidean', so the Go test checks every element.
"""

import sys

import h5py
import numpy as np

N, NQ, D, K = 20, 5, 6, 3


def values():
    train = (np.arange(N * D, dtype=np.float64).reshape(N, D) * 0.5 - 7).astype(np.float32)
    test = (np.arange(NQ * D, dtype=np.float64).reshape(NQ, D) * -0.25 + 3).astype(np.float32)
    neighbors = (np.arange(NQ * K).reshape(NQ, K) * 7 % N).astype(np.int32)
    distances = (np.arange(NQ * K).reshape(NQ, K) * 1.5).astype(np.float32)
    return train, test, neighbors, distances


def write(path, libver="earliest", dtype_f=np.float32, dtype_i=np.int32, attr_kind="str", **ds_kw):
    train, test, neighbors, distances = values()
    with h5py.File(path, "w", libver=libver) as f:
        if attr_kind == "str":
            f.attrs["distance"] = "euclidean"
            f.attrs["type"] = "dense"
        else:
            f.attrs["distance"] = np.bytes_(b"euclidean")
            f.attrs["type"] = np.bytes_(b"dense")
        f.attrs["dimension"] = D
        f.create_dataset("train", data=train.astype(dtype_f), **ds_kw)
        f.create_dataset("test", data=test.astype(dtype_f), **ds_kw)
        f.create_dataset("neighbors", data=neighbors.astype(dtype_i), **ds_kw)
        f.create_dataset("distances", data=distances.astype(dtype_f), **ds_kw)


def annbench(path, metric):
    """A file as ann-benchmarks writes one, with true neighbours."""
    rng = np.random.default_rng(7)
    train = rng.standard_normal((200, 8)).astype(np.float32)
    test = rng.standard_normal((10, 8)).astype(np.float32)
    if metric == "angular":
        tn = train / np.linalg.norm(train, axis=1, keepdims=True)
        qn = test / np.linalg.norm(test, axis=1, keepdims=True)
        d = 1 - qn.astype(np.float64) @ tn.T.astype(np.float64)
    else:
        d = ((test[:, None, :].astype(np.float64) - train[None, :, :]) ** 2).sum(-1) ** 0.5
    nb = np.argsort(d, axis=1, kind="stable")[:, :20]
    with h5py.File(path, "w") as f:
        f.attrs["type"] = "dense"
        f.attrs["distance"] = metric
        f.attrs["dimension"] = 8
        f.attrs["point_type"] = "float"
        f.create_dataset("train", data=train)
        f.create_dataset("test", data=test)
        f.create_dataset("neighbors", data=nb.astype(np.int32))
        f.create_dataset("distances", data=np.take_along_axis(d, nb, 1).astype(np.float32))


def main(out):
    annbench(f"{out}/ann_angular.hdf5", "angular")
    annbench(f"{out}/ann_euclidean.hdf5", "euclidean")
    write(f"{out}/contiguous.hdf5")
    write(f"{out}/contiguous_latest.hdf5", libver="latest")
    write(f"{out}/float64_int64.hdf5", dtype_f=np.float64, dtype_i=np.int64, attr_kind="bytes")
    write(f"{out}/chunked.hdf5", chunks=(4, 2))
    write(f"{out}/chunked_latest.hdf5", libver="latest", chunks=(4, 2))
    write(f"{out}/gzip_shuffle.hdf5", chunks=(3, 2), compression="gzip", shuffle=True)
    write(f"{out}/gzip_latest.hdf5", libver="latest", chunks=(3, 2), compression="gzip", compression_opts=9)
    write(f"{out}/single_chunk_gzip_latest.hdf5", libver="latest", chunks=True, compression="gzip")
    write(f"{out}/fletcher32.hdf5", chunks=(4, 2), fletcher32=True)
    # Unlimited dimensions: an extensible-array chunk index under libver latest.
    write(f"{out}/extensible_latest.hdf5", libver="latest", chunks=(4, 2), maxshape=(None, None))
    write(f"{out}/extensible.hdf5", chunks=(4, 2), maxshape=(None, None))
    write(f"{out}/lzf.hdf5", chunks=(4, 2), compression="lzf")
    write(f"{out}/bigendian.hdf5", dtype_f=">f4", dtype_i=">i4")
    write(f"{out}/int64_latest.hdf5", libver="latest", dtype_i=np.int64, chunks=(2, 3))


if __name__ == "__main__":
    main(sys.argv[1])
