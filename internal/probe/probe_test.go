package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func TestTargetURL(t *testing.T) {
	tests := []struct {
		env     map[string]string
		want    string
		wantErr string
	}{
		{env: nil, want: "http://127.0.0.1:8080/healthz"},
		{env: map[string]string{"PORT": "9000"}, want: "http://127.0.0.1:9000/healthz"},
		{env: map[string]string{"PORT": "9000", "LISTEN_ADDR": "0.0.0.0"}, want: "http://127.0.0.1:9000/healthz"},
		{env: map[string]string{"PORT": "9000", "LISTEN_ADDR": "::"}, want: "http://127.0.0.1:9000/healthz"},
		{env: map[string]string{"PORT": "9000", "LISTEN_ADDR": "10.1.2.3"}, want: "http://10.1.2.3:9000/healthz"},
		{env: map[string]string{"LISTEN_ADDR": "::1"}, want: "http://[::1]:8080/healthz"},
		{env: map[string]string{"PORT": "9000", "HEALTHCHECK_URL": "http://svc:1/livez"}, want: "http://svc:1/livez"},
		{env: map[string]string{"PORT": "abc"}, wantErr: `PORT="abc": must be an integer between 1 and 65535`},
		{env: map[string]string{"PORT": "0"}, wantErr: `PORT="0": must be an integer between 1 and 65535`},
	}
	for _, tt := range tests {
		got, err := TargetURL(env(tt.env))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%v: err = %v, want %q", tt.env, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%v: got %q, %v; want %q", tt.env, got, err, tt.want)
		}
	}
}

func TestRun(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	url := srv.URL + "/healthz"

	if err := Run(context.Background(), env(map[string]string{"HEALTHCHECK_URL": url})); err != nil {
		t.Errorf("healthy server: %v", err)
	}

	status = http.StatusServiceUnavailable
	err := Run(context.Background(), env(map[string]string{"HEALTHCHECK_URL": url}))
	if err == nil || !strings.Contains(err.Error(), "503 Service Unavailable") {
		t.Errorf("unhealthy server: err = %v", err)
	}
}

func TestRunUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/healthz"
	srv.Close()
	if err := Run(context.Background(), env(map[string]string{"HEALTHCHECK_URL": url})); err == nil {
		t.Error("expected an error for a closed port")
	}
}
