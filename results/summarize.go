package results

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/flatsweep/flatsweep/spec"
)

// Metric names every result has, in display order: the final accuracies
// (fractions in [0, 1]), the generalization gap in accuracy (train − test),
// λ₁, the final losses (nats), the gap in loss (test − train) and the trial's
// wall-clock duration on its worker. Every flatness measure a trial records
// is a metric too, under its name (see spec.Measure.Records).
const (
	MetricTrainAcc  = "train_acc"
	MetricTestAcc   = "test_acc"
	MetricGap       = "gap"
	MetricLambdaMax = "lambda_max"
	MetricTrainLoss = "train_loss"
	MetricTestLoss  = "test_loss"
	MetricLossGap   = "loss_gap"
	MetricDuration  = "duration_seconds"
)

// BaseMetrics lists the metrics every result has, in display order.
func BaseMetrics() []string {
	return []string{MetricTrainAcc, MetricTestAcc, MetricGap, MetricLambdaMax, MetricTrainLoss, MetricTestLoss, MetricLossGap, MetricDuration}
}

// Scalars are the scalar outcomes of a trial that the metrics derive from.
type Scalars struct {
	TrainAcc, TestAcc, TrainLoss, TestLoss, LambdaMax float64
	Duration                                          float64 // seconds
	Measures                                          map[string]float64
}

// Each calls fn for every metric of s: the base metrics in order, then the
// measures in name order. A measure named like a base metric is skipped: the
// base metric wins.
func (s Scalars) Each(fn func(name string, v float64)) {
	fn(MetricTrainAcc, s.TrainAcc)
	fn(MetricTestAcc, s.TestAcc)
	fn(MetricGap, s.TrainAcc-s.TestAcc)
	fn(MetricLambdaMax, s.LambdaMax)
	fn(MetricTrainLoss, s.TrainLoss)
	fn(MetricTestLoss, s.TestLoss)
	fn(MetricLossGap, s.TestLoss-s.TrainLoss)
	fn(MetricDuration, s.Duration)
	base := BaseMetrics()
	for _, k := range slices.Sorted(maps.Keys(s.Measures)) {
		if !slices.Contains(base, k) {
			fn(k, s.Measures[k])
		}
	}
}

// Scalars returns the record's scalars (zero without a result).
func (r Record) Scalars() Scalars {
	if r.Result == nil {
		return Scalars{}
	}
	res := r.Result
	lambda := res.LambdaMax
	if res.External && !res.CurvatureMeasured() {
		lambda = math.NaN() // not measured: the program wrote no weights flatsweep read
	}
	return Scalars{TrainAcc: res.TrainAcc, TestAcc: res.TestAcc, TrainLoss: res.TrainLoss, TestLoss: res.TestLoss,
		LambdaMax: lambda, Duration: r.Duration.Seconds(), Measures: res.Measures}
}

// NoiseScale returns the SGD noise scale of Smith & Le (2018) of a trial,
//
//	g = ε/(1 − m) · (N/B − 1) ≈ εN / (B(1 − m))  (B ≪ N),
//
// with learning rate ε, training-set size N, batch size B and heavy-ball
// momentum m (0 for plain SGD): the temperature of the stochastic
// differential equation SGD approximates. It is 0 for full-batch gradient
// descent (B = N) and NaN where it does not apply: Adam, whose update is not
// a gradient step of size ε, and a batch-size schedule, under which B is not
// one number. The value is NoiseScaleOf's, rounded as it says.
func NoiseScale(t spec.Trial) float64 {
	if t.Optimizer.Name == spec.OptimizerAdam || len(t.Schedule.Batch.Milestones) > 0 {
		return math.NaN()
	}
	return NoiseScaleOf(t.LR, float64(t.Dataset.N), float64(t.BatchSize), t.Optimizer.Momentum)
}

// NoiseScaleOf returns g = ε/(1 − m) · (N/B − 1) for learning rate lr,
// training-set size n, batch size b and momentum m, NaN for b ≤ 0 or
// m ≥ 1. It is rounded to 12 significant digits: the axes are decimal
// numbers, and without the rounding binary arithmetic would report g =
// 0.1 · (512/10 − 1) as 5.0200000000000005 in every CSV and JSON file. The
// rounding is far below any precision a fit of g could use.
func NoiseScaleOf(lr, n, b, m float64) float64 {
	if !(b > 0) || !(m < 1) {
		return math.NaN()
	}
	g := lr / (1 - m) * (n/b - 1)
	if r, err := strconv.ParseFloat(strconv.FormatFloat(g, 'g', 12, 64), 64); err == nil {
		return r
	}
	return g
}

