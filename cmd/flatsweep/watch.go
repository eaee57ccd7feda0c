package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

func newWatchCmd() *cobra.Command {
	var conn connFlags
	cmd := &cobra.Command{
		Use:   "watch SWEEP",
		Short: "Show a sweep's live progress: trials by state, throughput and time left",
		Long: `Show a sweep's live progress until every trial is finished: a bar of
finished (█), running (▒) and pending (·) trials, the counts by state, the
trials finished per second over the last minute and the time left at that
rate. On a terminal the line is redrawn in place and fits its width;
otherwise one line is printed per change. Ctrl-C stops watching (the sweep
goes on).`,
		Example: `  flatsweep watch quickstart
  flatsweep watch quickstart --coordinator coord-host:7070 | tee progress.log`,
		Args: exactArgs(1, "one sweep name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cc, err := conn.dial()
			if err != nil {
				return err
			}
			defer cc.Close()
			ctx := cmd.Context()
			stream, err := pb.NewSweepServiceClient(cc).WatchSweep(ctx, &pb.WatchSweepRequest{SweepId: args[0]})
			if err != nil {
				return fmt.Errorf("watch %s: %w", args[0], err)
			}
			out := cmd.OutOrStdout()
			fd, tty := -1, false
			if f, ok := out.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
				fd, tty = int(f.Fd()), true
			}
			drawn := false
			for {
				resp, err := stream.Recv()
				switch {
				case errors.Is(err, io.EOF), err != nil && ctx.Err() != nil:
					// Finished, or Ctrl-C: end the line drawn in place.
					if tty && drawn {
						fmt.Fprintln(out)
					}
					return nil
				case err != nil:
					return fmt.Errorf("watch %s: %w", args[0], err)
				}
				if tty {
					fmt.Fprintf(out, "\r\033[K%s", progressLine(resp, terminalWidth(fd)))
					drawn = true
				} else {
					fmt.Fprintln(out, progressLine(resp, 0))
				}
			}
		},
	}
	addConnFlags(cmd, &conn)
	return cmd
}

// terminalWidth returns the width of the terminal on fd, 80 when it cannot
// be read.
func terminalWidth(fd int) int {
	if w, _, err := term.GetSize(fd); err == nil && w > 0 {
		return w
	}
	return 80
}

// Bar widths of the progress line.
const (
	minBar = 10
	maxBar = 40
)

// progressLine renders a bar of finished/running/pending trials, the counts,
// the throughput and the estimated time left. With columns > 0 the line
// fits in that many columns (the bar shrinks, the sweep's name is left
// out, then the line is cut, with
// room left for the cursor so the terminal does not wrap); with 0 it is not
// limited and the bar has its full width.
func progressLine(r *pb.WatchSweepResponse, columns int) string {
	sw := r.Sweep
	fin := int(wire.Finished(sw))
	head := fmt.Sprintf("%s ", sw.Id)
	tail := fmt.Sprintf(" %d/%d  %s", fin, sw.TrialCount, progressTail(r))
	if c := watchCounts(sw); c != "" {
		tail = fmt.Sprintf(" %d/%d  %s  %s", fin, sw.TrialCount, c, progressTail(r))
	}
	width := maxBar
	if columns > 0 {
		room := columns - 1 - utf8.RuneCountInString(head) - utf8.RuneCountInString(tail) - 2
		if room < minBar {
			// The name goes first: the user knows which sweep they watch.
			room += utf8.RuneCountInString(head)
			head = ""
		}
		width = max(minBar, min(maxBar, room))
	}
	line := head + "[" + bar(sw, width) + "]" + tail
	if columns > 0 && utf8.RuneCountInString(line) > columns-1 {
		line = string([]rune(line)[:columns-2]) + "…"
	}
	return line
}

// watchCounts lists the states the bar does not show apart: running,
// failed (waiting for a retry), discarded and cancelled trials.
func watchCounts(sw *pb.Sweep) string {
	var parts []string
	for _, st := range []string{"running", "failed", "discarded", "cancelled"} {
		if n := sw.StateCounts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	return strings.Join(parts, ", ")
}

// progressTail says how fast the sweep goes and how long it has left; a
// paused, cancelled or finished sweep says so instead of a time left.
func progressTail(r *pb.WatchSweepResponse) string {
	sw := r.Sweep
	switch st := wire.SweepState(sw); st {
	case "done", "cancelled":
		return "[" + st + "]"
	case "paused":
		return "[paused]  eta —"
	}
	eta := "—"
	if r.Remaining != nil {
		eta = r.Remaining.AsDuration().Round(time.Second).String()
	}
	return fmt.Sprintf("%.2f trials/s  eta %s", r.TrialsPerSecond, eta)
}

// bar draws width cells: finished █, running ▒, pending ·.
func bar(sw *pb.Sweep, width int) string {
	total := max(int(sw.TrialCount), 1)
	fin := int(wire.Finished(sw))
	run := int(sw.StateCounts["running"])
	nf := min(fin*width/total, width)
	nr := min(run*width/total, width-nf)
	return strings.Repeat("█", nf) + strings.Repeat("▒", nr) + strings.Repeat("·", width-nf-nr)
}
