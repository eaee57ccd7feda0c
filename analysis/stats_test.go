package analysis

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/results"
)

func TestDescribe(t *testing.T) {
	// {1, 2, 3, 4, NaN}: mean 2.5, Σ(x−x̄)² = 5, s = √(5/3);
	// t_{0.975, 3} = 3.182446305284263 (tables), half-width t·s/√4.
	s := Describe([]float64{1, 2, 3, 4, math.NaN()})
	half := 3.182446305284263 * math.Sqrt(5.0/3) / 2
	if s.Count != 4 || !near(s.Mean, 2.5) || !near(s.Std, math.Sqrt(5.0/3)) ||
		math.Abs(s.Lo-(2.5-half)) > 1e-9 || math.Abs(s.Hi-(2.5+half)) > 1e-9 {
		t.Errorf("Describe = %+v, want 2.5 ± %v, CI [%v, %v]", s, math.Sqrt(5.0/3), 2.5-half, 2.5+half)
	}
	// Two values {0, 1}: t_{0.975, 1} = 12.706204736174698, s = √0.5, half = t·s/√2 = t/2.
	s = Describe([]float64{0, 1})
	if math.Abs(s.Hi-(0.5+12.706204736174698/2)) > 1e-9 {
		t.Errorf("Describe({0,1}).Hi = %v", s.Hi)
	}
	if s := Describe([]float64{7}); s.Count != 1 || s.Mean != 7 || s.Std != 0 || !math.IsNaN(s.Lo) || !math.IsNaN(s.Hi) {
		t.Errorf("one value: %+v", s)
	}
	if s := Describe(nil); s.Count != 0 || !math.IsNaN(s.Mean) || !math.IsNaN(s.Hi) {
		t.Errorf("no value: %+v", s)
	}
}

func TestNoiseScaleMomentum(t *testing.T) {
	for _, c := range []struct {
		lr, n, b, m   float64
		exact, approx float64
	}{
		{0.1, 1000, 10, 0, 0.1 * 99, 0.1 * 100},
		{0.1, 1000, 10, 0.9, 0.1 * 99 * 10, 0.1 * 100 * 10},
		{0.5, 1024, 1024, 0.5, 0, 1},
		{0.1, 100, 0, 0, math.NaN(), math.NaN()},
		{0.1, 100, 10, 1, math.NaN(), math.NaN()},
	} {
		if got := NoiseScaleMomentum(c.lr, c.n, c.b, c.m); math.Abs(got-c.exact) > 1e-12 && !(math.IsNaN(got) && math.IsNaN(c.exact)) {
			t.Errorf("NoiseScaleMomentum(%v) = %v, want %v", c, got, c.exact)
		}
		if got := NoiseScaleApprox(c.lr, c.n, c.b, c.m); math.Abs(got-c.approx) > 1e-12 && !(math.IsNaN(got) && math.IsNaN(c.approx)) {
			t.Errorf("NoiseScaleApprox(%v) = %v, want %v", c, got, c.approx)
		}
	}
	// It agrees with the results engine's noise scale of a trial, at m = 0
	// (ε(N/B − 1)) and with momentum.
	for _, m := range []float64{0, 0.9} {
		tr := trialAt(1000, 10, 0.05, 1)
		tr.Optimizer.Momentum = m
		if got, want := NoiseScaleMomentum(0.05, 1000, 10, m), results.NoiseScale(tr); !near(got, want) {
			t.Errorf("m = %v: %v, results.NoiseScale %v", m, got, want)
		}
	}
	p := Point{Axes: map[string]float64{AxisLR: 0.1, AxisN: 1000, AxisB: 10, AxisMomentum: 0.5}}
	if got := p.NoiseScale(); !near(got, 19.8) {
		t.Errorf("Point.NoiseScale = %v, want 19.8", got)
	}
	if got := (Point{Axes: map[string]float64{AxisLR: 0.1}}).NoiseScale(); !math.IsNaN(got) {
		t.Errorf("Point.NoiseScale without B, N = %v", got)
	}
}

