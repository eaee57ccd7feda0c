package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

func newLogsCmd() *cobra.Command {
	var (
		src     sourceFlags
		sweep   string
		attempt int32
		stream  string
	)
	cmd := &cobra.Command{
		Use:   "logs TRIAL",
		Short: "Print the standard output and error of a command trial's attempts",
		Long: `logs prints what a command trial's program wrote to its standard output
and standard error, attempt by attempt: the tails (at most the worker's
--log-tail-bytes each, 1 MiB by default) that the worker uploaded with each
attempt's report (or, for an attempt stopped by a cancel or a lost lease,
once it was stopped), stored by the coordinator, so they outlive the worker
machine. Only an attempt whose worker died has no log. TRIAL is a trial ID (flatsweep grid, status and results list them);
--sweep names its sweep when the trial ID is in several. --stream stdout or
--stream stderr prints that stream alone, without headers.`,
		Example: `  flatsweep logs t-3f2a9c --sweep lr-sweep
  flatsweep logs t-3f2a9c --attempt 2 --stream stderr
  flatsweep logs t-3f2a9c --db copy.db`,
		Args: exactArgs(1, "one trial ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if attempt < 0 {
				return usagef("--attempt: must be ≥ 1 (0: every attempt), got %d", attempt)
			}
			if stream != "both" && stream != "stdout" && stream != "stderr" {
				return usagef("--stream: want both, stdout or stderr, got %q", stream)
			}
			var (
				logs  []*pb.CommandLog
				where string
				err   error
			)
			if src.db != "" {
				if cmd.Flags().Changed("coordinator") {
					return usagef("--db and --coordinator: give one source, not both")
				}
				logs, where, err = logsFromDB(src.db, sweep, args[0], attempt)
			} else {
				logs, where, err = logsFromCoordinator(cmd.Context(), &src.conn, sweep, args[0], attempt)
			}
			if err != nil {
				return err
			}
			if len(logs) == 0 {
				what := "no attempt of trial " + where + " has a stored log"
				if attempt > 0 {
					what = fmt.Sprintf("attempt %d of trial %s has no stored log", attempt, where)
				}
				_, err := fmt.Fprintln(cmd.ErrOrStderr(), what+" (not a command trial, no attempt reported yet, or its worker died)")
				return err
			}
			return writeLogs(cmd.OutOrStdout(), logs, stream)
		},
	}
	addSourceFlags(cmd, &src)
	cmd.Flags().StringVar(&sweep, "sweep", "", "the trial's sweep (default: the one sweep holding the trial ID)")
	cmd.Flags().Int32Var(&attempt, "attempt", 0, "print only this attempt (default: every attempt with a log)")
	cmd.Flags().StringVar(&stream, "stream", "both", "both, stdout or stderr")
	return cmd
}

// writeLogs prints logs: headed sections, or one stream's bytes alone.
func writeLogs(w io.Writer, logs []*pb.CommandLog, stream string) error {
	var b strings.Builder
	for _, l := range logs {
		switch stream {
		case "stdout":
			b.Write(l.Stdout)
			continue
		case "stderr":
			b.Write(l.Stderr)
			continue
		}
		exit := fmt.Sprintf("exit status %d", l.ExitCode)
		if l.ExitCode < 0 {
			exit = "no exit status (stopped by a signal, or never started)"
		}
		fmt.Fprintf(&b, "=== attempt %d on worker %s: %s; %s\n", l.Attempt, l.WorkerId, firstLine(l.Outcome), exit)
		for _, s := range []struct {
			name    string
			data    []byte
			dropped int64
		}{{"stdout", l.Stdout, l.StdoutDropped}, {"stderr", l.Stderr, l.StderrDropped}} {
			fmt.Fprintf(&b, "--- %s (%d bytes", s.name, len(s.data))
			if s.dropped > 0 {
				fmt.Fprintf(&b, ", the %d before them not kept", s.dropped)
			}
			b.WriteString(")\n")
			b.Write(s.data)
			if len(s.data) > 0 && s.data[len(s.data)-1] != '\n' {
				b.WriteByte('\n')
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// firstLine returns the first line of s.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// logsFromCoordinator asks a coordinator for a trial's logs; without a
// sweep it looks for the trial in every sweep.
func logsFromCoordinator(ctx context.Context, conn *connFlags, sweep, trial string, attempt int32) ([]*pb.CommandLog, string, error) {
	cc, err := conn.dial()
	if err != nil {
		return nil, "", err
	}
	defer cc.Close()
	c := pb.NewSweepServiceClient(cc)
	ctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	defer cancel()
	sweeps := []string{sweep}
	if sweep == "" {
		resp, err := c.ListSweeps(ctx, &pb.ListSweepsRequest{})
		if err != nil {
			return nil, "", fmt.Errorf("list sweeps: %w", err)
		}
		sweeps = sweeps[:0]
		for _, sw := range resp.Sweeps {
			sweeps = append(sweeps, sw.Id)
		}
	}
	var found []string
	var logs []*pb.CommandLog
	for _, id := range sweeps {
		resp, err := c.Logs(ctx, &pb.LogsRequest{SweepId: id, TrialId: trial, Attempt: attempt})
		if status.Code(err) == codes.NotFound {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("logs of %s/%s: %w", id, trial, err)
		}
		found = append(found, id)
		logs = resp.Logs
	}
	return pickSweep(found, logs, sweep, trial, "on coordinator "+conn.addr)
}

// pickSweep checks that exactly one sweep holds the trial.
func pickSweep(found []string, logs []*pb.CommandLog, sweep, trial, where string) ([]*pb.CommandLog, string, error) {
	switch {
	case len(found) == 0 && sweep != "":
		return nil, "", usagef("trial %q: not found in sweep %q %s", trial, sweep, where)
	case len(found) == 0:
		return nil, "", usagef("trial %q: not found in any sweep %s", trial, where)
	case len(found) > 1:
		return nil, "", usagef("trial %q is in sweeps %s: name one with --sweep", trial, strings.Join(found, ", "))
	}
	return logs, found[0] + "/" + trial, nil
}

// logsFromDB reads a trial's logs from a database file opened read-only.
func logsFromDB(path, sweep, trial string, attempt int32) (logs []*pb.CommandLog, where string, err error) {
	st, err := store.OpenReadOnly(path)
	if err != nil {
		return nil, "", usageError{fmt.Errorf("--db: %w", err)}
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("--db: close %s: %w", path, cerr)
		}
	}()
	sweeps := []string{sweep}
	if sweep == "" {
		sws, err := st.ListSweeps()
		if err != nil {
			return nil, "", fmt.Errorf("--db %s: %w", path, err)
		}
		sweeps = sweeps[:0]
		for _, sw := range sws {
			sweeps = append(sweeps, sw.Id)
		}
	}
	var found []string
	var out []*pb.CommandLog
	for _, id := range sweeps {
		if _, err := st.GetTrial(id, trial); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, "", fmt.Errorf("--db %s: %w", path, err)
		}
		ls, err := st.Logs(id, trial, attempt)
		if err != nil {
			return nil, "", fmt.Errorf("--db %s: %w", path, err)
		}
		found, out = append(found, id), ls
	}
	return pickSweep(found, out, sweep, trial, "in "+path)
}
