package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// newControlCmd builds cancel, pause and resume: one sweep-name argument and
// one RPC each.
func newControlCmd(use, short string, call func(context.Context, pb.SweepServiceClient, string) (*pb.Sweep, error)) *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   use + " SWEEP",
		Short: short,
		Args:  exactArgs(1, "one sweep name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, err := conn.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), rpcTimeout)
			defer cancel()
			sw, err := call(ctx, pb.NewSweepServiceClient(cc), args[0])
			if err != nil {
				return fmt.Errorf("%s %s: %w", use, args[0], err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sweep %s: %s\n", sw.Id, sweepLine(sw))
			return nil
		},
	}
	addConnFlags(cmd, &conn)
	return cmd
}

func newCancelCmd() *cobra.Command {
	return newControlCmd("cancel", "Cancel a sweep: unfinished trials are cancelled, running ones stopped; results are kept",
		func(ctx context.Context, c pb.SweepServiceClient, id string) (*pb.Sweep, error) {
			r, err := c.CancelSweep(ctx, &pb.CancelSweepRequest{SweepId: id})
			return r.GetSweep(), err
		})
}

func newPauseCmd() *cobra.Command {
	return newControlCmd("pause", "Pause a sweep: pending trials wait, running ones finish",
		func(ctx context.Context, c pb.SweepServiceClient, id string) (*pb.Sweep, error) {
			r, err := c.PauseSweep(ctx, &pb.PauseSweepRequest{SweepId: id})
			return r.GetSweep(), err
		})
}

func newResumeCmd() *cobra.Command {
	return newControlCmd("resume", "Resume a paused sweep, or reopen a cancelled one: its trials without a result run again",
		func(ctx context.Context, c pb.SweepServiceClient, id string) (*pb.Sweep, error) {
			r, err := c.ResumeSweep(ctx, &pb.ResumeSweepRequest{SweepId: id})
			return r.GetSweep(), err
		})
}

// sweepLine summarizes a sweep's state in one line.
func sweepLine(sw *pb.Sweep) string {
	return fmt.Sprintf("%d trials: %s [%s]", sw.TrialCount, stateCounts(sw), wire.SweepState(sw))
}
