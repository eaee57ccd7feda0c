package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/worker"
)

func newWorkerCmd() *cobra.Command {
	var (
		name   string
		connf  connFlags
		slots  int
		labels []string
	)
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Pull trials from a coordinator and run them",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if slots < 1 {
				return usagef("--slots: must be at least 1, got %d", slots)
			}
			lm := map[string]string{}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return usagef("--label: want key=value, got %q", l)
				}
				lm[k] = v
			}
			cc, err := connf.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			w := worker.New(cc, worker.Config{Name: name, Slots: slots, Labels: lm, Logger: slog.Default()})
			err = w.Run(cmd.Context())
			if errors.Is(err, context.Canceled) {
				return nil // stopped by a signal
			}
			return err
		},
	}
	addConnFlags(cmd, &connf)
	cmd.Flags().StringVar(&name, "name", "", "worker name (default: host name)")
	cmd.Flags().IntVar(&slots, "slots", 1, "trials to run at once")
	cmd.Flags().StringArrayVar(&labels, "label", nil, "label key=value (repeatable)")
	return cmd
}
