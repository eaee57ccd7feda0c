package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// Axis names of a Point: the hyperparameters of a trial, named as the grid
// names them (spec.AxisNames). Any other name may be used too; these are the
// ones the noise-scale analyses read.
const (
	// AxisB is the batch size B (examples per minibatch).
	AxisB = "batch_size"
	// AxisLR is the learning rate ε.
	AxisLR = "lr"
	// AxisN is the number N of training examples.
	AxisN = "n"
	// AxisMomentum is the SGD momentum m ∈ [0, 1); absent means 0.
	AxisMomentum = "momentum"
	// AxisWeightDecay is the L2 coefficient λ ≥ 0.
	AxisWeightDecay = "weight_decay"
	// AxisSeed is the trial seed. Aggregations average over it; granulated
	// rank correlations hold it fixed.
	AxisSeed = "seed"
)

// Metric names of a Point filled by PointsFromRecords (those of package
// results). Every metric name not in this list is treated as a flatness
// measure (see FlatnessMeasures), except the loss metrics listed here too.
const (
	// MetricTestAcc is the final test accuracy, a fraction in [0, 1].
	MetricTestAcc = results.MetricTestAcc
	// MetricTrainAcc is the final training accuracy, a fraction in [0, 1].
	MetricTrainAcc = results.MetricTrainAcc
	// MetricTestLoss is the final mean test cross-entropy (nats).
	MetricTestLoss = results.MetricTestLoss
	// MetricTrainLoss is the final mean training cross-entropy (nats).
	MetricTrainLoss = results.MetricTrainLoss
	// MetricGap is the generalization gap in accuracy, train_acc − test_acc.
	MetricGap = results.MetricGap
	// MetricLossGap is the generalization gap in loss, test_loss − train_loss.
	MetricLossGap = results.MetricLossGap
	// MetricLambdaMax is the top Hessian eigenvalue λ₁ of the training loss, a
	// (raw, not reparametrization-aware) flatness measure.
	MetricLambdaMax = results.MetricLambdaMax
	// MetricDinhOutputChange is the largest relative change of the network
	// outputs under Dinh's α-scaling T_α, max |f_{T_α θ} − f_θ| / max |f_θ|
	// over the curvature examples (0 up to rounding), recorded by trials
	// with spec.Dinh. It is a check of the transformation, not a
	// flatness measure.
	MetricDinhOutputChange = spec.MeasureDinhOutputChange
)

// DinhSuffix ends the name of a measure's value at Dinh's α-scaled
// parameters T_α θ: metric m + DinhSuffix ("lambda_max@dinh",
// "trace@dinh", …) is m recomputed at T_α θ with the same seeds (see
// spec.Dinh). Such metrics are not separate flatness measures: they
// are compared with m by Analyze's Dinh check (see DinhMeasure), and left out
// of FlatnessMeasures.
const DinhSuffix = spec.DinhSuffix

// IsDinhMetric reports whether name is part of Dinh's check rather than a
// flatness measure: a value at T_α θ (name ends in DinhSuffix) or
// MetricDinhOutputChange.
func IsDinhMetric(name string) bool {
	return strings.HasSuffix(name, DinhSuffix) || name == MetricDinhOutputChange
}

// ErrNoData is returned when an analysis has no usable trial: none at all, or
// none that succeeded without diverging with a finite value of the metric.
var ErrNoData = errors.New("analysis: no usable data")

// ErrTooFewPoints is returned when there are usable trials but too few, or
// too little variation among them, to fit the requested model.
var ErrTooFewPoints = errors.New("analysis: too few points")

// ErrLengthMismatch is returned when paired slices differ in length.
var ErrLengthMismatch = errors.New("analysis: length mismatch")

// Status classifies a trial (see results.Status). Only StatusOK trials
// enter means, fits and correlations; the others are counted (see Counts).
type Status = results.Status

// The statuses of results.
const (
	StatusOK         = results.StatusOK
	StatusDiverged   = results.StatusDiverged
	StatusFailed     = results.StatusFailed
	StatusUnfinished = results.StatusUnfinished
	StatusNotFitted  = results.StatusNotFitted
)

