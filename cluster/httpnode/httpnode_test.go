package httpnode

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nearkit/nearkit/cluster/internal/answer"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/cluster"
	"github.com/nearkit/nearkit/flat"
	"github.com/nearkit/nearkit/hnsw"
)

const dim = 16

func randVecs(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n*dim)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return v
}

func flatFactory() (nearkit.Index, error) { return flat.New(flat.Config{Dim: dim}) }

// startNode serves a fresh Local over cleartext HTTP/2 on loopback.
func startNode(t testing.TB, factory func() (nearkit.Index, error)) (*httptest.Server, *cluster.Local) {
	t.Helper()
	l, err := cluster.NewLocal(dim, factory)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Handler(l, HandlerConfig{Dim: dim})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, l
}

// httpCluster is n nodes over loopback HTTP and a router over clients.
type httpCluster struct {
	servers map[string]*httptest.Server
	members *cluster.Static
	r       *cluster.Router
}

func newHTTPCluster(t testing.TB, n int, cfg cluster.RouterConfig, factory func() (nearkit.Index, error)) *httpCluster {
	t.Helper()
	c := &httpCluster{servers: map[string]*httptest.Server{}}
	var ms []cluster.Member
	for i := range n {
		srv, _ := startNode(t, factory)
		name := fmt.Sprintf("n%d", i)
		c.servers[name] = srv
		ms = append(ms, cluster.Member{Name: name, Addr: srv.URL})
	}
	c.members = cluster.NewStatic(ms...)
	hc := &http.Client{Transport: NewTransport(nil)}
	cfg.Dim = dim
	r, err := cluster.NewRouter(cfg, c.members, func(m cluster.Member) (cluster.Node, error) {
		return NewClient(m.Addr, dim, hc)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.r = r
	return c
}

func load(t testing.TB, r *cluster.Router, ids []uint64, vecs []float32) {
	t.Helper()
	for i := 0; i < len(ids); i += 500 {
		j := min(i+500, len(ids))
		if err := r.Add(context.Background(), ids[i:j], vecs[i*dim:j*dim]); err != nil {
			t.Fatal(err)
		}
	}
}

func seqIDs(n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i) * 7
	}
	return ids
}

