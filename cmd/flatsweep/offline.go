package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/coordinator/store"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// sourceFlags choose where a sweep's trials come from: a coordinator over
// gRPC (--coordinator and the connection flags) or, offline, a copy of a
// coordinator's bbolt file (--db).
type sourceFlags struct {
	conn connFlags
	db   string
}

// dbFlagHelp documents --db, including bbolt's locking.
const dbFlagHelp = "read the sweep offline from a copy of a coordinator's bbolt database file, opened read-only, " +
	"instead of asking a coordinator (a running coordinator locks its own file: copy it first)"

// addSourceFlags adds the connection flags and --db to cmd.
func addSourceFlags(cmd *cobra.Command, s *sourceFlags) {
	addConnFlags(cmd, &s.conn)
	cmd.Flags().StringVar(&s.db, "db", "", dbFlagHelp)
}

// records returns every trial of the sweep from the chosen source. An
// unknown sweep, a missing or foreign --db file and conflicting flags are
// usage errors.
// serverAnalysis prints the analysis the coordinator computes (AnalyzeSweep).
func (s *sourceFlags) serverAnalysis(cmd *cobra.Command, sweep string) error {
	cc, err := s.conn.dial()
	if err != nil {
		return err
	}
	defer cc.Close()
	resp, err := pb.NewSweepServiceClient(cc).AnalyzeSweep(cmd.Context(), &pb.AnalyzeSweepRequest{SweepId: sweep})
	if status.Code(err) == codes.NotFound {
		return usageError{fmt.Errorf("sweep %q: not found on coordinator %s: %w", sweep, s.conn.addr, err)}
	}
	if err != nil {
		return fmt.Errorf("analyze %s: %w", sweep, err)
	}
	_, err = io.WriteString(cmd.OutOrStdout(), resp.AnalysisJson)
	return err
}

func (s *sourceFlags) records(cmd *cobra.Command, sweep string) (recs []analysis.Record, err error) {
	defer func() { warnSimulated(cmd, sweep, recs) }()
	if s.db != "" {
		if cmd.Flags().Changed("coordinator") {
			return nil, usagef("--db and --coordinator: give one source, not both")
		}
		return loadRecordsDB(s.db, sweep)
	}
	cc, err := s.conn.dial()
	if err != nil {
		return nil, err
	}
	defer cc.Close()
	recs, err = fetchRecords(cmd.Context(), pb.NewSweepServiceClient(cc), sweep)
	if status.Code(err) == codes.NotFound {
		return nil, usageError{fmt.Errorf("sweep %q: not found on coordinator %s: %w", sweep, s.conn.addr, err)}
	}
	return recs, err
}

// loadRecordsDB reads every trial of a sweep from a bbolt database opened
// read-only.
func loadRecordsDB(path, sweep string) (recs []analysis.Record, err error) {
	st, err := store.OpenReadOnly(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("--db: %w", err)}
	}
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("--db: close %s: %w", path, cerr)
		}
	}()
	if _, err := st.GetSweep(sweep); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, usageError{fmt.Errorf("--db %s: sweep %q not found (%s): %w", path, sweep, knownSweeps(st), err)}
		}
		return nil, fmt.Errorf("--db %s: %w", path, err)
	}
	if recs, err = st.Records(sweep); err != nil {
		return nil, fmt.Errorf("--db %s: sweep %s: %w", path, sweep, err)
	}
	return recs, nil
}

// knownSweeps lists the sweeps of st for an error message.
func knownSweeps(st *store.Store) string {
	sws, err := st.ListSweeps()
	if err != nil || len(sws) == 0 {
		return "the database holds no sweep"
	}
	ids := make([]string, len(sws))
	for i, sw := range sws {
		ids[i] = sw.Id
	}
	return "sweeps: " + strings.Join(ids, ", ")
}

// warnSimulated warns on stderr when results of a sweep are simulated
// (workers started with --simulate): they carry no measurements.
func warnSimulated(cmd *cobra.Command, sweep string, recs []analysis.Record) {
	n := 0
	for _, r := range recs {
		if r.Simulated {
			n++
		}
	}
	if n > 0 {
		fmt.Fprintf(cmd.ErrOrStderr(), "warning: sweep %s: %d of %d results are simulated (flatsweep worker --simulate): no training ran, their measurements are zero\n", sweep, n, len(recs))
	}
}
