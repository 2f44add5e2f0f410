// Command cluster shows nearkit's cluster package across processes: a
// driver starts three node processes on loopback (itself, re-executed with
// -node), which find each other by gossip (hashicorp/memberlist) and serve
// their shards over HTTP/2 (httpnode). The driver loads vectors at R=2,
// queries, kills one node with SIGKILL, shows that queries still complete
// with full recall, then starts the node again and shows it rejoin and
// take its shards back.
//
//	go run . -n 20000 -dim 32
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/cluster"
	"github.com/nearkit/nearkit/cluster/gossip"
	"github.com/nearkit/nearkit/cluster/httpnode"
	"github.com/nearkit/nearkit/flat"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("cluster", flag.ExitOnError)
	node := fs.String("node", "", "run as the node of this name (used by the driver)")
	join := fs.String("join", "", "gossip address to join (node mode)")
	dim := fs.Int("dim", 32, "vector dimension")
	n := fs.Int("n", 20000, "vectors to load (driver)")
	fs.Parse(args)
	if *node != "" {
		return runNode(*node, *join, *dim)
	}
	return drive(context.Background(), os.Stdout, *n, *dim)
}

// gossipConfig is memberlist's loopback configuration, quick enough for a
// demo: a dead node leaves the member set in about a second.
func gossipConfig() *memberlist.Config {
	c := memberlist.DefaultLocalConfig()
	c.ProbeInterval = 200 * time.Millisecond
	c.ProbeTimeout = 100 * time.Millisecond
	c.GossipInterval = 20 * time.Millisecond
	c.SuspicionMult = 3
	c.SuspicionMaxTimeoutMult = 2
	c.DeadNodeReclaimTime = time.Millisecond // a restarted node comes back on other ports
	return c
}

// runNode serves a Local node over h2c and gossips its address; it prints
// "ready <gossip address>" once both listen.
func runNode(name, join string, dim int) error {
	loc, err := cluster.NewLocal(dim, func() (nearkit.Index, error) { return flat.New(flat.Config{Dim: dim}) })
	if err != nil {
		return err
	}
	h, err := httpnode.Handler(loc, httpnode.HandlerConfig{Dim: dim})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, Protocols: new(http.Protocols)}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	go srv.Serve(ln)
	var joins []string
	if join != "" {
		joins = []string{join}
	}
	ms, err := gossip.New(gossip.Config{Name: name, Addr: "http://" + ln.Addr().String(), Join: joins, Memberlist: gossipConfig()})
	if err != nil {
		return err
	}
	fmt.Printf("ready %s\n", ms.GossipAddr())
	// Run until killed, or until the driver closes our stdin.
	io.Copy(io.Discard, os.Stdin)
	ms.Leave(time.Second)
	return srv.Close()
}

// proc is a node process.
type proc struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser // the node runs until it is closed
}

func startNode(name, join string, dim int) (*proc, string, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	cmd := exec.Command(exe, "-node", name, "-join", join, "-dim", fmt.Sprint(dim))
	cmd.Env = append(os.Environ(), "NEARKIT_CLUSTER_NODE=1")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, "", err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "ready ") {
		cmd.Process.Kill()
		return nil, "", fmt.Errorf("node %s did not start: %q %v", name, line, err)
	}
	return &proc{name: name, cmd: cmd, stdin: stdin}, strings.TrimSpace(strings.TrimPrefix(line, "ready ")), nil
}

func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// dataNodes is the gossip membership without the driver, which gossips
// but holds no data (it has no transport address).
type dataNodes struct{ *gossip.Membership }

func (d dataNodes) Members() []cluster.Member {
	return slices.DeleteFunc(d.Membership.Members(), func(m cluster.Member) bool { return m.Addr == "" })
}

func waitFor(what string, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}

