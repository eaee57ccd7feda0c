package analysis

import (
	"bytes"
	"image/png"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// plantedAcc peaks at B_opt = 2000·ε·N/1000 in ln B (curvature 0.05).
func plantedAcc(b, lr, n float64) float64 {
	d := math.Log(b) - math.Log(2000*lr*n/1000)
	return 0.9 - 0.05*d*d
}

// tableText renders the analysis as the text table.
func tableText(t *testing.T, a SweepAnalysis) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteAnalysisTable(&b, a); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// fitOf returns the analysis's fit against axis.
func fitOf(t *testing.T, a SweepAnalysis, axis string) ScalingFit {
	t.Helper()
	for _, f := range a.Fits {
		if f.Axis == axis {
			return f
		}
	}
	t.Fatalf("no fit against %s in %+v", axis, a.Fits)
	return ScalingFit{}
}

// TestSlopeNeedsDegreesOfFreedom: with two and with three interior optima
// (df 0 and 1) there is no slope, only "not enough data" with the counts;
// from four (df 2) the slope comes with a t interval that covers the
// planted 1 and a bootstrap interval.
func TestSlopeNeedsDegreesOfFreedom(t *testing.T) {
	bs := pow2s(4, 8192)
	all := []float64{0.01, 0.02, 0.05, 0.1}
	for k := 2; k <= 4; k++ {
		pts := sweepPoints(rand.New(rand.NewPCG(1, uint64(k))), bs, all[:k], []float64{1000}, 3, 0.002, plantedAcc)
		a := Analyze("df", pts)
		f := fitOf(t, a, AxisLR)
		text := tableText(t, a)
		if k < 4 {
			if f.Error == "" || !strings.HasPrefix(f.Error, "not enough data") || !math.IsNaN(f.Fit.Slope) || !math.IsNaN(f.Fit.R2) ||
				f.Fit.N != k || f.CI.Finite() || f.Bootstrap.Finite() {
				t.Errorf("%d optima: fit %+v, want not enough data without numbers", k, f)
			}
			if !strings.Contains(text, "not enough data: "+string(rune('0'+k))+" of ") || strings.Contains(text, "R² = 1") {
				t.Errorf("%d optima: table does not say not enough data with the count:\n%s", k, text)
			}
			continue
		}
		if f.Error != "" || f.Fit.DF != 2 || !(f.CI.Lo < 1 && 1 < f.CI.Hi) || !f.Bootstrap.Finite() {
			t.Errorf("4 optima: fit %+v, want df 2 and a t interval covering 1", f)
		}
		// The t interval is slope ∓ t_{0.975, 2}·SE, t_{0.975, 2} = 4.302652729911275.
		if h := (f.CI.Hi - f.CI.Lo) / 2; math.Abs(h-4.302652729911275*f.Fit.SlopeSE) > 1e-9 {
			t.Errorf("t half-width %v, want 4.3027·SE = %v", h, 4.302652729911275*f.Fit.SlopeSE)
		}
	}
}

// TestEdgeOptimumFlagged: a planted optimum beyond the largest B is found at
// the edge, flagged in the notes, the optima table (≥) and the fit's count,
// and left out of the slope, which stays the planted 1.
func TestEdgeOptimumFlagged(t *testing.T) {
	bs := pow2s(4, 8192)
	pts := sweepPoints(rand.New(rand.NewPCG(3, 4)), bs, []float64{0.01, 0.02, 0.05, 0.1, 0.2}, []float64{1000}, 2, 0, plantedAcc)
	// ε = 10: B_opt = 20000 > 8192.
	pts = append(pts, sweepPoints(rand.New(rand.NewPCG(5, 6)), bs, []float64{10}, []float64{1000}, 2, 0, plantedAcc)...)
	a := Analyze("edge", pts)
	var edge *BatchOptimum
	for i, o := range a.Optima {
		if o.Axes[AxisLR] == 10 {
			edge = &a.Optima[i]
		}
	}
	if edge == nil || edge.Refinement != RefineEdge || edge.B != 8192 {
		t.Fatalf("planted edge optimum: %+v", edge)
	}
	f := fitOf(t, a, AxisLR)
	if f.Error != "" || f.Fit.Edge != 1 || f.Fit.N != 5 || math.Abs(f.Fit.Slope-1) > 1e-9 {
		t.Errorf("fit %+v, want the edge optimum left out and slope 1", f)
	}
	text := tableText(t, a)
	if !slices.ContainsFunc(a.Notes, func(n string) bool { return strings.Contains(n, "1 of 6 optimal batch sizes lie at the edge") }) ||
		!strings.Contains(text, "≥ 8192") {
		t.Errorf("edge optimum not flagged:\nnotes %q\n%s", a.Notes, text)
	}
}

// deadSweep is a quickstart-like sweep of records: 4 batch sizes × 3 ε × 2
// seeds on 2,000 test examples with accuracy depending on g alone, plus a
// learning rate ε = 2 at which nothing trains (training accuracy at
// chance, test accuracy 0.1 at every B).
func deadSweep(dead bool) []Record {
	var recs []Record
	rng := rand.New(rand.NewPCG(7, 8))
	lrs := []float64{0.02, 0.1, 0.5}
	if dead {
		lrs = append(lrs, 2)
	}
	for _, lr := range lrs {
		for _, b := range []int{8, 32, 128, 512} {
			for seed := int64(1); seed <= 2; seed++ {
				tr := spec.Trial{Dataset: spec.Dataset{Name: "mnist", N: 4096, NTest: 2000}, BatchSize: b, LR: lr, Seed: seed, Epochs: 1}
				res := &spec.Result{TrainAcc: 0.1, TestAcc: 0.1, TrainLoss: 2.3, TestLoss: 2.3, LambdaMax: 0.01}
				if lr != 2 {
					d := math.Log(results.NoiseScaleOf(lr, 4096, float64(b), 0)) - math.Log(20)
					acc := 0.95 - 0.01*d*d + 0.002*rng.NormFloat64()
					res = &spec.Result{TrainAcc: 0.99, TestAcc: acc, TrainLoss: 0.05, TestLoss: 0.2, LambdaMax: float64(b)}
				}
				recs = append(recs, Record{TrialID: "t", Spec: tr, State: StateSucceeded, Result: res})
			}
		}
	}
	return recs
}

// TestDeadTrialsExcluded: trials at chance (ε = 2 trained nothing) are not
// fitted, counted, give no optimum (not B_opt at the edge), and leave the
// collapse test as it is without them.
func TestDeadTrialsExcluded(t *testing.T) {
	with := Analyze("dead", PointsFromRecords(deadSweep(true)))
	without := Analyze("alive", PointsFromRecords(deadSweep(false)))
	if with.Counts.NotFitted != 8 || with.Counts.OK != 24 {
		t.Fatalf("counts %+v, want 8 not fitted", with.Counts)
	}
	for _, o := range with.Optima {
		if o.Axes[AxisLR] == 2 && (o.Refinement != RefineNone || !math.IsNaN(o.B) || o.Counts.NotFitted != 2*4) {
			t.Errorf("ε = 2 optimum %+v, want none with 8 not fitted", o)
		}
	}
	c, w := with.Collapse, without.Collapse
	if with.CollapseError != "" || c.Points != w.Points || c.Ratio != w.Ratio || c.DeltaBIC != w.DeltaBIC {
		t.Errorf("collapse with dead trials %+v (%s), without %+v", c, with.CollapseError, w)
	}
	if c.Counts.NotFitted != 8 {
		t.Errorf("collapse counts %+v", c.Counts)
	}
	if text := tableText(t, with); !strings.Contains(text, "8 not fitted") {
		t.Errorf("dead trials not counted in the table:\n%s", text)
	}
}

// TestCollapseNeedsOverlappingSettings: one ε gives no verdict (g is a
// rescaling of B), two ε whose ranges of g do not overlap none either.
func TestCollapseNeedsOverlappingSettings(t *testing.T) {
	bs := pow2s(16, 2048)
	fromG := func(b, lr, n float64) float64 {
		d := math.Log(NoiseScaleMomentum(lr, n, b, 0)) - math.Log(20)
		return 0.9 - 0.02*d*d
	}
	for _, c := range []struct {
		name string
		lrs  []float64
		want string
	}{
		{"one ε", []float64{0.1}, "g is then only a rescaling of B"},
		{"disjoint", []float64{0.001, 10}, "do not overlap"},
	} {
		pts := sweepPoints(rand.New(rand.NewPCG(1, 1)), bs, c.lrs, []float64{50000}, 2, 0.003, fromG)
		a := Analyze(c.name, pts)
		if !strings.Contains(a.CollapseError, c.want) || !math.IsNaN(a.Collapse.Ratio) || !math.IsNaN(a.Collapse.DeltaBIC) {
			t.Errorf("%s: collapse %+v, error %q", c.name, a.Collapse, a.CollapseError)
		}
		if text := tableText(t, a); !strings.Contains(text, "no verdict") || strings.Contains(text, "favours g alone.\n") && strings.Contains(text, "ΔBIC −") {
			t.Errorf("%s: table gives a verdict:\n%s", c.name, text)
		}
	}
}

// TestAccIntervalClosedForm: the combined interval against its formula,
// with the binomial term alone for one seed, and clipped at 1.
func TestAccIntervalClosedForm(t *testing.T) {
	s := Describe([]float64{0.90, 0.92})
	iv := AccInterval(s, 2000)
	seed := 12.706204736174698 * s.Std / math.Sqrt(2)
	test := 1.959963984540054 * math.Sqrt(0.91*0.09/2000)
	h := math.Sqrt(seed*seed + test*test)
	if math.Abs(iv.Lo-(0.91-h)) > 1e-12 || math.Abs(iv.Hi-min(0.91+h, 1)) > 1e-12 || math.Abs(iv.TestHalf-test) > 1e-12 {
		t.Errorf("interval %+v, want 0.91 ∓ %v", iv, h)
	}
	one := AccInterval(Describe([]float64{0.8}), 2000)
	if b := 1.959963984540054 * math.Sqrt(0.8*0.2/2000); math.Abs(one.Hi-one.Lo-2*b) > 1e-12 {
		t.Errorf("one seed: %+v, want ± %v", one, b)
	}
	if top := AccInterval(Describe([]float64{0.999, 1}), 100); top.Hi != 1 || !(top.Lo >= 0) {
		t.Errorf("near 1: %+v, want clipped to 1", top)
	}
	if none := AccInterval(Describe([]float64{0.5}), 0); !math.IsNaN(none.Lo) {
		t.Errorf("one seed, no test size: %+v", none)
	}
}

// TestTauBootstrapCoverage: over 200 draws of 30 bivariate normal pairs
// with correlation ρ = 0.5 (Kendall τ = (2/π) arcsin ρ = 1/3), the 95 %
// bootstrap interval covers 1/3 in a share of draws within three binomial
// standard deviations of 0.95: 0.95 ± 3·sqrt(0.95·0.05/200) = [0.904, 0.996].
func TestTauBootstrapCoverage(t *testing.T) {
	const reps, n, rho = 200, 30, 0.5
	want := 2 / math.Pi * math.Asin(rho)
	rng := rand.New(rand.NewPCG(42, 43))
	covered := 0
	for range reps {
		x, y := make([]float64, n), make([]float64, n)
		for i := range x {
			u, v := rng.NormFloat64(), rng.NormFloat64()
			x[i], y[i] = u, rho*u+math.Sqrt(1-rho*rho)*v
		}
		if iv := tauInterval(x, y); iv.Lo <= want && want <= iv.Hi {
			covered++
		}
	}
	share := float64(covered) / reps
	tolerance := 3 * math.Sqrt(0.95*0.05/reps)
	t.Logf("coverage %.3f over %d draws (nominal 0.95 ± %.3f)", share, reps, tolerance)
	if math.Abs(share-0.95) > tolerance {
		t.Errorf("coverage %.3f, want 0.95 ± %.3f", share, tolerance)
	}
}

// TestBootstrapReproducible: the same sweep gives bit-identical intervals.
func TestBootstrapReproducible(t *testing.T) {
	pts := plotSweep()
	a, b := Analyze("r", pts), Analyze("r", pts)
	for i := range a.Scores {
		if a.Scores[i].TauGapCI != b.Scores[i].TauGapCI || a.Scores[i].PsiCI != b.Scores[i].PsiCI {
			t.Errorf("%s: %+v then %+v", a.Scores[i].Measure, a.Scores[i], b.Scores[i])
		}
	}
}

// TestSlopeBootstrapCoverage: over 100 noisy sweeps with planted slope 1
// (5 ε × 12 B × 3 seeds, accuracy noise 0.01), the slope's 95 % t interval
// and its residual bootstrap-t interval each cover 1 in a share of sweeps
// no lower than three binomial standard deviations below 0.95:
// 0.95 − 3·sqrt(0.95·0.05/100) = 0.885. (A percentile interval of slopes
// refitted to seed resamples covered 0.78 here: three seeds scatter less
// when resampled than when drawn anew.)
func TestSlopeBootstrapCoverage(t *testing.T) {
	const reps = 100
	coveredT, coveredB := 0, 0
	bs := pow2s(4, 8192)
	for r := range reps {
		pts := sweepPoints(rand.New(rand.NewPCG(100, uint64(r))), bs, []float64{0.01, 0.02, 0.05, 0.1, 0.2}, []float64{1000}, 3, 0.01, plantedAcc)
		f := scalingFit(mustOptima(t, pts), AxisLR)
		if f.Error != "" {
			t.Fatalf("sweep %d: %s", r, f.Error)
		}
		if f.CI.Lo <= 1 && 1 <= f.CI.Hi {
			coveredT++
		}
		if f.Bootstrap.Lo <= 1 && 1 <= f.Bootstrap.Hi {
			coveredB++
		}
	}
	tolerance := 3 * math.Sqrt(0.95*0.05/reps)
	t.Logf("coverage of slope 1: t %d/%d, bootstrap %d/%d (nominal 0.95 ± %.3f)", coveredT, reps, coveredB, reps, tolerance)
	for what, c := range map[string]int{"t": coveredT, "bootstrap": coveredB} {
		if share := float64(c) / reps; share < 0.95-tolerance {
			t.Errorf("%s interval covers slope 1 in %.3f of sweeps, want ≥ %.3f", what, share, 0.95-tolerance)
		}
	}
}

func mustOptima(t *testing.T, pts []Point) []BatchOptimum {
	t.Helper()
	o, err := OptimalBatches(pts, MetricTestAcc)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestAdamHasNoNoiseScale: for Adam the report says g does not apply
// instead of printing it, and tests no collapse.
func TestAdamHasNoNoiseScale(t *testing.T) {
	recs := deadSweep(false)
	for i := range recs {
		recs[i].Spec.Optimizer = spec.Optimizer{Name: spec.OptimizerAdam, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
	}
	pts := PointsFromRecords(recs)
	a := Analyze("adam", pts)
	text := tableText(t, a)
	if !strings.Contains(text, "it does not apply to these trials (Adam)") || !strings.Contains(text, "n/a") ||
		!strings.Contains(a.CollapseError, "not applicable") {
		t.Errorf("Adam: collapse %q, table:\n%s", a.CollapseError, text)
	}
	for _, g := range a.GridPoints {
		if !g.NoG || !math.IsNaN(g.G) {
			t.Errorf("grid point %v has g %v", g.Axes, g.G)
		}
	}
	if f := AccVsG(pts); !f.Empty || !strings.Contains(f.Note, "does not apply") {
		t.Errorf("acc vs g for Adam: %+v", f)
	}
}

// TestTauNeedsTrials: τ from fewer than MinRankTrials trials is "not enough
// data", not ±1.
func TestTauNeedsTrials(t *testing.T) {
	pts := []Point{
		{Status: StatusOK, Axes: map[string]float64{AxisB: 8, AxisLR: 0.1, AxisSeed: 1}, Metrics: map[string]float64{MetricLambdaMax: 1, MetricGap: 0.2, MetricTestAcc: 0.8}},
		{Status: StatusOK, Axes: map[string]float64{AxisB: 64, AxisLR: 0.1, AxisSeed: 1}, Metrics: map[string]float64{MetricLambdaMax: 5, MetricGap: 0.1, MetricTestAcc: 0.9}},
	}
	a := Analyze("two", pts)
	if s := a.Scores[0]; !math.IsNaN(s.TauGap) || s.TauGapCI.Finite() {
		t.Errorf("τ from two trials: %+v", s)
	}
	if text := tableText(t, a); !strings.Contains(text, "not enough data (2 trials)") {
		t.Errorf("table:\n%s", text)
	}
}

// TestEnvironmentsWorstCase: a measure that tracks the gap along B but runs
// against it along ε has a positive average but fails in every ε
// environment: its worst case says so.
func TestEnvironmentsWorstCase(t *testing.T) {
	var pts []Point
	for _, b := range []float64{16, 64, 256} {
		for _, lr := range []float64{0.01, 0.1} {
			for seed := 1; seed <= 3; seed++ {
				gap := 0.02*math.Log2(b) + 0.1*lr + 0.001*float64(seed)
				m := 10*math.Log2(b) - 50*lr // orders B as the gap does, ε the other way
				pts = append(pts, Point{Status: StatusOK, TestExamples: 10000,
					Axes:    map[string]float64{AxisB: b, AxisLR: lr, AxisSeed: float64(seed)},
					Metrics: map[string]float64{"m": m, MetricGap: gap, MetricTestAcc: 0.9}})
			}
		}
	}
	r := Robust(pts, "m", MetricGap)
	// Environments: B pairs (3 per ε × 2) and ε pairs (1 per B × 3).
	if r.Environments != 9 || r.Failing != 3 || r.Worst != -1 || r.WorstEnv == nil || r.WorstEnv.Axis != AxisLR || r.WorstEnv.Pairs != 9 ||
		math.Abs(r.Mean-(6-3)/9.0) > 1e-12 {
		t.Errorf("robust %+v (worst %+v), want 9 environments, 3 failing at −1 along lr, mean 1/3", r, r.WorstEnv)
	}
	tau, _, _ := KendallTauB(metricValues(pts, "m"), metricValues(pts, MetricGap))
	if !(tau > 0.5) {
		t.Errorf("τ over all trials %v: the planted measure should look good on average", tau)
	}
}

// TestMessagesForReaders: no section of a degenerate sweep's analysis
// leaks an error chain ("analysis: …", "…: too few points").
func TestMessagesForReaders(t *testing.T) {
	one := []Point{{Status: StatusOK, Axes: map[string]float64{AxisB: 32, AxisLR: 0.1, AxisN: 1000, AxisSeed: 1},
		Metrics: map[string]float64{MetricTestAcc: 0.8, MetricGap: 0.1, MetricLambdaMax: 3}}}
	two := append(slices.Clone(one), Point{Status: StatusOK, Axes: map[string]float64{AxisB: 64, AxisLR: 0.1, AxisN: 2000, AxisSeed: 1},
		Metrics: map[string]float64{MetricTestAcc: 0.7, MetricGap: 0.2, MetricLambdaMax: 1}})
	div := []Point{{Status: StatusDiverged, Axes: one[0].Axes, Metrics: map[string]float64{}}}
	for name, pts := range map[string][]Point{"empty": nil, "one": one, "two": two, "diverged": div, "planted": plotSweep()} {
		a := Analyze(name, pts)
		var b bytes.Buffer
		if err := WriteAnalysisJSON(&b, a); err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{tableText(t, a), b.String()} {
			for _, leak := range []string{"analysis: ", "too few points", "no usable data", "rank correlation undefined", "%!"} {
				if strings.Contains(text, leak) {
					t.Errorf("%s: output leaks %q:\n%s", name, leak, text)
				}
			}
		}
	}
}

// TestFigureStandards: raster figures at ≥ 1210 × 832 pixels; viridis runs
// dark to light so labels switch from white to black; accuracy intervals
// stay in [0, 1] even from two scattered seeds.
func TestFigureStandards(t *testing.T) {
	var b bytes.Buffer
	if err := AccVsG(plotSweep()).Write(&b, "png"); err != nil {
		t.Fatal(err)
	}
	w, h := pngSize(t, b.Bytes())
	if w < 1210 || h < 832 {
		t.Errorf("PNG %d × %d, want ≥ 1210 × 832", w, h)
	}
	if labelColor(viridisAt(0, 1)) != labelColor(viridisAt(0.2, 1)) || labelColor(viridisAt(0, 1)) == labelColor(viridisAt(1, 1)) ||
		luminance(viridisAt(0, 1)) > luminance(viridisAt(0.5, 1)) || luminance(viridisAt(0.5, 1)) > luminance(viridisAt(1, 1)) {
		t.Error("viridis is not dark to light, or the label colours do not follow it")
	}
	pts := []Point{
		{Status: StatusOK, Axes: map[string]float64{AxisB: 8, AxisLR: 0.1, AxisN: 1000, AxisSeed: 1}, Metrics: map[string]float64{MetricTestAcc: 0.2}},
		{Status: StatusOK, Axes: map[string]float64{AxisB: 8, AxisLR: 0.1, AxisN: 1000, AxisSeed: 2}, Metrics: map[string]float64{MetricTestAcc: 0.95}},
	}
	series, _ := seriesByLR(pts, MetricTestAcc, func(g Group, _ Summary) (float64, bool) { return g.NoiseScale(), true })
	for _, q := range series[0.1] {
		if q.lo != 0 || q.hi != 1 || !(q.s.Lo < 0 && q.s.Hi > 1) {
			t.Errorf("interval [%v, %v] (t interval [%v, %v]), want clipped to [0, 1]", q.lo, q.hi, q.s.Lo, q.s.Hi)
		}
	}
}

// pngSize returns the pixel size of a PNG.
func pngSize(t *testing.T, b []byte) (int, int) {
	t.Helper()
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Width, cfg.Height
}

// TestPsiBootstrapCoverage: 40 groups of two trials along one axis, each
// ordered by the measure as by the gap with probability p = 0.7, so that
// every group's τ is ±1 and Ψ = 2p − 1 = 0.4; over 200 draws the 95 %
// bootstrap interval covers 0.4 in a share within 0.95 ± 3·sqrt(0.95·0.05/200).
func TestPsiBootstrapCoverage(t *testing.T) {
	const reps, groups, p = 200, 40, 0.7
	rng := rand.New(rand.NewPCG(8, 9))
	covered := 0
	for range reps {
		var pts []Point
		for g := range groups {
			agree := rng.Float64() < p
			for _, b := range []float64{16, 64} {
				m := b
				if !agree {
					m = 100 - b
				}
				pts = append(pts, Point{Status: StatusOK, Axes: map[string]float64{AxisB: b, AxisLR: 0.1, AxisSeed: float64(g)},
					Metrics: map[string]float64{"m": m, MetricGap: b / 1000}})
			}
		}
		if iv := psiInterval(pts, "m", MetricGap, []string{AxisB}); iv.Lo <= 0.4 && 0.4 <= iv.Hi {
			covered++
		}
	}
	share := float64(covered) / reps
	tolerance := 3 * math.Sqrt(0.95*0.05/reps)
	t.Logf("coverage %.3f over %d draws (nominal 0.95 ± %.3f)", share, reps, tolerance)
	if math.Abs(share-0.95) > tolerance {
		t.Errorf("coverage %.3f, want 0.95 ± %.3f", share, tolerance)
	}
}

// TestKendallKnightMatchesPairs: Knight's O(n log n) τ-b equals the
// definition's count over all pairs, with many ties in x, in y and in both.
func TestKendallKnightMatchesPairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for rep := range 50 {
		n := 2 + rep*3
		x, y := make([]float64, n), make([]float64, n)
		for i := range x {
			x[i], y[i] = float64(rng.IntN(5)), float64(rng.IntN(4))+0.5*x[i]*float64(rep%2)
		}
		var nc, nd, tx, ty float64
		for i := range n {
			for j := i + 1; j < n; j++ {
				sx, sy := sign(x[j]-x[i]), sign(y[j]-y[i])
				switch {
				case sx == 0 && sy == 0:
					tx++
					ty++
				case sx == 0:
					tx++
				case sy == 0:
					ty++
				case sx == sy:
					nc++
				default:
					nd++
				}
			}
		}
		n0 := float64(n*(n-1)) / 2
		want := (nc - nd) / math.Sqrt((n0-tx)*(n0-ty))
		got, _, err := KendallTauB(x, y)
		if (err == nil) != finite(want) || (err == nil && math.Abs(got-want) > 1e-12) {
			t.Fatalf("n = %d: τ-b %v (%v), by pairs %v", n, got, err, want)
		}
	}
}

// TestNotFittedLeftOutOfFigures: a trial that did not fit its training set
// enters no figure's data: not the λ₁-along-training selection, not the
// training curves, not the heat map's cells.
func TestNotFittedLeftOutOfFigures(t *testing.T) {
	track := []spec.SharpnessPoint{{Step: 0, LambdaMax: 1, StabilityLimit: 20}, {Step: 5, LambdaMax: 2, StabilityLimit: 20}}
	curve := []spec.EpochMetrics{{Epoch: 1, TestAcc: 0.5}, {Epoch: 2, TestAcc: 0.6}}
	pts := []Point{
		{ID: "ok", Status: StatusOK, Axes: map[string]float64{AxisB: 8, AxisLR: 0.1, AxisSeed: 1}, Sharpness: track, Curve: curve,
			Metrics: map[string]float64{MetricTestAcc: 0.6}},
		{ID: "dead", Status: StatusNotFitted, Axes: map[string]float64{AxisB: 8, AxisLR: 2, AxisSeed: 1}, Sharpness: track, Curve: curve,
			Metrics: map[string]float64{MetricTestAcc: 0.1}},
	}
	if f, note := SharpnessOf(pts, 8); f == nil || !strings.Contains(note, "1 of 1 trials") {
		t.Errorf("λ₁ along training: %q", note)
	}
	if cs := CurvesFromPoints(pts, MetricTestAcc); len(cs) != 1 {
		t.Errorf("training curves of %d grid points, want 1: %+v", len(cs), cs)
	}
	if f := HeatMap(pts, MetricTestAcc); !strings.Contains(f.Note, "1 of 2 trials not shown (1 not fitted)") {
		t.Errorf("heat map note %q", f.Note)
	}
}
