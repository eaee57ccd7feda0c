package coordinator

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/flatsweep/flatsweep/coordinator/lease"
	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// axisNames are the grid axes every row keeps (spec.AxisNames, in
// expansion order): the axes results can be grouped and filtered by here,
// with the field axes, linked axes and random draws of each sweep (see
// sweepAxes).
var axisNames = spec.AxisNames()

// Axes returns the names of the trial spec values that results of every
// sweep can be filtered and grouped by.
func Axes() []string { return slices.Clone(axisNames) }

// axisPathOf returns the trial field of one of a cache's axes: a named
// grid axis's path, or the axis itself (a field, linked or random axis is
// named by its path).
func axisPathOf(name string) string {
	if path, ok := spec.AxisPath(name); ok {
		return path
	}
	return name
}

// axisIndex maps an axis name to its position in the cache's row.axes.
func (rc *rowCache) axisIndex(name string) (int, bool) {
	i := slices.Index(rc.axes, name)
	return i, i >= 0
}

// sweepAxes returns the axes of a sweep's rows: the named grid axes, then
// the paths of the sweep's other axes (field axes, linked axes, random
// draws), as its latest submission lists them.
func sweepAxes(st *store.Store, id string) []string {
	axes := slices.Clone(axisNames)
	sw, err := st.GetSweep(id)
	if err != nil {
		return axes
	}
	s, err := spec.DecodeSweep([]byte(sw.SpecJson))
	if err != nil {
		return axes
	}
	for _, a := range s.Swept() {
		if _, named := spec.AxisPath(a.Name); !named && !slices.Contains(axes, a.Path) {
			axes = append(axes, a.Path)
		}
	}
	return axes
}

// row is the compact view of a trial that aggregation works on.
type row struct {
	axes     []string // canonical JSON of the trial's value on each of the cache's axes
	g        float64  // noise scale (results.NoiseScale)
	fit      results.Fit
	status   results.Status
	values   []float64 // by metric index of the sweep's rowCache; NaN where absent
	fail     *failure  // why it failed, when status is results.StatusFailed
	external bool      // its result came from an external program
}

// failure is what a row records of a trial without a result.
type failure struct {
	state, reason string
	permanent     bool
}

// rowCache holds a sweep's rows, in trial-ID order (so that a summary adds
// its values in the order results.Summarize does, bit for bit), and the
// index of its metric names.
type rowCache struct {
	rows   map[string]*row
	order  []*row   // the rows in trial-ID order
	ids    []string // their trial IDs
	names  []string // metric names: results.BaseMetrics, then measures as they come
	index  map[string]int
	intern map[string]string // axis values, shared by the rows
	axes   []string          // the axes of the rows: names of grid axes, or paths
}

func newRowCache(axes []string) *rowCache {
	rc := &rowCache{rows: map[string]*row{}, index: map[string]int{}, intern: map[string]string{}, axes: axes}
	for _, m := range results.BaseMetrics() {
		rc.metric(m)
	}
	return rc
}

// metricOrder returns the cache's metric names in the order of
// results.Summarize (the base metrics, then the others by name) and, for
// each, its index in a row's values.
func (rc *rowCache) metricOrder() ([]string, []int) {
	base := results.BaseMetrics()
	names := slices.Clone(rc.names[:len(base)])
	rest := slices.Clone(rc.names[len(base):])
	slices.Sort(rest)
	names = append(names, rest...)
	idx := make([]int, len(names))
	for i, n := range names {
		idx[i] = rc.index[n]
	}
	return names, idx
}

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

// setResult stores a trial's state and, when it has one, its result's
// metrics in r.
func (rc *rowCache) setResult(r *row, t *pb.Trial) {
	res := t.Result
	state := wire.StateName(t.State)
	r.status = results.ClassifyState(state, false, false)
	if res != nil {
		r.status = r.fit.Classify(state, res.Diverged, res.TrainAcc, res.TargetReached)
	}
	r.fail = nil
	if r.status == results.StatusFailed {
		r.fail = &failure{state: state, reason: results.FailureReason(state, t.LastError), permanent: t.PermanentFailure}
	}
	r.external = res != nil && res.External
	if res == nil {
		return
	}
	lambda := res.LambdaMax
	if res.External && (res.Diverged || res.Hvps == 0) {
		lambda = math.NaN() // not measured, as results.Record.Scalars has it
	}
	sc := results.Scalars{TrainAcc: res.TrainAcc, TestAcc: res.TestAcc, TrainLoss: res.TrainLoss, TestLoss: res.TestLoss,
		LambdaMax: lambda, Duration: res.DurationSeconds, Measures: res.Measures}
	sc.Each(func(name string, v float64) { rc.put(r, rc.metric(name), v) })
}

func (rc *rowCache) put(r *row, i int, v float64) {
	for len(r.values) <= i {
		r.values = append(r.values, math.NaN())
	}
	r.values[i] = v
}

