package httpnode

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nearkit/nearkit"
	"github.com/nearkit/nearkit/cluster"
	"github.com/nearkit/nearkit/internal/check"
)

// maxFrame caps the vectors in one export frame the client accepts, so a
// forged stream cannot make it allocate without bound.
const maxFrame = 1 << 16

// NewTransport returns a transport speaking HTTP/2: over TLS with
// tlsConfig, or cleartext HTTP/2 (h2c, for a trusted network or loopback)
// when tlsConfig is nil. The server must match: an http.Server with
// TLSConfig, or one whose Protocols enable UnencryptedHTTP2.
func NewTransport(tlsConfig *tls.Config) *http.Transport {
	t := &http.Transport{
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSClientConfig:     tlsConfig,
	}
	if tlsConfig == nil {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		t.Protocols = &p
	}
	return t
}

// Client is a cluster.Node that calls a Handler at a base URL. It is safe
// for concurrent use.
type Client struct {
	base string
	dim  int
	hc   *http.Client
}

var _ cluster.Node = (*Client)(nil)

// NewClient returns a client of the node served at base (for example
// "https://10.0.0.7:7070") holding vectors of dimension dim, over hc
// (the host's own client, with its TLS settings and timeouts; one over
// NewTransport(nil) when nil).
func NewClient(base string, dim int, hc *http.Client) (*Client, error) {
	if dim <= 0 || base == "" {
		return nil, fmt.Errorf("%w: httpnode: NewClient needs a base URL and dim > 0", nearkit.ErrInvalidConfig)
	}
	if hc == nil {
		hc = &http.Client{Transport: NewTransport(nil)}
	}
	return &Client{base: strings.TrimSuffix(base, "/"), dim: dim, hc: hc}, nil
}

// Close closes the client's idle connections.
func (c *Client) Close() error {
	c.hc.CloseIdleConnections()
	return nil
}

// do sends a request and returns the response when it is 200; other
// statuses become errors wrapping the node's sentinel.
func (c *Client) do(ctx context.Context, method, path string, shard int, body []byte) (*http.Response, error) {
	url := c.base + path
	if shard >= 0 {
		url += "?shard=" + strconv.Itoa(shard)
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("%w: httpnode: %v", nearkit.ErrInvalidConfig, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s: %v", cluster.ErrNodeDown, c.base, err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	text := strings.TrimSpace(string(msg))
	code := resp.Header.Get("X-Nearkit-Error")
	for _, e := range errorCodes {
		if e.code == code {
			return nil, fmt.Errorf("%w: %s: %s", e.err, c.base, text)
		}
	}
	return nil, fmt.Errorf("httpnode: %s: %s: %s", c.base, resp.Status, text)
}

// call sends a request and reads the whole 200 response body.
func (c *Client) call(ctx context.Context, method, path string, shard int, body []byte) ([]byte, error) {
	resp, err := c.do(ctx, method, path, shard, body)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, DefaultMaxBody))
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %s: reading response: %v", cluster.ErrNodeDown, c.base, err)
	}
	return b, nil
}

// Search implements cluster.Node. A Filter cannot cross the network: a
// request carrying one fails with nearkit.ErrInvalidConfig.
func (c *Client) Search(ctx context.Context, req *cluster.SearchRequest) ([]nearkit.Result, error) {
	if req.Opts.Filter != nil {
		return nil, fmt.Errorf("%w: httpnode: a Filter cannot be sent to a remote node", nearkit.ErrInvalidConfig)
	}
	if err := check.Vector(req.Query, c.dim); err != nil {
		return nil, err
	}
	if err := check.K(req.K); err != nil {
		return nil, err
	}
	if req.K > 1<<31 || req.Opts.Ef < 0 || req.Opts.NProbe < 0 || req.Opts.Rerank < 0 {
		return nil, fmt.Errorf("%w: httpnode: k or search options out of range", nearkit.ErrInvalidConfig)
	}
	b := make([]byte, 0, 24+4*len(req.Shards)+4*len(req.Query))
	for _, v := range []int{req.K, req.Opts.Ef, req.Opts.NProbe, req.Opts.Rerank, len(req.Shards), len(req.Query)} {
		b = putU32(b, uint32(v))
	}
	for _, s := range req.Shards {
		b = putU32(b, uint32(s))
	}
	b = putF32s(b, req.Query)
	body, err := c.call(ctx, "POST", "/v1/search", -1, b)
	if err != nil {
		return nil, err
	}
	rd := &reader{b: body}
	n := rd.u32()
	if !rd.need(uint64(n), 12) || int(n) > req.K {
		return nil, fmt.Errorf("%w: httpnode: search response of %d bytes", nearkit.ErrCorrupt, len(body))
	}
	out := make([]nearkit.Result, n)
	for i := range out {
		out[i].ID = binary.LittleEndian.Uint64(rd.b)
		out[i].Distance = float32frombits(binary.LittleEndian.Uint32(rd.b[8:]))
		rd.b = rd.b[12:]
	}
	if rd.done() != nil {
		return nil, fmt.Errorf("%w: httpnode: search response has trailing bytes", nearkit.ErrCorrupt)
	}
	// The router merges the nodes' lists by their heads and takes an ID's
	// first hit: a list out of order, or a NaN, would give a wrong answer
	// without an error.
	for i := range out {
		if d := out[i].Distance; d != d {
			return nil, fmt.Errorf("%w: httpnode: search response has a NaN distance", nearkit.ErrCorrupt)
		}
		if i > 0 && nearkit.CompareResults(out[i-1], out[i]) >= 0 {
			return nil, fmt.Errorf("%w: httpnode: search response not in ascending (distance, id) order", nearkit.ErrCorrupt)
		}
	}
	return out, nil
}

