// Package config loads the service configuration from an optional YAML file
// and the environment, with the environment taking precedence.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// LookupFunc has the shape of os.LookupEnv so tests can supply a map instead
// of mutating the process environment.
type LookupFunc func(key string) (string, bool)

// Names of variables that are not ordinary settings.
const (
	EnvConfigFile = "CONFIG_FILE"
	EnvDBPassword = "DB_PASSWORD"
)

// Config is the validated service configuration.
type Config struct {
	Port            int
	ListenAddr      string
	GinMode         string
	LogLevel        slog.Level
	LogFile         string
	EnableCache     bool
	APITimeout      time.Duration
	ShutdownTimeout time.Duration
	// DrainDelay is how long /readyz reports draining while the listener
	// still accepts, so load balancers stop sending traffic before it closes.
	DrainDelay  time.Duration
	ServiceName string
	// DBPassword only ever comes from the environment; String and LogValue
	// redact it so it cannot leak through logs or error output.
	DBPassword string
	// File is the config file that was read, empty when none was used.
	File string
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Port:            8080,
		ListenAddr:      "0.0.0.0",
		GinMode:         "release",
		LogLevel:        slog.LevelInfo,
		APITimeout:      2000 * time.Millisecond,
		ShutdownTimeout: 10 * time.Second,
		ServiceName:     "ginsvc",
	}
}

// Addr is the host:port to bind when not socket-activated.
func (c Config) Addr() string {
	return net.JoinHostPort(c.ListenAddr, strconv.Itoa(c.Port))
}

// String renders the configuration with the secret redacted.
func (c Config) String() string {
	return fmt.Sprintf(
		"port=%d listen_addr=%s gin_mode=%s log_level=%s log_file=%q enable_cache=%t api_timeout_ms=%d shutdown_timeout=%s drain_delay=%s service_name=%q db_password=%s config_file=%q",
		c.Port, c.ListenAddr, c.GinMode, levelName(c.LogLevel), c.LogFile, c.EnableCache,
		c.APITimeout.Milliseconds(), c.ShutdownTimeout, c.DrainDelay, c.ServiceName, redact(c.DBPassword), c.File,
	)
}

// LogValue makes slog log the configuration as a group with the secret
// replaced, even when the whole struct is passed as a single attribute.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int("port", c.Port),
		slog.String("listen_addr", c.ListenAddr),
		slog.String("gin_mode", c.GinMode),
		slog.String("log_level", levelName(c.LogLevel)),
		slog.String("log_file", c.LogFile),
		slog.Bool("enable_cache", c.EnableCache),
		slog.Int64("api_timeout_ms", c.APITimeout.Milliseconds()),
		slog.String("shutdown_timeout", c.ShutdownTimeout.String()),
		slog.String("drain_delay", c.DrainDelay.String()),
		slog.String("service_name", c.ServiceName),
		slog.String("db_password", redact(c.DBPassword)),
		slog.String("config_file", c.File),
	)
}

func redact(secret string) string {
	if secret == "" {
		return "unset"
	}
	return "[redacted]"
}

func levelName(l slog.Level) string {
	return strings.ToLower(l.String())
}

// Error is returned for any invalid configuration. Its message names the
// variable or file key at fault, the rejected value and what is allowed.
type Error struct {
	// File is the config file path when the problem is in the file.
	File string
	// Key is the environment variable or YAML key at fault; empty for
	// problems with the file as a whole.
	Key string
	// Value is the rejected value; never set for secrets.
	Value string
	msg   string
	err   error
}

func (e *Error) Error() string { return e.msg }

// Unwrap exposes the underlying cause, such as the *fs.PathError of a
// missing file.
func (e *Error) Unwrap() error { return e.err }

// NewValueError reports a bad value for an environment variable. It lets
// callers that validate a setting late (for example by opening LOG_FILE)
// report it the same way Load does.
func NewValueError(key, value, reason string, cause error) *Error {
	return &Error{
		Key:   key,
		Value: value,
		msg:   fmt.Sprintf("%s=%q: %s", key, value, reason),
		err:   cause,
	}
}