func TestPointsFromRecords(t *testing.T) {
	pts := PointsFromRecords(fixture())
	want := Counts{Trials: 13, OK: 7, Diverged: 3, Failed: 2, Unfinished: 1}
	if got := CountPoints(pts); got != want {
		t.Errorf("counts %v, want %v", got, want)
	}
	p := pts[0] // ok(1000, 10, 0.1, 1, 0.9, 0.7, 0.1, 0.5, 2)
	if p.Status != StatusOK || p.Axes[AxisB] != 10 || p.Axes[AxisLR] != 0.1 || p.Axes[AxisN] != 1000 ||
		p.Axes[AxisSeed] != 1 || p.Axes[AxisMomentum] != 0 || !near(p.Metric(MetricGap), 0.2) ||
		!near(p.Metric(MetricLossGap), 0.4) || p.Metric(MetricLambdaMax) != 2 {
		t.Errorf("point 0 = %+v", p)
	}
	d := pts[2] // diverged
	if d.Status != StatusDiverged || !math.IsNaN(d.Metric(MetricLambdaMax)) {
		t.Errorf("diverged point = %+v", d)
	}
	if !math.IsNaN(pts[4].Metric(MetricTestAcc)) || pts[4].Status != StatusFailed {
		t.Errorf("failed point = %+v", pts[4])
	}
	if got := FlatnessMeasures(pts); len(got) != 1 || got[0] != MetricLambdaMax {
		t.Errorf("FlatnessMeasures = %v", got)
	}
}

func TestKendallTauB(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5}
	for _, c := range []struct {
		name string
		x, y []float64
		want float64
		n    int
	}{
		{"increasing", x, []float64{2, 4, 6, 8, 10}, 1, 5},
		{"monotone nonlinear", x, []float64{1, 8, 27, 64, 1e6}, 1, 5},
		{"reversed", x, []float64{5, 4, 3, 2, 1}, -1, 5},
		// Pairs: C C C, tied-x, tied-y, C: n_c = 4, n_d = 0, n₀ = 6, n₁ = n₂ = 1:
		// τ_b = 4/√(5·5) = 0.8 (τ-a would give 4/6).
		{"ties both", []float64{1, 2, 2, 3}, []float64{1, 3, 2, 3}, 0.8, 4},
		// n_c = 6, n_d = 3, one pair tied in y: τ_b = 3/√(10·9).
		{"ties y", x, []float64{3, 1, 2, 2, 5}, 3 / math.Sqrt(90), 5},
		// The NaN pair is skipped: same as "increasing" over 4 pairs.
		{"nan skipped", []float64{1, 2, math.NaN(), 4, 5}, []float64{1, 2, 3, 4, 5}, 1, 4},
	} {
		got, n, err := KendallTauB(c.x, c.y)
		if err != nil || math.Abs(got-c.want) > 1e-12 || n != c.n {
			t.Errorf("%s: τ_b = %v (n=%d, %v), want %v (n=%d)", c.name, got, n, err, c.want, c.n)
		}
	}
	if _, _, err := KendallTauB([]float64{1, 1, 1}, []float64{1, 2, 3}); !errors.Is(err, ErrUndefined) {
		t.Errorf("constant x: err %v", err)
	}
	if _, _, err := KendallTauB([]float64{1}, []float64{1}); !errors.Is(err, ErrUndefined) {
		t.Errorf("one pair: err %v", err)
	}
	if _, _, err := KendallTauB([]float64{1, 2}, []float64{1}); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("mismatch: err %v", err)
	}
}

