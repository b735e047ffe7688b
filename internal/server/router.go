// Package server builds the HTTP handler: routes, middleware and the
// embedded web UI.
package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"example.com/ginsvc/internal/version"
)

// Options are the dependencies of the router. Everything is passed in so
// that tests can build as many independent routers as they like.
type Options struct {
	ServiceName string
	// EnableCache lets browsers and proxies cache /static for a day.
	EnableCache bool
	// APITimeout bounds every request under /api.
	APITimeout time.Duration
	Logger     *slog.Logger
	// Registry receives the HTTP metrics and is what /metrics exposes.
	Registry  *prometheus.Registry
	Readiness *Readiness
	Version   version.Info
	// Now is the clock used in API responses; nil means time.Now.
	Now func() time.Time
}

// New returns the service's HTTP handler.
func New(opts Options) (http.Handler, error) {
	if opts.Logger == nil || opts.Registry == nil || opts.Readiness == nil {
		return nil, errors.New("server: Logger, Registry and Readiness are required")
	}
	if opts.APITimeout <= 0 {
		return nil, errors.New("server: APITimeout must be positive")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}

	metrics, err := newMetrics(opts.Registry)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}

	r := gin.New()
	// Without this gin trusts X-Forwarded-For from any peer, letting clients
	// forge the address that ends up in the logs.
	if err := r.SetTrustedProxies(nil); err != nil {
		return nil, fmt.Errorf("configuring trusted proxies: %w", err)
	}
	// Recovery sits innermost so a panic is logged and counted as the 500
	// it turns into.
	r.Use(requestLogger(opts.Logger), metrics.middleware(), recoverer(opts.Logger))
	r.NoRoute(func(c *gin.Context) {
		c.JSON(http.StatusNotFound, gin.H{"error": "not found"})
	})

	registerHealth(r, opts.Readiness)
	registerMetrics(r, opts.Registry, opts.Logger)
	registerVersion(r, opts.Version)
	registerAPI(r.Group("/api"), opts.APITimeout, opts.Now)
	if err := registerWeb(r, opts.ServiceName, opts.Version, opts.EnableCache); err != nil {
		return nil, fmt.Errorf("registering web routes: %w", err)
	}
	return r, nil
}

// routeLabel is the matched route pattern, never the raw path, so metric
// and log cardinality stays bounded whatever URLs clients send.
func routeLabel(c *gin.Context) string {
	if p := c.FullPath(); p != "" {
		return p
	}
	return "unmatched"
}

// getAndHead registers a GET route and a HEAD route with the same handlers.
// Monitors, proxies and `curl -I` probe with HEAD; net/http drops the body of
// a HEAD response, so the same handlers give the same status and headers
// without one. Every GET route goes through here (a test checks it).
func getAndHead(r gin.IRoutes, path string, handlers ...gin.HandlerFunc) {
	r.Match([]string{http.MethodGet, http.MethodHead}, path, handlers...)
}
