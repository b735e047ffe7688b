package activation

import (
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestCount(t *testing.T) {
	const pid = 4242
	tests := []struct {
		name    string
		env     map[string]string
		want    int
		wantErr string
	}{
		{name: "no variables", env: nil, want: 0},
		{name: "other process", env: map[string]string{"LISTEN_PID": "1", "LISTEN_FDS": "1"}, want: 0},
		{name: "ours, one socket", env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "1"}, want: 1},
		{name: "ours, two sockets", env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "2"}, want: 2},
		{name: "ours, zero sockets", env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "0"}, want: 0},
		{name: "ours, LISTEN_FDS missing", env: map[string]string{"LISTEN_PID": "4242"}, want: 0},
		{name: "FDS without PID", env: map[string]string{"LISTEN_FDS": "1"}, want: 0},
		{name: "bad pid", env: map[string]string{"LISTEN_PID": "self", "LISTEN_FDS": "1"}, wantErr: `LISTEN_PID="self": must be a process id`},
		{name: "bad count", env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "many"}, wantErr: `LISTEN_FDS="many": must be a non-negative integer`},
		{name: "negative count", env: map[string]string{"LISTEN_PID": "4242", "LISTEN_FDS": "-1"}, wantErr: `LISTEN_FDS="-1": must be a non-negative integer`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Count(func(k string) (string, bool) {
				v, ok := tt.env[k]
				return v, ok
			}, pid)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if got != tt.want {
				t.Errorf("Count = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestFileListener hands an inherited-style descriptor to FileListener and
// checks that connections reach it. The descriptor number differs from 3
// because the test process already uses that one; the fd-3 path is covered
// end to end by the server's subprocess test.
func TestFileListener(t *testing.T) {
	orig, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fd := detachedFD(t, orig.(*net.TCPListener))
	if err := orig.Close(); err != nil {
		t.Fatal(err)
	}

	ln, err := FileListener(fd)
	if err != nil {
		t.Fatalf("FileListener: %v", err)
	}
	defer ln.Close()

	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, "hello")
		_ = c.Close()
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "hello" {
		t.Errorf("read %q", got)
	}
}

func TestFileListenerRejectsNonSocket(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fd, err := syscall.Dup(int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := FileListener(uintptr(fd)); err == nil {
		t.Error("expected an error for a pipe descriptor")
	}
}

// detachedFD returns a descriptor for ln that no *os.File owns, as an
// inherited socket would be; otherwise a finalizer could close it twice.
func detachedFD(t *testing.T, ln *net.TCPListener) uintptr {
	t.Helper()
	f, err := ln.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	return uintptr(fd)
}
