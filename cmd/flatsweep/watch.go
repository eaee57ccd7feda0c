package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

func newWatchCmd() *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "watch SWEEP",
		Short: "Show a sweep's live progress: trials by state, throughput and time left",
		Args:  exactArgs(1, "one sweep name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, err := conn.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			stream, err := pb.NewSweepServiceClient(cc).WatchSweep(cmd.Context(), &pb.WatchSweepRequest{SweepId: args[0]})
			if err != nil {
				return fmt.Errorf("watch %s: %w", args[0], err)
			}
			out := cmd.OutOrStdout()
			tty := false
			if f, ok := out.(*os.File); ok {
				tty = term.IsTerminal(int(f.Fd()))
			}
			for {
				resp, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					if tty {
						fmt.Fprintln(out)
					}
					return nil
				}
				if err != nil {
					return fmt.Errorf("watch %s: %w", args[0], err)
				}
				line := progressLine(resp, 30)
				if tty {
					fmt.Fprintf(out, "\r\033[K%s", line)
				} else {
					fmt.Fprintln(out, line)
				}
			}
		},
	}
	addConnFlags(cmd, &conn)
	return cmd
}

// progressLine renders a bar of finished/running/pending trials, the counts,
// the throughput and the estimated time left.
func progressLine(r *pb.WatchSweepResponse, width int) string {
	sw := r.Sweep
	total := max(int(sw.TrialCount), 1)
	fin := int(sw.StateCounts["succeeded"] + sw.StateCounts["discarded"] + sw.StateCounts["cancelled"])
	run := int(sw.StateCounts["running"])
	nf := fin * width / total
	nr := min(run*width/total, width-nf)
	bar := strings.Repeat("█", nf) + strings.Repeat("▒", nr) + strings.Repeat("·", width-nf-nr)
	eta := "—"
	if r.Remaining != nil {
		eta = r.Remaining.AsDuration().Round(time.Second).String()
	}
	return fmt.Sprintf("%s [%s] %d/%d  %s  %.2f trials/s  eta %s",
		sw.Id, bar, fin, sw.TrialCount, sweepLine(sw), r.TrialsPerSecond, eta)
}
