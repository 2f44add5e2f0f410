package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"expvar"
	"fmt"
	"net/http"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/collection"
)

// Request limits: a body larger than maxBody or a k above maxK is refused
// before any work is done.
const (
	maxBody = 16 << 20
	maxK    = 1000
)

// server is the HTTP JSON API over one collection. Its handlers are safe
// for concurrent use: the collection is.
type server struct {
	c    *collection.Collection
	vars *expvar.Map // request counters and store statistics
}

func newServer(c *collection.Collection, vars *expvar.Map) *server {
	s := &server{c: c, vars: vars}
	s.vars.Set("documents", expvar.Func(func() any { return c.Len() }))
	s.vars.Set("store", expvar.Func(func() any {
		st := c.Stats()
		return map[string]any{
			"log_bytes": st.LogBytes, "last_lsn": st.LastLSN, "synced_lsn": st.SyncedLSN,
			"records_since_checkpoint": st.RecordsSinceCheckpoint, "checkpoints": st.Checkpoints,
			"last_checkpoint": st.LastCheckpoint, "fsyncs": st.Fsyncs,
		}
	}))
	return s
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /docs", s.wrap("upsert", s.upsert))
	mux.HandleFunc("GET /docs/{key}", s.wrap("get", s.get))
	mux.HandleFunc("DELETE /docs/{key}", s.wrap("delete", s.delete))
	mux.HandleFunc("POST /search", s.wrap("search", s.search))
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, s.vars.String())
	})
	mux.Handle("GET /debug/vars", expvar.Handler())
	return mux
}

// httpError carries a status code out of a handler.
type httpError struct {
	code int
	err  error
}

func (e *httpError) Error() string { return e.err.Error() }

func badRequest(format string, args ...any) error {
	return &httpError{http.StatusBadRequest, fmt.Errorf(format, args...)}
}

// wrap decodes nothing itself: it counts the request, turns a handler's
// error into a JSON error with a status code, and times the call.
func (s *server) wrap(name string, h func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		v, err := h(r)
		s.vars.Add(name+"_requests", 1)
		s.vars.AddFloat(name+"_seconds", time.Since(t0).Seconds())
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			s.vars.Add(name+"_errors", 1)
			code := http.StatusInternalServerError
			var he *httpError
			var mbe *http.MaxBytesError
			switch {
			case errors.As(err, &he):
				code = he.code
			case errors.As(err, &mbe):
				code = http.StatusRequestEntityTooLarge
			case errors.Is(err, nearkit.ErrDimension), errors.Is(err, nearkit.ErrInvalidVector),
				errors.Is(err, nearkit.ErrInvalidConfig), errors.Is(err, nearkit.ErrInvalidK):
				code = http.StatusBadRequest
			}
			w.WriteHeader(code)
			json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		json.NewEncoder(w).Encode(v)
	}
}

// doc is a document's JSON form: metadata values are strings, numbers or
// booleans; the payload is a string stored as bytes.
type doc struct {
	Key      string         `json:"key"`
	Vector   []float32      `json:"vector,omitempty"`
	Metadata map[string]any `json:"metadata,omitempty"`
	Payload  string         `json:"payload,omitempty"`
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("bad JSON: %v", err)
	}
	return nil
}

func toValue(field string, x any) (collection.Value, error) {
	switch v := x.(type) {
	case string:
		return collection.String(v), nil
	case float64:
		return collection.Number(v), nil
	case bool:
		return collection.Bool(v), nil
	}
	return collection.Value{}, badRequest("metadata %q: %T is not a string, number or bool", field, x)
}

func fromValue(v collection.Value) any {
	switch v.Kind() {
	case collection.KindString:
		return v.AsString()
	case collection.KindBool:
		return v.AsBool()
	}
	return v.AsNumber()
}

