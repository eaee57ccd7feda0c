package coordinator

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// Axes returns the names of the trial spec values that results can be
// filtered and grouped by (see wire.Axes).
func Axes() []string { return wire.Axes[:] }

// axisIndex maps an axis name to its position in row.axes.
func axisIndex(name string) (int, bool) {
	i := slices.Index(wire.Axes[:], name)
	return i, i >= 0
}

// row is the compact view of a trial that aggregation works on.
type row struct {
	axes    [wire.NumAxes]float64
	state   pb.TrialState
	diverg  bool
	metrics map[string]float64
}

// resultMetrics flattens a result into named metrics.
func resultMetrics(r *pb.TrialResult) map[string]float64 {
	m := map[string]float64{
		"train_loss": r.TrainLoss, "train_acc": r.TrainAcc,
		"test_loss": r.TestLoss, "test_acc": r.TestAcc,
		"gap": r.TrainAcc - r.TestAcc, "loss_gap": r.TestLoss - r.TrainLoss,
		"lambda_max": r.LambdaMax, "duration_seconds": r.DurationSeconds,
	}
	for k, v := range r.Measures {
		m[k] = v
	}
	return m
}

// newRow builds a trial's row from its stored axes (or its spec, for a trial
// stored with its full spec).
func newRow(t *pb.Trial) (*row, error) {
	r := &row{state: t.State}
	if len(t.Axes) == wire.NumAxes {
		r.axes = [wire.NumAxes]float64(t.Axes)
	} else {
		spec, err := wire.DecodeSpec(t.SpecJson)
		if err != nil {
			return nil, fmt.Errorf("trial %s: %w", t.Id, err)
		}
		r.axes = wire.SpecAxes(spec)
	}
	if t.Result != nil {
		r.diverg = t.Result.Diverged
		r.metrics = resultMetrics(t.Result)
	}
	return r, nil
}

// sweepRows returns the rows of a sweep, building the cache from the store on
// first use. The cache is kept current by noteRowLocked and dropped by
// forgetRowsLocked. A scan that raced with a transition of the same sweep is
// repeated (or, after a few tries, used once without being cached).
func (c *Coordinator) sweepRows(id string) (map[string]*row, error) {
	for try := 0; ; try++ {
		c.mu.Lock()
		rows, version := c.rows[id], c.rowVersion[id]
		c.mu.Unlock()
		if rows != nil {
			return rows, nil
		}
		rows = map[string]*row{}
		var decodeErr error
		err := c.store.RawTrials(id, func(t *pb.Trial) bool {
			r, err := newRow(t)
			if err != nil {
				decodeErr = err
				return false
			}
			rows[t.Id] = r
			return true
		})
		if err == nil {
			err = decodeErr
		}
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.rowVersion[id] == version {
			c.rows[id] = rows
			c.mu.Unlock()
			return rows, nil
		}
		c.mu.Unlock()
		if try == 2 {
			return rows, nil
		}
	}
}

// noteRowLocked updates a cached row after a transition; the caller holds c.mu.
func (c *Coordinator) noteRowLocked(k trialKey, t *pb.Trial) {
	c.rowVersion[k.sweep]++
	rows := c.rows[k.sweep]
	if rows == nil {
		return
	}
	r := rows[k.trial]
	if r == nil {
		nr, err := newRow(t)
		if err != nil {
			delete(c.rows, k.sweep)
			return
		}
		rows[k.trial] = nr
		return
	}
	r.state = t.State
	if t.Result != nil {
		r.diverg = t.Result.Diverged
		r.metrics = resultMetrics(t.Result)
	}
}

// forgetRowsLocked drops a sweep's cached rows (after bulk changes).
func (c *Coordinator) forgetRowsLocked(id string) {
	c.rowVersion[id]++
	delete(c.rows, id)
}

func (s *sweepServer) AggregateResults(_ context.Context, req *pb.AggregateResultsRequest) (*pb.AggregateResultsResponse, error) {
	groupBy := req.GroupBy
	if len(groupBy) == 0 {
		groupBy = []string{"batch_size", "lr", "n", "momentum", "weight_decay"}
	}
	var gidx []int
	for _, a := range groupBy {
		i, ok := axisIndex(a)
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "group_by: unknown axis %q; want one of %v", a, wire.Axes)
		}
		gidx = append(gidx, i)
	}
	type filter struct {
		i      int
		values []float64
	}
	var filters []filter
	for _, f := range req.Filters {
		i, ok := axisIndex(f.Axis)
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "filters: unknown axis %q; want one of %v", f.Axis, wire.Axes)
		}
		filters = append(filters, filter{i, f.Values})
	}
	rows, err := s.c.sweepRows(req.SweepId)
	if err != nil {
		return nil, storeErr(err)
	}

	type acc struct {
		key    []float64
		g      *pb.ResultGroup
		values map[string][]float64
	}
	groups := map[string]*acc{}
	s.c.mu.Lock()
	for _, r := range rows {
		keep := true
		for _, f := range filters {
			if !slices.Contains(f.values, r.axes[f.i]) {
				keep = false
				break
			}
		}
		if !keep {
			continue
		}
		key := make([]float64, len(gidx))
		for j, i := range gidx {
			key[j] = r.axes[i]
		}
		ks := fmt.Sprint(key)
		a := groups[ks]
		if a == nil {
			a = &acc{key: key, g: &pb.ResultGroup{}, values: map[string][]float64{}}
			groups[ks] = a
		}
		a.g.Trials++
		switch r.state {
		case pb.TrialState_TRIAL_STATE_SUCCEEDED:
			a.g.Succeeded++
			if r.diverg {
				a.g.Diverged++
				continue
			}
			for name, v := range r.metrics {
				a.values[name] = append(a.values[name], v)
			}
		case pb.TrialState_TRIAL_STATE_PENDING, pb.TrialState_TRIAL_STATE_RUNNING:
			a.g.Unfinished++
		default:
			a.g.Failed++
		}
	}
	s.c.mu.Unlock()

	out := make([]*acc, 0, len(groups))
	for _, a := range groups {
		a.g.Key = map[string]float64{}
		for j, name := range groupBy {
			a.g.Key[name] = a.key[j]
		}
		a.g.Metrics = map[string]*pb.MetricSummary{}
		for name, xs := range a.values {
			a.g.Metrics[name] = summarize(xs)
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return slices.Compare(out[i].key, out[j].key) < 0 })
	resp := &pb.AggregateResultsResponse{GroupBy: groupBy}
	for _, a := range out {
		resp.Groups = append(resp.Groups, a.g)
	}
	return resp, nil
}

// summarize aggregates the values of one metric: count, mean, sample std,
// min, max and the 95 % Student-t interval of the mean (NaN bounds for a
// single value).
func summarize(xs []float64) *pb.MetricSummary {
	d := analysis.Describe(xs, 0.95)
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	return &pb.MetricSummary{Count: int32(d.N), Mean: d.Mean, Std: d.Std, Min: lo, Max: hi, Ci95Low: d.Lo, Ci95High: d.Hi}
}
