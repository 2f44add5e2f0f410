package cluster

import (
	"encoding/json"
	"errors"
	"expvar"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/nearkit/nearkit"
)

// Stats counts what the router did, per node, and Publish serves the same
// snapshot through expvar as JSON.
func TestStatsPublish(t *testing.T) {
	c := newTestCluster(t, 3, RouterConfig{Cluster: Config{Shards: 32, Replicas: 2}})
	rng := rand.New(rand.NewPCG(9, 9))
	c.load(rng, 0, 500)
	const searches = 25
	queries := randVecs(rng, searches)
	for i := range searches {
		if _, err := c.r.Search(t.Context(), queries[i*testDim:(i+1)*testDim], 5, nearkit.SearchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	st := c.r.Stats()
	if st.Searches != searches {
		t.Errorf("Searches %d, want %d", st.Searches, searches)
	}
	if len(st.Nodes) != 3 {
		t.Fatalf("stats for %d nodes, want 3: %+v", len(st.Nodes), st.Nodes)
	}
	var nodeSearches, writes, hedges int64
	for name, ns := range st.Nodes {
		var inBuckets int64
		for _, b := range ns.Latency {
			inBuckets += b
		}
		if inBuckets != ns.Searches {
			t.Errorf("%s: %d latencies in buckets, %d searches", name, inBuckets, ns.Searches)
		}
		if ns.Searches > 0 && ns.P95 <= 0 {
			t.Errorf("%s: p95 %v after %d searches", name, ns.P95, ns.Searches)
		}
		if ns.Errors != 0 || ns.Timeouts != 0 {
			t.Errorf("%s: errors %d, timeouts %d on a healthy cluster", name, ns.Errors, ns.Timeouts)
		}
		nodeSearches += ns.Searches
		writes += ns.Writes
		hedges += ns.Hedges
	}
	// Every search asks at least one node, and no more than all three
	// plus the replicas its hedges asked.
	if nodeSearches < searches || nodeSearches > 3*searches+hedges {
		t.Errorf("nodes answered %d requests for %d searches (%d hedges)", nodeSearches, searches, hedges)
	}
	if writes == 0 {
		t.Error("no writes counted after loading 500 vectors")
	}

	name := "nearkit-cluster-stats-" + strconv.FormatInt(publishRuns.Add(1), 10) // unique under -count
	if err := c.r.Publish(name); err != nil {
		t.Fatal(err)
	}
	if err := c.r.Publish(name); !errors.Is(err, nearkit.ErrInvalidConfig) {
		t.Errorf("second Publish of %q: %v, want ErrInvalidConfig", name, err)
	}
	v := expvar.Get(name)
	if v == nil {
		t.Fatal("Publish did not register the variable")
	}
	var got Stats
	if err := json.Unmarshal([]byte(v.String()), &got); err != nil {
		t.Fatalf("expvar value is not JSON: %v", err)
	}
	if got.Searches != searches || len(got.Nodes) != 3 {
		t.Errorf("published stats %+v, want %d searches over 3 nodes", got, searches)
	}
}

// publishRuns numbers the expvar names the test publishes.
var publishRuns atomic.Int64