func (c *Client) sendVectors(ctx context.Context, path string, shard int, ids []uint64, vecs []float32) error {
	if err := check.Batch(vecs, c.dim, len(ids)); err != nil {
		return err
	}
	_, err := c.call(ctx, "POST", path, shard, encodeVectors(make([]byte, 0, 8+8*len(ids)+4*len(vecs)), ids, vecs, c.dim))
	return err
}

// Add implements cluster.Node.
func (c *Client) Add(ctx context.Context, shard int, ids []uint64, vecs []float32) error {
	return c.sendVectors(ctx, "/v1/add", shard, ids, vecs)
}

// Import implements cluster.Node.
func (c *Client) Import(ctx context.Context, shard int, ids []uint64, vecs []float32) error {
	return c.sendVectors(ctx, "/v1/import", shard, ids, vecs)
}

// Delete implements cluster.Node.
func (c *Client) Delete(ctx context.Context, shard int, ids []uint64) error {
	b := putU32(make([]byte, 0, 4+8*len(ids)), uint32(len(ids)))
	_, err := c.call(ctx, "POST", "/v1/delete", shard, putU64s(b, ids))
	return err
}

// BeginImport implements cluster.Node.
func (c *Client) BeginImport(ctx context.Context, shard int) error {
	_, err := c.call(ctx, "POST", "/v1/begin", shard, []byte{})
	return err
}

// FinishImport implements cluster.Node.
func (c *Client) FinishImport(ctx context.Context, shard int) error {
	_, err := c.call(ctx, "POST", "/v1/finish", shard, []byte{})
	return err
}

// Drop implements cluster.Node.
func (c *Client) Drop(ctx context.Context, shard int) error {
	_, err := c.call(ctx, "POST", "/v1/drop", shard, []byte{})
	return err
}

// Held implements cluster.Node.
func (c *Client) Held(ctx context.Context) ([]int, error) {
	body, err := c.call(ctx, "GET", "/v1/held", -1, nil)
	if err != nil {
		return nil, err
	}
	rd := &reader{b: body}
	held := rd.u32s(uint64(rd.u32()))
	if rd.done() != nil {
		return nil, fmt.Errorf("%w: httpnode: held response of %d bytes", nearkit.ErrCorrupt, len(body))
	}
	return held, nil
}

// Export implements cluster.Node, reading the node's frames as they
// arrive.
func (c *Client) Export(ctx context.Context, shard int, fn func(ids []uint64, vecs []float32) error) error {
	resp, err := c.do(ctx, "GET", "/v1/export", shard, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 1<<16)
	var hdr [8]byte
	var raw []byte
	ids := make([]uint64, 0, 512)
	vecs := make([]float32, 0, 512*c.dim)
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return c.streamErr(ctx, err)
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		d := binary.LittleEndian.Uint32(hdr[4:])
		switch {
		case n == errFrame:
			if d > 1<<16 {
				return fmt.Errorf("%w: httpnode: export error frame of %d bytes", nearkit.ErrCorrupt, d)
			}
			msg := make([]byte, d)
			io.ReadFull(br, msg)
			return fmt.Errorf("httpnode: %s: export: %s", c.base, msg)
		case int(d) != c.dim:
			return fmt.Errorf("%w: httpnode: export frame of dimension %d, want %d", nearkit.ErrCorrupt, d, c.dim)
		case n == 0:
			return nil
		case n > maxFrame:
			return fmt.Errorf("%w: httpnode: export frame of %d vectors", nearkit.ErrCorrupt, n)
		}
		size := int(n) * (8 + 4*c.dim)
		if cap(raw) < size {
			raw = make([]byte, size)
		}
		raw = raw[:size]
		if _, err := io.ReadFull(br, raw); err != nil {
			return c.streamErr(ctx, err)
		}
		rd := &reader{b: raw}
		ids, vecs = ids[:0], vecs[:0]
		for range n {
			ids = append(ids, binary.LittleEndian.Uint64(rd.b))
			rd.b = rd.b[8:]
		}
		for range int(n) * c.dim {
			vecs = append(vecs, float32frombits(binary.LittleEndian.Uint32(rd.b)))
			rd.b = rd.b[4:]
		}
		if err := fn(ids, vecs); err != nil {
			return err
		}
	}
}

func (c *Client) streamErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: httpnode: %s: export stream cut short", nearkit.ErrCorrupt, c.base)
	}
	return fmt.Errorf("%w: %s: %v", cluster.ErrNodeDown, c.base, err)
}