func fileValueError(file, key, value, reason string) *Error {
	return &Error{
		File:  file,
		Key:   key,
		Value: value,
		msg:   fmt.Sprintf("%s %q: %s=%q: %s", EnvConfigFile, file, key, value, reason),
	}
}

func fileError(file, key, reason string, cause error) *Error {
	return &Error{
		File: file,
		Key:  key,
		msg:  fmt.Sprintf("%s %q: %s", EnvConfigFile, file, reason),
		err:  cause,
	}
}

// setting describes one option that can come from the file or environment.
type setting struct {
	key string // YAML key
	env string // environment variable
	// emptyIsValue is set where an empty string means something (LOG_FILE
	// empty selects stdout); for other settings an empty variable counts as
	// unset, as container tooling often exports empty values.
	emptyIsValue bool
	apply        func(c *Config, v string) error
}

func settings() []setting {
	return []setting{
		{key: "port", env: "PORT", apply: applyPort},
		{key: "listen_addr", env: "LISTEN_ADDR", apply: applyListenAddr},
		{key: "gin_mode", env: "GIN_MODE", apply: applyGinMode},
		{key: "log_level", env: "LOG_LEVEL", apply: applyLogLevel},
		{key: "log_file", env: "LOG_FILE", apply: applyLogFile, emptyIsValue: true},
		{key: "enable_cache", env: "ENABLE_CACHE", apply: applyEnableCache},
		{key: "api_timeout_ms", env: "API_TIMEOUT_MS", apply: applyAPITimeout},
		{key: "shutdown_timeout", env: "SHUTDOWN_TIMEOUT", apply: applyShutdownTimeout},
		{key: "drain_delay", env: "DRAIN_DELAY", apply: applyDrainDelay},
		{key: "service_name", env: "SERVICE_NAME", apply: applyServiceName},
	}
}

// AllowedFileKeys lists the keys accepted in the YAML file, in file order.
func AllowedFileKeys() []string {
	s := settings()
	keys := make([]string, len(s))
	for i, st := range s {
		keys[i] = st.key
	}
	return keys
}

// Load builds the configuration from defaults, then the YAML file named by
// CONFIG_FILE (if any), then environment variables. It touches the process
// only to read that file, so tests can drive it with a map-backed lookup.
func Load(lookup LookupFunc) (Config, error) {
	cfg := Default()

	if path, ok := lookup(EnvConfigFile); ok && path != "" {
		if err := applyFile(&cfg, path); err != nil {
			return Config{}, err
		}
		cfg.File = path
	}

	for _, s := range settings() {
		v, ok := lookup(s.env)
		if !ok || (v == "" && !s.emptyIsValue) {
			continue
		}
		if err := s.apply(&cfg, v); err != nil {
			return Config{}, NewValueError(s.env, v, err.Error(), nil)
		}
	}

	if v, ok := lookup(EnvDBPassword); ok {
		cfg.DBPassword = v
	}
	return cfg, nil
}

func applyFile(cfg *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fileError(path, "", err.Error(), err)
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // an empty file just means "no overrides"
		}
		return fileError(path, "", "invalid YAML: "+err.Error(), err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return fileError(path, "", "invalid YAML: "+err.Error(), err)
		}
		return fileError(path, "", "must contain a single YAML document", nil)
	}

	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil // a file holding only comments
	}
	if root.Kind != yaml.MappingNode {
		return fileError(path, "", "top level must be a mapping of keys to values", nil)
	}

	byKey := make(map[string]setting)
	for _, s := range settings() {
		byKey[s.key] = s
	}
	seen := make(map[string]bool)
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		key := k.Value
		if strings.EqualFold(key, EnvDBPassword) {
			return fileError(path, key, fmt.Sprintf(
				"key %q is not allowed: secrets come only from the environment (set %s)", key, EnvDBPassword), nil)
		}
		s, known := byKey[key]
		if !known {
			return fileError(path, key, fmt.Sprintf(
				"unknown key %q (allowed keys: %s)", key, strings.Join(AllowedFileKeys(), ", ")), nil)
		}
		if seen[key] {
			return fileError(path, key, fmt.Sprintf("duplicate key %q", key), nil)
		}
		seen[key] = true
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if v.Kind != yaml.ScalarNode {
			return fileError(path, key, fmt.Sprintf("key %q must have a single value, not a list or mapping", key), nil)
		}
		if err := s.apply(cfg, v.Value); err != nil {
			return fileValueError(path, key, v.Value, err.Error())
		}
	}
	return nil
}

