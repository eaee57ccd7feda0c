package coordinator

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"gonum.org/v1/gonum/stat/distuv"
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
	axes   [wire.NumAxes]float64
	state  pb.TrialState
	diverg bool
	values []float64 // by metric index of the sweep's rowCache; NaN where absent
}

// rowCache holds a sweep's rows and the index of its metric names.
type rowCache struct {
	rows  map[string]*row
	names []string
	index map[string]int
}

func newRowCache() *rowCache { return &rowCache{rows: map[string]*row{}, index: map[string]int{}} }

// metric returns the index of a metric name, adding it if new.
func (rc *rowCache) metric(name string) int {
	i, ok := rc.index[name]
	if !ok {
		i = len(rc.names)
		rc.names = append(rc.names, name)
		rc.index[name] = i
	}
	return i
}

// baseMetrics are the metrics every result has, in display order.
var baseMetrics = [...]string{"train_acc", "test_acc", "gap", "lambda_max", "train_loss", "test_loss", "loss_gap", "duration_seconds"}

// setResult stores a result's metrics in r.
func (rc *rowCache) setResult(r *row, res *pb.TrialResult) {
	r.diverg = res.Diverged
	vals := [len(baseMetrics)]float64{res.TrainAcc, res.TestAcc, res.TrainAcc - res.TestAcc, res.LambdaMax,
		res.TrainLoss, res.TestLoss, res.TestLoss - res.TrainLoss, res.DurationSeconds}
	for i, name := range baseMetrics {
		rc.put(r, rc.metric(name), vals[i])
	}
	names := make([]string, 0, len(res.Measures))
	for k := range res.Measures {
		names = append(names, k)
	}
	sort.Strings(names) // a deterministic index order
	for _, k := range names {
		rc.put(r, rc.metric(k), res.Measures[k])
	}
}

func (rc *rowCache) put(r *row, i int, v float64) {
	for len(r.values) <= i {
		r.values = append(r.values, math.NaN())
	}
	r.values[i] = v
}

// add builds and stores a trial's row from its stored axes (or its spec, for
// a trial stored with its full spec).
func (rc *rowCache) add(t *pb.Trial) error {
	r := &row{state: t.State}
	if len(t.Axes) == wire.NumAxes {
		r.axes = [wire.NumAxes]float64(t.Axes)
	} else {
		spec, err := wire.DecodeSpec(t.SpecJson)
		if err != nil {
			return fmt.Errorf("trial %s: %w", t.Id, err)
		}
		r.axes = wire.SpecAxes(spec)
	}
	if t.Result != nil {
		rc.setResult(r, t.Result)
	}
	rc.rows[t.Id] = r
	return nil
}

// sweepRows returns the row cache of a sweep, building it from the store on
// first use. It is kept current by noteRowLocked and dropped by
// forgetRowsLocked. A scan that raced with a transition of the same sweep is
// repeated (or, after a few tries, used once without being cached). Callers
// read it under c.mu.
func (c *Coordinator) sweepRows(id string) (*rowCache, error) {
	for try := 0; ; try++ {
		c.mu.Lock()
		rc, version := c.rows[id], c.rowVersion[id]
		c.mu.Unlock()
		if rc != nil {
			return rc, nil
		}
		rc = newRowCache()
		var addErr error
		err := c.store.RawTrials(id, func(t *pb.Trial) bool {
			addErr = rc.add(t)
			return addErr == nil
		})
		if err == nil {
			err = addErr
		}
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.rowVersion[id] == version {
			c.rows[id] = rc
			c.mu.Unlock()
			return rc, nil
		}
		c.mu.Unlock()
		if try == 2 {
			return rc, nil
		}
	}
}