// Point is one trial in generic form: its hyperparameters as named axis values
// and its outcomes as named metric values, so that a new hyperparameter or a
// new flatness measure is a new key, not a code change.
type Point struct {
	// ID identifies the trial.
	ID string
	// External marks a result produced by an external program (a command
	// trial, see spec.Command).
	External bool
	// Status classifies the trial; only StatusOK points are analysed.
	Status Status
	// Axes holds the hyperparameters by name (AxisB, AxisLR, AxisN,
	// AxisMomentum, AxisWeightDecay, AxisSeed, or any other).
	Axes map[string]float64
	// Values holds the exact value of each axis as canonical JSON, where it
	// is known (PointsFromRecords fills it); grouping uses it before Axes,
	// so that integers beyond 2⁵³ stay apart.
	Values map[string]string
	// NoG marks a trial whose noise scale does not apply (Adam, a
	// batch-size schedule; see results.NoiseScale).
	NoG bool
	// TestExamples is the size of the test set the accuracies were measured
	// on (spec Dataset.NTest; 0 when unknown): the binomial error of an
	// accuracy (see AccInterval).
	TestExamples int
	// TestCorrect marks which test examples the trial's final model
	// classifies correctly (spec.Result.TestCorrect; nil when not
	// recorded), and TestSet identifies the test set they index (the
	// canonical JSON of the trial's dataset section), so that trials are
	// compared image by image only on the same images (PairedAccuracy).
	TestCorrect []byte
	TestSet     string
	// Optimizer names the update rule ("sgd", "adam"; spec Optimizer.Name,
	// "" for plain SGD).
	Optimizer string
	// Metrics holds the outcomes by name (MetricTestAcc, MetricGap, a flatness
	// measure, …). A missing metric reads as NaN.
	Metrics map[string]float64
	// Curve holds the per-epoch metrics, if recorded.
	Curve []spec.EpochMetrics
	// Sharpness holds λ₁ along training, if tracked (spec.Track).
	Sharpness []spec.SharpnessPoint
	// Landscape is the loss landscape around the final θ, if measured
	// (spec.LandscapeSettings).
	Landscape *spec.Landscape
	// State is the trial's state as stored, and Error and Permanent the
	// error of its last failed attempt and whether that error is one of its
	// input (see results.Record); they say why a StatusFailed point failed.
	State, Error string
	Permanent    bool
	// Cost holds the result's training gradients, seconds and curvature
	// costs (nil without a result that recorded them); see
	// results.CostTable.
	Cost *spec.Result
}

// Axis returns the value of axis name and whether it is set.
func (p Point) Axis(name string) (float64, bool) {
	v, ok := p.Axes[name]
	return v, ok
}

// Metric returns the value of metric name, NaN when it is missing.
func (p Point) Metric(name string) float64 {
	if v, ok := p.Metrics[name]; ok {
		return v
	}
	return math.NaN()
}

// NoiseScale returns the SGD noise scale of the point,
//
//	g = ε (N/B − 1) / (1 − m),
//
// from its axes AxisLR, AxisN, AxisB and AxisMomentum (0 when absent); see
// NoiseScaleMomentum. It is NaN when ε, N or B is missing.
func (p Point) NoiseScale() float64 {
	if p.NoG {
		return math.NaN()
	}
	lr, okLR := p.Axes[AxisLR]
	n, okN := p.Axes[AxisN]
	b, okB := p.Axes[AxisB]
	if !okLR || !okN || !okB {
		return math.NaN()
	}
	return NoiseScaleMomentum(lr, n, b, p.Axes[AxisMomentum])
}

// NoiseScaleMomentum returns the SGD noise scale with momentum m of Smith & Le
// (2018, arXiv 1710.06451, section 5):
//
//	g = ε/(1 − m) · (N/B − 1) ≈ εN / (B(1 − m))  (B ≪ N),
//
// which reduces to NoiseScale at m = 0 (the effective learning rate of
// heavy-ball SGD is ε/(1 − m)), rounded as results.NoiseScaleOf says. It
// returns NaN for B ≤ 0 or m ≥ 1; see
// NoiseScaleApprox for the approximate form.
func NoiseScaleMomentum(lr, n, b, m float64) float64 {
	return results.NoiseScaleOf(lr, n, b, m)
}

// NoiseScaleApprox returns the large-N approximation of the noise scale with
// momentum m,
//
//	g ≈ εN / (B(1 − m)),
//
// NaN for B ≤ 0 or m ≥ 1. It exceeds NoiseScaleMomentum by ε/(1 − m).
func NoiseScaleApprox(lr, n, b, m float64) float64 {
	if !(b > 0) || !(m < 1) {
		return math.NaN()
	}
	return lr * n / (b * (1 - m))
}

// classify returns the Status of a record (results.Classify).
func classify(r Record) Status { return results.Classify(r) }

