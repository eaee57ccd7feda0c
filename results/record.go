// Package results is the one home of a sweep's results: the record of each
// trial as stored, and the engine that groups and summarizes them, which
// every command and RPC that prints a summary uses.
package results

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// Record is a trial of a sweep as stored: its spec, its state and, once it
// has succeeded, its result.
type Record struct {
	// TrialID is the trial's ID.
	TrialID string
	// Spec is the trial's spec.
	Spec spec.Trial
	// State is the trial's state name: "pending", "running", "succeeded",
	// "failed", "discarded" or "cancelled".
	State string
	// Result is the recorded result (nil until the trial has succeeded).
	Result *spec.Result
	// Duration is the trial's wall-clock time on its worker (0 without a
	// result).
	Duration time.Duration
	// Error is the error of the trial's last failed attempt (kept while it
	// is retried; cleared when it succeeds).
	Error string
	// Permanent reports that Error is one of the trial's input, which
	// retrying cannot mend (the trial was discarded at once).
	Permanent bool
	// Simulated reports that the result came from a simulated trial (a
	// worker started with --simulate, for benchmarks): no training ran and
	// its measurements are zero.
	Simulated bool
}

// FromTrial converts a trial message (with its spec_json, as the store and
// QueryResults return it) into a Record.
func FromTrial(t *pb.Trial) (Record, error) {
	st, err := spec.DecodeTrial([]byte(t.SpecJson))
	if err != nil {
		return Record{}, fmt.Errorf("trial %s: %w", t.Id, err)
	}
	r := Record{TrialID: t.Id, Spec: st, State: wire.StateName(t.State), Result: wire.ResultFromProto(t.Result),
		Error: t.LastError, Permanent: t.PermanentFailure, Simulated: t.Result.GetSimulated()}
	if t.Result != nil {
		// Rounded, not truncated: a worker's whole nanoseconds d give
		// d.Seconds(), whose product with 1e9 may fall just below d.
		r.Duration = time.Duration(math.Round(t.Result.DurationSeconds * float64(time.Second)))
	}
	return r, nil
}

// QueryFunc is SweepService.QueryResults as a client or the coordinator's
// own server offers it.
type QueryFunc func(context.Context, *pb.QueryResultsRequest) (*pb.QueryResultsResponse, error)

// Fetch pages through every trial of a sweep with query and returns the
// trials with their Records (FromTrial), in trial-ID order.
func Fetch(ctx context.Context, query QueryFunc, sweep string) ([]*pb.Trial, []Record, error) {
	var trials []*pb.Trial
	var recs []Record
	req := &pb.QueryResultsRequest{SweepId: sweep}
	for {
		resp, err := query(ctx, req)
		if err != nil {
			return nil, nil, fmt.Errorf("query results of %s: %w", sweep, err)
		}
		for _, t := range resp.Trials {
			rec, err := FromTrial(t)
			if err != nil {
				return nil, nil, err
			}
			trials, recs = append(trials, t), append(recs, rec)
		}
		if resp.NextPageToken == "" {
			return trials, recs, nil
		}
		req = &pb.QueryResultsRequest{SweepId: sweep, PageToken: resp.NextPageToken}
	}
}