// noteRowLocked updates a cached row after a transition; the caller holds c.mu.
func (c *Coordinator) noteRowLocked(k trialKey, t *pb.Trial) {
	c.rowVersion[k.sweep]++
	rc := c.rows[k.sweep]
	if rc == nil {
		return
	}
	r := rc.rows[k.trial]
	if r == nil {
		if rc.add(t) != nil {
			delete(c.rows, k.sweep)
		}
		return
	}
	r.state = t.State
	if t.Result != nil {
		rc.setResult(r, t.Result)
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
	rc, err := s.c.sweepRows(req.SweepId)
	if err != nil {
		return nil, storeErr(err)
	}

	type acc struct {
		key     [wire.NumAxes]float64
		g       *pb.ResultGroup
		metrics []welford
	}
	groups := map[[wire.NumAxes]float64]*acc{}
	s.c.mu.Lock()
	names := slices.Clone(rc.names)
	for _, r := range rc.rows {
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
		var key [wire.NumAxes]float64
		for j, i := range gidx {
			key[j] = r.axes[i]
		}
		a := groups[key]
		if a == nil {
			a = &acc{key: key, g: &pb.ResultGroup{}, metrics: make([]welford, len(names))}
			groups[key] = a
		}
		a.g.Trials++
		switch r.state {
		case pb.TrialState_TRIAL_STATE_SUCCEEDED:
			a.g.Succeeded++
			if r.diverg {
				a.g.Diverged++
				continue
			}
			for i, v := range r.values {
				a.metrics[i].add(v)
			}
		case pb.TrialState_TRIAL_STATE_PENDING, pb.TrialState_TRIAL_STATE_RUNNING:
			a.g.Unfinished++
		default:
			a.g.Failed++
		}
	}
	s.c.mu.Unlock()

	out := make([]*acc, 0, len(groups))
	quantile := tQuantiles{}
	for _, a := range groups {
		a.g.Key = slices.Clone(a.key[:len(groupBy)])
		a.g.Metrics = make([]*pb.MetricSummary, len(names))
		for i := range a.metrics {
			a.g.Metrics[i] = a.metrics[i].summary(quantile)
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return slices.Compare(out[i].key[:], out[j].key[:]) < 0 })
	resp := &pb.AggregateResultsResponse{GroupBy: groupBy, Metrics: names, Groups: make([]*pb.ResultGroup, len(out))}
	for i, a := range out {
		resp.Groups[i] = a.g
	}
	return resp, nil
}

// welford accumulates count, mean, sum of squared deviations (Welford's
// update, stable without a second pass), min and max of the finite values.
// Its zero value is empty.
type welford struct {
	n        int
	mean, m2 float64
	min, max float64
}

func (w *welford) add(x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return
	}
	if w.n == 0 {
		w.min, w.max = x, x
	}
	w.n++
	d := x - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (x - w.mean)
	w.min, w.max = min(w.min, x), max(w.max, x)
}

// summary returns count, mean, sample std (n − 1), min, max and the 95 %
// Student-t interval of the mean, x̄ ± t(0.975, n−1)·s/√n (NaN bounds for
// fewer than two values).
func (w *welford) summary(q tQuantiles) *pb.MetricSummary {
	nan := math.NaN()
	m := &pb.MetricSummary{Count: int32(w.n), Mean: nan, Std: nan, Min: nan, Max: nan, Ci95Low: nan, Ci95High: nan}
	if w.n == 0 {
		return m
	}
	m.Mean, m.Min, m.Max, m.Std = w.mean, w.min, w.max, 0
	if w.n > 1 {
		m.Std = math.Sqrt(w.m2 / float64(w.n-1))
		half := q.at(w.n-1) * m.Std / math.Sqrt(float64(w.n))
		m.Ci95Low, m.Ci95High = w.mean-half, w.mean+half
	}
	return m
}

// tQuantiles memoizes t(0.975, ν) by degrees of freedom ν: the quantile
// depends on ν alone and inverting the distribution is costly.
type tQuantiles map[int]float64

func (q tQuantiles) at(nu int) float64 {
	if v, ok := q[nu]; ok {
		return v
	}
	v := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(nu)}.Quantile(0.975)
	q[nu] = v
	return v
}
