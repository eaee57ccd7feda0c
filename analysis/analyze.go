package analysis

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// PredictedSlope is the exponent of B_opt ∝ x that Smith & Le (2018) predict
// for x = ε, N and 1/(1 − m).
const PredictedSlope = 1.0

// GridPoint is one grid point of a sweep (the trials sharing every axis value
// but the seed) with its noise scale and the summary of every metric over its
// successful trials.
type GridPoint struct {
	// Axes are the grid point's axis values (the seed excluded).
	Axes map[string]float64 `json:"axes"`
	// G is the noise scale ε(N/B − 1)/(1 − m) (NaN when undefined).
	G float64 `json:"g"`
	// Counts tallies the grid point's trials by status.
	Counts Counts `json:"counts"`
	// Metrics summarizes every metric (mean, std and 95 % interval) over the
	// StatusOK trials.
	Metrics map[string]Summary `json:"metrics"`
	// TestAcc is the 95 % interval of the mean test accuracy with the test
	// set's binomial error (AccInterval).
	TestAcc AccuracyInterval `json:"test_acc_ci"`
	// NoG is true when the noise scale does not apply to the grid point's
	// trials (Adam, a batch-size schedule).
	NoG bool `json:"no_g"`
}

// Metric returns the summary of metric name, with Count = 0 and NaN values
// when no successful trial of the grid point has it.
func (p GridPoint) Metric(name string) Summary { return Group{Metrics: p.Metrics}.Metric(name) }

// MarshalJSON encodes p with null for an undefined g.
func (p GridPoint) MarshalJSON() ([]byte, error) { return marshalFinite(p) }

// ScalingFit is the log–log fit of B_opt against one axis (see
// FitBatchScaling), or why it could not be made.
type ScalingFit struct {
	// Axis is the predictor axis (AxisLR, AxisN or AxisMomentum, the latter
	// fitted against 1/(1 − m)).
	Axis string `json:"axis"`
	// Predicted is the exponent Smith & Le predict (PredictedSlope).
	Predicted float64 `json:"predicted"`
	// Fit is the fit; its numbers are NaN when Error is set.
	Fit PowerLawFit `json:"fit"`
	// CI is the 95 % Student-t interval of the slope on the fit's residual
	// degrees of freedom.
	CI Interval `json:"ci"`
	// Bootstrap is the 95 % residual bootstrap-t interval of the slope over
	// BootstrapResamples resamples (see residualBootstrapT); undefined
	// without a fit.
	Bootstrap Interval `json:"bootstrap"`
	// Deviation is (slope − Predicted)/SE, NaN without a standard error.
	Deviation float64 `json:"deviation"`
	// Error says, for a reader, why the fit is missing ("" when it is fine).
	Error string `json:"error,omitempty"`
}

// MarshalJSON encodes f with null for an undefined deviation.
func (f ScalingFit) MarshalJSON() ([]byte, error) { return marshalFinite(f) }

// MetricCoverage says how many successful trials lack a finite value of a
// metric.
type MetricCoverage struct {
	// Metric is the metric name.
	Metric string `json:"metric"`
	// Finite is the number of StatusOK trials with a finite value.
	Finite int `json:"finite"`
	// Missing is the number of StatusOK trials without one (absent or NaN).
	Missing int `json:"missing"`
}

// SweepAnalysis is every number of the noise-scale and flatness analysis of
// one sweep, as printed by `flatsweep analyze` and shown in the report.
// Degenerate sweeps (no trials, a single grid point, every trial diverged,
// missing metrics) are not errors: Notes says what could not be computed and
// why, and the sections concerned carry an Error string.
type SweepAnalysis struct {
	// Sweep names the sweep.
	Sweep string `json:"sweep"`
	// Counts tallies every trial of the sweep by status: diverged, failed and
	// unfinished trials are excluded from every number below but counted here.
	Counts Counts `json:"counts"`
	// Failures says why the trials counted failed have no result, most
	// frequent reason first.
	Failures []results.Failure `json:"failures"`
	// Notes lists, as sentences, the conditions that limit the analysis.
	Notes []string `json:"notes"`
	// Selection lists the filters that selected the trials analysed
	// (flatsweep's --where and --exclude, as given), if any.
	Selection []string `json:"selection,omitempty"`
	// Axes lists every axis; VaryingAxes those with two or more values among
	// the successful trials (the seed excluded).
	Axes        []string `json:"axes"`
	VaryingAxes []string `json:"varying_axes"`
	// Metrics lists every metric of the successful trials, performance
	// metrics first; Measures the flatness measures among them.
	Metrics  []string `json:"metrics"`
	Measures []string `json:"measures"`
	// Coverage gives, per metric, the successful trials lacking it.
	Coverage []MetricCoverage `json:"coverage"`
	// GridPoints aggregates every metric over the seeds of each grid point.
	GridPoints []GridPoint `json:"grid_points"`
	// Optima holds B_opt of test accuracy per setting of (ε, N, m, …);
	// OptimaError says why there is none.
	Optima      []BatchOptimum `json:"optima"`
	OptimaError string         `json:"optima_error,omitempty"`
	// Fits holds the fits of B_opt against ε, N and, when it varies, 1/(1 − m).
	Fits []ScalingFit `json:"fits"`
	// Collapse compares test accuracy explained by g alone with the separate
	// hyperparameters; CollapseError says why it is incomplete.
	Collapse      CollapseResult `json:"collapse"`
	CollapseError string         `json:"collapse_error,omitempty"`
	// Scores judges every flatness measure by Kendall's τ with the gap and
	// with test accuracy and by Jiang et al.'s granulated Ψ. The metrics of
	// Dinh's check (IsDinhMetric) are not measures and have no score.
	Scores []MeasureScore `json:"scores"`
	// Dinh is Dinh's reparametrization check of every measure recorded
	// before and after α-scaling (empty when no trial ran it).
	Dinh DinhAnalysis `json:"dinh"`
	// Costs is where the sweep's time went, over every trial that recorded
	// its costs (results.CostTable; empty when none did).
	Costs []results.CostRow `json:"costs,omitempty"`
	// Paired compares the test accuracy of neighbouring grid points image
	// by image on their shared test images (PairedAccuracy; empty when no
	// trial recorded its per-image results).
	Paired []PairedDifference `json:"paired,omitempty"`

	// optimizers and seeds feed the notes: the optimizer names of the
	// successful trials, and the most successful seeds of a grid point.
	optimizers []string
	seeds      int
}

