// hnswlib_peer measures hnswlib's HNSW the way nearbench measures nearkit:
// build on -threads threads (once more on one thread), then for each ef
// recall@k against the given ground truth and single-thread QPS, one
// query per call, whole passes over the queries until both min_time and
// min_queries are reached. One JSON object per ef on stdout, in
// nearbench's field names. The peers runner (benchmarks/peers) compiles it
// with -O3 -march=native against Debian's libhnswlib-dev.
//
// usage: hnswlib_peer BASE.fvecs QUERY.fvecs GT.ivecs l2|ip M EFC EF,EF,... K THREADS MIN_TIME_S MIN_QUERIES
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

// read_vecs reads a .fvecs or .ivecs file (each row: int32 dimension, then
// that many 4-byte values) into out; every row must have the same dimension.
template <typename T>
size_t read_vecs(const char *path, std::vector<T> &out) {
    FILE *f = std::fopen(path, "rb");
    if (!f) throw std::runtime_error(std::string("cannot open ") + path);
    std::fseek(f, 0, SEEK_END);
    long size = std::ftell(f);
    std::fseek(f, 0, SEEK_SET);
    int32_t d = 0;
    if (size < 4 || std::fread(&d, 4, 1, f) != 1 || d <= 0 || size % (4 + 4 * (long)d) != 0)
        throw std::runtime_error(std::string("malformed vecs file ") + path);
    size_t n = size / (4 + 4 * (size_t)d);
    out.resize(n * d);
    std::fseek(f, 0, SEEK_SET);
    for (size_t i = 0; i < n; i++) {
        int32_t di;
        if (std::fread(&di, 4, 1, f) != 1 || di != d || std::fread(&out[i * d], 4, d, f) != (size_t)d)
            throw std::runtime_error(std::string("malformed row in ") + path);
    }
    std::fclose(f);
    return d;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::unique_ptr<hnswlib::HierarchicalNSW<float>> build(hnswlib::SpaceInterface<float> *space, const std::vector<float> &base,
                                                       size_t n, size_t dim, int M, int efc, int threads, double *secs) {
    auto t0 = std::chrono::steady_clock::now();
    auto idx = std::make_unique<hnswlib::HierarchicalNSW<float>>(space, n, M, efc, 100);
    // The first point alone, then the rest from a shared counter: hnswlib's
    // addPoint is safe for concurrent use.
    idx->addPoint(base.data(), 0);
    std::atomic<size_t> next{1};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; t++) {
        pool.emplace_back([&] {
            for (size_t i; (i = next.fetch_add(1)) < n;) idx->addPoint(base.data() + i * dim, i);
        });
    }
    for (auto &th : pool) th.join();
    *secs = seconds_since(t0);
    return idx;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 12) {
        std::fprintf(stderr, "usage: %s BASE.fvecs QUERY.fvecs GT.ivecs l2|ip M EFC EF,EF,... K THREADS MIN_TIME_S MIN_QUERIES\n", argv[0]);
        return 2;
    }
    try {
        std::vector<float> base, queries;
        std::vector<int32_t> gt;
        size_t dim = read_vecs(argv[1], base), qdim = read_vecs(argv[2], queries), gtk = read_vecs(argv[3], gt);
        std::string metric = argv[4];
        int M = std::atoi(argv[5]), efc = std::atoi(argv[6]);
        std::vector<int> efs;
        for (char *s = std::strtok(argv[7], ","); s; s = std::strtok(nullptr, ",")) efs.push_back(std::atoi(s));
        size_t k = std::atoi(argv[8]);
        int threads = std::atoi(argv[9]);
        double min_time = std::atof(argv[10]);
        size_t min_queries = std::atoll(argv[11]);
        size_t n = base.size() / dim, nq = queries.size() / qdim;
        if (qdim != dim || gt.size() / gtk < nq || gtk < k || M <= 0 || efc <= 0 || k == 0 || threads <= 0 || efs.empty())
            throw std::runtime_error("inconsistent inputs or arguments");
        std::unique_ptr<hnswlib::SpaceInterface<float>> space;
        if (metric == "l2") space.reset(new hnswlib::L2Space(dim));
        else if (metric == "ip") space.reset(new hnswlib::InnerProductSpace(dim));
        else throw std::runtime_error("metric must be l2 or ip");

        double build1 = 0, build = 0;
        { auto once = ::build(space.get(), base, n, dim, M, efc, 1, &build1); }
        auto idx = ::build(space.get(), base, n, dim, M, efc, threads, &build);
        size_t mem = idx->max_elements_ * idx->size_data_per_element_;
        for (size_t i = 0; i < n; i++) mem += idx->element_levels_[i] * idx->size_links_per_element_;
        std::fprintf(stderr, "[hnswlib] M=%d efc=%d: built in %.2fs (%d threads), %.2fs (1 thread)\n", M, efc, build, threads, build1);

        for (int ef : efs) {
            idx->setEf(ef);
            for (size_t i = 0; i < std::min<size_t>(nq, 200); i++) idx->searchKnn(queries.data() + i * dim, k);
            size_t hits = 0, done = 0;
            auto t0 = std::chrono::steady_clock::now();
            for (int pass = 0;; pass++) {
                for (size_t i = 0; i < nq; i++) {
                    auto res = idx->searchKnn(queries.data() + i * dim, k);
                    if (pass == 0) {
                        std::unordered_set<int32_t> truth(gt.begin() + i * gtk, gt.begin() + i * gtk + k);
                        for (; !res.empty(); res.pop()) hits += truth.count((int32_t)res.top().second);
                    }
                }
                done += nq;
                if (seconds_since(t0) >= min_time && done >= min_queries) break;
            }
            double el = seconds_since(t0);
            std::printf("{\"library\":\"hnswlib\",\"index\":\"hnsw\",\"build_params\":{\"M\":%d,\"efc\":%d},"
                        "\"search_params\":{\"ef\":%d},\"recall\":%.6f,\"qps\":%.1f,\"build_s\":%.3f,\"build_s_1t\":%.3f,"
                        "\"mem_bytes\":%zu,\"nq\":%zu,\"single_queries\":%zu}\n",
                        M, efc, ef, (double)hits / (nq * k), done / el, build, build1, mem, nq, done);
            std::fflush(stdout);
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "hnswlib_peer: %s\n", e.what());
        return 1;
    }
    return 0;
}
