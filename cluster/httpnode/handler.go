// Package httpnode carries the cluster.Node interface over HTTP (HTTP/2
// with TLS, or cleartext HTTP/2 on a trusted network) with the standard
// library only: Handler serves a node, Client is a cluster.Node that calls
// one. Bodies are compact little-endian binary, not JSON.
//
// The host owns the servers and the transport: it mounts the Handler on
// its own http.Server (with its own tls.Config) and gives the Client its
// own *http.Client; NewTransport builds one for HTTP/2 with or without TLS.
package httpnode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/cluster"
)

// Default limits of a Handler.
const (
	DefaultMaxBody = 64 << 20
	DefaultMaxK    = 10000
)

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// Dim is the node's vector dimension.
	Dim int
	// MaxBody caps a request body in bytes (DefaultMaxBody when 0).
	MaxBody int64
	// MaxK caps k in a search (DefaultMaxK when 0).
	MaxK int
}

// handler serves one node.
type handler struct {
	node cluster.Node
	cfg  HandlerConfig
	mux  *http.ServeMux
}

// Handler returns an http.Handler serving node under /v1/. Bad requests
// get 4xx answers (400 malformed or invalid, 404 shard not held, 409
// duplicate ID, 413 over the limits) with the reason in the body; it is
// safe for concurrent use when node is.
func Handler(node cluster.Node, cfg HandlerConfig) (http.Handler, error) {
	if node == nil || cfg.Dim <= 0 {
		return nil, fmt.Errorf("%w: httpnode: Handler needs a node and Dim > 0", nearkit.ErrInvalidConfig)
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.MaxK == 0 {
		cfg.MaxK = DefaultMaxK
	}
	h := &handler{node: node, cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST /v1/search", h.search)
	h.mux.HandleFunc("POST /v1/add", h.vectors(node.Add))
	h.mux.HandleFunc("POST /v1/import", h.vectors(node.Import))
	h.mux.HandleFunc("POST /v1/delete", h.delete)
	h.mux.HandleFunc("POST /v1/begin", h.shardOp(node.BeginImport))
	h.mux.HandleFunc("POST /v1/finish", h.shardOp(node.FinishImport))
	h.mux.HandleFunc("POST /v1/drop", h.shardOp(node.Drop))
	h.mux.HandleFunc("GET /v1/export", h.export)
	h.mux.HandleFunc("GET /v1/held", h.held)
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

func fail(w http.ResponseWriter, err error) {
	code, status := "", http.StatusInternalServerError
	for _, c := range errorCodes {
		if errors.Is(err, c.err) {
			code, status = c.code, c.status
			break
		}
	}
	if code == "" && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		status = http.StatusServiceUnavailable
	}
	if code != "" {
		w.Header().Set("X-Nearkit-Error", code)
	}
	http.Error(w, err.Error(), status)
}

// body reads the whole request body, at most MaxBody bytes.
func (h *handler) body(r *http.Request) (*reader, error) {
	if r.ContentLength > h.cfg.MaxBody {
		return nil, fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, r.ContentLength, h.cfg.MaxBody)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.MaxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading body: %v", ErrBadRequest, err)
	}
	if int64(len(b)) > h.cfg.MaxBody {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, h.cfg.MaxBody)
	}
	return &reader{b: b}, nil
}

func shardParam(r *http.Request) (int, error) {
	s, err := strconv.Atoi(r.URL.Query().Get("shard"))
	if err != nil || s < 0 {
		return 0, fmt.Errorf("%w: shard=%q", ErrBadRequest, r.URL.Query().Get("shard"))
	}
	return s, nil
}

