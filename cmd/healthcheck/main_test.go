package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRunExitStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			return
		}
		http.Error(w, "draining", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	lookup := func(url string) func(string) (string, bool) {
		return func(k string) (string, bool) {
			if k == "HEALTHCHECK_URL" {
				return url, true
			}
			return "", false
		}
	}

	var stderr strings.Builder
	if code := run(context.Background(), lookup(srv.URL+"/healthz"), &stderr); code != 0 {
		t.Fatalf("healthy server: exit %d, stderr %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run(context.Background(), lookup(srv.URL+"/readyz"), &stderr); code != 1 {
		t.Fatalf("unhealthy server: exit %d, want 1", code)
	}
	want := "healthcheck: GET " + srv.URL + "/readyz: status 503 Service Unavailable\n"
	if stderr.String() != want {
		t.Fatalf("stderr = %q, want %q", stderr.String(), want)
	}
}
