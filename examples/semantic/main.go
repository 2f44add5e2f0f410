// Command semantic is a service-shaped program embedding nearkit: an HTTP
// JSON API over a collection of documents with string keys, vectors,
// metadata and payloads (package collection), searched by vector with
// metadata filters. Every write goes through the collection's write-ahead
// log before it is acknowledged; a snapshot (checkpoint) is taken every
// -snapshot interval and at shutdown, so a restart replays little; SIGINT
// or SIGTERM stops accepting requests, lets those in flight finish, then
// checkpoints and closes. Counters and store statistics are published
// with expvar at /debug/vars (and alone at /stats).
//
//	go run ./examples/semantic -dir /tmp/sem -dim 3 &
//	curl -d '{"documents":[{"key":"a","vector":[1,0,0],"metadata":{"lang":"en","year":2024}}]}' localhost:8080/docs
//	curl -d '{"vector":[1,0.1,0],"k":5,"where":{"lang":"en","year":{"gte":2020}}}' localhost:8080/search
//	curl localhost:8080/docs/a
//	curl -X DELETE localhost:8080/docs/a
//
// The vectors come from the caller's embedding model; the service only
// checks their dimension and values.
package main

import (
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nearkit/nearkit/collection"
	"github.com/nearkit/nearkit/distance"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		log.Fatal(err)
	}
}

func run(args []string) error {
	fl := flag.NewFlagSet("semantic", flag.ContinueOnError)
	addr := fl.String("addr", "localhost:8080", "listen address")
	dir := fl.String("dir", "semantic-data", "directory of the collection (log and snapshots)")
	dim := fl.Int("dim", 384, "vector dimension (fixed when the collection is created)")
	metric := fl.String("metric", "cosine", "distance: cosine, l2 or ip")
	snapshot := fl.Duration("snapshot", time.Minute, "interval between snapshots")
	if err := fl.Parse(args); err != nil {
		return err
	}
	m, err := distance.ParseMetric(*metric)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	vars := new(expvar.Map).Init()
	expvar.Publish("semantic", vars)
	return serve(ctx, ln, *dir, collection.Config{Dim: *dim, Metric: m, CheckpointInterval: *snapshot}, vars, log.Printf)
}

// serve opens the collection in dir and serves the API on ln until ctx is
// cancelled, then shuts down gracefully: in-flight requests finish (for
// up to 10 s), a final snapshot is taken and the collection closed. The
// server's counters and statistics go into vars.
func serve(ctx context.Context, ln net.Listener, dir string, cfg collection.Config, vars *expvar.Map, logf func(string, ...any)) (err error) {
	c, err := collection.Open(ctx, dir, cfg)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}()
	rec := c.Recovery()
	logf("semantic: %d documents in %s (recovery: %+v); listening on %s", c.Len(), dir, rec, ln.Addr())
	s := newServer(c, vars)
	srv := &http.Server{Handler: s.handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logf("semantic: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	if err := c.Checkpoint(sctx); err != nil {
		return fmt.Errorf("final snapshot: %w", err)
	}
	logf("semantic: snapshot taken, %d documents", c.Len())
	return nil
}
