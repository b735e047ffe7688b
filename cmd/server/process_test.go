package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Environment switches that make the test binary act as the server, so the
// tests below can observe real process behaviour: exit statuses, signals,
// package initialisation and inherited descriptors.
const (
	envRunMain     = "GINSVC_TEST_RUN_MAIN"
	envClaimSocket = "GINSVC_TEST_CLAIM_SOCKET"
)

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		if os.Getenv(envClaimSocket) == "1" {
			// systemd sets LISTEN_PID after fork; a parent using os/exec
			// cannot know the pid in advance, so the child fills it in.
			if err := os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid())); err != nil {
				panic(err)
			}
		}
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// serverCommand prepares the test binary to run main with a clean set of the
// service's variables plus env.
func serverCommand(t *testing.T, ctx context.Context, env map[string]string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe)
	owned := []string{"PORT=", "LISTEN_ADDR=", "GIN_MODE=", "LOG_LEVEL=", "LOG_FILE=", "ENABLE_CACHE=",
		"API_TIMEOUT_MS=", "SHUTDOWN_TIMEOUT=", "SERVICE_NAME=", "DB_PASSWORD=", "CONFIG_FILE=", "LISTEN_"}
	for _, kv := range os.Environ() {
		keep := true
		for _, prefix := range owned {
			if strings.HasPrefix(kv, prefix) {
				keep = false
			}
		}
		if keep {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, envRunMain+"=1")
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func TestProcessConfigErrorExitStatus(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PORT": "abc"}, `config error: PORT="abc": must be an integer between 1 and 65535`},
		// gin panics on this value during package initialisation unless
		// the bootenv guard runs first.
		{map[string]string{"GIN_MODE": "bogus"}, `config error: GIN_MODE="bogus": must be one of release, debug, test`},
		{map[string]string{"SHUTDOWN_TIMEOUT": "0"}, `config error: SHUTDOWN_TIMEOUT="0": must be a positive duration such as 10s or 1m30s, or a whole number of seconds`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := serverCommand(t, ctx, tt.env)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exitErr *exec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitCode() != exitConfig {
				t.Fatalf("err = %v, want exit status %d; stderr:\n%s", err, exitConfig, stderr.String())
			}
			if got := strings.TrimSpace(stderr.String()); got != tt.want {
				t.Errorf("stderr\n got: %s\nwant: %s", got, tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout should be empty, got %s", stdout.String())
			}
		})
	}
}

// TestProcessSocketActivation hands the server a listening socket as fd 3,
// the way systemd does, and makes binding LISTEN_ADDR:PORT impossible so the
// test fails unless the inherited socket is used. It then checks that SIGTERM
// leads to a clean exit.
func TestProcessSocketActivation(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	f, err := ln.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := serverCommand(t, ctx, map[string]string{
		envClaimSocket: "1",
		"LISTEN_FDS":   "1",
		// 192.0.2.0/24 is reserved for documentation and never assigned
		// locally, so a bind attempt fails instead of succeeding quietly.
		"LISTEN_ADDR": "192.0.2.1",
		"GIN_MODE":    "release",
	})
	cmd.ExtraFiles = []*os.File{f}
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Only the child should hold the socket now.
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}

	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("server never became ready on the inherited socket (last error %v)\nstdout: %s\nstderr: %s",
				err, stdout.String(), stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server exit: %v\nstderr: %s", err, stderr.String())
	}
	// Output is copied from a pipe, so it is complete only after Wait.
	if !strings.Contains(stdout.String(), `"listener":"systemd"`) {
		t.Errorf("startup log does not name the systemd listener:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), `"msg":"shutdown complete"`) {
		t.Errorf("no clean shutdown logged:\n%s", stdout.String())
	}
}