// PointsFromRecords converts records to points, one per record, in order.
// Axes: every grid axis (spec.AxisNames: AxisN, AxisMomentum,
// AxisWeightDecay, AxisB, AxisLR and AxisSeed) as numbers and, exactly, as
// Values, and, by JSON path, every other field on which the records differ
// (a field axis, linked axis or random draw: see fieldAxes); momentum is 0 for plain SGD and for Adam, whose β₁ is not a
// heavy-ball momentum, and NoG marks the trials whose noise scale does not
// apply. Metrics, when the record has a result: the final
// accuracies and losses, MetricGap = train_acc − test_acc and MetricLossGap =
// test_loss − train_loss; MetricLambdaMax and every key of Result.Measures
// (each a flatness measure, see FlatnessMeasures) only for a trial that did
// not diverge (curvature is skipped otherwise); this includes the keys of
// Dinh's check, m + DinhSuffix and MetricDinhOutputChange, which are kept as
// metrics but are not flatness measures. A measure key equal to one of the
// metric names above is ignored: the built-in value wins.
func PointsFromRecords(recs []Record) []Point {
	out := make([]Point, 0, len(recs))
	extra := fieldAxes(recs)
	for _, r := range recs {
		p := Point{
			ID:           r.TrialID,
			Status:       classify(r),
			Axes:         map[string]float64{},
			Values:       map[string]string{},
			Metrics:      map[string]float64{},
			NoG:          math.IsNaN(results.NoiseScale(r.Spec)),
			TestExamples: r.Spec.Dataset.NTest, Optimizer: r.Spec.Optimizer.Name,
			State: r.State, Error: r.Error, Permanent: r.Permanent,
		}
		for _, name := range spec.AxisNames() {
			path, _ := spec.AxisPath(name)
			v, _ := spec.GetJSON(r.Spec, path)
			x, _ := strconv.ParseFloat(v, 64)
			p.Axes[name], p.Values[name] = x, v
		}
		for _, fa := range extra {
			v, _ := spec.GetJSON(r.Spec, fa.path)
			p.Axes[fa.path], p.Values[fa.path] = fa.code[v], v
		}
		if res := r.Result; res != nil {
			p.External = res.External
			if res.TestExamples > 0 && res.TestExamples == r.Spec.Dataset.NTest {
				ds, _ := json.Marshal(r.Spec.Dataset)
				p.TestCorrect, p.TestSet = res.TestCorrect, string(ds)
			}
			if !res.Diverged {
				for name, v := range res.Measures {
					p.Metrics[name] = v
				}
				if res.CurvatureMeasured() {
					p.Metrics[MetricLambdaMax] = res.LambdaMax
				}
			}
			p.Metrics[MetricTrainAcc], p.Metrics[MetricTestAcc] = res.TrainAcc, res.TestAcc
			p.Metrics[MetricTrainLoss], p.Metrics[MetricTestLoss] = res.TrainLoss, res.TestLoss
			p.Metrics[MetricGap] = res.TrainAcc - res.TestAcc
			p.Metrics[MetricLossGap] = res.TestLoss - res.TrainLoss
			p.Curve = res.Curve
			p.Sharpness = res.Sharpness
			p.Landscape = res.Landscape
			if res.Costs != nil {
				p.Cost = &spec.Result{Gradients: res.Gradients, TrainSeconds: res.TrainSeconds,
					CurvatureSeconds: res.CurvatureSeconds, Costs: res.Costs}
			}
		}
		out = append(out, p)
	}
	return out
}

// fieldAxis is a trial field other than the named grid axes on which
// records differ, with the number that stands for each of its values.
type fieldAxis struct {
	path string
	code map[string]float64 // canonical JSON → the value if a number, else its rank among the values
}

// fieldAxes returns the fields other than the named grid axes on which the
// records differ (results.Varying: the field axes, linked axes and random
// draws of their sweep). A numeric field's values stand for themselves; any
// other field's values (strings, lists, objects) are numbered 0, 1, … in
// the order of their canonical JSON, so that points group by them.
func fieldAxes(recs []Record) []fieldAxis {
	varying, _ := results.Varying(recs)
	var out []fieldAxis
	for _, path := range varying {
		if _, named := spec.AxisPath(path); named {
			continue
		}
		fa := fieldAxis{path: path, code: map[string]float64{}}
		var vals []string
		numeric := true
		for _, r := range recs {
			v, _ := spec.GetJSON(r.Spec, path)
			if _, seen := fa.code[v]; !seen {
				fa.code[v] = 0
				vals = append(vals, v)
				if _, err := strconv.ParseFloat(v, 64); err != nil {
					numeric = false
				}
			}
		}
		slices.Sort(vals)
		for i, v := range vals {
			x, _ := strconv.ParseFloat(v, 64)
			if !numeric {
				x = float64(i)
			}
			fa.code[v] = x
		}
		out = append(out, fa)
	}
	return out
}

