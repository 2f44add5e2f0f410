// Package answer compares a sharded search's results with one index's, for
// the tests of cluster, cluster/httpnode and cluster/gossip.
package answer

import (
	"math"

	"github.com/nearkit/nearkit"
)

// Same reports whether got is the exact answer want computed by one index:
// the same distances within a few ulps (a kernel sums a vector in another
// order depending on where it sits in its shard's blocks), and the same
// IDs, except that IDs at tied distances may come in either order.
func Same(got, want []nearkit.Result) bool {
	if len(got) != len(want) {
		return false
	}
	close := func(a, b float32) bool {
		return math.Abs(float64(a)-float64(b)) <= 1e-5*math.Max(1, math.Abs(float64(b)))
	}
	for i := range got {
		if !close(got[i].Distance, want[i].Distance) {
			return false
		}
		if got[i].ID == want[i].ID {
			continue
		}
		tied := false
		for j := range want {
			if want[j].ID == got[i].ID && close(want[j].Distance, got[i].Distance) {
				tied = true
				break
			}
		}
		if !tied {
			return false
		}
	}
	return true
}
