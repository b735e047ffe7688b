package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects log output written by server goroutines while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func mapEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

// instance is a server started in-process by startServer.
type instance struct {
	url     string
	handler http.Handler
	cancel  context.CancelFunc
	done    chan error
	stdout  *syncBuffer
	stderr  *syncBuffer
}

// startServer runs the service on an ephemeral loopback port. The address is
// learned from the started hook, which run calls once connections are
// accepted; env entries override the test defaults.
func startServer(t *testing.T, env map[string]string) *instance {
	t.Helper()
	vars := map[string]string{"GIN_MODE": "test", "LOG_LEVEL": "debug", "LISTEN_ADDR": "127.0.0.1"}
	for k, v := range env {
		vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	inst := &instance{cancel: cancel, done: make(chan error, 1), stdout: &syncBuffer{}, stderr: &syncBuffer{}}

	type startedInfo struct {
		addr    net.Addr
		handler http.Handler
	}
	started := make(chan startedInfo, 1)
	h := hooks{
		bind: func(network, _ string) (net.Listener, error) {
			return net.Listen(network, "127.0.0.1:0")
		},
		started: func(addr net.Addr, handler http.Handler) {
			started <- startedInfo{addr, handler}
		},
	}
	go func() {
		inst.done <- run(ctx, []string{"server"}, mapEnv(vars), inst.stdout, inst.stderr, h)
	}()

	select {
	case s := <-started:
		inst.url = "http://" + s.addr.String()
		inst.handler = s.handler
	case err := <-inst.done:
		cancel()
		t.Fatalf("run returned before starting: %v\nlogs: %s", err, inst.stdout)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server did not start within 10s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-inst.done:
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10s")
		}
	})
	return inst
}

func (inst *instance) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-inst.done:
		inst.done <- err // let Cleanup see it too
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10s")
		return nil
	}
}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: decoding: %v", url, err)
	}
	return resp.StatusCode, body
}

func TestRunServesRoutes(t *testing.T) {
	inst := startServer(t, map[string]string{"SERVICE_NAME": "routes-test", "DB_PASSWORD": "s3cret-value"})

	if code, body := getJSON(t, inst.url+"/healthz"); code != 200 || body["status"] != "ok" {
		t.Errorf("/healthz = %d %v", code, body)
	}
	if code, body := getJSON(t, inst.url+"/readyz"); code != 200 || body["status"] != "ready" {
		t.Errorf("/readyz = %d %v", code, body)
	}
	if code, body := getJSON(t, inst.url+"/version"); code != 200 || body["version"] != "dev" {
		t.Errorf("/version = %d %v", code, body)
	}
	if code, body := getJSON(t, inst.url+"/api/v1/ping"); code != 200 || body["message"] != "pong" {
		t.Errorf("/api/v1/ping = %d %v", code, body)
	}

	resp, err := http.Get(inst.url + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.Contains(string(page), "routes-test") {
		t.Errorf("/ = %d, page lacks service name", resp.StatusCode)
	}

	resp, err = http.Get(inst.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`http_requests_total{method="GET",route="/api/v1/ping",status="200"} 1`,
		"go_goroutines",
		"process_open_fds",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	inst.cancel()
	if err := inst.wait(t); err != nil {
		t.Fatalf("run: %v", err)
	}
	logs := inst.stdout.String()
	for _, want := range []string{`"msg":"server started"`, `"msg":"shutdown started"`, `"msg":"shutdown complete"`, `"service":"routes-test"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	if strings.Contains(logs, "s3cret-value") {
		t.Error("logs contain the database password")
	}
}

// TestGracefulShutdownWithRequestInFlight cancels run's context while a slow
// request is being served: readiness must flip to draining, the request must
// still complete, and run must report a clean exit.
func TestGracefulShutdownWithRequestInFlight(t *testing.T) {
	inst := startServer(t, map[string]string{"SHUTDOWN_TIMEOUT": "5s", "API_TIMEOUT_MS": "2000"})

	wrote := make(chan struct{})
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodGet, inst.url+"/api/v1/ping?delay_ms=800", nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		code int
		body string
		err  error
		took time.Duration
	}
	slow := make(chan result, 1)
	start := time.Now()
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{code: resp.StatusCode, body: string(b), err: err, took: time.Since(start)}
	}()

	<-wrote
	// Give the server a moment to accept and start reading the request; a
	// connection still in the accept queue would be dropped by Shutdown.
	time.Sleep(150 * time.Millisecond)
	inst.cancel()

	// The listener is closed during shutdown, so ask the live handler.
	deadline := time.Now().Add(2 * time.Second)
	for {
		rec := httptest.NewRecorder()
		inst.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		if rec.Code == http.StatusServiceUnavailable && strings.Contains(rec.Body.String(), `"draining"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz never reported draining; last %d %s", rec.Code, rec.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}

	r := <-slow
	if r.err != nil {
		t.Fatalf("in-flight request failed: %v", r.err)
	}
	if r.code != http.StatusOK || !strings.Contains(r.body, `"pong"`) {
		t.Errorf("in-flight request = %d %s", r.code, r.body)
	}
	if r.took < 800*time.Millisecond {
		t.Errorf("in-flight request took %s, want >= 800ms", r.took)
	}
	if err := inst.wait(t); err != nil {
		t.Errorf("run = %v, want nil", err)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(inst.url, "http://"), time.Second); err == nil {
		t.Error("listener still accepts connections after shutdown")
	}
}

func TestShutdownTimeoutIsAnError(t *testing.T) {
	inst := startServer(t, map[string]string{"SHUTDOWN_TIMEOUT": "100ms", "API_TIMEOUT_MS": "3000"})

	wrote := make(chan struct{})
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodGet, inst.url+"/api/v1/ping?delay_ms=2000", nil)
	if err != nil {
		t.Fatal(err)
	}
	clientDone := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		clientDone <- err
	}()
	<-wrote
	time.Sleep(150 * time.Millisecond)
	inst.cancel()

	err = inst.wait(t)
	if err == nil || !strings.Contains(err.Error(), "graceful shutdown did not finish within 100ms") {
		t.Fatalf("run = %v, want shutdown timeout error", err)
	}
	if _, code := exitStatus(err); code != exitFailure {
		t.Errorf("exit status = %d, want %d", code, exitFailure)
	}
	if err := <-clientDone; err == nil {
		t.Error("request that outlived the shutdown timeout should have been cut off")
	}
}

func TestRunConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad port", map[string]string{"PORT": "abc"}, `config error: PORT="abc": must be an integer between 1 and 65535`},
		{"bad log level", map[string]string{"LOG_LEVEL": "verbose"}, `config error: LOG_LEVEL="verbose": must be one of debug, info, warn, error`},
		{
			"missing config file",
			map[string]string{"CONFIG_FILE": filepath.Join(dir, "y.yaml")},
			`config error: CONFIG_FILE "` + filepath.Join(dir, "y.yaml") + `": open ` + filepath.Join(dir, "y.yaml") + `: no such file or directory`,
		},
		{
			"unwritable log file",
			map[string]string{"LOG_FILE": filepath.Join(dir, "missing-dir", "x.log")},
			`config error: LOG_FILE="` + filepath.Join(dir, "missing-dir", "x.log") + `": cannot be opened for appending: open ` + filepath.Join(dir, "missing-dir", "x.log") + `: no such file or directory`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"server"}, mapEnv(tt.env), &stdout, &stderr, hooks{})
			msg, code := exitStatus(err)
			if code != exitConfig {
				t.Errorf("exit status = %d, want %d (err %v)", code, exitConfig, err)
			}
			if msg != tt.want {
				t.Errorf("message\n got: %s\nwant: %s", msg, tt.want)
			}
		})
	}
}