// DinhInvariantTol is the threshold of Dinh's check: a measure is judged
// invariant under α-scaling when its largest relative change over the
// trials, max_i |afterᵢ − beforeᵢ| / |beforeᵢ|, is at most 1e-6 (rounding and
// the Lanczos or ascent tolerances stay far below it for an invariant
// measure; λ₁ changes by a factor up to α²).
const DinhInvariantTol = 1e-6

// Verdicts of Dinh's check (DinhMeasure.Verdict).
const (
	// DinhInvariant: the largest relative change is ≤ DinhInvariantTol.
	DinhInvariant = "invariant"
	// DinhChanged: some trial's value changed by more than DinhInvariantTol.
	DinhChanged = "changed"
)

// DinhMeasure is Dinh's check of one measure m across a sweep: its values
// beforeᵢ = m(θᵢ) and afterᵢ = m(T_α θᵢ) (metric m + DinhSuffix) over the
// successful trials i with both finite, compared by DinhCheck.
type DinhMeasure struct {
	// Measure is m.
	Measure string `json:"measure"`
	// N is the number of trials with both values finite.
	N int `json:"n"`
	// Tau is Kendall's τ-b(before, after): 1 when α-scaling keeps the
	// ranking of the trials (NaN when undefined, e.g. fewer than two
	// trials or a constant measure).
	Tau float64 `json:"tau"`
	// MaxRelChange and MedianRelChange are the largest and the median of
	// |afterᵢ − beforeᵢ| / |beforeᵢ| (0/0 counts as 0, x/0 as +Inf).
	MaxRelChange    float64 `json:"max_rel_change"`
	MedianRelChange float64 `json:"median_rel_change"`
	// MedianRatio is the median of afterᵢ / beforeᵢ (NaN when some
	// beforeᵢ = 0).
	MedianRatio float64 `json:"median_ratio"`
	// Verdict is DinhInvariant when MaxRelChange ≤ DinhInvariantTol,
	// DinhChanged otherwise ("" when N = 0).
	Verdict string `json:"verdict"`
	// Error says why τ or the whole check is undefined ("" when fine).
	Error string `json:"error,omitempty"`
}

// MarshalJSON encodes m with null for an undefined τ or an infinite change.
func (m DinhMeasure) MarshalJSON() ([]byte, error) { return marshalFinite(m) }

// DinhAnalysis is Dinh's reparametrization check across a sweep (Dinh et al.
// 2017): every measure m that has an m + DinhSuffix counterpart in some
// successful trial, compared before and after α-scaling.
type DinhAnalysis struct {
	// Trials is the number of successful trials that recorded the output
	// change MetricDinhOutputChange, i.e. ran the check.
	Trials int `json:"trials"`
	// MaxOutputChange is the largest MetricDinhOutputChange over them (NaN
	// when none): the relative change of the network outputs under T_α,
	// which should be 0 up to rounding.
	MaxOutputChange float64 `json:"max_output_change"`
	// Threshold is DinhInvariantTol.
	Threshold float64 `json:"threshold"`
	// Measures holds the check of every measure, sorted by name.
	Measures []DinhMeasure `json:"measures"`
}

// MarshalJSON encodes d with null for an undefined output change.
func (d DinhAnalysis) MarshalJSON() ([]byte, error) { return marshalFinite(d) }

// AnalyzeDinh runs Dinh's check (DinhCheck) for every measure m of the
// StatusOK points that has an m + DinhSuffix counterpart in some point, and
// gives each the verdict DinhInvariant or DinhChanged against
// DinhInvariantTol.
func AnalyzeDinh(points []Point) DinhAnalysis {
	ok := okPoints(points)
	d := DinhAnalysis{MaxOutputChange: math.NaN(), Threshold: DinhInvariantTol, Measures: []DinhMeasure{}}
	for _, v := range metricValues(ok, MetricDinhOutputChange) {
		if finite(v) {
			if d.Trials == 0 || v > d.MaxOutputChange {
				d.MaxOutputChange = v
			}
			d.Trials++
		}
	}
	for _, name := range DinhMetrics(ok) {
		m, isAfter := strings.CutSuffix(name, DinhSuffix)
		if !isAfter || m == "" {
			continue
		}
		d.Measures = append(d.Measures, dinhMeasure(m, metricValues(ok, m), metricValues(ok, name)))
	}
	return d
}

