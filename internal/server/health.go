package server

import (
	"net/http"
	"sync/atomic"

	"github.com/gin-gonic/gin"
)

// State is the readiness of the process as reported by /readyz.
type State int32

// Readiness moves only forward: starting, then ready, then draining.
const (
	StateStarting State = iota
	StateReady
	StateDraining
)

func (s State) String() string {
	switch s {
	case StateStarting:
		return "starting"
	case StateReady:
		return "ready"
	case StateDraining:
		return "draining"
	}
	return "unknown"
}

// Readiness is shared between the lifecycle code, which flips it, and the
// /readyz handler, which reports it. The zero value is StateStarting.
type Readiness struct {
	state atomic.Int32
}

// NewReadiness returns a Readiness in StateStarting.
func NewReadiness() *Readiness { return &Readiness{} }

// MarkReady reports ready, unless shutdown already began: a late MarkReady
// must not put a draining instance back into a load balancer.
func (r *Readiness) MarkReady() {
	r.state.CompareAndSwap(int32(StateStarting), int32(StateReady))
}

// MarkDraining reports not ready for good.
func (r *Readiness) MarkDraining() { r.state.Store(int32(StateDraining)) }

// State returns the current state.
func (r *Readiness) State() State { return State(r.state.Load()) }

func registerHealth(r gin.IRoutes, ready *Readiness) {
	// Liveness stays 200 while draining: restarting a process that is
	// finishing its in-flight requests would defeat graceful shutdown.
	getAndHead(r, "/healthz", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"status": "ok"})
	})
	getAndHead(r, "/readyz", func(c *gin.Context) {
		s := ready.State()
		code := http.StatusOK
		if s != StateReady {
			code = http.StatusServiceUnavailable
		}
		c.JSON(code, gin.H{"status": s.String()})
	})
}
