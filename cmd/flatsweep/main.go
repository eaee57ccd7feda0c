// Command flatsweep runs sweeps of neural-network training trials over a
// grid of batch size, learning rate and seed, measures the curvature of every
// trained network, and relates generalization to the SGD noise scale
// g = ε(N/B − 1) and to flatness.
//
// Usage:
//
//	flatsweep run SWEEP.yaml [--workers N] [--db PATH]   # everything in one process
//	flatsweep coordinator --listen ADDR --db PATH         # the cluster's coordinator
//	flatsweep worker --coordinator ADDR [--slots N]       # one per machine
//	flatsweep submit SWEEP.yaml --coordinator ADDR
//	flatsweep status [SWEEP] --coordinator ADDR
//	flatsweep results SWEEP --coordinator ADDR --format table|csv|json
//
// Exit status: 0 on success, 2 for bad input (flags, sweep files), 1 otherwise.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "flatsweep:", err)
		os.Exit(exitCode(err))
	}
}

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	if isUsage(err) {
		return 2
	}
	if errors.Is(err, context.Canceled) {
		return 130
	}
	return 1
}
