package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/coordinator"
	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
	"github.com/flatsweep/flatsweep/worker"
)

func newRunCmd(g *globalFlags) *cobra.Command {
	var (
		workers int
		db      string
		format  string
		over    sweeps.Overrides
	)
	cmd := &cobra.Command{
		Use:   "run [SWEEP.yaml]",
		Short: "Run a sweep on this machine: a coordinator and N workers in one process",
		Long: `run starts a coordinator and --workers workers in this process, talking gRPC
over loopback exactly as they would across machines, submits the sweep, shows
progress and prints the results grouped by the axes that vary, aggregated
over seeds (see results).
Without a file it runs the embedded quickstart sweep (synthetic data, no files).`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usagef("want at most one sweep file, got %d arguments", len(args))
			}
			return nil
		},
		Annotations: map[string]string{quietAnnotation: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if workers < 1 {
				return usagef("--workers: must be at least 1, got %d", workers)
			}
			write, err := groupsWriter(format)
			if err != nil {
				return err
			}
			source, data := "quickstart.yaml (embedded)", sweeps.Quickstart()
			if len(args) == 1 {
				source = args[0]
				if data, err = os.ReadFile(source); err != nil {
					return usageError{fmt.Errorf("sweep file: %w", err)}
				}
			}
			s, data, err := parseSweep(data, source, over)
			if err != nil {
				return err
			}
			if err := checkData(s, source); err != nil {
				return err
			}
			return runSweep(cmd.Context(), runOptions{
				source: source, sweep: s, yaml: data, workers: workers, db: db,
				out: cmd.OutOrStdout(), progress: cmd.ErrOrStderr(), write: write, format: format,
			})
		},
	}
	cmd.Flags().IntVar(&workers, "workers", 2, "workers to start in this process")
	cmd.Flags().StringVar(&db, "db", "", "bbolt database file to keep (default: a temporary file, removed afterwards)")
	cmd.Flags().StringVar(&format, "format", "table", "output format: table, csv, json or jsonl")
	addOverrideFlags(cmd, &over)
	return cmd
}

type runOptions struct {
	source   string
	sweep    spec.Sweep
	yaml     []byte
	workers  int
	db       string
	out      io.Writer
	progress io.Writer
	write    func(io.Writer, results.Groups) error
	format   string
}

// runSweep runs a whole sweep in this process and prints its results.
func runSweep(ctx context.Context, o runOptions) error {
	dbPath := o.db
	if dbPath == "" {
		dir, err := os.MkdirTemp("", "flatsweep-run-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dbPath = filepath.Join(dir, "flatsweep.db")
	}
	st, err := store.Open(dbPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := migrateIdentities(st, "", nil, slog.Default()); err != nil {
		return err
	}
	coord, err := coordinator.New(st, coordinator.Config{Logger: slog.Default()})
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen on loopback: %w", err)
	}
	addr := lis.Addr().String()

	// Shutdown order: cancel everything, wait for the workers and the
	// server, then close the connections (deferred first, so run last).
	var conns []io.Closer
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	serveErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		serveErr <- coord.Serve(ctx, lis)
	}()

	conn, err := dialLoopback(addr)
	if err != nil {
		return err
	}
	conns = append(conns, conn)
	client := pb.NewSweepServiceClient(conn)
	req, err := submitRequest(o.sweep, o.yaml, o.source, 0)
	if err != nil {
		return err
	}
	resp, err := client.SubmitSweep(ctx, req)
	if err != nil {
		return fmt.Errorf("submit %s: %w", o.source, err)
	}
	sweepID := resp.Sweep.Id
	fmt.Fprintf(o.progress, "sweep %s: %d trials (%d new), %d workers, database %s\n",
		sweepID, resp.Sweep.TrialCount, resp.TrialsAdded, o.workers, dbPath)
	if note := sweeps.PartialBatchNote(sweeps.Expand(o.sweep)); note != "" {
		fmt.Fprintln(o.progress, note)
	}

	for i := 0; i < o.workers; i++ {
		wconn, err := dialLoopback(addr)
		if err != nil {
			return err
		}
		conns = append(conns, wconn)
		w := worker.New(wconn, worker.Config{Name: fmt.Sprintf("local-%d", i+1), Slots: 1, DrainTimeout: 0, Logger: slog.Default(),
			Command: worker.CommandConfig{Allow: true}})
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				slog.Error("worker stopped", "err", err)
			}
		}()
	}

	if err := waitSweep(ctx, client, sweepID, o.progress, serveErr); err != nil {
		return err
	}
	g, err := aggregate(ctx, client, &pb.AggregateResultsRequest{SweepId: sweepID})
	if err != nil {
		return err
	}
	if err := o.write(o.out, g); err != nil {
		return err
	}
	return failedTrials(g, resp.Sweep.TrialCount, o.progress, o.format)
}

// failedTrials returns an error when trials of a finished sweep failed —
// a usage error (exit status 2) when one of the failures is an error of the
// input (an invalid spec, missing or malformed data) — after writing the
// reasons to w unless the results' format already carries them (table and
// JSON do).
func failedTrials(g results.Groups, total int32, w io.Writer, format string) error {
	failed, input := 0, 0
	for _, f := range g.Failures {
		failed += f.Trials
		if f.Permanent {
			input += f.Trials
		}
	}
	if failed == 0 {
		return nil
	}
	if format != "table" && format != "json" {
		_ = results.WriteFailures(w, g.Failures, 0)
	}
	err := fmt.Errorf("%d of %d trials failed (reasons above)", failed, total)
	if input > 0 {
		return usageError{fmt.Errorf("%w; %d of them for errors of their input, which retrying does not mend", err, input)}
	}
	return err
}

// waitSweep polls a sweep until every trial is finished, printing progress.
func waitSweep(ctx context.Context, c pb.SweepServiceClient, id string, w io.Writer, serveErr <-chan error) error {
	start := time.Now()
	last := ""
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := c.GetSweep(ctx, &pb.GetSweepRequest{SweepId: id})
		if err != nil {
			return fmt.Errorf("follow sweep %s: %w", id, err)
		}
		sw := resp.Sweep
		done := sw.StateCounts["succeeded"] + sw.StateCounts["discarded"] + sw.StateCounts["cancelled"]
		line := fmt.Sprintf("[%3d/%d] %s", done, sw.TrialCount, stateCounts(sw))
		if line != last {
			fmt.Fprintf(w, "%s  (%s)\n", line, time.Since(start).Round(100*time.Millisecond))
			last = line
		}
		if done == sw.TrialCount {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-serveErr:
			return fmt.Errorf("coordinator stopped: %w", err)
		case <-tick.C:
		}
	}
}