// dinhMeasure checks measure m with the given values before and after.
func dinhMeasure(m string, before, after []float64) DinhMeasure {
	dm := DinhMeasure{Measure: m, Tau: math.NaN(), MaxRelChange: math.NaN(), MedianRelChange: math.NaN(), MedianRatio: math.NaN()}
	r, err := DinhCheck(before, after)
	dm.N, dm.Tau, dm.MaxRelChange, dm.MedianRatio = r.N, r.Tau, r.MaxRelChange, r.MedianRatio
	switch {
	case r.N == 0:
		dm.Error = "no successful trial has both values finite"
	case err != nil:
		dm.Error = "τ undefined: fewer than two trials, or one side constant"
	}
	if r.N == 0 {
		return dm
	}
	var rel []float64
	for i := range before {
		b, a := before[i], after[i]
		switch {
		case !finite(b) || !finite(a):
		case a == b:
			rel = append(rel, 0)
		case b == 0:
			rel = append(rel, math.Inf(1))
		default:
			rel = append(rel, math.Abs(a-b)/math.Abs(b))
		}
	}
	slices.Sort(rel)
	if k := len(rel); k%2 == 1 {
		dm.MedianRelChange = rel[k/2]
	} else {
		dm.MedianRelChange = (rel[k/2-1] + rel[k/2]) / 2
	}
	dm.Verdict = DinhChanged
	if dm.MaxRelChange <= DinhInvariantTol {
		dm.Verdict = DinhInvariant
	}
	return dm
}

// Analyze computes the SweepAnalysis of points (usually PointsFromRecords of
// a sweep's records). It never fails: what cannot be computed is explained
// in Notes and in the Error fields.
func Analyze(sweep string, points []Point) SweepAnalysis {
	ok := okPoints(points)
	a := SweepAnalysis{
		Sweep: sweep, Counts: CountPoints(points), Notes: []string{}, Failures: failuresOf(points),
		Axes: nonNil(AxisNames(points)), VaryingAxes: nonNil(varyingAxes(ok)),
		Measures: nonNil(FlatnessMeasures(ok)), GridPoints: []GridPoint{}, Optima: []BatchOptimum{},
		Fits: []ScalingFit{}, Scores: []MeasureScore{}, Coverage: []MetricCoverage{},
	}
	a.Metrics = orderedMetrics(ok)
	for _, m := range a.Metrics {
		c := MetricCoverage{Metric: m}
		for _, p := range ok {
			if finite(p.Metric(m)) {
				c.Finite++
			} else {
				c.Missing++
			}
		}
		a.Coverage = append(a.Coverage, c)
	}
	for _, g := range Aggregate(points) {
		a.GridPoints = append(a.GridPoints, GridPoint{Axes: g.Axes, G: g.NoiseScale(), Counts: g.Counts, Metrics: g.Metrics,
			TestAcc: AccInterval(g.Metric(MetricTestAcc), testExamples(g.Points)), NoG: allNoG(g.Points)})
	}
	opts, err := OptimalBatches(points, MetricTestAcc)
	if opts != nil {
		a.Optima = opts
	}
	if err != nil {
		a.OptimaError = "no setting of the other axes has a successful trial with a finite test accuracy"
	}
	fitAxes := []string{AxisLR, AxisN}
	if slices.Contains(a.VaryingAxes, AxisMomentum) {
		fitAxes = append(fitAxes, AxisMomentum)
	}
	okCells := cells(ok)
	for _, axis := range fitAxes {
		a.Fits = append(a.Fits, scalingFit(opts, axis))
	}
	a.Collapse, err = Collapse(points, MetricTestAcc, 2)
	if err != nil {
		a.CollapseError = collapseMessage(a.Collapse, err)
		c := &a.Collapse
		c.VarG, c.VarSeparate, c.Ratio, c.R2G, c.R2Separate = math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()
		c.BICG, c.BICSeparate, c.DeltaBIC = math.NaN(), math.NaN(), math.NaN()
	}
	scores, _ := ScoreMeasures(points, nil)
	if scores != nil {
		a.Scores = scores
	}
	a.Dinh = AnalyzeDinh(points)
	a.seeds = maxSeeds(okCells)
	for _, p := range ok {
		if name := cmpOr(p.Optimizer, "sgd"); !slices.Contains(a.optimizers, name) {
			a.optimizers = append(a.optimizers, name)
		}
	}
	a.Costs = costsOf(points)
	a.Paired = PairedAccuracy(points)
	a.Notes = a.notes()
	if n := externalPoints(points); n > 0 {
		a.Notes = append(a.Notes, fmt.Sprintf("%d of %d trials are results of an external program (command trials): their metrics and curves are the program's, which flatsweep cannot promise to be bit-identical across retries; λ₁ and the measures are flatsweep's own, taken on the weights the program wrote.", n, len(points)))
	}
	return a
}

