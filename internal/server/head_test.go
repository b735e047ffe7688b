package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestHeadAnswersLikeGet walks every GET route the router has, so a route
// added later without its HEAD twin fails here. It talks to a real
// net/http server: the body of a HEAD answer is dropped there, not in gin.
func TestHeadAnswersLikeGet(t *testing.T) {
	e := newTestEnv(t, nil)
	e.readiness.MarkReady()
	engine, ok := e.handler.(*gin.Engine)
	if !ok {
		t.Fatalf("New returned %T, want *gin.Engine", e.handler)
	}
	srv := httptest.NewServer(e.handler)
	defer srv.Close()

	heads := map[string]bool{}
	var gets []string
	for _, route := range engine.Routes() {
		switch route.Method {
		case http.MethodHead:
			heads[route.Path] = true
		case http.MethodGet:
			gets = append(gets, route.Path)
		}
	}
	if len(gets) < 7 {
		t.Fatalf("only %d GET routes found: %v", len(gets), gets)
	}
	for _, path := range gets {
		if !heads[path] {
			t.Errorf("GET %s has no HEAD route; register it with getAndHead", path)
			continue
		}
		target := strings.Replace(path, "*filepath", "style.css", 1)
		get := fetch(t, http.MethodGet, srv.URL+target)
		head := fetch(t, http.MethodHead, srv.URL+target)
		if head.status != get.status || head.status != http.StatusOK {
			t.Errorf("%s: HEAD status %d, GET status %d, want both 200", target, head.status, get.status)
		}
		for _, name := range []string{"Content-Type", "Cache-Control", "ETag"} {
			if head.header.Get(name) != get.header.Get(name) {
				t.Errorf("%s: HEAD %s %q, GET %q", target, name, head.header.Get(name), get.header.Get(name))
			}
		}
		// /metrics changes between two requests (the first one is counted).
		if path != "/metrics" && head.header.Get("Content-Length") != get.header.Get("Content-Length") {
			t.Errorf("%s: HEAD Content-Length %q, GET %q", target, head.header.Get("Content-Length"),
				get.header.Get("Content-Length"))
		}
		if head.body != "" {
			t.Errorf("%s: HEAD answered with a body: %q", target, head.body)
		}
		if get.body == "" {
			t.Errorf("%s: GET answered without a body", target)
		}
	}
}

type answer struct {
	status int
	header http.Header
	body   string
}

func fetch(t *testing.T, method, url string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s %s: %v", method, url, err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(body)}
}
