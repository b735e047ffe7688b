package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
)

// statusClientClosedRequest records, in logs and metrics, requests whose
// client went away before the answer was ready. No response reaches the
// client, so the non-standard code is never seen on the wire.
const statusClientClosedRequest = 499

func registerAPI(api *gin.RouterGroup, timeout time.Duration, now func() time.Time) {
	api.Use(apiTimeout(timeout))
	v1 := api.Group("/v1")
	getAndHead(v1, "/ping", ping(timeout, now))
}

// apiTimeout gives each API request a deadline. Handlers must honour the
// request context; if one returns after the deadline without answering, the
// client gets a 504 rather than an empty 200.
func apiTimeout(timeout time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), timeout)
		defer cancel()
		c.Request = c.Request.WithContext(ctx)
		c.Next()
		if !c.Writer.Written() && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			c.AbortWithStatusJSON(http.StatusGatewayTimeout, gin.H{
				"error": fmt.Sprintf("request exceeded the API timeout of %dms", timeout.Milliseconds()),
			})
		}
	}
}

type pingResponse struct {
	Message string `json:"message"`
	Time    string `json:"time"`
}

// ping answers after an optional delay_ms, which lets shutdown and load
// tests hold a request open for a known time.
func ping(maxDelay time.Duration, now func() time.Time) gin.HandlerFunc {
	maxMS := maxDelay.Milliseconds()
	return func(c *gin.Context) {
		var delay time.Duration
		if raw, ok := c.GetQuery("delay_ms"); ok {
			ms, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || ms < 0 || ms > maxMS {
				c.JSON(http.StatusBadRequest, gin.H{
					"error": fmt.Sprintf("delay_ms must be an integer between 0 and %d", maxMS),
				})
				return
			}
			delay = time.Duration(ms) * time.Millisecond
		}

		if delay > 0 {
			ctx := c.Request.Context()
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					return // apiTimeout writes the 504
				}
				c.AbortWithStatus(statusClientClosedRequest)
				return
			}
		}
		c.JSON(http.StatusOK, pingResponse{Message: "pong", Time: now().UTC().Format(time.RFC3339)})
	}
}