// NoteSelection records that the trials were selected by filters (as the
// user gave them, e.g. "--exclude lr=2") which left out left of all
// trials: a note says so first, and Selection keeps the filters. Nothing
// is noted without filters.
func (a *SweepAnalysis) NoteSelection(filters []string, left, all int) {
	if len(filters) == 0 {
		return
	}
	a.Selection = filters
	n := fmt.Sprintf("Trials selected by %s: %d of %d trials of the sweep left out before the analysis (not counted below).", strings.Join(filters, " "), left, all)
	a.Notes = append([]string{n}, a.Notes...)
}

// nonNil returns s, or an empty slice for nil (so JSON shows [] not null).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// orderedMetrics returns the metric names of points: the performance metrics
// present first (in their usual order), then the flatness measures sorted,
// then the metrics of Dinh's check sorted.
func orderedMetrics(points []Point) []string {
	out := []string{}
	for _, m := range performanceMetrics() {
		for _, p := range points {
			if _, ok := p.Metrics[m]; ok {
				out = append(out, m)
				break
			}
		}
	}
	return append(append(out, FlatnessMeasures(points)...), DinhMetrics(points)...)
}

// externalPoints counts the points whose result came from an external
// program.
func externalPoints(points []Point) int {
	n := 0
	for _, p := range points {
		if p.External {
			n++
		}
	}
	return n
}

// notes returns the sentences describing what limits the analysis.
func (a SweepAnalysis) notes() []string {
	c := a.Counts
	notes := []string{}
	switch {
	case c.Trials == 0:
		return append(notes, "The sweep has no trials: there is nothing to analyse.")
	case c.OK == 0 && c.Diverged == c.Trials:
		notes = append(notes, fmt.Sprintf("All %d trials diverged: no means, optima, fits or correlations can be computed.", c.Trials))
	case c.OK == 0:
		notes = append(notes, fmt.Sprintf("No trial succeeded (%s): no means, optima, fits or correlations can be computed.", notOK(c)))
	}
	if c.OK > 0 && c.OK < c.Trials {
		notes = append(notes, fmt.Sprintf("%d of %d trials are left out of every number (%s) and counted in the tables.", c.Trials-c.OK, c.Trials, notOK(c)))
	}
	if len(a.GridPoints) == 1 {
		notes = append(notes, "The sweep has a single grid point: there is no batch-size optimum to locate, no scaling to fit and no collapse to test.")
	}
	for _, cv := range a.Coverage {
		if cv.Missing > 0 {
			notes = append(notes, fmt.Sprintf("Metric %s is missing or not finite in %d of %d successful trials.", cv.Metric, cv.Missing, cv.Missing+cv.Finite))
		}
	}
	if c.OK > 0 {
		for _, m := range []string{MetricTestAcc, MetricGap} {
			if !slices.Contains(a.Metrics, m) {
				notes = append(notes, fmt.Sprintf("Metric %s is missing from every trial.", m))
			}
		}
		switch {
		case len(a.Measures) == 0:
			notes = append(notes, "No flatness measure was recorded: there is nothing to correlate with the gap.")
		case len(a.Measures) == 1 && a.Measures[0] == MetricLambdaMax:
			notes = append(notes, "Only λ₁ (lambda_max) was recorded: no other flatness measure to compare.")
		}
	}
	noG := 0
	for _, g := range a.GridPoints {
		if g.NoG {
			noG++
		}
	}
	switch {
	case len(a.GridPoints) > 0 && noG == len(a.GridPoints):
		notes = append(notes, "The noise scale g = ε(N/B − 1)/(1 − m) describes SGD (with heavy-ball momentum m); it does not apply to these trials ("+
			optimizerNames(a.optimizers)+"), so no g is given and collapse onto g is not tested.")
	case noG > 0:
		notes = append(notes, fmt.Sprintf("The noise scale g applies to SGD only: it is given for %d of %d grid points, not for the others (Adam or a batch-size schedule).", len(a.GridPoints)-noG, len(a.GridPoints)))
	}
	edge, located := 0, 0
	for _, o := range a.Optima {
		switch o.Refinement {
		case RefineEdge, RefineSingle:
			edge++
			located++
		case RefineParabola:
			located++
		}
	}
	if edge > 0 {
		notes = append(notes, fmt.Sprintf("%d of %d optimal batch sizes lie at the edge of the batch-size grid (marked edge): the optimum may lie beyond the sweep, so they are left out of every slope.", edge, located))
	}
	if c.OK > 0 && a.seeds == 1 {
		notes = append(notes, "Every grid point has one successful seed: no interval over seeds can be given; test accuracy intervals hold the test set's binomial error alone.")
	}
	if d := a.Dinh; d.Trials > 0 && !(d.MaxOutputChange <= DinhInvariantTol) {
		notes = append(notes, fmt.Sprintf("Dinh's α-scaling changed the network outputs by up to %s (relative), more than %g: the reparametrization did not preserve the function.", num(d.MaxOutputChange), DinhInvariantTol))
	}
	return notes
}

// WriteAnalysisJSON writes a as indented JSON; undefined numbers (NaN, ±Inf)
// are written as null.
func WriteAnalysisJSON(w io.Writer, a SweepAnalysis) error {
	b, err := json.MarshalIndent(a, "", "  ")
	if err != nil {
		return fmt.Errorf("write analysis json: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write analysis json: %w", err)
	}
	return nil
}

