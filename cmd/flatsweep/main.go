// Command flatsweep runs sweeps of neural-network training trials over a
// grid of batch size, learning rate and seed, measures the curvature of every
// trained network, and relates generalization to the SGD noise scale
// g = ε(N/B − 1) and to flatness.
//
// Usage (`flatsweep help COMMAND` for each):
//
//	flatsweep run [SWEEP.yaml] [--workers N] [--db PATH]  # everything in one process
//	flatsweep coordinator --listen ADDR --db PATH         # the cluster's coordinator
//	flatsweep worker --coordinator ADDR [--slots N]       # one per machine
//	flatsweep submit SWEEP.yaml [--priority P]            # send a sweep to the coordinator
//	flatsweep status [SWEEP]                              # progress of every sweep
//	flatsweep watch SWEEP                                 # live progress of one sweep
//	flatsweep results SWEEP [--group-by AXES] [--where AXIS=V]  # grouped summaries
//	flatsweep pause|resume|cancel SWEEP                   # steer a sweep (resume reopens a cancelled one)
//	flatsweep backup COPY.db                              # hot backup of the coordinator's database
//	flatsweep analyze SWEEP                               # B_opt, collapse onto g, τ and Ψ, Dinh
//	flatsweep report SWEEP --out DIR                      # HTML, Markdown and figures
//	flatsweep export SWEEP --out FILE.parquet|.csv        # one row per trial
//	flatsweep grid SWEEP.yaml                             # list the trials: index, ID, grid point
//	flatsweep train SWEEP.yaml --out DIR [--trial I|ID]   # one trial locally, keeping its weights
//	flatsweep hessian --weights FILE [--spec trial.json]  # curvature of one saved model
//	flatsweep landscape --weights FILE [--to FILE2]       # loss along a line or a plane in parameter space
//	flatsweep migrate --db PATH                           # content identity for an old database
//	flatsweep db check|salvage --db PATH [--out NEW.db]   # find damage; copy every intact record
//	flatsweep version                                     # what makes two builds give equal trials
//
// Commands that talk to a coordinator find it with --coordinator HOST:PORT,
// else $FLATSWEEP_COORDINATOR, else 127.0.0.1:7070.
//
// Exit status: 0 on success, 2 for bad input (flags, sweep files), 1 otherwise.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"regexp"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "flatsweep:", describe(err))
		os.Exit(exitCode(err))
	}
}

// grpcPrefix matches the text gRPC puts before a status message.
var grpcPrefix = regexp.MustCompile(`rpc error: code = (\w+) desc = `)

// describe renders an error for the terminal: gRPC's "rpc error: code = C
// desc = M" becomes "C: M".
func describe(err error) string {
	return grpcPrefix.ReplaceAllString(err.Error(), "$1: ")
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
