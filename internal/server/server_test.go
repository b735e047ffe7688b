package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/ginsvc/internal/version"
)

func init() {
	gin.SetMode(gin.TestMode)
}

type testEnv struct {
	handler   http.Handler
	readiness *Readiness
	logs      *bytes.Buffer
}

func newTestEnv(t *testing.T, mutate func(*Options)) *testEnv {
	t.Helper()
	logs := &bytes.Buffer{}
	opts := Options{
		ServiceName: "test-svc",
		APITimeout:  500 * time.Millisecond,
		Logger:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registry:    prometheus.NewRegistry(),
		Readiness:   NewReadiness(),
		Version:     version.Info{Version: "1.2.3", Commit: "abc123", Date: "2024-01-02T03:04:05Z", GoVersion: "go1.test"},
		Now:         func() time.Time { return time.Date(2024, 5, 6, 7, 8, 9, 0, time.FixedZone("x", 3600)) },
	}
	if mutate != nil {
		mutate(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return &testEnv{handler: h, readiness: opts.Readiness, logs: logs}
}

func (e *testEnv) do(t *testing.T, method, target string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec
}

func decodeJSON(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q, want JSON; body %q", ct, rec.Body.String())
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("decoding %q: %v", rec.Body.String(), err)
	}
	return m
}

func TestHealthz(t *testing.T) {
	e := newTestEnv(t, nil)
	e.readiness.MarkDraining()
	rec := e.do(t, http.MethodGet, "/healthz")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	if got := decodeJSON(t, rec)["status"]; got != "ok" {
		t.Errorf("status field = %v", got)
	}
}

func TestReadyzStates(t *testing.T) {
	e := newTestEnv(t, nil)
	check := func(wantCode int, wantStatus string) {
		t.Helper()
		rec := e.do(t, http.MethodGet, "/readyz")
		if rec.Code != wantCode {
			t.Errorf("code = %d, want %d", rec.Code, wantCode)
		}
		if got := decodeJSON(t, rec)["status"]; got != wantStatus {
			t.Errorf("status = %v, want %s", got, wantStatus)
		}
	}
	check(http.StatusServiceUnavailable, "starting")
	e.readiness.MarkReady()
	check(http.StatusOK, "ready")
	e.readiness.MarkDraining()
	check(http.StatusServiceUnavailable, "draining")
	e.readiness.MarkReady() // must not resurrect a draining instance
	check(http.StatusServiceUnavailable, "draining")
}

func TestVersion(t *testing.T) {
	e := newTestEnv(t, nil)
	rec := e.do(t, http.MethodGet, "/version")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	got := decodeJSON(t, rec)
	want := map[string]any{"version": "1.2.3", "commit": "abc123", "date": "2024-01-02T03:04:05Z", "go_version": "go1.test"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("unexpected fields: %v", got)
	}
}

func TestPing(t *testing.T) {
	e := newTestEnv(t, nil)
	tests := []struct {
		target   string
		wantCode int
		wantErr  string
	}{
		{"/api/v1/ping", http.StatusOK, ""},
		{"/api/v1/ping?delay_ms=0", http.StatusOK, ""},
		{"/api/v1/ping?delay_ms=20", http.StatusOK, ""},
		{"/api/v1/ping?delay_ms=501", http.StatusBadRequest, "delay_ms must be an integer between 0 and 500"},
		{"/api/v1/ping?delay_ms=-1", http.StatusBadRequest, "delay_ms must be an integer between 0 and 500"},
		{"/api/v1/ping?delay_ms=abc", http.StatusBadRequest, "delay_ms must be an integer between 0 and 500"},
		{"/api/v1/ping?delay_ms=", http.StatusBadRequest, "delay_ms must be an integer between 0 and 500"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			rec := e.do(t, http.MethodGet, tt.target)
			if rec.Code != tt.wantCode {
				t.Fatalf("code = %d, want %d; body %s", rec.Code, tt.wantCode, rec.Body)
			}
			body := decodeJSON(t, rec)
			if tt.wantErr != "" {
				if body["error"] != tt.wantErr {
					t.Errorf("error = %v, want %q", body["error"], tt.wantErr)
				}
				return
			}
			if body["message"] != "pong" || body["time"] != "2024-05-06T06:08:09Z" {
				t.Errorf("body = %v", body)
			}
		})
	}
}

func TestPingDelayWaits(t *testing.T) {
	e := newTestEnv(t, nil)
	start := time.Now()
	rec := e.do(t, http.MethodGet, "/api/v1/ping?delay_ms=100")
	if rec.Code != http.StatusOK {
		t.Fatalf("code = %d", rec.Code)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("answered after %s, want at least 100ms", d)
	}
}

func TestPingHitsAPITimeout(t *testing.T) {
	// The full allowed delay equals the API timeout, so the deadline wins
	// (or ties); either way the client must not get an empty 200.
	e := newTestEnv(t, func(o *Options) { o.APITimeout = 50 * time.Millisecond })
	for range 5 {
		rec := e.do(t, http.MethodGet, "/api/v1/ping?delay_ms=50")
		switch rec.Code {
		case http.StatusOK:
			if decodeJSON(t, rec)["message"] != "pong" {
				t.Fatalf("200 without pong: %s", rec.Body)
			}
		case http.StatusGatewayTimeout:
			if got := decodeJSON(t, rec)["error"]; got != "request exceeded the API timeout of 50ms" {
				t.Fatalf("error = %v", got)
			}
		default:
			t.Fatalf("code = %d, body %s", rec.Code, rec.Body)
		}
	}
}

