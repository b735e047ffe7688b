"""Gin applications of the shapes real services have, written by the tests (not copied from anywhere).

Each shape is a repository that has never heard of the kit: its own module path,
main packages and names, port, health route or none, config files, cgo or not,
at the root or in a subfolder. ``make(shape, dest)`` writes one and returns what
a test needs to know about it. Every app reads FAIL_HEALTH=1 as "be broken": its
health route answers 500 (or, without a route, it never listens), so a test can
tell a truthful health check from one that always says healthy.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.support import go_binary

GIN_VERSION = "v1.12.0"

# A graceful main: serve in a goroutine, Shutdown on SIGTERM, exit 0.
def _serve(addr: str) -> str:
    """The end of main: listen on ``addr`` (a Go expression), stop cleanly on SIGTERM."""
    return """
	srv := &http.Server{Addr: LISTEN_ADDR, Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatalf("listen: %v", err)
		}
	}()
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Fatalf("shutdown: %v", err)
	}
""".replace("LISTEN_ADDR", addr)

_IMPORTS = """package main

import (
	"context"
	"errors"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
%s)
"""


def _health_handler(path: str, extra_check: str = "error(nil)") -> str:
    return f"""	r.GET("{path}", func(c *gin.Context) {{
		if os.Getenv("FAIL_HEALTH") == "1" {{
			c.String(http.StatusInternalServerError, "failing on purpose")
			return
		}}
		if err := {extra_check}; err != nil {{
			c.String(http.StatusInternalServerError, err.Error())
			return
		}}
		c.String(http.StatusOK, "ok")
	}})
"""


@dataclass
class App:
    shape: str
    repo: Path            # the repository root (what git holds)
    module_root: Path     # the folder with go.mod (--dest of adopt)
    module: str
    name: str             # the service name adopt should choose
    service: str          # the service binary's name
    port: int
    health: str | None
    files: list[str] = field(default_factory=list)
    writable: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    tzdata: bool = False
    cgo: bool = False


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))


def _go_mod(module: str) -> str:
    return f"module {module}\n\ngo 1.26.0\n\nrequire github.com/gin-gonic/gin {GIN_VERSION}\n"


def _root_main() -> dict[str, str]:
    """A root main on a fixed port 9999, /health/live, a time zone and a logs/ directory it writes."""
    return {
        "main.go": _IMPORTS % "" + """
func main() {
	// Panics in an image without the time zone database.
	zone, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		log.Fatalf("time zone: %v", err)
	}
	if err := os.MkdirAll("logs", 0o755); err != nil {
		log.Fatalf("logs: %v", err)
	}
	logFile, err := os.OpenFile("logs/ledger.log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatalf("log file: %v", err)
	}
	defer logFile.Close()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	live := r.Group("/health")
	live.GET("/live", func(c *gin.Context) {
		if os.Getenv("FAIL_HEALTH") == "1" {
			c.String(http.StatusInternalServerError, "failing on purpose")
			return
		}
		c.String(http.StatusOK, "ok")
	})
	r.GET("/now", func(c *gin.Context) {
		_, _ = logFile.WriteString("now\\n")
		c.String(http.StatusOK, time.Now().In(zone).Format(time.RFC3339))
	})
""" + _serve('":9999"') + "}\n",
    }


def _multi() -> dict[str, str]:
    """cmd/api (the service, port from config.yaml, embedded assets), cmd/worker (no HTTP), tools/gen (a generator)."""
    return {
        "config.yaml": "# read from the working directory at start-up\nport: 8888\ngreeting: hello\n",
        "internal/assets/assets.go": """
// Package assets embeds the web page the service serves.
package assets

import "embed"

//go:embed static
var Static embed.FS
""",
        "internal/assets/static/shop.html": "<!doctype html><title>shop</title><p>shop</p>\n",
        "internal/settings/settings.go": """
// Package settings reads config.yaml from the working directory.
package settings

import (
	"bufio"
	"os"
	"strings"
)