// plantedPsi returns points over B × lr × seed (N fixed) whose gap rises with
// both B and lr while the measure rises with B and falls with lr: within every
// group varying B, τ = 1; within every group varying lr, τ = −1; so ψ_B = 1,
// ψ_lr = −1 and Ψ = 0. "tied" is constant within each group varying lr.
func plantedPsi() []Point {
	var pts []Point
	for _, b := range []float64{16, 64, 256} {
		for _, lr := range []float64{0.01, 0.1} {
			for _, seed := range []float64{1, 2} {
				gap := math.Log(b) + 30*lr + 0.01*seed
				pts = append(pts, Point{Status: StatusOK,
					Axes: map[string]float64{AxisB: b, AxisLR: lr, AxisSeed: seed, AxisN: 1000},
					Metrics: map[string]float64{MetricGap: gap, MetricTestAcc: 1 - gap/10,
						"sharp": math.Log(b) - 30*lr + seed, "tied": b}})
			}
		}
	}
	// A diverged trial with wild values must not count.
	pts = append(pts, Point{Status: StatusDiverged, Axes: map[string]float64{AxisB: 16, AxisLR: 0.01, AxisSeed: 3, AxisN: 1000},
		Metrics: map[string]float64{MetricGap: 100, "sharp": -100, "tied": 0}})
	return pts
}

func TestGranulatedTau(t *testing.T) {
	pts := plantedPsi()
	g, err := GranulatedTau(pts, "sharp", MetricGap, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Axes) != 2 || g.Axes[0].Axis != AxisB || g.Axes[1].Axis != AxisLR {
		t.Fatalf("axes %+v, want B, lr (seed and the constant N excluded)", g.Axes)
	}
	// Groups varying B: lr × seed = 4; varying lr: B × seed = 6.
	if b := g.Axes[0]; !near(b.Psi, 1) || b.Groups != 4 || b.Undefined != 0 {
		t.Errorf("ψ_B = %+v, want 1 over 4 groups", b)
	}
	if lr := g.Axes[1]; !near(lr.Psi, -1) || lr.Groups != 6 {
		t.Errorf("ψ_lr = %+v, want −1 over 6 groups", lr)
	}
	if !near(g.Psi, 0) {
		t.Errorf("Ψ = %v, want 0", g.Psi)
	}
	// "tied" is constant where only lr varies: those 6 groups are undefined
	// and ψ_lr is NaN; Ψ = ψ_B = 1.
	g, err = GranulatedTau(pts, "tied", MetricGap, []string{AxisB, AxisLR})
	if err != nil || !near(g.Psi, 1) || g.Axes[1].Undefined != 6 || !math.IsNaN(g.Axes[1].Psi) {
		t.Errorf("tied: %+v, %v", g, err)
	}
	if _, err := GranulatedTau(pts, "missing", MetricGap, nil); !errors.Is(err, ErrUndefined) {
		t.Errorf("missing measure: err %v", err)
	}
}

func TestScoreMeasures(t *testing.T) {
	pts := plantedPsi()
	for i := range pts {
		if pts[i].Status == StatusOK {
			pts[i].Metrics["mono"] = math.Exp(pts[i].Metrics[MetricGap]) // increasing in the gap
		}
	}
	scores, counts := ScoreMeasures(pts, nil)
	if counts.Trials != 13 || counts.Diverged != 1 {
		t.Errorf("counts %v", counts)
	}
	names := []string{"mono", "sharp", "tied"}
	if len(scores) != len(names) {
		t.Fatalf("scores %+v", scores)
	}
	for i, s := range scores {
		if s.Measure != names[i] {
			t.Errorf("score %d is %s, want %s", i, s.Measure, names[i])
		}
	}
	if m := scores[0]; !near(m.TauGap, 1) || !near(m.TauTestAcc, -1) || !near(m.Granulated.Psi, 1) || m.N != 12 {
		t.Errorf("mono: %+v", m)
	}
}

