package main

import (
	"context"
	"encoding/json"
	"expvar"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nearkit/nearkit/collection"
)

// start serves dir on a loopback port and returns the base URL and a
// function that shuts the service down (as SIGTERM would) and returns
// serve's error.
func start(t *testing.T, dir string) (string, *expvar.Map, func() error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	vars := new(expvar.Map).Init()
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, ln, dir, collection.Config{Dim: 3, CheckpointInterval: time.Hour}, vars, t.Logf)
	}()
	url := "http://" + ln.Addr().String()
	for i := 0; ; i++ { // wait until the collection is open and serving
		resp, err := http.Get(url + "/stats")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i == 100 {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return url, vars, func() error { cancel(); return <-done }
}

func call(t *testing.T, method, url, body string, wantCode int) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantCode {
		t.Fatalf("%s %s: %d %s, want %d", method, url, resp.StatusCode, b, wantCode)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %q is not JSON: %v", method, url, b, err)
	}
	return out
}

func keys(res map[string]any) string {
	var ks []string
	for _, h := range res["hits"].([]any) {
		ks = append(ks, h.(map[string]any)["key"].(string))
	}
	return strings.Join(ks, ",")
}

func TestServiceOverHTTP(t *testing.T) {
	dir := t.TempDir()
	url, vars, stop := start(t, dir)
	if got := keys(call(t, "POST", url+"/search", `{"vector":[1,0,0]}`, 200)); got != "" {
		t.Errorf("empty collection found %q", got)
	}
	call(t, "POST", url+"/docs", `{"documents":[
		{"key":"en-2024","vector":[1,0,0],"metadata":{"lang":"en","year":2024},"payload":"hello"},
		{"key":"fr-2019","vector":[0.9,0.1,0],"metadata":{"lang":"fr","year":2019}},
		{"key":"en-2010","vector":[0.8,0.2,0],"metadata":{"lang":"en","year":2010}},
		{"key":"far","vector":[0,0,1],"metadata":{"lang":"en","year":2024}}]}`, 200)

	q := `{"vector":[1,0.05,0],"k":%d,"where":%s}`
	for _, c := range []struct {
		k           int
		where, want string
	}{
		{4, `{}`, "en-2024,fr-2019,en-2010,far"},
		{2, `{}`, "en-2024,fr-2019"},
		{4, `{"lang":"en"}`, "en-2024,en-2010,far"},
		{4, `{"lang":"en","year":{"lt":2020}}`, "en-2010"},
		{4, `{"year":{"gte":2019,"lt":2020}}`, "fr-2019"},
		{4, `{"lang":{"in":["fr","de"]}}`, "fr-2019"},
	} {
		if got := keys(call(t, "POST", url+"/search", fmt.Sprintf(q, c.k, c.where), 200)); got != c.want {
			t.Errorf("where %s: %s, want %s", c.where, got, c.want)
		}
	}
	d := call(t, "GET", url+"/docs/en-2024", "", 200)
	if d["payload"] != "hello" || d["metadata"].(map[string]any)["year"] != 2024.0 {
		t.Errorf("GET en-2024: %v", d)
	}

	// Bad input: clear 4xx errors, never a crash.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/docs", `{"documents":[{"key":"x","vector":[1,2]}]}`},  // dimension
		{"POST", "/docs", `{"documents":[{"key":"","vector":[1,2,3]}]}`}, // empty key
		{"POST", "/docs", `{"documents":[{"key":"x","vector":[1,2,3],"metadata":{"a":[1]}}]}`},
		{"POST", "/search", `{"vector":[1,0,0],"k":100000}`},
		{"POST", "/search", `{"vector":[1,0,0],"where":{"year":{"near":3}}}`},
		{"POST", "/search", `{"vector":[1,0]}`},
		{"POST", "/search", `not json`},
	} {
		res := call(t, c.method, url+c.path, c.body, 400)
		if res["error"] == nil {
			t.Errorf("%s %s: no error message", c.method, c.body)
		}
	}
	if !testing.Short() { // 16 MB of JSON is slow under -race
		call(t, "POST", url+"/docs", `{"documents":[{"key":"big","vector":[`+strings.Repeat("1,", maxBody/2)+`1]}]}`, 413)
	}
	call(t, "DELETE", url+"/docs/fr-2019", "", 200)
	call(t, "DELETE", url+"/docs/fr-2019", "", 404)
	call(t, "GET", url+"/docs/fr-2019", "", 404)

	st := call(t, "GET", url+"/stats", "", 200)
	if st["documents"] != 3.0 || st["search_requests"] == nil {
		t.Errorf("stats: %v", st)
	}
	if !strings.Contains(vars.String(), `"upsert_requests"`) {
		t.Errorf("vars: %s", vars.String())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// Restart on the same directory: keys, vectors and metadata persisted.
	url, _, stop = start(t, dir)
	defer stop()
	if got := keys(call(t, "POST", url+"/search", fmt.Sprintf(q, 4, `{"lang":"en"}`), 200)); got != "en-2024,en-2010,far" {
		t.Errorf("after restart: %s", got)
	}
	call(t, "GET", url+"/docs/fr-2019", "", 404)
	if d := call(t, "GET", url+"/docs/en-2024", "", 200); d["payload"] != "hello" {
		t.Errorf("after restart: %v", d)
	}
}
