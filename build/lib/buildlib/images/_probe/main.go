// Command kit-probe is the health check of the images: it asks the service's
// own health route, so the service needs no flag or code of the kit's.
//
//	KIT_PROBE_PORT=8080 KIT_PROBE_PATH=/healthz kit-probe
//
// It exits 0 only when GET http://127.0.0.1:PORT/PATH answers with status 200.
// With KIT_PROBE_PATH empty (a service without a health route) it exits 0 when
// the port accepts a connection. It uses the syscall package alone, not net or
// fmt, which keeps it near 1 MB: it ships in every image, even FROM scratch.
package main

import "syscall"

const timeoutSeconds = 2

func main() {
	port, ok := atoi(getenv("KIT_PROBE_PORT"))
	if !ok || port < 1 || port > 65535 {
		fail("KIT_PROBE_PORT must be a TCP port (1-65535), got \"" + getenv("KIT_PROBE_PORT") + "\"")
	}
	path := getenv("KIT_PROBE_PATH")
	fd := dial(port)
	defer syscall.Close(fd)
	where := "127.0.0.1:" + itoa(port)
	if path == "" {
		say("ok: " + where + " accepts connections")
		syscall.Exit(0)
	}
	request := "GET " + path + " HTTP/1.0\r\nHost: " + where + "\r\nUser-Agent: kit-probe\r\nConnection: close\r\n\r\n"
	if _, err := syscall.Write(fd, []byte(request)); err != nil {
		fail("sending the request to " + where + ": " + err.Error())
	}
	line := statusLine(fd)
	// "HTTP/1.1 200 OK": the code is the second field.
	code := ""
	if sp := index(line, ' '); sp >= 0 && len(line) >= sp+4 {
		code = line[sp+1 : sp+4]
	}
	if code != "200" {
		fail("GET http://" + where + path + " answered \"" + line + "\", not 200")
	}
	say("ok: GET http://" + where + path + " answered 200")
	syscall.Exit(0)
}

func dial(port int) int {
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		fail("socket: " + err.Error())
	}
	tv := syscall.Timeval{Sec: timeoutSeconds}
	// Linux applies the send timeout to connect too.
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_SNDTIMEO, &tv)
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	addr := &syscall.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}}
	if err := syscall.Connect(fd, addr); err != nil {
		fail("connecting to 127.0.0.1:" + itoa(port) + ": " + err.Error())
	}
	return fd
}

// statusLine reads up to the first line break of the answer (at most 512 bytes).
func statusLine(fd int) string {
	buf := make([]byte, 0, 512)
	chunk := make([]byte, 512)
	for len(buf) < cap(buf) {
		n, err := syscall.Read(fd, chunk[:cap(buf)-len(buf)])
		if err != nil {
			fail("reading the answer: " + err.Error())
		}
		if n == 0 {
			break
		}
		buf = append(buf, chunk[:n]...)
		if i := index(string(buf), '\n'); i >= 0 {
			buf = buf[:i]
			break
		}
	}
	line := string(buf)
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if line == "" {
		fail("the service closed the connection without an answer")
	}
	return line
}

func getenv(key string) string {
	v, _ := syscall.Getenv(key)
	return v
}

func index(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func atoi(s string) (int, bool) {
	if s == "" || len(s) > 5 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

func say(msg string) { _, _ = syscall.Write(1, []byte(msg+"\n")) }

func fail(msg string) {
	_, _ = syscall.Write(2, []byte("unhealthy: "+msg+"\n"))
	syscall.Exit(1)
}