// performanceMetrics are the metric names that are not flatness measures.
func performanceMetrics() []string {
	return []string{MetricTestAcc, MetricTrainAcc, MetricTestLoss, MetricTrainLoss, MetricGap, MetricLossGap}
}

// FlatnessMeasures returns, sorted, the names of the metrics present in any
// point that are not performance metrics (accuracies, losses and gaps): λ₁
// and any other flatness measure added to the points. The metrics of Dinh's
// check (IsDinhMetric: values at T_α θ and the output change) are not
// flatness measures and are left out; see DinhMetrics.
func FlatnessMeasures(points []Point) []string {
	perf := performanceMetrics()
	var names []string
	for _, p := range points {
		for name := range p.Metrics {
			if !slices.Contains(perf, name) && !IsDinhMetric(name) && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// DinhMetrics returns, sorted, the names of the metrics of Dinh's check
// (IsDinhMetric) present in any point.
func DinhMetrics(points []Point) []string {
	var names []string
	for _, p := range points {
		for name := range p.Metrics {
			if IsDinhMetric(name) && !slices.Contains(names, name) {
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// AxisNames returns, sorted, the names of the axes present in any point.
func AxisNames(points []Point) []string {
	return keysOf(points, func(p Point) map[string]float64 { return p.Axes })
}

// keysOf returns, sorted, the keys of the map get selects in any point.
func keysOf(points []Point, get func(Point) map[string]float64) []string {
	seen := map[string]bool{}
	for _, p := range points {
		for k := range get(p) {
			seen[k] = true
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// Counts tallies trials by Status (see results.Counts). Every analysis
// reports the counts of the trials it was given, so that diverged and failed
// trials are never dropped silently.
type Counts = results.Counts

// CountPoints tallies points by Status.
func CountPoints(points []Point) Counts {
	var c Counts
	for _, p := range points {
		c.Add(p.Status)
	}
	return c
}

// axisJSON returns the exact value of axis name of p (Values), or its number
// in shortest form.
func (p Point) axisJSON(name string) string {
	if v, ok := p.Values[name]; ok {
		return v
	}
	v, ok := p.Axes[name]
	if !ok {
		return "null"
	}
	if v == 0 {
		v = 0 // −0 and +0 are one grid value
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// axesKey returns a canonical key of the axes of p except those in skip:
// "name=value;…" in name order, exact (see axisJSON).
func axesKey(p Point, skip ...string) string {
	names := make([]string, 0, len(p.Axes))
	for name := range p.Axes {
		if !slices.Contains(skip, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "%s=%s;", name, p.axisJSON(name))
	}
	return b.String()
}

// axesExcept returns a copy of the axes of p without those in skip.
func axesExcept(p Point, skip ...string) map[string]float64 {
	out := make(map[string]float64, len(p.Axes))
	for name, v := range p.Axes {
		if !slices.Contains(skip, name) {
			out[name] = v
		}
	}
	return out
}

// compareAxes orders axis maps by their sorted names, then values.
func compareAxes(a, b map[string]float64) int {
	names := make([]string, 0, len(a)+len(b))
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		va, oka := a[n]
		vb, okb := b[n]
		switch {
		case oka && !okb:
			return 1
		case !oka && okb:
			return -1
		case va < vb:
			return -1
		case va > vb:
			return 1
		}
	}
	return 0
}

// finite reports whether x is neither NaN nor ±Inf.
func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// AxisLabels maps, for every axis whose values are not numbers (a field
// axis over strings, lists or objects, which Point.Axes numbers 0, 1, … in
// the order of their canonical JSON), each code to the value it stands for
// as results.ShowValue renders it (relu, [64,64], {kind:step,…}), from the
// points' Values.
type AxisLabels map[string]map[float64]string

// axisLabels collects the AxisLabels of points.
func axisLabels(points []Point) AxisLabels {
	out := AxisLabels{}
	for _, p := range points {
		for name, v := range p.Values {
			if _, err := strconv.ParseFloat(v, 64); err == nil || v == "" {
				continue
			}
			if out[name] == nil {
				out[name] = map[float64]string{}
			}
			out[name][p.Axes[name]] = results.ShowValue(v)
		}
	}
	return out
}

// Label returns axis name's value x as written: its label when the axis
// is not numeric, the number otherwise.
func (l AxisLabels) Label(name string, x float64) string {
	if s, ok := l[name][x]; ok {
		return s
	}
	return fmt.Sprint(x)
}
