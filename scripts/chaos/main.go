// Command chaos runs a sweep on real flatsweep processes — one coordinator
// and several workers on loopback, the workers connected through a TCP proxy
// in this process — while it injects faults from a seeded schedule: workers
// SIGKILLed (and replaced) or SIGSTOPped past the lease TTL (and continued),
// the coordinator SIGKILLed (and restarted on the same database), and the
// workers' connections reset, partitioned (refused) or stalled. When the
// schedule ends (at -duration, or earlier when the sweep is done) every fault
// is healed and the sweep finishes fault-free. The run then compares every
// trial with a fault-free run of the same sweep (flatsweep run) and prints
// the trials, the faults injected by kind, the trials lost (not succeeded),
// duplicated (recorded more than once) and bit-identical to the reference,
// and the throughput. It exits with status 1 when anything is lost,
// duplicated or different, 2 for bad flags.
//
//	go run ./scripts/chaos -duration 5m -trials 400 -workers 4
//
// docs/RELIABILITY.md describes the faults, the checks and recorded runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(mainErr(os.Args[1:], os.Stdout, os.Stderr))
}

// mainErr parses the flags, performs the run and returns the exit status.
func mainErr(args []string, stdout, stderr io.Writer) int {
	cfg, jsonOut, keep, err := parseFlags(args, stderr)
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "chaos:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tempDir := cfg.Dir == ""
	rep, err := run(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
		if rep != nil {
			fmt.Fprintln(stderr, "chaos: logs and databases kept in", rep.Dir)
		}
		return 1
	}
	if err := rep.write(stdout); err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
		return 1
	}
	if jsonOut != "" {
		if err := rep.writeJSON(jsonOut); err != nil {
			fmt.Fprintln(stderr, "chaos:", err)
			return 1
		}
	}
	if !rep.ok() {
		return 1
	}
	if tempDir && !keep {
		_ = os.RemoveAll(rep.Dir)
	}
	return 0
}

// parseFlags reads the command line into a configuration.
func parseFlags(args []string, stderr io.Writer) (cfg config, jsonOut string, keep bool, err error) {
	cfg = defaultConfig()
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Bin, "bin", "", "flatsweep binary to run (default: go build ./cmd/flatsweep into the working directory)")
	fs.StringVar(&cfg.Dir, "dir", "", "working directory for databases and logs (default: a temporary directory, removed after a passing run)")
	fs.StringVar(&cfg.RefDB, "ref", "", "database of a fault-free run of the same sweep to compare with (default: run it first with flatsweep run)")
	fs.BoolVar(&keep, "keep", false, "keep the temporary working directory after a passing run")
	fs.StringVar(&jsonOut, "json", "", "also write the report as JSON to this file")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "seed of the fault schedule")
	fs.IntVar(&cfg.Trials, "trials", cfg.Trials, "trials in the sweep (rounded up to a multiple of 8: 4 batch sizes × 2 learning rates × seeds)")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "worker processes")
	fs.IntVar(&cfg.Slots, "slots", cfg.Slots, "slots per worker")
	fs.DurationVar(&cfg.LeaseTTL, "lease-ttl", cfg.LeaseTTL, "the coordinator's --lease-ttl")
	fs.IntVar(&cfg.MaxAttempts, "max-attempts", cfg.MaxAttempts, "the coordinator's --max-attempts (high, so that faults do not discard trials by design)")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "longest time faults are injected (the phase ends earlier when the sweep is done)")
	fs.DurationVar(&cfg.SettleTimeout, "settle-timeout", cfg.SettleTimeout, "how long the sweep may take to finish once the faults stop (a long run needs about as long as the trials left when the faults stop take fault-free: give the reference's duration)")
	fs.DurationVar(&cfg.CutMax, "cut-max", cfg.CutMax, "longest partition or stall (each lasts between a quarter of this and this)")
	fs.IntVar(&cfg.N, "n", cfg.N, "training examples of each trial")
	fs.IntVar(&cfg.Hidden, "hidden", cfg.Hidden, "width of the two hidden layers")
	fs.IntVar(&cfg.Epochs, "epochs", cfg.Epochs, "epochs of each trial")
	fs.BoolVar(&cfg.Verbose, "v", false, "print every fault as it is injected")
	rates := map[faultKind]*float64{}
	for _, k := range faultKinds {
		r := cfg.Rates[k]
		rates[k] = &r
		fs.Float64Var(rates[k], string(k), r, fmt.Sprintf("%s faults per minute", k.describe()))
	}
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: go run ./scripts/chaos [flags]\n\nRuns a sweep on a coordinator and worker processes while injecting faults; see docs/RELIABILITY.md.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, "", false, err
	}
	if fs.NArg() > 0 {
		return cfg, "", false, fmt.Errorf("unexpected arguments %v: every setting is a flag", fs.Args())
	}
	cfg.Rates = map[faultKind]float64{}
	for k, r := range rates {
		cfg.Rates[k] = *r
	}
	return cfg, jsonOut, keep, cfg.check()
}
