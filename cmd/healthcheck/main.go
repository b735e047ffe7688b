// Command healthcheck probes the server's /healthz endpoint and exits 0 when
// it answers 200, 1 otherwise: a HEALTHCHECK for hosts and images with no
// shell or curl. The server binary answers the same with -healthcheck; see
// internal/probe for the target URL rules.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"example.com/ginsvc/internal/probe"
)

func main() {
	os.Exit(run(context.Background(), os.LookupEnv, os.Stderr))
}

// run returns the exit status: 0 when /healthz answered 200, else 1 with the
// reason on stderr.
func run(ctx context.Context, getenv func(string) (string, bool), stderr io.Writer) int {
	if err := probe.Run(ctx, getenv); err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	return 0
}