// AxisPath returns the trial field a grouping axis names: a grid axis name
// ("batch_size", "n", …) or the JSON path of any field ("model.hidden").
func AxisPath(axis string) (string, error) {
	if p, ok := spec.AxisPath(axis); ok {
		return p, nil
	}
	if _, err := spec.FieldIndex(axis); err != nil {
		return "", fmt.Errorf("unknown axis %q: want one of %s, or the path of a trial field such as model.hidden", axis, strings.Join(spec.AxisNames(), ", "))
	}
	return axis, nil
}

// Varying returns the grid axes (spec.AxisNames) on which the records take
// more than one value, in expansion order, and the value of each of the
// others; then, by their JSON paths (spec.LeafPaths, such as model.hidden
// or schedule.lr.kind), the other fields on which the records differ, as
// the field axes, linked axes and random draws of a sweep make them
// differ, except the paths of the data files and their digests.
func Varying(recs []Record) (varying []string, fixed map[string]string) {
	varying, fixed = varyingNamed(recs)
	if len(recs) < 2 {
		return varying, fixed
	}
	named := map[string]bool{}
	for _, name := range spec.AxisNames() {
		p, _ := spec.AxisPath(name)
		named[p] = true
	}
	first := reflect.ValueOf(recs[0].Spec)
	for _, p := range spec.LeafPaths() {
		if named[p] || strings.HasPrefix(p, "dataset.") && p != "dataset.label_noise" && p != "dataset.standardize" && p != "dataset.seed" ||
			strings.HasPrefix(p, "warm_start.") {
			continue
		}
		idx, err := spec.FieldIndex(p)
		if err != nil {
			continue
		}
		v0 := first.FieldByIndex(idx).Interface()
		for _, r := range recs[1:] {
			if !reflect.DeepEqual(reflect.ValueOf(r.Spec).FieldByIndex(idx).Interface(), v0) {
				varying = append(varying, p)
				break
			}
		}
	}
	return varying, fixed
}

// varyingNamed is Varying over the named grid axes.
func varyingNamed(recs []Record) (varying []string, fixed map[string]string) {
	fixed = map[string]string{}
	for _, name := range spec.AxisNames() {
		path, _ := spec.AxisPath(name)
		seen := map[string]bool{}
		var v string
		for _, r := range recs {
			v, _ = spec.GetJSON(r.Spec, path)
			seen[v] = true
		}
		switch {
		case len(seen) > 1:
			varying = append(varying, name)
		case len(seen) == 1:
			fixed[name] = v
		}
	}
	return varying, fixed
}

// DefaultBy returns the default grouping of records: every grid axis that
// varies among them except the seed, so that trials are aggregated over
// seeds and over nothing else.
func DefaultBy(recs []Record) []string {
	varying, _ := Varying(recs)
	return slices.DeleteFunc(varying, func(a string) bool { return a == "seed" })
}

// Filter keeps the records whose value on Axis is one of Values or, with
// Exclude, drops them and keeps the others (flatsweep's --where and
// --exclude).
type Filter struct {
	Axis    string
	Values  []string
	Exclude bool
}

// ParseFilter parses "AXIS=V1,V2" into a Filter with the values in canonical
// JSON form of the axis's field (so "1e-1" matches a learning rate of 0.1).
// AXIS is a grid axis name or the path of any trial field; a value may be a
// list or an object ("model.hidden=[512,512],[1024]") and a string may be
// written without its quotes ("optimizer.name=adam").
func ParseFilter(s string) (Filter, error) {
	axis, vals, ok := strings.Cut(s, "=")
	if !ok {
		return Filter{}, fmt.Errorf("%q: want AXIS=V1,V2", s)
	}
	path, err := AxisPath(axis)
	if err != nil {
		return Filter{}, err
	}
	f := Filter{Axis: axis}
	for _, v := range splitValues(vals) {
		var t spec.Trial
		v = strings.TrimSpace(v)
		if err := spec.SetJSON(&t, path, v); err != nil {
			// A string may be written without its quotes (adam, tanh).
			if spec.SetJSON(&t, path, strconv.Quote(v)) != nil {
				return Filter{}, fmt.Errorf("%q: %q is not a value of %s", s, v, axis)
			}
		}
		c, _ := spec.GetJSON(t, path)
		f.Values = append(f.Values, c)
	}
	return f, nil
}