func TestDinhCheck(t *testing.T) {
	before := []float64{1, 2, 3, 4}
	// λ₁ under α-scaling: every value scaled by 4 — ranking kept, relative change 3.
	r, err := DinhCheck(before, []float64{4, 8, 12, 16})
	if err != nil || !near(r.Tau, 1) || !near(r.MaxRelChange, 3) || !near(r.MedianRatio, 4) || r.N != 4 {
		t.Errorf("scaled: %+v, %v", r, err)
	}
	// Invariant measure.
	r, err = DinhCheck(before, before)
	if err != nil || !near(r.Tau, 1) || r.MaxRelChange != 0 || r.MedianRatio != 1 {
		t.Errorf("invariant: %+v, %v", r, err)
	}
	// Ranking reversed; the NaN pair is skipped. Changes 3/1, 1/2, 1/3 → max 3.
	r, err = DinhCheck([]float64{1, 2, 3, math.NaN()}, []float64{4, 3, 2, 1})
	if err != nil || !near(r.Tau, -1) || !near(r.MaxRelChange, 3) || r.N != 3 {
		t.Errorf("reversed: %+v, %v", r, err)
	}
	if r, _ := DinhCheck([]float64{0, 1}, []float64{1, 1}); !math.IsInf(r.MaxRelChange, 1) || !math.IsNaN(r.MedianRatio) {
		t.Errorf("zero before: %+v", r)
	}
	if _, err := DinhCheck([]float64{1}, []float64{1, 2}); !errors.Is(err, ErrLengthMismatch) {
		t.Errorf("mismatch: %v", err)
	}
	if r, err := DinhCheck([]float64{2}, []float64{3}); !errors.Is(err, ErrUndefined) || !near(r.MaxRelChange, 0.5) {
		t.Errorf("one pair: %+v, %v", r, err)
	}
	if _, err := DinhCheck([]float64{math.NaN()}, []float64{1}); !errors.Is(err, ErrNoData) {
		t.Errorf("no pair: %v", err)
	}
}

// sweepPoints builds a synthetic sweep over B × lr × N × seeds with test
// accuracy acc(B, lr, N) plus Gaussian noise of standard deviation sd.
func sweepPoints(rng *rand.Rand, bs, lrs, ns []float64, seeds int, sd float64, acc func(b, lr, n float64) float64) []Point {
	var pts []Point
	for _, b := range bs {
		for _, lr := range lrs {
			for _, n := range ns {
				for s := range seeds {
					a := acc(b, lr, n) + sd*rng.NormFloat64()
					pts = append(pts, Point{Status: StatusOK,
						Axes:    map[string]float64{AxisB: b, AxisLR: lr, AxisN: n, AxisMomentum: 0, AxisSeed: float64(s)},
						Metrics: map[string]float64{MetricTestAcc: a, MetricTrainAcc: 1, MetricGap: 1 - a}})
				}
			}
		}
	}
	return pts
}

func pow2s(lo, hi float64) []float64 {
	var out []float64
	for b := lo; b <= hi; b *= 2 {
		out = append(out, b)
	}
	return out
}