// WriteAnalysisTable writes a as aligned text tables, one section per
// analysis, each followed by the sentences explaining what is missing.
func WriteAnalysisTable(w io.Writer, a SweepAnalysis) error {
	var errs []error
	pf := func(format string, args ...any) {
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			errs = append(errs, err)
		}
	}
	pf("Sweep %s: %s\n", a.Sweep, a.Counts)
	for _, n := range a.Notes {
		pf("note: %s\n", n)
	}
	for _, t := range a.tables() {
		pf("\n== %s\n", t.title)
		if t.intro != "" {
			pf("%s\n", t.intro)
		}
		if len(t.rows) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, strings.Join(t.head, "\t"))
			for _, r := range t.rows {
				fmt.Fprintln(tw, strings.Join(r, "\t"))
			}
			if err := tw.Flush(); err != nil {
				errs = append(errs, err)
			}
		}
		for _, n := range t.notes {
			pf("%s\n", n)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("write analysis table: %w", err)
	}
	return nil
}

// table is a section of the analysis in a form every output (text, Markdown,
// HTML) can render.
type table struct {
	id, title string
	intro     string
	head      []string
	rows      [][]string
	notes     []string
}

// num formats x with 4 significant digits, "-" when undefined.
func num(x float64) string {
	if !finite(x) {
		if math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
		return "-"
	}
	return fmt.Sprintf("%.4g", x)
}

// axisValue formats an axis value exactly (shortest round-trip form).
func axisValue(x float64) string { return fmt.Sprint(x) }

// failuresOf tallies why the StatusFailed points failed.
func failuresOf(points []Point) []results.Failure {
	var t results.FailureTally
	for _, p := range points {
		if p.Status == StatusFailed {
			t.Add(p.State, results.FailureReason(p.State, p.Error), p.Permanent, p.ID)
		}
	}
	return t.Failures(0)
}

// tables returns the sections of the analysis.
func (a SweepAnalysis) tables() []table {
	ts := []table{a.countsTable(), a.gridTable(), a.optimaTable(), a.fitsTable(), a.collapseTable(), a.scoresTable()}
	if a.Dinh.Trials > 0 || len(a.Dinh.Measures) > 0 {
		ts = append(ts, a.dinhTable())
	}
	if len(a.Paired) > 0 {
		ts = append(ts, a.pairedTable())
	}
	if len(a.Costs) > 0 {
		ts = append(ts, a.costsTable())
	}
	return ts
}

// pairedTable shows the paired comparisons of test accuracy (PairedAccuracy).
func (a SweepAnalysis) pairedTable() table {
	t := table{id: "paired", title: "Paired test accuracy: neighbouring grid points on the same test images",
		intro: "The difference of mean test accuracy between two grid points that differ in one axis (to − from), " +
			"compared image by image on the test images both were scored on. Its 95 % interval combines the seeds' error " +
			"(Welch) with the test images' paired error; \"unpaired\" is the test images' half-width an interval treating " +
			"the two as independent test sets would use. \"resolved\" when the interval excludes 0.",
		head: []string{"axis", "from → to", "at", "seeds", "Δ test acc", "95 % interval", "± test (paired)", "± test (unpaired)", "images differing", "resolved"}}
	unknown, belowSeeds := 0, 0
	for _, d := range a.Paired {
		test := num(d.TestHalf)
		if d.TestHalf == 0 && d.SeedsKnown {
			test = "~0 †"
			belowSeeds++
		}
		res := "no"
		if d.Resolved() {
			res = "yes"
		}
		seeds := fmt.Sprintf("%d, %d", d.SeedsFrom, d.SeedsTo)
		if !d.SeedsKnown {
			seeds += " *"
			unknown++
		}
		t.rows = append(t.rows, []string{d.Axis, axisValue(d.From) + " → " + axisValue(d.To), cmpOr(d.At, "-"), seeds,
			fmt.Sprintf("%+.4f", d.Diff), fmt.Sprintf("[%+.4f, %+.4f]", d.Lo, d.Hi), test, num(d.UnpairedTestHalf),
			fmt.Sprintf("%.1f %%", 100*d.Disagree), res})
	}
	if unknown > 0 {
		t.notes = append(t.notes, fmt.Sprintf("* %d comparisons have a single seed on one side: their interval leaves the seeds' error out and covers the test images only.", unknown))
	}
	if belowSeeds > 0 {
		t.notes = append(t.notes, fmt.Sprintf("† In %d comparisons the spread of the per-image differences is no larger than the seeds' disagreement on single images accounts for: the test images add no error that the seeds' term (which contains that disagreement) does not already hold, and the interval is the seeds'.", belowSeeds))
	}
	return t
}

// costsTable shows where the sweep's time went (results.CostTable).
func (a SweepAnalysis) costsTable() table {
	t := table{id: "costs", title: "Where the time went",
		intro: "Per piece of work, summed over the trials that recorded it: Hessian-vector products, full-batch gradients (training: minibatch gradients) and loss evaluations, wall-clock seconds, seconds per trial and share of the trials' training and curvature time. The indented rows are parts of the curvature.",
		head:  []string{"work", "trials", "hvps", "gradients", "losses", "seconds", "s/trial", "share"}}
	total := results.CostSeconds(a.Costs)
	for _, r := range a.Costs {
		name := r.Name
		if name != results.CostTraining && name != results.CostCurvature {
			name = "· " + name
		}
		share := "-"
		if total > 0 {
			share = fmt.Sprintf("%.1f%%", 100*r.Seconds/total)
		}
		t.rows = append(t.rows, []string{name, fmt.Sprint(r.Trials), fmt.Sprint(r.HVPs), fmt.Sprint(r.Gradients), fmt.Sprint(r.Losses),
			fmt.Sprintf("%.2f", r.Seconds), fmt.Sprintf("%.3f", r.Seconds/float64(r.Trials)), share})
	}
	return t
}