func TestPingClientGone(t *testing.T) {
	e := newTestEnv(t, nil)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/ping?delay_ms=400", nil)
	ctx, cancel := context.WithCancel(req.Context())
	req = req.WithContext(ctx)
	time.AfterFunc(20*time.Millisecond, cancel)
	rec := httptest.NewRecorder()
	start := time.Now()
	e.handler.ServeHTTP(rec, req)
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("handler ignored cancellation, took %s", d)
	}
	if rec.Code != statusClientClosedRequest {
		t.Errorf("code = %d, want %d", rec.Code, statusClientClosedRequest)
	}
}

func TestMetrics(t *testing.T) {
	e := newTestEnv(t, nil)
	e.do(t, http.MethodGet, "/healthz")
	e.do(t, http.MethodGet, "/api/v1/ping")
	e.do(t, http.MethodGet, "/api/v1/ping?delay_ms=x")
	e.do(t, http.MethodGet, "/no/such/page?id=1")
	e.do(t, http.MethodGet, "/another/missing")

	rec := e.do(t, http.MethodGet, "/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`http_requests_total{method="GET",route="/healthz",status="200"} 1`,
		`http_requests_total{method="GET",route="/api/v1/ping",status="200"} 1`,
		`http_requests_total{method="GET",route="/api/v1/ping",status="400"} 1`,
		`http_requests_total{method="GET",route="unmatched",status="404"} 2`,
		`http_request_duration_seconds_count{method="GET",route="/healthz",status="200"} 1`,
		`http_request_duration_seconds_bucket{method="GET",route="/api/v1/ping",status="200",le="+Inf"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics missing %s", want)
		}
	}
	if strings.Contains(body, "/no/such/page") {
		t.Error("raw path leaked into metric labels")
	}
}

func TestNotFoundIsJSON(t *testing.T) {
	e := newTestEnv(t, nil)
	rec := e.do(t, http.MethodGet, "/nope")
	if rec.Code != http.StatusNotFound {
		t.Fatalf("status = %d", rec.Code)
	}
	if got := decodeJSON(t, rec)["error"]; got != "not found" {
		t.Errorf("error = %v", got)
	}
}

func TestIndexPage(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.ServiceName = "orders <svc>" })
	rec := e.do(t, http.MethodGet, "/")
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type = %q", ct)
	}
	body := rec.Body.String()
	for _, want := range []string{
		"<title>orders &lt;svc&gt;</title>", // escaped, not injected
		"1.2.3",
		`href="/static/style.css"`,
		`href="/healthz"`, `href="/version"`, `href="/metrics"`, `href="/api/v1/ping"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page missing %q", want)
		}
	}
}

func TestStaticCacheControl(t *testing.T) {
	for _, tt := range []struct {
		enable bool
		want   string
	}{
		{true, "public, max-age=86400"},
		{false, "no-cache"},
	} {
		e := newTestEnv(t, func(o *Options) { o.EnableCache = tt.enable })
		rec := e.do(t, http.MethodGet, "/static/style.css")
		if rec.Code != http.StatusOK {
			t.Fatalf("cache=%v: status = %d", tt.enable, rec.Code)
		}
		if got := rec.Header().Get("Cache-Control"); got != tt.want {
			t.Errorf("cache=%v: Cache-Control = %q, want %q", tt.enable, got, tt.want)
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
			t.Errorf("Content-Type = %q", ct)
		}
		if !strings.Contains(rec.Body.String(), "body") {
			t.Errorf("unexpected body %q", rec.Body)
		}
	}
}

func TestStaticRevalidation(t *testing.T) {
	e := newTestEnv(t, nil)
	first := e.do(t, http.MethodGet, "/static/app.js")
	etag := first.Header().Get("ETag")
	if first.Code != http.StatusOK || etag == "" {
		t.Fatalf("status = %d, ETag = %q", first.Code, etag)
	}
	req := httptest.NewRequest(http.MethodGet, "/static/app.js", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("revalidation status = %d, want 304", rec.Code)
	}
}

func TestStaticRejectsDirectoriesAndMissing(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, target := range []string{"/static/", "/static/nope.css", "/static/../templates/index.html", "/static/%2e%2e/web.go"} {
		rec := e.do(t, http.MethodGet, target)
		if rec.Code != http.StatusNotFound {
			t.Errorf("%s: status = %d, want 404", target, rec.Code)
		}
	}
}

func TestRequestLogging(t *testing.T) {
	e := newTestEnv(t, nil)
	e.do(t, http.MethodGet, "/api/v1/ping")
	var entry map[string]any
	line, err := io.ReadAll(e.logs)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(bytes.TrimSpace(line), &entry); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	for k, want := range map[string]any{"msg": "request", "method": "GET", "route": "/api/v1/ping", "status": float64(200), "level": "INFO"} {
		if entry[k] != want {
			t.Errorf("log %s = %v, want %v", k, entry[k], want)
		}
	}
	if _, ok := entry["duration_ms"]; !ok {
		t.Error("log entry lacks duration_ms")
	}
}

func TestPanicBecomes500(t *testing.T) {
	e := newTestEnv(t, nil)
	r, ok := e.handler.(*gin.Engine)
	if !ok {
		t.Fatalf("handler is %T", e.handler)
	}
	r.GET("/boom", func(*gin.Context) { panic("boom") })
	rec := e.do(t, http.MethodGet, "/boom")
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d", rec.Code)
	}
	if !strings.Contains(e.logs.String(), `"msg":"handler panic"`) {
		t.Errorf("panic not logged: %s", e.logs)
	}
}

func TestNewRequiresDependencies(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("expected an error for missing dependencies")
	}
}