func TestExactOverHTTP(t *testing.T) {
	c := newHTTPCluster(t, 3, cluster.RouterConfig{Cluster: cluster.Config{Shards: 32, Replicas: 2}}, flatFactory)
	rng := rand.New(rand.NewPCG(1, 1))
	ids := seqIDs(3000)
	vecs := randVecs(rng, len(ids))
	load(t, c.r, ids, vecs)
	ref, _ := flat.New(flat.Config{Dim: dim})
	ref.AddBatch(context.Background(), ids, vecs)
	qs := randVecs(rng, 30)
	for i := range 30 {
		q := qs[i*dim : (i+1)*dim]
		got, err := c.r.Search(context.Background(), q, 10, nearkit.SearchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ref.Search(nil, q, 10, nearkit.SearchOptions{})
		if !answer.Same(got, want) {
			t.Fatalf("query %d: got %v want %v", i, got, want)
		}
	}
}

func recall(got, want []nearkit.Result) float64 {
	hit := 0
	for _, w := range want {
		if slices.ContainsFunc(got, func(g nearkit.Result) bool { return g.ID == w.ID }) {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

func TestHNSWRecallOverHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("builds HNSW graphs; slow under -race")
	}
	n := 4000
	const ef, k = 32, 10
	hnswFactory := func() (nearkit.Index, error) {
		return hnsw.New(hnsw.Config{Dim: dim, EfSearch: ef, Seed: 1})
	}
	c := newHTTPCluster(t, 3, cluster.RouterConfig{Cluster: cluster.Config{Shards: 16, Replicas: 1}}, hnswFactory)
	rng := rand.New(rand.NewPCG(2, 2))
	ids := seqIDs(n)
	vecs := randVecs(rng, n)
	load(t, c.r, ids, vecs)
	one, _ := hnswFactory()
	one.AddBatch(context.Background(), ids, vecs)
	exact, _ := flat.New(flat.Config{Dim: dim})
	exact.AddBatch(context.Background(), ids, vecs)
	const nq = 200
	qs := randVecs(rng, nq)
	var rSharded, rOne float64
	for i := range nq {
		q := qs[i*dim : (i+1)*dim]
		want, _ := exact.Search(nil, q, k, nearkit.SearchOptions{})
		got, err := c.r.Search(context.Background(), q, k, nearkit.SearchOptions{Ef: ef})
		if err != nil {
			t.Fatal(err)
		}
		single, _ := one.Search(nil, q, k, nearkit.SearchOptions{Ef: ef})
		rSharded += recall(got, want)
		rOne += recall(single, want)
	}
	rSharded /= nq
	rOne /= nq
	t.Logf("recall@%d ef=%d: sharded %.4f, one index %.4f", k, ef, rSharded, rOne)
	if rSharded < rOne-0.01 {
		t.Fatalf("sharded recall %.4f more than 0.01 below one index's %.4f", rSharded, rOne)
	}
}

// TestKillAndRestartOverHTTP kills a node's server mid-load (R=2: every
// query still complete), then starts it again empty on a new address and
// rebalances: the node rejoins and serves its shards.
func TestKillAndRestartOverHTTP(t *testing.T) {
	c := newHTTPCluster(t, 3, cluster.RouterConfig{Cluster: cluster.Config{Shards: 32, Replicas: 2}}, flatFactory)
	rng := rand.New(rand.NewPCG(3, 3))
	ids := seqIDs(2000)
	vecs := randVecs(rng, len(ids))
	load(t, c.r, ids, vecs)
	ref, _ := flat.New(flat.Config{Dim: dim})
	ref.AddBatch(context.Background(), ids, vecs)
	qs := randVecs(rng, 20)
	check := func(stage string) {
		t.Helper()
		for i := range 20 {
			q := qs[i*dim : (i+1)*dim]
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			got, err := c.r.Search(ctx, q, 10, nearkit.SearchOptions{})
			cancel()
			want, _ := ref.Search(nil, q, 10, nearkit.SearchOptions{})
			if err != nil || !answer.Same(got, want) {
				t.Fatalf("%s: query %d: %v, got %v want %v", stage, i, err, got, want)
			}
		}
	}
	// Kill n1 while queries run.
	var wg sync.WaitGroup
	var bad atomic.Int64
	stop := make(chan struct{})
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				q := qs[(i%20)*dim : (i%20+1)*dim]
				got, err := c.r.Search(context.Background(), q, 10, nearkit.SearchOptions{})
				want, _ := ref.Search(nil, q, 10, nearkit.SearchOptions{})
				if err != nil || !answer.Same(got, want) {
					bad.Add(1)
				}
			}
		}()
	}
	time.Sleep(30 * time.Millisecond)
	srv := c.servers["n1"]
	srv.CloseClientConnections()
	srv.Listener.Close()
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d queries incomplete or wrong while n1 died", bad.Load())
	}
	check("n1 dead")

	// Restart n1 empty elsewhere; the membership carries the new address.
	srv2, local := startNode(t, flatFactory)
	ms := c.members.Members()
	for i := range ms {
		if ms[i].Name == "n1" {
			ms[i].Addr = srv2.URL
		}
	}
	c.members.Set(ms...)
	var rep *cluster.MoveReport
	var err error
	for range 100 { // the router's watcher reconnects asynchronously
		if rep, err = c.r.Rebalance(context.Background()); err == nil && len(rep.Repaired) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil || len(rep.Repaired) != c.r.Placement().Load()["n1"] {
		t.Fatalf("rejoin: %+v %v", rep, err)
	}
	if held, _ := local.Held(context.Background()); len(held) != len(rep.Repaired) {
		t.Fatalf("n1 holds %d shards after rejoin, want %d", len(held), len(rep.Repaired))
	}
	// Without n0, n1's copies must cover the shards it shares with n0.
	c.members.Set(ms[1], ms[2])
	time.Sleep(20 * time.Millisecond)
	check("n1 rejoined, n0 gone")
}

func post(t *testing.T, url string, body []byte) (int, string) {
	t.Helper()
	resp, err := http.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Nearkit-Error")
}

func searchBody(k, shards, d int) []byte {
	b := []byte{}
	for _, v := range []int{k, 0, 0, 0, shards, d} {
		b = putU32(b, uint32(v))
	}
	for i := range shards {
		b = putU32(b, uint32(i))
	}
	return putF32s(b, make([]float32, d))
}