func (a SweepAnalysis) countsTable() table {
	c := a.Counts
	t := table{id: "counts", title: "Trials",
		intro: fmt.Sprintf("Diverged (NaN/Inf loss), not fitted (a missed train.stop target, or a training accuracy at most %g above chance), failed and unfinished trials are never dropped silently: they are counted here and left out of the numbers below.", results.ChanceMargin),
		head:  []string{"total", "ok", "diverged", "not_fitted", "failed", "unfinished"},
		rows:  [][]string{{fmt.Sprint(c.Trials), fmt.Sprint(c.OK), fmt.Sprint(c.Diverged), fmt.Sprint(c.NotFitted), fmt.Sprint(c.Failed), fmt.Sprint(c.Unfinished)}}}
	for _, f := range a.Failures {
		kind := ""
		if f.Permanent {
			kind = ", for an error of their input that retrying does not mend"
		}
		t.notes = append(t.notes, fmt.Sprintf("%d %s%s: %s", f.Trials, f.State, kind, results.FirstLine(f.Reason, 200)))
	}
	for _, cv := range a.Coverage {
		if cv.Missing > 0 {
			t.notes = append(t.notes, fmt.Sprintf("%s: finite in %d, missing in %d successful trials.", cv.Metric, cv.Finite, cv.Missing))
		}
	}
	return t
}