func TestListenFailureIsNotAConfigError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port := taken.Addr().(*net.TCPAddr).Port
	env := map[string]string{"GIN_MODE": "test", "LISTEN_ADDR": "127.0.0.1", "PORT": strconv.Itoa(port)}
	err = run(context.Background(), []string{"server"}, mapEnv(env), io.Discard, io.Discard, hooks{})
	if err == nil || !strings.Contains(err.Error(), "listening on 127.0.0.1:") {
		t.Fatalf("run = %v, want a listen error", err)
	}
	if _, code := exitStatus(err); code != exitFailure {
		t.Errorf("exit status = %d, want %d", code, exitFailure)
	}
}

func TestLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "svc.log")
	inst := startServer(t, map[string]string{"LOG_FILE": path, "DB_PASSWORD": "s3cret-value"})
	if code, _ := getJSON(t, inst.url+"/api/v1/ping"); code != 200 {
		t.Fatalf("ping = %d", code)
	}
	inst.cancel()
	if err := inst.wait(t); err != nil {
		t.Fatal(err)
	}
	if out := inst.stdout.String(); out != "" {
		t.Errorf("stdout should be empty when LOG_FILE is set, got %s", out)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm&^0o640 != 0 {
		t.Errorf("log file mode = %v, want at most 0640", perm)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := string(b)
	if !strings.Contains(logs, `"route":"/api/v1/ping"`) || !strings.Contains(logs, `"msg":"shutdown complete"`) {
		t.Errorf("log file lacks expected entries: %s", logs)
	}
	if strings.Contains(logs, "s3cret-value") {
		t.Error("log file contains the database password")
	}
}

func TestFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"server", "-version"}, mapEnv(nil), &stdout, &stderr, hooks{}); err != nil {
		t.Fatalf("-version: %v", err)
	}
	var info map[string]string
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil || info["version"] != "dev" || info["go_version"] == "" {
		t.Errorf("-version printed %q (%v)", stdout.String(), err)
	}

	stdout.Reset()
	if err := run(context.Background(), []string{"server", "-h"}, mapEnv(nil), &stdout, &stderr, hooks{}); err != nil {
		t.Errorf("-h: %v", err)
	}
	if !strings.Contains(stderr.String(), "CONFIG_FILE") {
		t.Errorf("usage does not mention CONFIG_FILE: %s", stderr.String())
	}

	for _, args := range [][]string{{"server", "-bogus"}, {"server", "extra"}} {
		err := run(context.Background(), args, mapEnv(nil), io.Discard, io.Discard, hooks{})
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: err = %v, want errUsage", args, err)
		}
		if _, code := exitStatus(err); code != exitConfig {
			t.Errorf("%v: exit status = %d", args, code)
		}
	}
}

func TestExitStatus(t *testing.T) {
	msg, code := exitStatus(errors.New("boom"))
	if msg != "error: boom" || code != exitFailure {
		t.Errorf("exitStatus = %q, %d", msg, code)
	}
}