func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	rd, err := h.body(r)
	if err != nil {
		fail(w, err)
		return
	}
	k, ef, nprobe, rerank := rd.u32(), rd.u32(), rd.u32(), rd.u32()
	ns, dim := rd.u32(), rd.u32()
	if rd.err == nil && int(dim) != h.cfg.Dim {
		fail(w, fmt.Errorf("%w: query of dimension %d, node has %d", nearkit.ErrDimension, dim, h.cfg.Dim))
		return
	}
	shards := rd.u32s(uint64(ns))
	q := rd.f32s(uint64(dim))
	if err := rd.done(); err != nil {
		fail(w, err)
		return
	}
	if k > uint32(h.cfg.MaxK) {
		fail(w, fmt.Errorf("%w: k=%d, limit %d", ErrTooLarge, k, h.cfg.MaxK))
		return
	}
	if ef > 1<<20 || nprobe > 1<<20 || rerank > 1<<10 {
		fail(w, fmt.Errorf("%w: ef=%d nprobe=%d rerank=%d out of range", nearkit.ErrInvalidConfig, ef, nprobe, rerank))
		return
	}
	res, err := h.node.Search(r.Context(), &cluster.SearchRequest{
		Shards: shards, Query: q, K: int(k),
		Opts: nearkit.SearchOptions{Ef: int(ef), NProbe: int(nprobe), Rerank: int(rerank)},
	})
	if err != nil {
		fail(w, err)
		return
	}
	out := make([]byte, 0, 4+12*len(res))
	out = putU32(out, uint32(len(res)))
	for _, x := range res {
		out = putU64s(out, []uint64{x.ID})
		out = putF32s(out, []float32{x.Distance})
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Write(out)
}

func (h *handler) vectors(op func(context.Context, int, []uint64, []float32) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sh, err := shardParam(r)
		if err != nil {
			fail(w, err)
			return
		}
		rd, err := h.body(r)
		if err != nil {
			fail(w, err)
			return
		}
		ids, vecs, err := decodeVectors(rd, h.cfg.Dim)
		if err == nil {
			err = op(r.Context(), sh, ids, vecs)
		}
		if err != nil {
			fail(w, err)
		}
	}
}

func (h *handler) delete(w http.ResponseWriter, r *http.Request) {
	sh, err := shardParam(r)
	if err != nil {
		fail(w, err)
		return
	}
	rd, err := h.body(r)
	if err != nil {
		fail(w, err)
		return
	}
	ids := rd.u64s(uint64(rd.u32()))
	if err := rd.done(); err != nil {
		fail(w, err)
		return
	}
	if err := h.node.Delete(r.Context(), sh, ids); err != nil {
		fail(w, err)
	}
}

func (h *handler) shardOp(op func(context.Context, int) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sh, err := shardParam(r)
		if err == nil {
			err = op(r.Context(), sh)
		}
		if err != nil {
			fail(w, err)
		}
	}
}

func (h *handler) held(w http.ResponseWriter, r *http.Request) {
	held, err := h.node.Held(r.Context())
	if err != nil {
		fail(w, err)
		return
	}
	out := putU32(nil, uint32(len(held)))
	for _, s := range held {
		out = putU32(out, uint32(s))
	}
	w.Write(out)
}

// export streams frames; errors after the first frame go in an error
// frame, since the status line has been sent.
func (h *handler) export(w http.ResponseWriter, r *http.Request) {
	sh, err := shardParam(r)
	if err != nil {
		fail(w, err)
		return
	}
	started := false
	var buf []byte
	flusher, _ := w.(http.Flusher)
	err = h.node.Export(r.Context(), sh, func(ids []uint64, vecs []float32) error {
		if !started {
			w.Header().Set("Content-Type", "application/octet-stream")
			started = true
		}
		buf = encodeVectors(buf[:0], ids, vecs, h.cfg.Dim)
		_, err := w.Write(buf)
		return err
	})
	if err != nil && !started {
		fail(w, err)
		return
	}
	if err != nil {
		msg := err.Error()
		buf = putU32(buf[:0], errFrame)
		buf = putU32(buf, uint32(len(msg)))
		w.Write(append(buf, msg...))
		return
	}
	buf = putU32(buf[:0], 0)
	w.Write(putU32(buf, uint32(h.cfg.Dim)))
	if flusher != nil {
		flusher.Flush()
	}
}