// Load returns the key: value pairs of config.yaml.
func Load() (map[string]string, error) {
	f, err := os.Open("config.yaml")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && !strings.HasPrefix(strings.TrimSpace(k), "#") {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out, sc.Err()
}
""",
        "cmd/api/main.go": _IMPORTS % ('\n\t"example.com/acme/shop/internal/assets"'
                                       '\n\t"example.com/acme/shop/internal/settings"\n')
        + """
func main() {
	cfg, err := settings.Load()
	if err != nil {
		log.Fatalf("config: %v", err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
""" + _health_handler("/healthz") + """	r.GET("/greeting", func(c *gin.Context) {
		c.String(http.StatusOK, cfg["greeting"])
	})
	r.StaticFS("/ui", http.FS(assets.Static))
""" + _serve('":" + cfg["port"]') + "}\n",
        "cmd/worker/main.go": """
// Command worker drains a queue; it serves nothing.
package main

import "fmt"

func main() { fmt.Println("worker: nothing to do") }
""",
        "tools/gen/main.go": """
// Command gen writes generated code; developers run it with go run.
package main

import (
	"os"
	"text/template"
)

func main() {
	t := template.Must(template.New("x").Parse("package gen\\n"))
	_ = t.Execute(os.Stdout, nil)
}
""",
    }


def _cgo() -> dict[str, str]:
    """A root main whose store needs cgo, with a stub for CGO_ENABLED=0 that fails every call."""
    return {
        "internal/cstore/cstore.go": """
//go:build cgo

// Package cstore keeps its data through C.
package cstore

/*
static int add_one(int x) { return x + 1; }
*/
import "C"

// Ping checks the store works.
func Ping() error {
	if C.add_one(41) != 42 {
		return errBroken
	}
	return nil
}
""",
        "internal/cstore/errors.go": """
package cstore

import "errors"

var errBroken = errors.New("cstore: broken")
""",
        "internal/cstore/stub.go": """
//go:build !cgo

package cstore

import "errors"

// Ping fails: built without cgo, the store is a stub.
func Ping() error { return errors.New("cstore requires cgo to work. This is a stub") }
""",
        "main.go": _IMPORTS % '\n\t"example.com/acme/notes/internal/cstore"\n' + """
func main() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
""" + _health_handler("/healthz", "cstore.Ping()") + _serve('":7070"') + "}\n",
    }


def _monorepo_server() -> dict[str, str]:
    """The server/ folder of a larger repository: /health on its own port 8181, a config folder."""
    return {
        "configs/app.toml": "# the service reads this folder at start-up\nname = \"portal\"\n",
        "main.go": _IMPORTS % "" + """
func main() {
	if _, err := os.ReadFile("./configs/app.toml"); err != nil {
		log.Fatalf("config: %v", err)
	}
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
""" + _health_handler("/health") + """	r.GET("/api/items", func(c *gin.Context) {
		c.JSON(http.StatusOK, []string{"a", "b"})
	})
""" + _serve('"0.0.0.0:8181"') + "}\n",
    }


def _no_health() -> dict[str, str]:
    """cmd/echo on $PORT with no health route at all; FAIL_HEALTH=1 makes it never listen."""
    return {
        "cmd/echo/main.go": _IMPORTS % "" + """
func main() {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.POST("/echo", func(c *gin.Context) {
		body, _ := c.GetRawData()
		c.Data(http.StatusOK, "text/plain", body)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if os.Getenv("FAIL_HEALTH") == "1" {
		// Broken: never listens, and waits for SIGTERM (a bare select{} would be a deadlock Go ends at once).
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM)
		<-stop
		return
	}
""" + _serve('":" + port') + "}\n",
    }


def _binds_own_port() -> dict[str, str]:
    """An app that knows nothing of systemd: it binds $HTTP_PORT itself (9090 by default), answers
    /status/ready, reads conf/app.yaml from its working directory, appends every request to
    logs/access.log and tells its version (stamped at link time) on /about."""
    return {
        "conf/app.yaml": "# read from the working directory at start-up\ngreeting: fresh stock\n",
        "internal/version/version.go": """
// Package version is stamped at link time by the build.
package version

// Version is the release, set with -ldflags -X.
var Version = "dev"
""",
        "main.go": _IMPORTS % '\n\t"fmt"\n\t"strings"\n\n\t"example.com/acme/stock/internal/version"\n' + """
func main() {
	conf, err := os.ReadFile("conf/app.yaml")
	if err != nil {
		log.Fatalf("config: %v", err)
	}
	greeting := "?"
	for _, line := range strings.Split(string(conf), "\\n") {
		if v, ok := strings.CutPrefix(line, "greeting: "); ok {
			greeting = v
		}
	}
	if err := os.MkdirAll("logs", 0o755); err != nil {
		log.Fatalf("logs: %v", err)
	}
	access, err := os.OpenFile("logs/access.log", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		log.Fatalf("access log: %v", err)
	}
	defer access.Close()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		fmt.Fprintf(access, "%s %s %d\\n", version.Version, c.Request.URL.Path, c.Writer.Status())
	})
""" + _health_handler("/status/ready") + """	r.GET("/about", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"version": version.Version})
	})
	r.GET("/api/stock", func(c *gin.Context) {
		c.String(http.StatusOK, greeting)
	})
	port := os.Getenv("HTTP_PORT")
	if port == "" {
		port = "9090"
	}
""" + _serve('"127.0.0.1:" + port') + "}\n",
    }


def _metered() -> dict[str, str]:
    """An app with Prometheus metrics (client_golang): a request counter and duration histogram by
    route and status, the Go and process collectors, and GET /api/work, which takes as long as
    POST /admin/delay?ms=N (loopback only, not through a proxy) last said, or $DELAY_MS at start."""
    return {
        "main.go": _IMPORTS % '\n\t"strconv"\n\t"strings"\n\t"sync/atomic"\n\n\t"github.com/prometheus/client_golang/'
        'prometheus"\n\t"github.com/prometheus/client_golang/prometheus/promhttp"\n' + """
var delayMS atomic.Int64

func main() {
	// DELAY_MS: a release that starts slow (an environment row can set it).
	if n, err := strconv.Atoi(os.Getenv("DELAY_MS")); err == nil && n > 0 {
		delayMS.Store(int64(n))
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total",
		Help: "Requests by route and status."}, []string{"route", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds",
		Help: "Request time by route and status.", Buckets: prometheus.DefBuckets}, []string{"route", "status"})
	prometheus.MustRegister(requests, duration)
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := strconv.Itoa(c.Writer.Status())
		requests.WithLabelValues(c.FullPath(), status).Inc()
		duration.WithLabelValues(c.FullPath(), status).Observe(time.Since(start).Seconds())
	})
""" + _health_handler("/healthz") + """	r.GET("/metrics", gin.WrapH(promhttp.Handler()))
	r.GET("/api/work", func(c *gin.Context) {
		time.Sleep(time.Duration(delayMS.Load()) * time.Millisecond)
		c.String(http.StatusOK, "done")
	})
	r.POST("/admin/delay", func(c *gin.Context) {
		if c.GetHeader("X-Forwarded-For") != "" || !strings.HasPrefix(c.Request.RemoteAddr, "127.0.0.1:") {
			c.String(http.StatusForbidden, "loopback only")
			return
		}
		ms, err := strconv.Atoi(c.Query("ms"))
		if err != nil || ms < 0 {
			c.String(http.StatusBadRequest, "ms: a whole number of milliseconds")
			return
		}
		delayMS.Store(int64(ms))
		c.String(http.StatusOK, "delay %d ms", ms)
	})
	port := os.Getenv("PORT")
	if port == "" {
		port = "8300"
	}
""" + _serve('"127.0.0.1:" + port') + "}\n",
    }


SHAPES = ("rootmain", "multi", "cgo", "monorepo", "nohealth")


def make(shape: str, dest: Path) -> App:
    """Write the repository of ``shape`` under ``dest``, tidy its go.mod and commit it."""
    if shape == "rootmain":
        app = App(shape, dest, dest, "example.com/acme/ledger", "ledger", "ledger", 9999, "/health/live",
                  writable=["logs"], tzdata=True)
        files = _root_main()
    elif shape == "multi":
        app = App(shape, dest, dest, "example.com/acme/shop", "shop", "api", 8888, "/healthz",
                  files=["config.yaml"], tools=["gen", "worker"])
        files = _multi()
    elif shape == "cgo":
        app = App(shape, dest, dest, "example.com/acme/notes", "notes", "notes", 7070, "/healthz", cgo=True)
        files = _cgo()
    elif shape == "monorepo":
        app = App(shape, dest, dest / "server", "example.com/acme/portal/server", "portal", "portal", 8181,
                  "/health", files=["configs/app.toml"])
        files = {f"server/{k}": v for k, v in _monorepo_server().items()}
        files["web/package.json"] = '{"name": "portal-web", "private": true}\n'
        files["README.md"] = "# portal\n\nweb/ is the front end, server/ the Go service.\n"
    elif shape == "ownport":  # for the deploy lab; not one of SHAPES (no image tests)
        app = App(shape, dest, dest, "example.com/acme/stock", "stock", "stock", 9090, "/status/ready",
                  files=["conf/app.yaml"], writable=["logs"])
        files = _binds_own_port()
    elif shape == "metered":  # for the monitoring lab; not one of SHAPES
        app = App(shape, dest, dest, "example.com/acme/meter", "meter", "meter", 8300, "/healthz")
        files = _metered()
    elif shape == "nohealth":
        app = App(shape, dest, dest, "example.com/acme/echo", "echo", "echo", 8080, None)
        files = _no_health()
    else:
        raise ValueError(shape)
    _write(dest, files)
    (app.module_root / "go.mod").write_text(_go_mod(app.module))
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    subprocess.run([go_binary(), "mod", "tidy"], cwd=app.module_root, check=True, env=env, capture_output=True,
                   timeout=600)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "the app"], cwd=dest, check=True,
                   env={**os.environ, "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z",
                        "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z"})
    return app
