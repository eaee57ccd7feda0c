package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

func newStatusCmd() *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "status [SWEEP]",
		Short: "Show sweeps (or one sweep) with trial counts by state, and the workers",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("want at most one sweep name, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, err := conn.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), rpcTimeout)
			defer cancel()
			c := pb.NewSweepServiceClient(cc)
			var list []*pb.Sweep
			if len(args) == 1 {
				resp, err := c.GetSweep(ctx, &pb.GetSweepRequest{SweepId: args[0]})
				if err != nil {
					return fmt.Errorf("sweep %s: %w", args[0], err)
				}
				list = []*pb.Sweep{resp.Sweep}
			} else {
				resp, err := c.ListSweeps(ctx, &pb.ListSweepsRequest{})
				if err != nil {
					return fmt.Errorf("list sweeps: %w", err)
				}
				list = resp.Sweeps
			}
			workers, err := c.ListWorkers(ctx, &pb.ListWorkersRequest{})
			if err != nil {
				return fmt.Errorf("list workers: %w", err)
			}
			return writeStatus(cmd.OutOrStdout(), list, workers.Workers, time.Now())
		},
	}
	addConnFlags(cmd, &conn)
	return cmd
}

// stateCounts formats a sweep's counts as "succeeded 10, running 2".
func stateCounts(sw *pb.Sweep) string {
	var parts []string
	for _, s := range wire.StateNames() {
		if n := sw.StateCounts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n))
		}
	}
	return strings.Join(parts, ", ")
}

// slotNotes warns of each unfinished sweep whose trials occupy more slots
// (command.slots) than any listed worker that runs commands has: they are
// leased to none until such a worker joins.
func slotNotes(list []*pb.Sweep, workers []*pb.Worker) []string {
	var most int32
	for _, wk := range workers {
		if wk.Commands {
			most = max(most, wk.Slots)
		}
	}
	var notes []string
	for _, sw := range list {
		if sw.SpecJson == "" || sw.Cancelled || wire.Finished(sw) >= sw.TrialCount {
			continue
		}
		s, err := spec.DecodeSweep([]byte(sw.SpecJson))
		if err != nil || len(s.Command.Argv) == 0 {
			continue
		}
		if k := s.Command.SlotsNeeded(); int32(k) > most {
			notes = append(notes, fmt.Sprintf("%s: its trials occupy %d slots each (command.slots), but no worker here that runs commands has that many (most: %d); they wait for a worker started with --allow-commands --slots %d or more",
				sw.Id, k, most, k))
		}
	}
	return notes
}

func writeStatus(w io.Writer, list []*pb.Sweep, workers []*pb.Worker, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SWEEP\tSTATE\tTRIALS\tDONE\tTRIAL STATES")
	for _, sw := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", sw.Id, wire.SweepState(sw), sw.TrialCount, wire.Finished(sw), stateCounts(sw))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, sw := range list {
		if len(sw.Failures) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s: ", sw.Id)
		if err := results.WriteFailures(w, results.FailuresFromProto(sw.Failures), 0); err != nil {
			return err
		}
	}
	for _, note := range slotNotes(list, workers) {
		fmt.Fprintf(w, "\n%s\n", note)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "WORKER\tNAME\tSLOTS\tGPUS\tCOMMANDS\tRUNNING\tLAST SEEN")
	for _, wk := range workers {
		ago := now.Sub(wk.LastSeenTime.AsTime()).Round(time.Second)
		commands := "no"
		if wk.Commands {
			commands = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%s ago\n", wk.Id, wk.Name, wk.Slots, wk.Gpus, commands, wk.Running, ago)
	}
	return tw.Flush()
}