func TestBadRequests(t *testing.T) {
	l, _ := cluster.NewLocal(dim, flatFactory)
	h, _ := Handler(l, HandlerConfig{Dim: dim, MaxBody: 1 << 16, MaxK: 100})
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx := context.Background()
	l.FinishImport(ctx, 0)
	vec := func(n int) []byte { return encodeVectors(nil, seqIDs(n), make([]float32, n*dim), dim) }
	for _, tc := range []struct {
		name, path string
		body       []byte
		status     int
		code       string
	}{
		{"ok search", "/v1/search", searchBody(5, 1, dim), 200, ""},
		{"truncated search", "/v1/search", searchBody(5, 1, dim)[:30], 400, "bad-request"},
		{"trailing bytes", "/v1/search", append(searchBody(5, 1, dim), 0), 400, "bad-request"},
		{"wrong dim", "/v1/search", searchBody(5, 1, dim+1), 400, "dimension"},
		{"k=0", "/v1/search", searchBody(0, 1, dim), 400, "invalid-k"},
		{"k over limit", "/v1/search", searchBody(101, 1, dim), 413, "too-large"},
		{"shard not held", "/v1/search", searchBody(5, 2, dim), 404, "shard-not-held"},
		{"forged count", "/v1/search", append(putU32(putU32(putU32(putU32(putU32(nil, 5), 0), 0), 0), 1<<30), searchBody(0, 0, dim)[20:]...), 400, "bad-request"},
		{"body too large", "/v1/add?shard=0", vec(2000), 413, "too-large"},
		{"no shard", "/v1/add", vec(2), 400, "bad-request"},
		{"bad shard", "/v1/add?shard=-3", vec(2), 400, "bad-request"},
		{"shard out of range", "/v1/add?shard=70000", vec(2), 400, "invalid-config"},
		{"ok add", "/v1/add?shard=0", vec(2), 200, ""},
		{"add wrong dim", "/v1/add?shard=0", encodeVectors(nil, []uint64{1}, make([]float32, dim+1), dim+1), 400, "dimension"},
		{"forged vector count", "/v1/add?shard=0", putU32(putU32(nil, 1<<31), dim), 400, "bad-request"},
		{"duplicate", "/v1/add?shard=0", encodeVectors(nil, []uint64{0}, slices.Repeat([]float32{1}, dim), dim), 409, "duplicate-id"},
		{"nan", "/v1/add?shard=0", encodeVectors(nil, []uint64{50}, append(make([]float32, dim-1), float32frombits(0x7fc00000)), dim), 400, "invalid-vector"},
	} {
		status, code := post(t, srv.URL+tc.path, tc.body)
		if status != tc.status || code != tc.code {
			t.Errorf("%s: %d %q, want %d %q", tc.name, status, code, tc.status, tc.code)
		}
	}
	// The client turns the codes back into sentinels.
	cl, _ := NewClient(srv.URL, dim, srv.Client())
	if _, err := cl.Search(ctx, &cluster.SearchRequest{Shards: []int{9}, Query: make([]float32, dim), K: 3}); !errors.Is(err, cluster.ErrShardNotHeld) {
		t.Errorf("client: shard not held: %v", err)
	}
	if err := cl.Add(ctx, 0, []uint64{0}, slices.Repeat([]float32{1}, dim)); !errors.Is(err, nearkit.ErrDuplicateID) {
		t.Errorf("client: duplicate: %v", err)
	}
	if _, err := cl.Search(ctx, &cluster.SearchRequest{Shards: []int{0}, Query: make([]float32, dim), K: 3,
		Opts: nearkit.SearchOptions{Filter: nearkit.FilterFunc(func(uint64) bool { return true })}}); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("client: filter: %v", err)
	}
	dead, _ := NewClient("http://127.0.0.1:1", dim, nil)
	if _, err := dead.Held(ctx); !errors.Is(err, cluster.ErrNodeDown) {
		t.Errorf("client: dead node: %v", err)
	}
}

// TestForgedExport feeds the client export streams a broken or hostile
// node could send.
func TestForgedExport(t *testing.T) {
	frame := func(n, d uint32) []byte { return putU32(putU32(nil, n), d) }
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"cut short", encodeVectors(nil, []uint64{1, 2}, make([]float32, 2*dim), dim)},
		{"huge frame", frame(1<<30, dim)},
		{"wrong dim", frame(1, dim+1)},
		{"huge error", frame(errFrame, 1<<30)},
		{"empty", nil},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tc.body) }))
		cl, _ := NewClient(srv.URL, dim, srv.Client())
		err := cl.Export(context.Background(), 0, func([]uint64, []float32) error { return nil })
		if !errors.Is(err, nearkit.ErrCorrupt) {
			t.Errorf("%s: %v", tc.name, err)
		}
		srv.Close()
	}
}

// TestForgedSearchResponse: a search answer the router could not merge
// correctly is refused, not passed on.
func TestForgedSearchResponse(t *testing.T) {
	hit := func(b []byte, id uint64, d float32) []byte {
		return putU32(binary.LittleEndian.AppendUint64(b, id), math.Float32bits(d))
	}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"more than k", hit(hit(hit(putU32(nil, 3), 1, 1), 2, 2), 3, 3)},
		{"count beyond body", putU32(nil, 2)},
		{"unsorted", hit(hit(putU32(nil, 2), 1, 2), 2, 1)},
		{"same hit twice", hit(hit(putU32(nil, 2), 1, 1), 1, 1)},
		{"NaN", hit(putU32(nil, 1), 1, float32(math.NaN()))},
		{"trailing", append(hit(putU32(nil, 1), 1, 1), 0)},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tc.body) }))
		cl, _ := NewClient(srv.URL, dim, srv.Client())
		_, err := cl.Search(context.Background(), &cluster.SearchRequest{Shards: []int{0}, Query: make([]float32, dim), K: 2})
		if !errors.Is(err, nearkit.ErrCorrupt) {
			t.Errorf("%s: %v", tc.name, err)
		}
		srv.Close()
	}
}

func TestTLSHTTP2(t *testing.T) {
	l, _ := cluster.NewLocal(dim, flatFactory)
	h, _ := Handler(l, HandlerConfig{Dim: dim})
	var proto atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(int32(r.ProtoMajor))
		h.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	cl, _ := NewClient(srv.URL, dim, srv.Client())
	ctx := context.Background()
	if err := cl.Add(ctx, 3, []uint64{1, 2}, make([]float32, 2*dim)); err != nil {
		t.Fatal(err)
	}
	if held, err := cl.Held(ctx); err != nil || !slices.Equal(held, []int{3}) {
		t.Fatalf("held %v %v", held, err)
	}
	if proto.Load() != 2 {
		t.Fatalf("served over HTTP/%d", proto.Load())
	}
}
