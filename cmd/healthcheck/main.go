// Command healthcheck probes the server's /healthz endpoint and exits 0 when
// it answers 200, 1 otherwise: a HEALTHCHECK for hosts and images with no
// shell or curl. The server binary answers the same with -healthcheck; see
// internal/probe for the target URL rules.
package main

import (
	"context"
	"fmt"
	"os"

	"example.com/ginsvc/internal/probe"
)

func main() {
	if err := probe.Run(context.Background(), os.LookupEnv); err != nil {
		fmt.Fprintf(os.Stderr, "healthcheck: %v\n", err)
		os.Exit(1)
	}
}
