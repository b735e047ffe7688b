// Command healthcheck probes the server's /healthz endpoint and exits 0 when
// it answers 200, 1 otherwise. It is meant as a container HEALTHCHECK in
// images that have no shell or curl, so it depends on the standard library
// only and builds as a static binary.
//
// The target is http://127.0.0.1:$PORT/healthz (PORT defaults to 8080). When
// LISTEN_ADDR names a specific address the probe goes there instead of the
// loopback address, and HEALTHCHECK_URL replaces the whole URL.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
)

const timeout = 2 * time.Second

func main() {
	if err := run(context.Background(), os.LookupEnv); err != nil {
		fmt.Fprintf(os.Stderr, "healthcheck: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) (string, bool)) error {
	target, err := targetURL(getenv)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("building request for %s: %w", target, err)
	}
	client := &http.Client{
		// A proxy from the environment must not intercept a local probe.
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		// A redirect would mean the probe is not talking to /healthz.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return err // already names the method and URL
	}
	defer resp.Body.Close()
	// Drain a little so the server does not see a reset mid-write.
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); err != nil {
		return fmt.Errorf("GET %s: reading body: %w", target, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", target, resp.Status)
	}
	return nil
}

func targetURL(getenv func(string) (string, bool)) (string, error) {
	if u, ok := getenv("HEALTHCHECK_URL"); ok && u != "" {
		return u, nil
	}
	port := "8080"
	if p, ok := getenv("PORT"); ok && p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("PORT=%q: must be an integer between 1 and 65535", p)
		}
		port = p
	}
	host := "127.0.0.1"
	if a, ok := getenv("LISTEN_ADDR"); ok && a != "" && !isWildcard(a) {
		host = a
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// isWildcard reports addresses that bind every interface; loopback reaches
// those, and is the one address certain to exist inside the container.
func isWildcard(addr string) bool {
	ip := net.ParseIP(addr)
	return ip != nil && ip.IsUnspecified()
}
