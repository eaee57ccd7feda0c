package analysis

import (
	"bytes"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// pairedPoint is a successful trial at batch size b and seed s whose model
// classifies test image i correctly when correct(i).
func pairedPoint(b float64, s, n int, correct func(i int) bool) Point {
	c := make([]bool, n)
	k := 0
	for i := range c {
		if c[i] = correct(i); c[i] {
			k++
		}
	}
	acc := float64(k) / float64(n)
	return Point{ID: "t", Status: StatusOK, Axes: map[string]float64{AxisB: b, AxisLR: 0.1, AxisSeed: float64(s)},
		TestExamples: n, TestSet: "test", TestCorrect: spec.CorrectBits(c),
		Metrics: map[string]float64{MetricTestAcc: acc, MetricTrainAcc: 1, MetricGap: 1 - acc}}
}

// TestPairedResolvesWhatUnpairedCannot: the larger batch errs on 20 more of
// 2,000 shared test images (1 point) in every seed, with a few images
// flipping from seed to seed. The paired interval resolves the difference;
// the test images' unpaired error alone (≈ 1.3 points) is larger than it.
func TestPairedResolvesWhatUnpairedCannot(t *testing.T) {
	const n = 2000
	r := rand.New(rand.NewPCG(1, 2))
	hard := make([]bool, n) // images every model gets wrong: 4 %
	for i := range hard {
		hard[i] = r.Float64() < 0.04
	}
	var ps []Point
	for s := 1; s <= 3; s++ {
		flip := map[int]bool{}
		for range 10 {
			flip[r.IntN(n)] = true
		}
		ps = append(ps, pairedPoint(32, s, n, func(i int) bool { return !hard[i] != flip[i] }))
		ps = append(ps, pairedPoint(64, s, n, func(i int) bool { return !hard[i] && (i%100 != 7) != flip[i] }))
	}
	got := PairedAccuracy(ps)
	if len(got) != 1 {
		t.Fatalf("%d comparisons, want 1", len(got))
	}
	d := got[0]
	var want float64
	for s := range 3 {
		want += ps[2*s+1].Metric(MetricTestAcc) - ps[2*s].Metric(MetricTestAcc)
	}
	want /= 3
	if d.Axis != AxisB || d.From != 32 || d.To != 64 || math.Abs(d.Diff-want) > 1e-12 || d.SeedsFrom != 3 || d.SeedsTo != 3 {
		t.Fatalf("got %+v, want Δ %v from B = 32 to 64", d, want)
	}
	if !d.Resolved() || !d.SeedsKnown || !(d.Hi < 0) {
		t.Errorf("Δ %v in [%v, %v]: not resolved", d.Diff, d.Lo, d.Hi)
	}
	if !(d.UnpairedTestHalf > math.Abs(d.Diff)) || !(d.TestHalf < d.UnpairedTestHalf/2) {
		t.Errorf("paired ± %v, unpaired ± %v, for Δ %v: the pairing should be what resolves it", d.TestHalf, d.UnpairedTestHalf, d.Diff)
	}
	// Without pairing (different test sets) there is no comparison.
	for i := range ps {
		if ps[i].Axes[AxisB] == 64 {
			ps[i].TestSet = "other"
		}
	}
	if got := PairedAccuracy(ps); len(got) != 0 {
		t.Errorf("%d comparisons across different test sets", len(got))
	}
}

// TestPairedCoverage: over repeated draws of a test set of 500 images
// (each image's chance of being classified correctly drawn anew, the other
// grid point's moved by ±0.1 at random, so that the two have the same
// expected accuracy over the image population) and 3 seeds per side, the
// 95 % interval covers the true difference 0 at about its nominal rate
// (0.980 here: Welch's interval is a little conservative with three seeds a
// side).
func TestPairedCoverage(t *testing.T) {
	const n, reps = 500, 400
	r := rand.New(rand.NewPCG(3, 4))
	covered := 0
	for range reps {
		p, q := make([]float64, n), make([]float64, n)
		for i := range p {
			p[i] = 0.5 + 0.45*r.Float64()
			q[i] = p[i] + 0.1*float64(2*r.IntN(2)-1)
			q[i] = min(max(q[i], 0), 1)
		}
		var ps []Point
		for s := 1; s <= 3; s++ {
			ps = append(ps, pairedPoint(32, s, n, func(i int) bool { return r.Float64() < p[i] }))
			ps = append(ps, pairedPoint(64, s, n, func(i int) bool { return r.Float64() < q[i] }))
		}
		d := PairedAccuracy(ps)[0]
		if d.Lo <= 0 && 0 <= d.Hi {
			covered++
		}
	}
	share := float64(covered) / reps
	t.Logf("coverage %.3f over %d draws", share, reps)
	if share < 0.93 || share > 0.985 {
		t.Errorf("coverage %.3f, want 0.95 (0.93 to 0.985 over %d draws)", share, reps)
	}
}

// TestPairedNeighboursOnly: along an axis of three values the comparisons
// are between neighbours (16 → 32, 32 → 64), at every value of the other
// axes; trials without per-image results, failed ones and a grid point
// whose seeds were scored on different test sets take no part; the
// analysis shows the table.
func TestPairedNeighboursOnly(t *testing.T) {
	const n = 64
	var ps []Point
	for _, lr := range []float64{0.1, 0.2} {
		for _, b := range []float64{16, 32, 64} {
			for s := 1; s <= 2; s++ {
				p := pairedPoint(b, s, n, func(i int) bool { return (i+s+int(b))%5 != 0 })
				p.Axes[AxisLR] = lr
				ps = append(ps, p)
			}
		}
	}
	noBits := pairedPoint(16, 3, n, func(int) bool { return true })
	noBits.TestCorrect = nil
	failed := pairedPoint(16, 4, n, func(int) bool { return true })
	failed.Status = StatusFailed
	ps = append(ps, noBits, failed)
	got := PairedAccuracy(ps)
	if len(got) != 2*2+3 { // B: 2 neighbour pairs at each of 2 ε; ε: one pair at each of 3 B
		t.Fatalf("%d comparisons, want 7: %+v", len(got), got)
	}
	for _, d := range got {
		if d.Axis == AxisB && d.To != 2*d.From || d.SeedsFrom != 2 || d.SeedsTo != 2 {
			t.Errorf("comparison %+v: not neighbours, or a trial without bits counted", d)
		}
	}
	mixed := append([]Point{}, ps...)
	mixed[0].TestSet = "elsewhere" // B = 16, ε = 0.1, seed 1
	// That grid point drops out: B 32 → 64 remains at ε = 0.1, and no ε
	// comparison at B = 16.
	if got := PairedAccuracy(mixed); len(got) != 5 {
		t.Errorf("%d comparisons with one grid point on two test sets, want 5", len(got))
	}
	a := Analyze("s", ps)
	var buf bytes.Buffer
	if err := WriteAnalysisTable(&buf, a); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "Paired test accuracy") || !strings.Contains(buf.String(), "16 → 32") {
		t.Errorf("analysis table without the paired comparisons:\n%s", buf.String())
	}
}