func TestRefineHand(t *testing.T) {
	// x = ln B = h·{1, 2, 3} (h = ln 10), y = {0.5, 0.9, 0.7}:
	// num = h²(0.2) − h²(0.4) = −0.2h², den = 0.2h + 0.4h = 0.6h,
	// x* = 2h + h/6, B* = 10^(13/6).
	var pts []Point
	for i, y := range []float64{0.5, 0.9, 0.7} {
		pts = append(pts, Point{Status: StatusOK, Axes: map[string]float64{AxisB: math.Pow(10, float64(i+1)), AxisLR: 0.1},
			Metrics: map[string]float64{MetricTestAcc: y}})
	}
	opts, err := OptimalBatches(pts, MetricTestAcc)
	if err != nil || len(opts) != 1 {
		t.Fatal(opts, err)
	}
	o := opts[0]
	if o.Refinement != RefineParabola || o.GridB != 100 || o.Best != 0.9 || math.Abs(o.B-math.Pow(10, 13.0/6)) > 1e-9 {
		t.Errorf("optimum %+v, want B = %v", o, math.Pow(10, 13.0/6))
	}
	// Edge: the best at the largest B.
	pts[2].Metrics[MetricTestAcc] = 0.95
	opts, _ = OptimalBatches(pts, MetricTestAcc)
	if o := opts[0]; o.Refinement != RefineEdge || o.B != 1000 {
		t.Errorf("edge: %+v", o)
	}
	// All equal.
	for i := range pts {
		pts[i].Metrics[MetricTestAcc] = 0.5
	}
	opts, _ = OptimalBatches(pts, MetricTestAcc)
	if o := opts[0]; o.Refinement != RefineEdge || o.B != 10 { // ties go to the smallest B, an edge
		t.Errorf("all tied: %+v", o)
	}
	pts = append(pts, Point{Status: StatusOK, Axes: map[string]float64{AxisB: 1, AxisLR: 0.1}, Metrics: map[string]float64{MetricTestAcc: 0.1}})
	// Plateau B = 10…1000 after a rise: the vertex lies midway between 10 and
	// 100 in ln B: num = −0.4h², den = 0.4h, x* = ln 10 + h/2.
	opts, _ = OptimalBatches(pts, MetricTestAcc)
	if o := opts[0]; o.Refinement != RefineParabola || math.Abs(o.B-math.Pow(10, 1.5)) > 1e-9 {
		t.Errorf("plateau: %+v", o)
	}
}

func TestOptimalBatchPlanted(t *testing.T) {
	// Test accuracy peaked at B_opt = c·ε·N/N₀ in ln B (curvature 0.05), with
	// noise of sd 0.002 per seed: B_opt from 20 to 2000 inside the sweep 4…8192.
	const c, n0 = 2000.0, 1000.0
	acc := func(b, lr, n float64) float64 {
		d := math.Log(b) - math.Log(c*lr*n/n0)
		return 0.9 - 0.05*d*d
	}
	lrs := []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5}
	bs := pow2s(4, 8192)

	// Noise-free, one N: the refinement is exact for a parabola in ln B.
	exact := sweepPoints(rand.New(rand.NewPCG(1, 2)), bs, lrs, []float64{n0}, 1, 0, acc)
	opts, err := OptimalBatches(exact, MetricTestAcc)
	if err != nil || len(opts) != len(lrs) {
		t.Fatal(opts, err)
	}
	for _, o := range opts {
		if want := c * o.Axes[AxisLR]; o.Refinement != RefineParabola || math.Abs(o.B-want) > 1e-6*want {
			t.Errorf("ε = %v: B_opt = %v (%s), want %v", o.Axes[AxisLR], o.B, o.Refinement, want)
		}
	}
	fit, err := FitBatchScaling(opts, AxisLR)
	if err != nil || math.Abs(fit.Slope-1) > 1e-9 || math.Abs(fit.Intercept-math.Log(c)) > 1e-6 || fit.R2 < 1-1e-12 || fit.N != 6 {
		t.Errorf("exact fit %+v, %v", fit, err)
	}

	// Noisy, two N, three seeds: slope 1 against ε (pooled over 2 slices) and
	// against N (6 slices of 2), each within two standard errors.
	pts := sweepPoints(rand.New(rand.NewPCG(3, 4)), bs, lrs, []float64{n0, 2 * n0}, 3, 0.002, acc)
	opts, err = OptimalBatches(pts, MetricTestAcc)
	if err != nil || len(opts) != 12 {
		t.Fatal(len(opts), err)
	}
	for _, axis := range []string{AxisLR, AxisN} {
		fit, err := FitBatchScaling(opts, axis)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("B_opt ∝ %s^s: s = %.4f ± %.4f, R² = %.4f, n = %d, slices = %d, df = %d",
			axis, fit.Slope, fit.SlopeSE, fit.R2, fit.N, fit.Slices, fit.DF)
		if dev := fit.Deviation(1); !(math.Abs(dev) <= 2) || !(fit.SlopeSE < 0.1) || !(fit.R2 > 0.9) {
			t.Errorf("%s: slope %v ± %v (%.2f SE from 1), R² %v", axis, fit.Slope, fit.SlopeSE, dev, fit.R2)
		}
	}

	// Edge optima are excluded and counted.
	edge := append(exact, sweepPoints(rand.New(rand.NewPCG(5, 6)), bs, []float64{100}, []float64{n0}, 1, 0, acc)...)
	opts, _ = OptimalBatches(edge, MetricTestAcc)
	fit, err = FitBatchScaling(opts, AxisLR)
	if err != nil || fit.Excluded != 1 || fit.N != 6 || math.Abs(fit.Slope-1) > 1e-9 {
		t.Errorf("with an edge optimum: %+v, %v", fit, err)
	}
	if _, err := FitBatchScaling(opts[:1], AxisLR); !errors.Is(err, ErrTooFewPoints) {
		t.Errorf("one optimum: %v", err)
	}

	// Momentum: B_opt = c·ε/(1 − m) is fitted against 1/(1 − m) with slope 1.
	var mom []Point
	for _, m := range []float64{0, 0.5, 0.8, 0.9} {
		ps := sweepPoints(rand.New(rand.NewPCG(7, 7)), bs, []float64{0.01 / (1 - m)}, []float64{n0}, 1, 0, acc)
		for i := range ps {
			ps[i].Axes[AxisLR], ps[i].Axes[AxisMomentum] = 0.01, m
		}
		mom = append(mom, ps...)
	}
	opts, err = OptimalBatches(mom, MetricTestAcc)
	if err != nil || len(opts) != 4 {
		t.Fatal(opts, err)
	}
	fit, err = FitBatchScaling(opts, AxisMomentum)
	if err != nil || math.Abs(fit.Slope-1) > 1e-9 || fit.N != 4 {
		t.Errorf("momentum fit %+v, %v", fit, err)
	}
}