func drive(ctx context.Context, w io.Writer, n, dim int) error {
	ms, err := gossip.New(gossip.Config{Name: "driver", Memberlist: gossipConfig()})
	if err != nil {
		return err
	}
	defer ms.Shutdown()
	members := dataNodes{ms}
	procs := map[string]*proc{}
	defer func() {
		for _, p := range procs {
			p.kill()
		}
	}()
	for _, name := range []string{"n0", "n1", "n2"} {
		p, _, err := startNode(name, ms.GossipAddr(), dim)
		if err != nil {
			return err
		}
		procs[name] = p
	}
	if err := waitFor("three nodes", 10*time.Second, func() bool { return len(members.Members()) == 3 }); err != nil {
		return err
	}
	fmt.Fprintf(w, "3 node processes up, gossiping: %v\n", members.Members())

	hc := &http.Client{Transport: httpnode.NewTransport(nil)}
	r, err := cluster.NewRouter(cluster.RouterConfig{Dim: dim, Cluster: cluster.Config{Shards: 64, Replicas: 2}, WriteQuorum: 1}, members,
		func(m cluster.Member) (cluster.Node, error) { return httpnode.NewClient(m.Addr, dim, hc) })
	if err != nil {
		return err
	}
	defer r.Close()
	if err := r.Bootstrap(ctx); err != nil {
		return err
	}
	rebalanced := make(chan *cluster.MoveReport, 16)
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go r.AutoRebalance(actx, 300*time.Millisecond, func(rep *cluster.MoveReport, err error) {
		if err != nil {
			fmt.Fprintf(w, "  rebalance failed (retried): %v\n", err)
			return
		}
		rebalanced <- rep
	})

	// Load synthetic data (vectors in clusters, like real embeddings).
	rng := rand.New(rand.NewPCG(1, 2))
	centres := make([]float32, 50*dim)
	for i := range centres {
		centres[i] = rng.Float32() * 10
	}
	vecs := make([]float32, n*dim)
	ids := make([]uint64, n)
	for i := range n {
		ids[i] = uint64(i)
		c := rng.IntN(50)
		for j := range dim {
			vecs[i*dim+j] = centres[c*dim+j] + float32(rng.NormFloat64())
		}
	}
	start := time.Now()
	for i := 0; i < n; i += 1000 {
		j := min(i+1000, n)
		if err := r.Add(ctx, ids[i:j], vecs[i*dim:j*dim]); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "loaded %d vectors of dimension %d at R=2 in %v\n", n, dim, time.Since(start).Round(time.Millisecond))
	exact, _ := flat.New(flat.Config{Dim: dim})
	exact.AddBatch(ctx, ids, vecs)
	queries := make([]float32, 200*dim)
	for i := range queries {
		queries[i] = vecs[rng.IntN(n)*dim+i%dim] + float32(rng.NormFloat64())*0.5
	}
	measure := func(stage string) error {
		const k = 10
		hits, total := 0, 0
		start := time.Now()
		for i := range 200 {
			q := queries[i*dim : (i+1)*dim]
			qctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			got, err := r.Search(qctx, q, k, nearkit.SearchOptions{})
			cancel()
			if err != nil {
				return fmt.Errorf("%s: query %d: %w", stage, i, err)
			}
			want, _ := exact.Search(nil, q, k, nearkit.SearchOptions{})
			for _, x := range want {
				total++
				if slices.ContainsFunc(got, func(g nearkit.Result) bool { return g.ID == x.ID }) {
					hits++
				}
			}
		}
		recall := float64(hits) / float64(total)
		fmt.Fprintf(w, "%-34s 200 queries in %v, recall@10 %.4f, nodes %v\n", stage+":", time.Since(start).Round(time.Millisecond), recall, r.Placement().Nodes())
		if recall != 1 {
			return fmt.Errorf("%s: recall %.4f, want 1", stage, recall)
		}
		return nil
	}
	if err := measure("all up"); err != nil {
		return err
	}

	procs["n1"].kill()
	delete(procs, "n1")
	fmt.Fprintln(w, "SIGKILL n1")
	if err := measure("n1 killed, not yet detected"); err != nil {
		return err
	}
	if err := waitFor("n1 dropped and shards moved", 20*time.Second, func() bool {
		return !slices.Contains(r.Placement().Nodes(), "n1")
	}); err != nil {
		return err
	}
	fmt.Fprintf(w, "gossip dropped n1; shards re-replicated (epoch %d)\n", r.Placement().Epoch)
	if err := measure("after rebalance without n1"); err != nil {
		return err
	}

	p, _, err := startNode("n1", ms.GossipAddr(), dim)
	if err != nil {
		return err
	}
	procs["n1"] = p
	fmt.Fprintln(w, "restarted n1 (empty)")
	if err := waitFor("n1 rejoined and placed", 20*time.Second, func() bool {
		return slices.Contains(r.Placement().Nodes(), "n1")
	}); err != nil {
		return err
	}
	fmt.Fprintf(w, "n1 rejoined; shards moved back (epoch %d)\n", r.Placement().Epoch)
	if err := measure("after n1 rejoined"); err != nil {
		return err
	}
	st := r.Stats()
	fmt.Fprintf(w, "router: %d searches, %d partial, %d shard copies\n", st.Searches, st.PartialResults, st.ShardMoves)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range st.Nodes {
			if !yield(k) {
				return
			}
		}
	}) {
		s := st.Nodes[name]
		fmt.Fprintf(w, "  %s: %d searches, %d errors, %d failovers, %d hedges, p95 %v\n", name, s.Searches, s.Errors, s.Failovers, s.Hedges, s.P95)
	}
	return nil
}
