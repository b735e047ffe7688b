package config

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func mapLookup(m map[string]string) LookupFunc {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("writing config file: %v", err)
	}
	return path
}

func TestDefaults(t *testing.T) {
	cfg, err := Load(mapLookup(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		Port:            8080,
		ListenAddr:      "0.0.0.0",
		GinMode:         "release",
		LogLevel:        slog.LevelInfo,
		APITimeout:      2 * time.Second,
		ShutdownTimeout: 10 * time.Second,
		ServiceName:     "ginsvc",
	}
	if cfg != want {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
	if got := cfg.Addr(); got != "0.0.0.0:8080" {
		t.Errorf("Addr() = %q", got)
	}
}

func TestValidEnvValues(t *testing.T) {
	cfg, err := Load(mapLookup(map[string]string{
		"PORT":             "9090",
		"LISTEN_ADDR":      "::1",
		"GIN_MODE":         "debug",
		"LOG_LEVEL":        "warn",
		"LOG_FILE":         "/var/log/ginsvc.log",
		"ENABLE_CACHE":     "1",
		"API_TIMEOUT_MS":   "150",
		"SHUTDOWN_TIMEOUT": "3",
		"SERVICE_NAME":     "orders",
		"DB_PASSWORD":      "hunter2",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		Port:            9090,
		ListenAddr:      "::1",
		GinMode:         "debug",
		LogLevel:        slog.LevelWarn,
		LogFile:         "/var/log/ginsvc.log",
		EnableCache:     true,
		APITimeout:      150 * time.Millisecond,
		ShutdownTimeout: 3 * time.Second,
		ServiceName:     "orders",
		DBPassword:      "hunter2",
	}
	if cfg != want {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
	if got := cfg.Addr(); got != "[::1]:9090" {
		t.Errorf("Addr() = %q", got)
	}
}

func TestAcceptedSpellings(t *testing.T) {
	tests := []struct {
		env, value string
		check      func(Config) bool
	}{
		{"ENABLE_CACHE", "true", func(c Config) bool { return c.EnableCache }},
		{"ENABLE_CACHE", "TRUE", func(c Config) bool { return c.EnableCache }},
		{"ENABLE_CACHE", "0", func(c Config) bool { return !c.EnableCache }},
		{"ENABLE_CACHE", "false", func(c Config) bool { return !c.EnableCache }},
		{"SHUTDOWN_TIMEOUT", "1m30s", func(c Config) bool { return c.ShutdownTimeout == 90*time.Second }},
		{"SHUTDOWN_TIMEOUT", "250ms", func(c Config) bool { return c.ShutdownTimeout == 250*time.Millisecond }},
		{"DRAIN_DELAY", "2s", func(c Config) bool { return c.DrainDelay == 2*time.Second }},
		{"DRAIN_DELAY", "0", func(c Config) bool { return c.DrainDelay == 0 }},
		{"LISTEN_ADDR", "localhost", func(c Config) bool { return c.ListenAddr == "localhost" }},
		{"LISTEN_ADDR", "127.0.0.1", func(c Config) bool { return c.ListenAddr == "127.0.0.1" }},
		{"LOG_LEVEL", "DEBUG", func(c Config) bool { return c.LogLevel == slog.LevelDebug }},
		{"GIN_MODE", "test", func(c Config) bool { return c.GinMode == "test" }},
		// Empty variables count as unset, except LOG_FILE where empty means stdout.
		{"PORT", "", func(c Config) bool { return c.Port == 8080 }},
		{"LOG_FILE", "", func(c Config) bool { return c.LogFile == "" }},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			cfg, err := Load(mapLookup(map[string]string{tt.env: tt.value}))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if !tt.check(cfg) {
				t.Errorf("unexpected config %+v", cfg)
			}
		})
	}
}

func TestBadEnvValues(t *testing.T) {
	tests := []struct {
		env, value, want string
	}{
		{"PORT", "abc", `PORT="abc": must be an integer between 1 and 65535`},
		{"PORT", "0", `PORT="0": must be an integer between 1 and 65535`},
		{"PORT", "70000", `PORT="70000": must be an integer between 1 and 65535`},
		{"PORT", "-1", `PORT="-1": must be an integer between 1 and 65535`},
		{"LISTEN_ADDR", "not an address", `LISTEN_ADDR="not an address": must be an IP address or host name, without a port`},
		{"LISTEN_ADDR", "127.0.0.1:8080", `LISTEN_ADDR="127.0.0.1:8080": must be an IP address or host name, without a port`},
		{"LISTEN_ADDR", "300.1.1.1", `LISTEN_ADDR="300.1.1.1": must be an IP address or host name, without a port`},
		{"GIN_MODE", "production", `GIN_MODE="production": must be one of release, debug, test`},
		{"LOG_LEVEL", "verbose", `LOG_LEVEL="verbose": must be one of debug, info, warn, error`},
		{"ENABLE_CACHE", "yes", `ENABLE_CACHE="yes": must be one of true, false, 1, 0`},
		{"API_TIMEOUT_MS", "abc", `API_TIMEOUT_MS="abc": must be an integer number of milliseconds between 1 and 3600000`},
		{"API_TIMEOUT_MS", "0", `API_TIMEOUT_MS="0": must be an integer number of milliseconds between 1 and 3600000`},
		{"API_TIMEOUT_MS", "-5", `API_TIMEOUT_MS="-5": must be an integer number of milliseconds between 1 and 3600000`},
		{"SHUTDOWN_TIMEOUT", "abc", `SHUTDOWN_TIMEOUT="abc": must be a positive duration such as 10s or 1m30s, or a whole number of seconds`},
		{"SHUTDOWN_TIMEOUT", "0", `SHUTDOWN_TIMEOUT="0": must be a positive duration such as 10s or 1m30s, or a whole number of seconds`},
		{"SHUTDOWN_TIMEOUT", "-3s", `SHUTDOWN_TIMEOUT="-3s": must be a positive duration such as 10s or 1m30s, or a whole number of seconds`},
		{"DRAIN_DELAY", "soon", `DRAIN_DELAY="soon": must be a duration between 0s and 1m0s, such as 2s, or a whole number of seconds`},
		{"DRAIN_DELAY", "10m", `DRAIN_DELAY="10m": must be a duration between 0s and 1m0s, such as 2s, or a whole number of seconds`},
		{"SERVICE_NAME", "   ", `SERVICE_NAME="   ": must be 1 to 64 printable characters`},
	}
	for _, tt := range tests {
		t.Run(tt.env+"="+tt.value, func(t *testing.T) {
			_, err := Load(mapLookup(map[string]string{tt.env: tt.value}))
			assertConfigError(t, err, tt.want)
			var cfgErr *Error
			if errors.As(err, &cfgErr) && (cfgErr.Key != tt.env || cfgErr.Value != tt.value || cfgErr.File != "") {
				t.Errorf("error fields = %+v", cfgErr)
			}
		})
	}
}

func TestBadFiles(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	tests := []struct {
		name    string
		content string // written to a temp file unless path is set
		path    string
		want    string // %[1]q is replaced by the quoted path
	}{
		{
			name: "missing file",
			path: missing,
			want: `CONFIG_FILE %[1]q: open ` + missing + `: no such file or directory`,
		},
		{
			name:    "malformed yaml",
			content: "port: [8080\n",
			want:    `CONFIG_FILE %[1]q: invalid YAML: yaml: line 1: did not find expected ',' or ']'`,
		},
		{
			name:    "unknown key",
			content: "port: 8080\ncolour: blue\n",
			want:    `CONFIG_FILE %[1]q: unknown key "colour" (allowed keys: port, listen_addr, gin_mode, log_level, log_file, enable_cache, api_timeout_ms, shutdown_timeout, drain_delay, service_name)`,
		},
		{
			name:    "secret in file",
			content: "db_password: hunter2\n",
			want:    `CONFIG_FILE %[1]q: key "db_password" is not allowed: secrets come only from the environment (set DB_PASSWORD)`,
		},
		{
			name:    "secret in file, upper case",
			content: "DB_PASSWORD: hunter2\n",
			want:    `CONFIG_FILE %[1]q: key "DB_PASSWORD" is not allowed: secrets come only from the environment (set DB_PASSWORD)`,
		},
		{
			name:    "bad value",
			content: "port: abc\n",
			want:    `CONFIG_FILE %[1]q: port="abc": must be an integer between 1 and 65535`,
		},
		{
			name:    "bad duration",
			content: "shutdown_timeout: 0\n",
			want:    `CONFIG_FILE %[1]q: shutdown_timeout="0": must be a positive duration such as 10s or 1m30s, or a whole number of seconds`,
		},
		{
			name:    "list value",
			content: "log_level: [debug]\n",
			want:    `CONFIG_FILE %[1]q: key "log_level" must have a single value, not a list or mapping`,
		},
		{
			name:    "duplicate key",
			content: "port: 1\nport: 2\n",
			want:    `CONFIG_FILE %[1]q: duplicate key "port"`,
		},
		{
			name:    "not a mapping",
			content: "- port\n",
			want:    `CONFIG_FILE %[1]q: top level must be a mapping of keys to values`,
		},
		{
			name:    "two documents",
			content: "port: 1\n---\nport: 2\n",
			want:    `CONFIG_FILE %[1]q: must contain a single YAML document`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = writeFile(t, tt.content)
			}
			_, err := Load(mapLookup(map[string]string{"CONFIG_FILE": path}))
			assertConfigError(t, err, fmt.Sprintf(tt.want, path))
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestMissingFileUnwrapsToNotExist(t *testing.T) {
	_, err := Load(mapLookup(map[string]string{"CONFIG_FILE": filepath.Join(t.TempDir(), "x.yaml")}))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("want fs.ErrNotExist in chain, got %v", err)
	}
}

func TestFileValuesAndEnvOverride(t *testing.T) {
	path := writeFile(t, `# every key the file accepts
port: 9000
listen_addr: 127.0.0.1
gin_mode: test
log_level: debug
log_file: /tmp/from-file.log
enable_cache: true
api_timeout_ms: 500
shutdown_timeout: 5s
service_name: from-file
`)
	cfg, err := Load(mapLookup(map[string]string{"CONFIG_FILE": path}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Config{
		Port:            9000,
		ListenAddr:      "127.0.0.1",
		GinMode:         "test",
		LogLevel:        slog.LevelDebug,
		LogFile:         "/tmp/from-file.log",
		EnableCache:     true,
		APITimeout:      500 * time.Millisecond,
		ShutdownTimeout: 5 * time.Second,
		ServiceName:     "from-file",
		File:            path,
	}
	if cfg != want {
		t.Fatalf("file only:\n got %+v\nwant %+v", cfg, want)
	}

	cfg, err = Load(mapLookup(map[string]string{
		"CONFIG_FILE":    path,
		"PORT":           "9100",
		"ENABLE_CACHE":   "false",
		"SERVICE_NAME":   "from-env",
		"LOG_FILE":       "", // explicitly back to stdout
		"API_TIMEOUT_MS": "",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want.Port = 9100
	want.EnableCache = false
	want.ServiceName = "from-env"
	want.LogFile = ""
	if cfg != want {
		t.Errorf("env over file:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestEmptyFile(t *testing.T) {
	for _, content := range []string{"", "# only a comment\n"} {
		path := writeFile(t, content)
		cfg, err := Load(mapLookup(map[string]string{"CONFIG_FILE": path}))
		if err != nil {
			t.Fatalf("Load(%q): %v", content, err)
		}
		if cfg.Port != 8080 || cfg.File != path {
			t.Errorf("unexpected config for %q: %+v", content, cfg)
		}
	}
}

func TestSecretIsRedacted(t *testing.T) {
	cfg, err := Load(mapLookup(map[string]string{"DB_PASSWORD": "hunter2"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", cfg)
	for name, s := range map[string]string{
		"String":   cfg.String(),
		"%v":       fmt.Sprintf("%v", cfg),
		"LogValue": logged.String(),
	} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("%s leaks the password: %s", name, s)
		}
		if !strings.Contains(s, "[redacted]") {
			t.Errorf("%s does not mark the password as redacted: %s", name, s)
		}
	}
}

func assertConfigError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("expected error %q, got nil", want)
	}
	var cfgErr *Error
	if !errors.As(err, &cfgErr) {
		t.Fatalf("error %v is %T, want *config.Error", err, err)
	}
	if got := err.Error(); got != want {
		t.Errorf("message mismatch\n got: %s\nwant: %s", got, want)
	}
}