// splitValues splits "V1,V2" at the commas outside brackets, braces and
// quotes, so that a list value ([512,512]) or an object is one value.
func splitValues(s string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// ParseExclude parses "AXIS=V1,V2" as ParseFilter does into a Filter that
// drops the trials with one of the values (Exclude).
func ParseExclude(s string) (Filter, error) {
	f, err := ParseFilter(s)
	f.Exclude = true
	return f, err
}

// Keep reports whether a trial whose value on the filter's axis is v passes.
func (f Filter) Keep(v string) bool { return slices.Contains(f.Values, v) != f.Exclude }

// String formats f as the flag that gives it: "where AXIS=V1,V2" or
// "exclude AXIS=V1,V2".
func (f Filter) String() string {
	kind := "where"
	if f.Exclude {
		kind = "exclude"
	}
	return kind + " " + f.Axis + "=" + strings.Join(f.Values, ",")
}

// Select returns the records that pass every filter, in order. A filter
// naming a value no record takes is an error (see Check), so that a typo
// does not select nothing silently.
func Select(recs []Record, filters ...Filter) ([]Record, error) {
	vals := make([][]string, len(filters)) // vals[i][j]: record j's value on filter i's axis
	for i, f := range filters {
		p, err := AxisPath(f.Axis)
		if err != nil {
			return nil, err
		}
		vals[i] = make([]string, len(recs))
		for j, r := range recs {
			vals[i][j], _ = spec.GetJSON(r.Spec, p)
		}
	}
	for i, f := range filters {
		has := map[string]bool{}
		for _, v := range vals[i] {
			has[v] = true
		}
		if err := f.Check(has); err != nil {
			return nil, err
		}
	}
	kept := recs[:0:0]
recs:
	for j, r := range recs {
		for i, f := range filters {
			if !f.Keep(vals[i][j]) {
				continue recs
			}
		}
		kept = append(kept, r)
	}
	return kept, nil
}

// Check reports a value of the filter that no trial takes — a typo or a
// value outside the grid, which would otherwise select nothing and print
// an empty table. has lists the values the sweep's trials take on the
// filter's axis.
func (f Filter) Check(has map[string]bool) error {
	for _, v := range f.Values {
		if has[v] {
			continue
		}
		vals := make([]string, 0, len(has))
		for h := range has {
			vals = append(vals, h)
		}
		slices.SortFunc(vals, compareValues)
		return fmt.Errorf("%s=%s: no trial has %s %s; the sweep's values of %s are %s",
			f.Axis, v, f.Axis, v, f.Axis, strings.Join(vals, ", "))
	}
	return nil
}

// compareValues orders axis values numerically where both are numbers.
func compareValues(a, b string) int {
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// Summarize keeps the records that pass every filter, groups them by the
// named axes (DefaultBy of the records kept when by is empty) and
// summarizes every metric of each group over its StatusOK trials (see
// Grouper). The metrics are the base metrics and every measure any record
// has (kept or not, as the coordinator lists a sweep's metrics).
func Summarize(recs []Record, by []string, filters ...Filter) (Groups, error) {
	kept, err := Select(recs, filters...)
	if err != nil {
		return Groups{}, err
	}
	// The default grouping is over the axes that vary among the trials
	// kept, as the coordinator's AggregateResults groups them.
	if len(by) == 0 {
		by = DefaultBy(kept)
	}
	paths := make([]string, len(by))
	for i, a := range by {
		p, err := AxisPath(a)
		if err != nil {
			return Groups{}, err
		}
		paths[i] = p
	}
	metrics := BaseMetrics()
	var measures []string
	for _, r := range recs {
		r.Scalars().Each(func(name string, _ float64) {
			if !slices.Contains(metrics, name) && !slices.Contains(measures, name) {
				measures = append(measures, name)
			}
		})
	}
	slices.Sort(measures) // base metrics first, then the measures by name
	metrics = append(metrics, measures...)
	index := make(map[string]int, len(metrics))
	for i, m := range metrics {
		index[m] = i
	}
	gr := NewGrouper(metrics)
	key := make([]string, len(by))
	values := make([]float64, len(metrics))
	for _, r := range kept {
		for i, p := range paths {
			key[i], _ = spec.GetJSON(r.Spec, p)
		}
		for i := range values {
			values[i] = math.NaN()
		}
		if r.Result != nil {
			r.Scalars().Each(func(name string, v float64) { values[index[name]] = v })
		}
		gr.Add(key, Classify(r), values, NoiseScale(r.Spec))
	}
	out := gr.Groups(by)
	out.Failures = FailuresOf(kept)
	for _, r := range kept {
		if r.Result != nil && r.Result.External {
			out.External++
		}
	}
	_, out.Fixed = Varying(kept)
	for _, a := range by {
		delete(out.Fixed, a)
	}
	return out, nil
}