// gridAxes returns the axes shown for grid points: B, lr, N, momentum, then
// any other non-seed axis.
func (a SweepAnalysis) gridAxes() []string {
	out := []string{}
	for _, n := range []string{AxisB, AxisLR, AxisN, AxisMomentum} {
		if slices.Contains(a.Axes, n) {
			out = append(out, n)
		}
	}
	for _, n := range a.Axes {
		if n != AxisSeed && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func axisCells(axes map[string]float64, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		if v, ok := axes[n]; ok {
			out[i] = axisValue(v)
		} else {
			out[i] = "-"
		}
	}
	return out
}

func (a SweepAnalysis) gridTable() table {
	axes := a.gridAxes()
	t := table{id: "grid", title: "Grid points: every metric over seeds",
		intro: "mean, sample std and 95 % interval of the mean over the successful seeds of each grid point: Student-t over seeds; for test_acc combined with the test set's binomial error, sqrt(h_seed² + h_test²), and clipped to [0, 1] (docs/SCIENCE.md). g = ε(N/B − 1)/(1 − m) for SGD, n/a where it does not apply (Adam, a batch-size schedule).",
		head:  append(append([]string{}, axes...), "g", "trials", "ok", "diverged", "failed", "unfinished", "metric", "n", "mean", "std", "95% CI")}
	for _, g := range a.GridPoints {
		gCell := num(g.G)
		if g.NoG {
			gCell = "n/a"
		}
		base := append(axisCells(g.Axes, axes), gCell, fmt.Sprint(g.Counts.Trials), fmt.Sprint(g.Counts.OK),
			fmt.Sprint(g.Counts.Diverged), fmt.Sprint(g.Counts.Failed), fmt.Sprint(g.Counts.Unfinished))
		if len(g.Metrics) == 0 {
			t.rows = append(t.rows, append(base, "(none)", "0", "-", "-", "-"))
			continue
		}
		for _, m := range a.Metrics {
			s := g.Metric(m)
			ci := "-"
			if finite(s.Lo) {
				ci = "[" + num(s.Lo) + ", " + num(s.Hi) + "]"
			}
			if m == MetricTestAcc && finite(g.TestAcc.Lo) {
				ci = "[" + num(g.TestAcc.Lo) + ", " + num(g.TestAcc.Hi) + "]"
			}
			t.rows = append(t.rows, append(slices.Clone(base), m, fmt.Sprint(s.Count), num(s.Mean), num(s.Std), ci))
		}
	}
	if len(a.GridPoints) == 1 {
		t.notes = append(t.notes, "A single grid point.")
	}
	return t
}

func (a SweepAnalysis) optimaTable() table {
	var axes []string
	for _, n := range a.gridAxes() {
		if n != AxisB {
			axes = append(axes, n)
		}
	}
	t := table{id: "optima", title: "Optimal batch size B_opt of test accuracy",
		intro: "Per setting of the other axes: the grid B of best mean test accuracy, refined by a parabola in ln B through it and its neighbours. edge: the best B is the smallest or largest of the grid, so the optimum may lie beyond the sweep; such optima are shown as ≤ or ≥ that B and left out of every slope. none: no successful trial.",
		head:  append(append([]string{}, axes...), "B_opt", "grid B", "best test_acc", "refinement", "B values", "ok", "not ok")}
	for _, o := range a.Optima {
		b := num(o.B)
		if o.Refinement == RefineEdge && len(o.Curve) > 0 {
			if o.GridB == o.Curve[0].B {
				b = "≤ " + b
			} else {
				b = "≥ " + b
			}
		}
		t.rows = append(t.rows, append(axisCells(o.Axes, axes), b, num(o.GridB), num(o.Best), string(o.Refinement),
			fmt.Sprint(len(o.Curve)), fmt.Sprint(o.Counts.OK), fmt.Sprint(o.Counts.Trials-o.Counts.OK)))
	}
	if a.OptimaError != "" {
		t.notes = append(t.notes, "No optimum: "+a.OptimaError+".")
	}
	if a.Counts.OK < a.Counts.Trials {
		t.notes = append(t.notes, "Only successful trials enter the means; 'not ok' counts the others (diverged, not fitted, failed, unfinished).")
	}
	return t
}

func (a SweepAnalysis) fitsTable() table {
	t := table{id: "fits", title: "Scaling of B_opt (log–log fits)",
		intro: fmt.Sprintf("ln B_opt = a + s ln x, pooled within slices (settings of the other axes); Smith & Le predict s = 1 for x = ε, N and 1/(1 − m). "+
			"Only interior (parabola-refined) optima enter; edge optima are left out. A slope is given only with at least %d residual degrees of freedom (df = optima − slices − 1), "+
			"with its 95 %% Student-t interval and a 95 %% residual bootstrap-t interval (%d resamples, seed %d).", MinFitDF, BootstrapResamples, BootstrapSeed),
		head: []string{"x", "slope s", "95% CI (t)", "95% CI (bootstrap)", "SE", "R²", "(s − 1)/SE", "optima", "slices", "df", "edge", "excluded"}}
	for _, f := range a.Fits {
		x := f.Axis
		if x == AxisMomentum {
			x = "1/(1−m)"
		}
		ft := f.Fit
		if f.Error != "" {
			what := "not enough data"
			if strings.HasPrefix(f.Error, "not applicable") {
				what = "n/a"
			}
			t.rows = append(t.rows, []string{x, what, "-", "-", "-", "-", "-",
				fmt.Sprint(ft.N), fmt.Sprint(ft.Slices), fmt.Sprint(ft.DF), fmt.Sprint(ft.Edge), fmt.Sprint(ft.Excluded)})
			t.notes = append(t.notes, fmt.Sprintf("Fit against %s: %s.", x, f.Error))
			continue
		}
		t.rows = append(t.rows, []string{x, num(ft.Slope), intervalCell(f.CI), intervalCell(f.Bootstrap), num(ft.SlopeSE), num(ft.R2), num(f.Deviation),
			fmt.Sprint(ft.N), fmt.Sprint(ft.Slices), fmt.Sprint(ft.DF), fmt.Sprint(ft.Edge), fmt.Sprint(ft.Excluded)})
		switch {
		case f.Bootstrap.Finite():
		case f.Bootstrap.Resamples == 0:
			t.notes = append(t.notes, fmt.Sprintf("Fit against %s: the optima lie exactly on the line; there are no residuals to resample.", x))
		default:
			t.notes = append(t.notes, fmt.Sprintf("Fit against %s: no bootstrap interval (only %d of %d resamples gave a slope with a standard error).", x, f.Bootstrap.Defined, f.Bootstrap.Resamples))
		}
	}
	return t
}

// intervalCell formats an interval as "[lo, hi]", "-" when undefined.
func intervalCell(iv Interval) string {
	if !iv.Finite() {
		return "-"
	}
	return "[" + num(iv.Lo) + ", " + num(iv.Hi) + "]"
}

func (a SweepAnalysis) collapseTable() table {
	c := a.Collapse
	t := table{id: "collapse", title: "Collapse of test accuracy onto g",
		intro: "Quadratic least-squares fits of the grid-point mean test accuracy in ln g alone and in the separate hyperparameters; ratio = residual variance (g) / residual variance (separate): ≈ 1 or below means the curves collapse; ΔBIC < 0 favours g alone. " +
			"Tested only where at least two settings of (ε, N, m) cover overlapping ranges of g; successful trials only.",
		head: []string{"grid points", "excluded", "settings (ε, N, m)", "overlapping", "separate axes", "var (g)", "var (separate)", "ratio", "R² (g)", "R² (separate)", "ΔBIC"}}
	row := []string{fmt.Sprint(c.Points), fmt.Sprint(c.Excluded), fmt.Sprint(c.Curves), fmt.Sprint(c.Overlapping), strings.Join(c.SeparateAxes, ", ")}
	if a.CollapseError != "" {
		row = append(row, "no verdict", "-", "-", "-", "-", "-")
		t.notes = append(t.notes, "No verdict: "+a.CollapseError+".")
	} else {
		row = append(row, num(c.VarG), num(c.VarSeparate), num(c.Ratio), num(c.R2G), num(c.R2Separate), num(c.DeltaBIC))
	}
	t.rows = [][]string{row}
	return t
}

func (a SweepAnalysis) scoresTable() table {
	axes := a.VaryingAxes
	t := table{id: "measures", title: "Flatness measures as predictors of generalization",
		intro: fmt.Sprintf("Kendall τ-b over all successful trials with the generalization gap (train − test accuracy) and with test accuracy (given from %d trials on), "+
			"Jiang et al.'s granulated Ψ against the gap (ψ per varied axis), each with a 95 %% bootstrap interval (%d resamples, seed %d: trials resampled for τ, the groups of each axis for Ψ), "+
			"and the worst case over Dziugaite et al.'s environments, pairs of grid points differing in one hyperparameter: "+
			"score = mean sign(Δmeasure)·sign(Δgap) over their pairs of trials (+1: the measure orders the pair as the gap does); "+
			"environments whose gaps differ by less than twice the test sets' binomial error are too close to call and left out. '-': undefined.",
			MinRankTrials, BootstrapResamples, BootstrapSeed),
		head: []string{"measure", "trials", "τ gap", "95% CI", "τ test_acc", "95% CI", "Ψ", "95% CI", "environments", "mean score", "worst score", "worst environment", "failing"}}
	for _, ax := range axes {
		t.head = append(t.head, "ψ "+ax)
	}
	for _, s := range a.Scores {
		r := s.Robust
		worst := "-"
		if r.WorstEnv != nil {
			worst = fmt.Sprintf("%s %g → %g at %s", r.WorstEnv.Axis, r.WorstEnv.From, r.WorstEnv.To, cmpOr(r.WorstEnv.At, "-"))
		}
		tauGap, tauAcc := num(s.TauGap), num(s.TauTestAcc)
		if s.N < MinRankTrials {
			tauGap, tauAcc = fmt.Sprintf("not enough data (%d trials)", s.N), "-"
		}
		row := []string{s.Measure, fmt.Sprint(s.N), tauGap, intervalCell(s.TauGapCI), tauAcc, intervalCell(s.TauTestAccCI),
			num(s.Granulated.Psi), intervalCell(s.PsiCI), fmt.Sprint(r.Environments), num(r.Mean), num(r.Worst), worst, fmt.Sprint(r.Failing)}
		for _, ax := range axes {
			v := math.NaN()
			for _, at := range s.Granulated.Axes {
				if at.Axis == ax {
					v = at.Psi
				}
			}
			row = append(row, num(v))
		}
		t.rows = append(t.rows, row)
		if r.TooClose > 0 {
			t.notes = append(t.notes, fmt.Sprintf("%s: %d environments too close to call left out.", s.Measure, r.TooClose))
		}
		if r.Failing > 0 {
			t.notes = append(t.notes, fmt.Sprintf("%s fails in %d of %d environments (score < 0): it does not order the gap of every single-hyperparameter change.", s.Measure, r.Failing, r.Environments))
		}
	}
	if len(a.Scores) == 0 {
		t.notes = append(t.notes, "No flatness measure was recorded.")
	}
	if len(a.Dinh.Measures) > 0 || a.Dinh.Trials > 0 {
		t.notes = append(t.notes, "Values at Dinh's α-scaled parameters (m"+DinhSuffix+") and "+MetricDinhOutputChange+" are not separate measures and have no row here; see Dinh's check.")
	}
	return t
}

func (a SweepAnalysis) dinhTable() table {
	d := a.Dinh
	t := table{id: "dinh", title: "Dinh's check: measures under α-scaling",
		intro: fmt.Sprintf("Each measure m at the trained θ and at T_α θ (W₁ ← αW₁, b₁ ← αb₁, W₂ ← W₂/α: the same function; Dinh et al. 2017), "+
			"over the successful trials with both values: Kendall τ-b between before and after (1: the ranking of trials survives), "+
			"the largest and median relative change |after − before|/|before| and the median ratio after/before. "+
			"Verdict %s when the largest relative change is ≤ %g, %s otherwise. Largest relative output change of T_α over %d trials: %s.",
			DinhInvariant, DinhInvariantTol, DinhChanged, d.Trials, num(d.MaxOutputChange)),
		head: []string{"measure", "trials", "τ before/after", "max rel. change", "median rel. change", "median ratio", "verdict"}}
	for _, m := range d.Measures {
		v := m.Verdict
		if v == "" {
			v = "-"
		}
		t.rows = append(t.rows, []string{m.Measure, fmt.Sprint(m.N), num(m.Tau), num(m.MaxRelChange), num(m.MedianRelChange), num(m.MedianRatio), v})
	}
	if len(d.Measures) == 0 {
		t.notes = append(t.notes, "No measure was recorded at T_α θ.")
	}
	return t
}

// testExamples returns the test-set size of the successful points (the
// first one known; 0 when none is).
func testExamples(points []Point) int {
	for _, p := range points {
		if p.Status == StatusOK && p.TestExamples > 0 {
			return p.TestExamples
		}
	}
	return 0
}

// allNoG reports whether the noise scale applies to none of the points.
func allNoG(points []Point) bool {
	for _, p := range points {
		if !p.NoG {
			return false
		}
	}
	return len(points) > 0
}

// cmpOr returns s, or def when s is empty.
func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// optimizerNames names the optimizers for a sentence ("adam"; "a batch-size
// schedule" when every trial is SGD).
func optimizerNames(names []string) string {
	var out []string
	for _, n := range names {
		switch n {
		case "adam":
			out = append(out, "Adam")
		case "sgd":
		default:
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return "a batch-size schedule"
	}
	return strings.Join(out, ", ")
}

// costsOf sums the costs of every point that recorded them, whatever its
// status (a diverged trial's training time was spent too).
func costsOf(points []Point) []results.CostRow {
	rs := make([]*spec.Result, 0, len(points))
	for _, p := range points {
		rs = append(rs, p.Cost)
	}
	return results.CostTable(rs)
}