// TestRobustCallsEnvironmentsImageByImage: two grid points whose gaps
// differ by half a point, on 2,000 shared test images with tight seeds, are
// an environment the paired comparison can call, where the binomial
// standard errors of two independent test sets (without per-image results)
// leave it out as too close.
func TestRobustCallsEnvironmentsImageByImage(t *testing.T) {
	const n = 2000
	var ps []Point
	for s := 1; s <= 3; s++ {
		flip := func(i int) bool { return i%997 == s } // seed-to-seed noise: 2 images
		a := pairedPoint(32, s, n, func(i int) bool { return i%25 != 0 != flip(i) })
		b := pairedPoint(64, s, n, func(i int) bool { return i%25 != 0 && i%200 != 1 != flip(i) })
		a.Metrics["lambda_max"], b.Metrics["lambda_max"] = 1, 2
		ps = append(ps, a, b)
	}
	r := Robust(ps, "lambda_max", MetricGap)
	if r.Environments != 1 || r.TooClose != 0 || r.Worst != 1 {
		t.Errorf("with per-image results: %+v, want one environment scored 1", r)
	}
	for i := range ps {
		ps[i].TestCorrect = nil
	}
	if r := Robust(ps, "lambda_max", MetricGap); r.Environments != 0 || r.TooClose != 1 {
		t.Errorf("without per-image results: %+v, want the environment too close", r)
	}
}
