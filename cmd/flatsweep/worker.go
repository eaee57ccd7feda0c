package main

import (
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/coordinator/lease"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/worker"
)

func newWorkerCmd() *cobra.Command {
	var (
		name   string
		connf  connFlags
		slots  int
		labels []string
		drain  time.Duration
		cmdCfg worker.CommandConfig
		simT   time.Duration
		simU   time.Duration
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Pull trials from a coordinator and run them",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if slots < 1 {
				return usagef("--slots: must be at least 1, got %d", slots)
			}
			if cmdCfg.GPUs < 0 || cmdCfg.GPUs > spec.MaxCommandGPUs {
				return usagef("--gpus: must be from 0 to %d, got %d", spec.MaxCommandGPUs, cmdCfg.GPUs)
			}
			if cmdCfg.LogTailBytes < 1 || cmdCfg.LogTailBytes > lease.DefaultMaxLogBytes {
				return usagef("--log-tail-bytes: must be from 1 to %d (the coordinator's limit), got %d", lease.DefaultMaxLogBytes, cmdCfg.LogTailBytes)
			}
			if cmdCfg.KillGrace <= 0 {
				return usagef("--kill-grace: must be > 0, got %s", cmdCfg.KillGrace)
			}
			lm := map[string]string{}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return usagef("--label: want key=value, got %q", l)
				}
				lm[k] = v
			}
			if simT < 0 || simU < 0 {
				return usagef("--simulate, --simulate-per-update: must be ≥ 0, got %s and %s", simT, simU)
			}
			var sim *worker.Simulation
			if cmd.Flags().Changed("simulate") || cmd.Flags().Changed("simulate-per-update") {
				sim = &worker.Simulation{PerTrial: simT, PerUpdate: simU}
				slog.Warn("simulating trials: no training runs; results are marked simulated and carry no measurements",
					"per_trial", simT, "per_update", simU)
			}
			cc, err := connf.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			w := worker.New(cc, worker.Config{Name: name, Slots: slots, Labels: lm, DrainTimeout: drain, Logger: slog.Default(), Command: cmdCfg, Simulate: sim})
			// The first SIGTERM/SIGINT (which ends cmd.Context()) drains; a
			// second one hands the running trials back at once.
			go func() {
				<-cmd.Context().Done()
				again := make(chan os.Signal, 1)
				signal.Notify(again, os.Interrupt, syscall.SIGTERM)
				defer signal.Stop(again)
				<-again
				w.Abort()
			}()
			return w.Run(cmd.Context())
		},
	}
	addConnFlags(cmd, &connf)
	cmd.Flags().StringVar(&name, "name", "", "worker name (default: host name)")
	cmd.Flags().IntVar(&slots, "slots", 1, "trials to run at once (a command trial with command.slots k counts k times)")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "label key=value (repeatable)")
	cmd.Flags().DurationVar(&simT, "simulate", 0, "benchmark mode: run no training, sleep this long per trial (plus --simulate-per-update per parameter update) and report a result marked simulated, with no measurements; only a coordinator started with --accept-simulated takes such a worker (e.g. --simulate 1s)")
	cmd.Flags().DurationVar(&simU, "simulate-per-update", 0, "benchmark mode: sleep this long per parameter update of the trial (its steps, or epochs·⌊N/B⌋), so small batch sizes take longer (e.g. --simulate-per-update 100us)")
	cmd.Flags().DurationVar(&drain, "drain-timeout", time.Minute, "on SIGTERM, how long running trials may finish before they are handed back (a second signal hands them back at once)")
	cmd.Flags().BoolVar(&cmdCfg.Allow, "allow-commands", false, "run command trials: programs a sweep names (command.argv), with this worker's user and environment; without it the worker is leased none")
	cmd.Flags().IntVar(&cmdCfg.GPUs, "gpus", 0, "GPUs this worker has: command trials needing GPUs (command.gpus) run only on workers with enough, each given free indices in CUDA_VISIBLE_DEVICES")
	cmd.Flags().StringVar(&cmdCfg.WorkDir, "work-dir", "", "where command trials' attempt directories are made (default: flatsweep-work in the temporary directory)")
	cmd.Flags().BoolVar(&cmdCfg.KeepWork, "keep-work", false, "keep each command attempt's directory (result, weights, params) after it is reported")
	cmd.Flags().IntVar(&cmdCfg.LogTailBytes, "log-tail-bytes", 1<<20, "bytes of a command's standard output and of its standard error kept per attempt (the tails) and uploaded with its report")
	cmd.Flags().DurationVar(&cmdCfg.KillGrace, "kill-grace", 10*time.Second, "how long a stopped command's process group has after SIGTERM before SIGKILL")
	return cmd
}