// baseAxes tells, for the trials of one stored base (store.Base), where
// each of the cache's axes gets its canonical JSON without encoding the trial's
// spec: from the trial's stored axis values when the base varies the axis,
// else from the base's spec, encoded once.
type baseAxes struct {
	n     int      // the base's number of axes
	from  []int    // by the cache's axes: index into Trial.axis_values, or -1 (fixed) or -2 (encode the trial's spec)
	fixed []string // by the cache's axes: the base's value where from is -1
}

// newBaseAxes returns the baseAxes of b for a cache's axes. An axis whose path is a prefix of
// one of the base's varied paths, or the other way round, is encoded from
// each trial's spec.
func newBaseAxes(b store.Base, axes []string) (*baseAxes, error) {
	ba := &baseAxes{n: len(b.Axes), from: make([]int, len(axes)), fixed: make([]string, len(axes))}
	for i, name := range axes {
		path := axisPathOf(name)
		ba.from[i] = -1
		for j, q := range b.Axes {
			switch {
			case q == path:
				ba.from[i] = j
			case strings.HasPrefix(q, path+".") || strings.HasPrefix(path, q+"."):
				ba.from[i] = -2
			}
			if ba.from[i] != -1 {
				break
			}
		}
		if ba.from[i] == -1 {
			v, err := spec.GetJSON(b.Spec, path)
			if err != nil {
				return nil, err
			}
			ba.fixed[i] = v
		}
	}
	return ba, nil
}

// add builds and stores a trial's row from its spec; ba, if not nil, is
// the baseAxes of the trial's base, which spares encoding the spec.
func (rc *rowCache) add(t *pb.Trial, st spec.Trial, ba *baseAxes) error {
	r := &row{axes: make([]string, len(rc.axes)), g: results.NoiseScale(st), fit: results.FitOf(st)}
	if ba != nil && len(t.AxisValues) != ba.n {
		ba = nil
	}
	for i, name := range rc.axes {
		var v string
		switch {
		case ba != nil && ba.from[i] >= 0:
			v = t.AxisValues[ba.from[i]]
		case ba != nil && ba.from[i] == -1:
			v = ba.fixed[i]
		default:
			var err error
			if v, err = spec.GetJSON(st, axisPathOf(name)); err != nil {
				return fmt.Errorf("trial %s: %w", t.Id, err)
			}
		}
		if shared, ok := rc.intern[v]; ok {
			v = shared
		} else {
			rc.intern[v] = v
		}
		r.axes[i] = v
	}
	rc.setResult(r, t)
	rc.rows[t.Id] = r
	i, _ := slices.BinarySearch(rc.ids, t.Id)
	rc.ids = slices.Insert(rc.ids, i, t.Id)
	rc.order = slices.Insert(rc.order, i, r)
	return nil
}

// aggregator keeps, per sweep, the rows AggregateResults groups: built from
// the store on first use, kept current by the core's transitions (it is the
// core's Observer) and dropped after bulk changes.
type aggregator struct {
	store *store.Store

	mu      sync.Mutex
	rows    map[string]*rowCache
	version map[string]int // bumped by every change to a sweep's trials
}

func newAggregator(st *store.Store) *aggregator {
	return &aggregator{store: st, rows: map[string]*rowCache{}, version: map[string]int{}}
}

// sweepRows returns the row cache of a sweep, building it from the store on
// first use. A scan that raced with a transition of the same sweep is
// repeated (or, after a few tries, used once without being cached). Callers
// read it under a.mu.
func (a *aggregator) sweepRows(id string) (*rowCache, error) {
	for try := 0; ; try++ {
		a.mu.Lock()
		rc, version := a.rows[id], a.version[id]
		a.mu.Unlock()
		if rc != nil {
			return rc, nil
		}
		rc = newRowCache(sweepAxes(a.store, id))
		var addErr error
		bases := map[string]*baseAxes{}
		err := a.store.RawTrials(id, func(t *pb.Trial) bool {
			st, err := a.store.Spec(t)
			if err != nil {
				return true // the store skips and reports records it cannot read; so do the rows
			}
			ba, seen := bases[t.BaseId]
			if !seen && t.BaseId != "" {
				if b, err := a.store.Base(t.BaseId); err == nil {
					ba, _ = newBaseAxes(b, rc.axes) // nil on error: encode each trial's spec
				}
				bases[t.BaseId] = ba
			}
			addErr = rc.add(t, st, ba)
			return addErr == nil
		})
		if err == nil {
			err = addErr
		}
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		if a.version[id] == version {
			a.rows[id] = rc
			a.mu.Unlock()
			return rc, nil
		}
		a.mu.Unlock()
		if try == 2 {
			return rc, nil
		}
	}
}

// Transitioned updates a cached row after a transition (lease.Observer).
func (a *aggregator) Transitioned(k lease.Key, _ pb.TrialState, t *pb.Trial) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.version[k.Sweep]++
	rc := a.rows[k.Sweep]
	if rc == nil {
		return
	}
	r := rc.rows[k.Trial]
	if r == nil {
		st, err := a.store.Spec(t)
		if err != nil || rc.add(t, st, nil) != nil {
			delete(a.rows, k.Sweep)
		}
		return
	}
	rc.setResult(r, t)
}