func applyPort(c *Config, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 65535 {
		return errors.New("must be an integer between 1 and 65535")
	}
	c.Port = n
	return nil
}

func applyListenAddr(c *Config, v string) error {
	if net.ParseIP(v) == nil && !isHostname(v) {
		return errors.New("must be an IP address or host name, without a port")
	}
	c.ListenAddr = v
	return nil
}

// isHostname accepts RFC 1123 host names. A final label made only of digits
// is rejected so a mistyped IPv4 address such as 300.1.1.1 is not taken for
// a name.
func isHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(s, "."), ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	return strings.Trim(last, "0123456789") != ""
}

func applyGinMode(c *Config, v string) error {
	switch v {
	case "release", "debug", "test":
		c.GinMode = v
		return nil
	}
	return errors.New("must be one of release, debug, test")
}

func applyLogLevel(c *Config, v string) error {
	levels := map[string]slog.Level{
		"debug": slog.LevelDebug,
		"info":  slog.LevelInfo,
		"warn":  slog.LevelWarn,
		"error": slog.LevelError,
	}
	l, ok := levels[strings.ToLower(v)]
	if !ok {
		return errors.New("must be one of debug, info, warn, error")
	}
	c.LogLevel = l
	return nil
}

func applyLogFile(c *Config, v string) error {
	if strings.ContainsRune(v, 0) {
		return errors.New("must be a file path, or empty for stdout")
	}
	c.LogFile = v
	return nil
}

func applyEnableCache(c *Config, v string) error {
	switch strings.ToLower(v) {
	case "true", "1":
		c.EnableCache = true
	case "false", "0":
		c.EnableCache = false
	default:
		return errors.New("must be one of true, false, 1, 0")
	}
	return nil
}

// maxAPITimeoutMS caps API_TIMEOUT_MS at one hour; anything longer is almost
// certainly a unit mistake (seconds or microseconds typed as milliseconds).
const maxAPITimeoutMS = 3_600_000

func applyAPITimeout(c *Config, v string) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxAPITimeoutMS {
		return fmt.Errorf("must be an integer number of milliseconds between 1 and %d", maxAPITimeoutMS)
	}
	c.APITimeout = time.Duration(n) * time.Millisecond
	return nil
}

func applyShutdownTimeout(c *Config, v string) error {
	d, err := parseSeconds(v)
	if err != nil || d <= 0 {
		return errors.New("must be a positive duration such as 10s or 1m30s, or a whole number of seconds")
	}
	c.ShutdownTimeout = d
	return nil
}

// maxDrainDelay keeps a typo (10m for 10s) from stalling every restart.
const maxDrainDelay = 60 * time.Second

func applyDrainDelay(c *Config, v string) error {
	d, err := parseSeconds(v)
	if err != nil || d < 0 || d > maxDrainDelay {
		return fmt.Errorf("must be a duration between 0s and %s, such as 2s, or a whole number of seconds", maxDrainDelay)
	}
	c.DrainDelay = d
	return nil
}

func parseSeconds(v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 32); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(v)
}

func applyServiceName(c *Config, v string) error {
	ok := len(v) <= 64
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			ok = false
		}
	}
	if !ok || strings.TrimSpace(v) == "" {
		return errors.New("must be 1 to 64 printable characters")
	}
	c.ServiceName = v
	return nil
}
