// Package probe is the container health check: one GET of the service's
// /healthz that succeeds only on 200. It backs both cmd/healthcheck and the
// server's -healthcheck flag, so an image can probe with the binary it ships.
//
// It speaks just enough HTTP/1.0 over a plain TCP connection: net/http would
// add megabytes to every image for one GET, against size budgets that count
// each megabyte.
//
// The target is http://127.0.0.1:$PORT/healthz (PORT defaults to 8080). When
// LISTEN_ADDR names a specific address the probe goes there instead of the
// loopback address, and HEALTHCHECK_URL replaces the whole URL (http only).
package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const timeout = 2 * time.Second

// Run probes the service once: nil when /healthz answered 200, otherwise an
// error naming the URL and what went wrong.
func Run(ctx context.Context, getenv func(string) (string, bool)) error {
	target, err := TargetURL(getenv)
	if err != nil {
		return err
	}
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("HEALTHCHECK_URL=%q: must be an http:// URL with a host", target)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	path := u.RequestURI()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return fmt.Errorf("GET %s: %w", target, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("GET %s: %w", target, err)
	}
	// HTTP/1.0 with Connection: close: the server answers and hangs up, so
	// there is no keep-alive or chunked body to handle.
	req := "GET " + path + " HTTP/1.0\r\nHost: " + u.Host + "\r\nUser-Agent: healthcheck\r\nConnection: close\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return fmt.Errorf("GET %s: sending request: %w", target, err)
	}
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("GET %s: reading status line: %w", target, err)
	}
	code, err := statusCode(status)
	if err != nil {
		return fmt.Errorf("GET %s: %w", target, err)
	}
	if code != 200 {
		return fmt.Errorf("GET %s: status %s", target, strings.TrimSpace(strings.SplitN(status, " ", 2)[1]))
	}
	return nil
}

// statusCode reads the code from a status line such as "HTTP/1.1 200 OK".
func statusCode(line string) (int, error) {
	fields := strings.Fields(line)
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "HTTP/") {
		return 0, errors.New("not an HTTP response: " + strconv.Quote(strings.TrimSpace(line)))
	}
	code, err := strconv.Atoi(fields[1])
	if err != nil {
		return 0, errors.New("bad status code in " + strconv.Quote(strings.TrimSpace(line)))
	}
	return code, nil
}

// TargetURL is the URL the probe GETs, from HEALTHCHECK_URL, PORT and LISTEN_ADDR.
func TargetURL(getenv func(string) (string, bool)) (string, error) {
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