// upsert: {"documents": [doc, …]} → {"upserted": n}.
func (s *server) upsert(r *http.Request) (any, error) {
	var req struct {
		Documents []doc `json:"documents"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	docs := make([]collection.Document, len(req.Documents))
	for i, d := range req.Documents {
		md := make(map[string]collection.Value, len(d.Metadata))
		for f, x := range d.Metadata {
			v, err := toValue(f, x)
			if err != nil {
				return nil, err
			}
			md[f] = v
		}
		docs[i] = collection.Document{Key: d.Key, Vector: d.Vector, Metadata: md, Payload: []byte(d.Payload)}
	}
	if err := s.c.Upsert(r.Context(), docs...); err != nil {
		return nil, err
	}
	return map[string]int{"upserted": len(docs)}, nil
}

func (s *server) get(r *http.Request) (any, error) {
	d, ok := s.c.Get(r.PathValue("key"))
	if !ok {
		return nil, &httpError{http.StatusNotFound, fmt.Errorf("no document %q", r.PathValue("key"))}
	}
	out := doc{Key: d.Key, Vector: d.Vector, Metadata: map[string]any{}, Payload: string(d.Payload)}
	for f, v := range d.Metadata {
		out.Metadata[f] = fromValue(v)
	}
	return out, nil
}

func (s *server) delete(r *http.Request) (any, error) {
	key := r.PathValue("key")
	if _, ok := s.c.Get(key); !ok {
		return nil, &httpError{http.StatusNotFound, fmt.Errorf("no document %q", key)}
	}
	if err := s.c.Delete(r.Context(), key); err != nil {
		return nil, err
	}
	return map[string]string{"deleted": key}, nil
}

// search: {"vector": […], "k": 10, "ef": 0, "where": {field: cond}} →
// {"hits": [{"key", "distance", "metadata", "payload"}]}. A condition is
// a value (equality) or an object of "lt", "gte" (numbers) and "in"
// (values); several fields must all hold.
func (s *server) search(r *http.Request) (any, error) {
	var req struct {
		Vector []float32                  `json:"vector"`
		K      int                        `json:"k"`
		Ef     int                        `json:"ef"`
		Where  map[string]json.RawMessage `json:"where"`
	}
	if err := decode(r, &req); err != nil {
		return nil, err
	}
	if req.K == 0 {
		req.K = 10
	}
	if req.K < 0 || req.K > maxK {
		return nil, badRequest("k = %d, want 1..%d", req.K, maxK)
	}
	opts := []collection.QueryOption{collection.WithMetadata(), collection.WithPayload()}
	if req.Ef > 0 {
		opts = append(opts, collection.Ef(req.Ef))
	}
	if len(req.Where) > 0 {
		cond, err := parseWhere(req.Where)
		if err != nil {
			return nil, err
		}
		opts = append(opts, collection.Where(cond))
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	hits, err := s.c.Query(ctx, req.Vector, req.K, opts...)
	if errors.Is(err, nearkit.ErrEmpty) && s.c.Len() == 0 {
		err = nil // an empty collection has no hits
	}
	if err != nil {
		return nil, err
	}
	type hit struct {
		Key      string         `json:"key"`
		Distance float32        `json:"distance"`
		Metadata map[string]any `json:"metadata,omitempty"`
		Payload  string         `json:"payload,omitempty"`
	}
	out := make([]hit, len(hits))
	for i, h := range hits {
		out[i] = hit{Key: h.Key, Distance: h.Distance, Payload: string(h.Payload), Metadata: map[string]any{}}
		for f, v := range h.Metadata {
			out[i].Metadata[f] = fromValue(v)
		}
	}
	return map[string]any{"hits": out}, nil
}

func parseWhere(where map[string]json.RawMessage) (collection.Cond, error) {
	var conds []collection.Cond
	for field, raw := range where {
		var ops struct {
			Lt  *float64 `json:"lt"`
			Gte *float64 `json:"gte"`
			In  []any    `json:"in"`
		}
		if len(raw) > 0 && raw[0] == '{' {
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&ops); err != nil {
				return collection.Cond{}, badRequest("where %q: %v (want lt, gte or in)", field, err)
			}
			if ops.Lt != nil {
				conds = append(conds, collection.Less(field, *ops.Lt))
			}
			if ops.Gte != nil {
				conds = append(conds, collection.AtLeast(field, *ops.Gte))
			}
			if ops.In != nil {
				vs := make([]collection.Value, len(ops.In))
				for i, x := range ops.In {
					v, err := toValue(field, x)
					if err != nil {
						return collection.Cond{}, err
					}
					vs[i] = v
				}
				conds = append(conds, collection.In(field, vs...))
			}
			continue
		}
		var x any
		if err := json.Unmarshal(raw, &x); err != nil {
			return collection.Cond{}, badRequest("where %q: %v", field, err)
		}
		v, err := toValue(field, x)
		if err != nil {
			return collection.Cond{}, err
		}
		conds = append(conds, collection.Eq(field, v))
	}
	return collection.And(conds...), nil
}
