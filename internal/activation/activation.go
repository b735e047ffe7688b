// Package activation implements the listening side of systemd socket
// activation (sd_listen_fds(3)) without pulling in a systemd library.
package activation

import (
	"fmt"
	"net"
	"os"
	"strconv"
)

// FirstFD is the first inherited descriptor; systemd passes sockets as a
// contiguous range starting after stdin, stdout and stderr.
const FirstFD = 3

// Environment variables systemd sets for an activated process.
const (
	EnvPID     = "LISTEN_PID"
	EnvFDs     = "LISTEN_FDS"
	EnvFDNames = "LISTEN_FDNAMES"
)

// Count reports how many sockets systemd passed to the process with the
// given pid. It returns 0 when the variables are absent or addressed to
// another process: LISTEN_PID guards against a child inheriting variables
// that were meant for its parent.
func Count(getenv func(string) (string, bool), pid int) (int, error) {
	pidStr, ok := getenv(EnvPID)
	if !ok || pidStr == "" {
		return 0, nil
	}
	target, err := strconv.Atoi(pidStr)
	if err != nil {
		return 0, fmt.Errorf("%s=%q: must be a process id", EnvPID, pidStr)
	}
	if target != pid {
		return 0, nil
	}
	fdsStr, ok := getenv(EnvFDs)
	if !ok || fdsStr == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(fdsStr)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s=%q: must be a non-negative integer", EnvFDs, fdsStr)
	}
	return n, nil
}

// FileListener wraps an inherited listening socket. The returned listener
// owns a duplicate of fd and the original is closed, so the descriptor does
// not linger or leak into child processes.
func FileListener(fd uintptr) (net.Listener, error) {
	f := os.NewFile(fd, "listen-fd-"+strconv.FormatUint(uint64(fd), 10))
	if f == nil {
		return nil, fmt.Errorf("descriptor %d is not valid", fd)
	}
	ln, err := net.FileListener(f)
	closeErr := f.Close()
	if err != nil {
		return nil, fmt.Errorf("using descriptor %d as a listener: %w", fd, err)
	}
	if closeErr != nil {
		_ = ln.Close() // the close error below is the one worth reporting
		return nil, fmt.Errorf("closing original descriptor %d: %w", fd, closeErr)
	}
	return ln, nil
}

// Unsetenv removes the activation variables so that processes started by
// this one do not try to claim sockets they never received.
func Unsetenv() error {
	for _, k := range []string{EnvPID, EnvFDs, EnvFDNames} {
		if err := os.Unsetenv(k); err != nil {
			return fmt.Errorf("unsetting %s: %w", k, err)
		}
	}
	return nil
}