// Changed drops a sweep's cached rows after bulk changes (lease.Observer).
func (a *aggregator) Changed(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.version[id]++
	delete(a.rows, id)
}

// AggregateResults groups a sweep's trials with the results engine (see
// package results), over the coordinator's cached rows: by the grid axes the
// request names, or by default by every grid axis that varies among the
// trials except the seed.
func (s *sweepServer) AggregateResults(_ context.Context, req *pb.AggregateResultsRequest) (*pb.AggregateResultsResponse, error) {
	rc, err := s.c.rows.sweepRows(req.SweepId)
	if err != nil {
		return nil, statusOf(err)
	}
	var filters []results.Filter
	var fidx []int
	for _, list := range []struct {
		name string
		pfs  []*pb.AxisFilter
		conv func(*pb.AxisFilter) (results.Filter, error)
	}{{"filters", req.Filters, results.FilterFromProto}, {"exclude", req.Exclude, results.ExcludeFromProto}} {
		for _, pf := range list.pfs {
			i, ok := rc.axisIndex(pf.Axis)
			if !ok {
				return nil, status.Errorf(codes.InvalidArgument, "%s: unknown axis %q; want one of %s", list.name, pf.Axis, strings.Join(rc.axes, ", "))
			}
			f, err := list.conv(pf)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "%s: %v", list.name, err)
			}
			filters, fidx = append(filters, f), append(fidx, i)
		}
	}
	var gidx []int
	for _, a := range req.GroupBy {
		i, ok := rc.axisIndex(a)
		if !ok {
			return nil, status.Errorf(codes.InvalidArgument, "group_by: unknown axis %q; want one of %s", a, strings.Join(rc.axes, ", "))
		}
		gidx = append(gidx, i)
	}
	s.c.rows.mu.Lock()
	defer s.c.rows.mu.Unlock()
	for j, f := range filters {
		has := map[string]bool{}
		for _, r := range rc.order {
			has[r.axes[fidx[j]]] = true
		}
		if err := f.Check(has); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "filter %v", err)
		}
	}
	kept := make([]*row, 0, len(rc.order))
	var fails results.FailureTally
	external := 0
	for k, r := range rc.order {
		keep := true
		for j, f := range filters {
			if !f.Keep(r.axes[fidx[j]]) {
				keep = false
				break
			}
		}
		if keep {
			kept = append(kept, r)
			if f := r.fail; f != nil {
				fails.Add(f.state, f.reason, f.permanent, rc.ids[k])
			}
			if r.external {
				external++
			}
		}
	}
	varying, fixed := varyingAxes(rc.axes, kept)
	if len(gidx) == 0 {
		for _, i := range varying {
			if rc.axes[i] != "seed" {
				gidx = append(gidx, i)
			}
		}
	}
	by := make([]string, len(gidx))
	for j, i := range gidx {
		by[j] = rc.axes[i]
		delete(fixed, rc.axes[i])
	}
	names, idx := rc.metricOrder()
	gr := results.NewGrouper(names)
	key := make([]string, len(gidx))
	values := make([]float64, len(names))
	for _, r := range kept {
		for j, i := range gidx {
			key[j] = r.axes[i]
		}
		for j, i := range idx {
			values[j] = math.NaN()
			if i < len(r.values) {
				values[j] = r.values[i]
			}
		}
		gr.Add(key, r.status, values, r.g)
	}
	groups := gr.Groups(by)
	groups.Fixed = fixed
	groups.Failures = fails.Failures(0)
	groups.External = external
	return groups.ToProto(), nil
}

// maxSweepFailures is how many failure reasons a sweep's status carries.
const maxSweepFailures = 10

// failures returns why a sweep's trials failed, most frequent reason first
// (at most maxSweepFailures), from its rows.
func (a *aggregator) failures(id string) ([]*pb.FailureReason, error) {
	rc, err := a.sweepRows(id)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var t results.FailureTally
	for k, r := range rc.order {
		if f := r.fail; f != nil {
			t.Add(f.state, f.reason, f.permanent, rc.ids[k])
		}
	}
	return results.FailuresToProto(t.Failures(maxSweepFailures)), nil
}

// withFailures fills in why a sweep's trials failed, when some did.
func (c *Coordinator) withFailures(sw *pb.Sweep) error {
	n := sw.StateCounts
	if n["failed"]+n["discarded"]+n["cancelled"] == 0 {
		return nil
	}
	fs, err := c.rows.failures(sw.Id)
	if err != nil {
		return err
	}
	sw.Failures = fs
	return nil
}

// varyingAxes returns the indices of the axes on which the rows take more
// than one value, and the value of each other axis.
func varyingAxes(axes []string, rows []*row) (varying []int, fixed map[string]string) {
	fixed = map[string]string{}
	for i, name := range axes {
		var first string
		varies := false
		for k, r := range rows {
			if k == 0 {
				first = r.axes[i]
			} else if r.axes[i] != first {
				varies = true
				break
			}
		}
		switch {
		case varies:
			varying = append(varying, i)
		case len(rows) > 0:
			fixed[name] = first
		}
	}
	return varying, fixed
}