func TestCollapse(t *testing.T) {
	const n = 50000.0
	bs := pow2s(16, 2048)
	lrs := []float64{0.01, 0.03, 0.1, 0.3}
	fromG := func(b, lr, n float64) float64 {
		d := math.Log(NoiseScaleMomentum(lr, n, b, 0)) - math.Log(20)
		return 0.9 - 0.02*d*d
	}
	fromB := func(b, lr, n float64) float64 {
		d := math.Log(b) - math.Log(128)
		return 0.9 - 0.02*d*d
	}
	g, err := Collapse(sweepPoints(rand.New(rand.NewPCG(7, 8)), bs, lrs, []float64{n}, 2, 0.003, fromG), MetricTestAcc, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("from g: %+v", g)
	if g.Points != 32 || g.Ratio > 1.5 || g.DeltaBIC > -6 || g.R2G < 0.9 {
		t.Errorf("data from g: ratio %v, ΔBIC %v, R²_g %v: want ratio ≲ 1 and ΔBIC < −6", g.Ratio, g.DeltaBIC, g.R2G)
	}
	b, err := Collapse(sweepPoints(rand.New(rand.NewPCG(9, 10)), bs, lrs, []float64{n}, 2, 0.003, fromB), MetricTestAcc, 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("from B: %+v", b)
	if b.Ratio < 10 || b.DeltaBIC < 10 {
		t.Errorf("data from B alone: ratio %v, ΔBIC %v: want ≫ 1 and > 10", b.Ratio, b.DeltaBIC)
	}
	if len(g.SeparateAxes) != 2 {
		t.Errorf("separate axes %v, want B, lr", g.SeparateAxes)
	}
}

func TestDegenerateAnalyses(t *testing.T) {
	one := []Point{{Status: StatusOK, Axes: map[string]float64{AxisB: 32, AxisLR: 0.1, AxisN: 1000, AxisSeed: 1},
		Metrics: map[string]float64{MetricTestAcc: 0.8, MetricGap: 0.1}}}
	div := []Point{{Status: StatusDiverged, Axes: one[0].Axes, Metrics: map[string]float64{MetricTestAcc: 0.1}},
		{Status: StatusFailed, Axes: one[0].Axes}}

	opts, err := OptimalBatches(one, MetricTestAcc)
	if err != nil || len(opts) != 1 || opts[0].Refinement != RefineSingle || opts[0].B != 32 {
		t.Errorf("single point optimum: %+v, %v", opts, err)
	}
	if _, err := FitBatchScaling(opts, AxisLR); !errors.Is(err, ErrTooFewPoints) {
		t.Errorf("single point fit: %v", err)
	}
	if opts, err := OptimalBatches(div, MetricTestAcc); !errors.Is(err, ErrNoData) || len(opts) != 1 ||
		opts[0].Refinement != RefineNone || !math.IsNaN(opts[0].B) || opts[0].Counts.Diverged != 1 || opts[0].Counts.Failed != 1 {
		t.Errorf("all diverged optimum: %+v, %v", opts, err)
	}
	if _, err := OptimalBatches(one, "missing"); !errors.Is(err, ErrNoData) {
		t.Errorf("missing metric optimum: %v", err)
	}
	if _, err := Collapse(one, MetricTestAcc, 2); !errors.Is(err, ErrTooFewPoints) {
		t.Errorf("single point collapse: %v", err)
	}
	if r, err := Collapse(div, MetricTestAcc, 2); !errors.Is(err, ErrNoData) || r.Counts.Diverged != 1 || r.Counts.Failed != 1 {
		t.Errorf("all diverged collapse: %+v, %v", r, err)
	}
	if _, err := Collapse(nil, MetricTestAcc, 0); !errors.Is(err, ErrNoData) {
		t.Errorf("empty collapse: %v", err)
	}
	if s, c := ScoreMeasures(div, nil); len(s) != 0 || c.Trials != 2 {
		t.Errorf("all diverged scores: %+v %v", s, c)
	}
	if g := Aggregate(nil); len(g) != 0 {
		t.Errorf("Aggregate(nil) = %v", g)
	}
	if _, err := GranulatedTau(one, MetricGap, MetricTestAcc, nil); !errors.Is(err, ErrUndefined) {
		t.Errorf("single point Ψ: %v", err)
	}
}

func TestResultsJSON(t *testing.T) {
	// Undefined values (NaN, +Inf) are written as null rather than failing.
	for _, v := range []any{
		Describe([]float64{1}),
		PowerLawFit{Axis: AxisLR, Slope: 1, SlopeSE: math.NaN(), Intercept: math.NaN(), R2: math.NaN()},
		CollapseResult{Ratio: math.NaN(), SeparateAxes: []string{AxisB}},
		MeasureScore{Measure: "x", TauGap: math.NaN(), Granulated: Granulated{Psi: math.NaN(), Axes: []AxisTau{{Axis: AxisB, Psi: math.NaN()}}}},
		DinhResult{MaxRelChange: math.Inf(1), Tau: math.NaN()},
		BatchOptimum{Axes: map[string]float64{AxisLR: math.NaN()}, Curve: []BatchMean{{B: 1, Summary: Describe(nil)}}},
	} {
		b, err := json.Marshal(v)
		if err != nil || !strings.Contains(string(b), "null") || !json.Valid(b) {
			t.Errorf("%T: %s, %v", v, b, err)
		}
	}
	b, _ := json.Marshal(Describe([]float64{1, 2, 3, 4}))
	var back map[string]float64
	if err := json.Unmarshal(b, &back); err != nil || back["mean"] != 2.5 || back["count"] != 4 {
		t.Errorf("summary JSON %s: %v", b, err)
	}
}
