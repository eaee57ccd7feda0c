package analysis

import (
	"fmt"
	"math"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// tol is the absolute tolerance of the comparisons against hand-computed
// values (a few ulps of the inputs' magnitude).
const tol = 1e-12

func trialAt(n, b int, lr float64, seed int64) spec.Trial {
	return spec.Trial{Dataset: spec.Dataset{Name: "synthetic", N: n, NTest: 100},
		BatchSize: b, LR: lr, Seed: seed, Epochs: 1}
}

func ok(n, b int, lr float64, seed int64, trainAcc, testAcc, trainLoss, testLoss, lambda float64) Record {
	return Record{TrialID: fmt.Sprint("t-", n, b, lr, seed), Spec: trialAt(n, b, lr, seed), State: StateSucceeded,
		Result: &spec.Result{TrainAcc: trainAcc, TestAcc: testAcc, TrainLoss: trainLoss, TestLoss: testLoss, LambdaMax: lambda}}
}

func diverged(n, b int, lr float64, seed int64) Record {
	r := ok(n, b, lr, seed, 0.1, 0.1, math.NaN(), math.NaN(), 0)
	r.Result.Diverged = true
	return r
}

func other(n, b int, lr float64, seed int64, state string) Record {
	return Record{TrialID: "x", Spec: trialAt(n, b, lr, seed), State: state}
}

// fixture returns records (the same as the results package's tests use) for five grid points, in scrambled order:
//
//	A: N=1000 B=10   ε=0.1  3 good seeds + 1 diverged, 2 failed, 1 pending
//	B: N=1000 B=1000 ε=0.1  1 good seed
//	C: N=1000 B=10   ε=0.05 2 good seeds, one with λ₁ = NaN
//	D: N=500  B=10   ε=0.1  1 good seed
//	E: N=1000 B=100  ε=0.1  2 diverged seeds only
func fixture() []Record {
	return []Record{
		ok(1000, 10, 0.1, 1, 0.9, 0.7, 0.1, 0.5, 2),
		ok(1000, 1000, 0.1, 1, 0.5, 0.45, 1.2, 1.3, 0.25),
		diverged(1000, 10, 0.1, 4),
		ok(1000, 10, 0.05, 1, 0.95, 0.75, 0.1, 0.6, 3),
		other(1000, 10, 0.1, 5, StateFailed),
		diverged(1000, 100, 0.1, 1),
		ok(1000, 10, 0.1, 2, 0.8, 0.6, 0.2, 0.7, 4),
		other(1000, 10, 0.1, 6, "pending"),
		ok(500, 10, 0.1, 1, 0.99, 0.5, 0.01, 2, 10),
		other(1000, 10, 0.1, 7, StateSucceeded), // succeeded, but no result recorded
		ok(1000, 10, 0.05, 2, 0.85, 0.65, 0.2, 0.5, math.NaN()),
		diverged(1000, 100, 0.1, 2),
		ok(1000, 10, 0.1, 3, 1.0, 0.8, 0.3, 0.3, 9),
	}
}

func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= tol
}

func checkStat(t *testing.T, what string, got Summary, mean, std float64, n int) {
	t.Helper()
	if !near(got.Mean, mean) || !near(got.Std, std) || got.Count != n {
		t.Errorf("%s = %v ± %v (n=%d), want %v ± %v (n=%d)", what, got.Mean, got.Std, got.Count, mean, std, n)
	}
}

// TestAggregate checks Aggregate over the seeds of the fixture against
// hand-computed values (those the summary tests of package results check
// too: Aggregate uses the results engine).
func TestAggregate(t *testing.T) {
	groups := Aggregate(PointsFromRecords(fixture()))
	type want struct {
		n, b                                     int
		lr, g                                    float64
		trials, ok, diverged, failed, unfinished int
	}
	// Sorted by axis name, then value: B, then ε, then N. g = ε(N/B − 1).
	wants := []want{
		{1000, 10, 0.05, 0.05 * 99, 2, 2, 0, 0, 0}, // C: g = 4.95
		{500, 10, 0.1, 0.1 * 49, 1, 1, 0, 0, 0},    // D: g = 4.9
		{1000, 10, 0.1, 0.1 * 99, 7, 3, 1, 2, 1},   // A: g = 9.9
		{1000, 100, 0.1, 0.1 * 9, 2, 0, 2, 0, 0},   // E: g = 0.9
		{1000, 1000, 0.1, 0, 1, 1, 0, 0, 0},        // B: full batch, g = 0
	}
	if len(groups) != len(wants) {
		t.Fatalf("got %d groups, want %d", len(groups), len(wants))
	}
	for i, w := range wants {
		g := groups[i]
		c := g.Counts
		if g.Axes[AxisN] != float64(w.n) || g.Axes[AxisB] != float64(w.b) || g.Axes[AxisLR] != w.lr || !near(g.NoiseScale(), w.g) ||
			c.Trials != w.trials || c.OK != w.ok || c.Diverged != w.diverged || c.Failed != w.failed || c.Unfinished != w.unfinished {
			t.Errorf("group %d = %v g=%v %+v, want %+v", i, g.Axes, g.NoiseScale(), c, w)
		}
		if _, ok := g.Axes[AxisSeed]; ok || len(g.Points) != w.trials {
			t.Errorf("group %d: axes %v (the seed is aggregated over), %d points, want %d", i, g.Axes, len(g.Points), w.trials)
		}
	}

	// A: train acc {0.9, 0.8, 1.0}: mean 0.9, Σ(x−x̄)² = 0.02, std √(0.02/2) = 0.1.
	// test acc {0.7, 0.6, 0.8}: 0.7 ± 0.1. gap {0.2, 0.2, 0.2}: 0.2 ± 0.
	// loss gap {0.4, 0.5, 0.0}: mean 0.3, Σ(x−x̄)² = 0.14, std √0.07.
	// λ₁ {2, 4, 9}: mean 5, Σ(x−x̄)² = 26, std √13.
	// The diverged trial (acc 0.1, NaN loss) would change every mean.
	a := groups[2]
	checkStat(t, "A train_acc", a.Metric(MetricTrainAcc), 0.9, 0.1, 3)
	checkStat(t, "A test_acc", a.Metric(MetricTestAcc), 0.7, 0.1, 3)
	checkStat(t, "A gap", a.Metric(MetricGap), 0.2, 0, 3)
	checkStat(t, "A train_loss", a.Metric(MetricTrainLoss), 0.2, 0.1, 3)
	checkStat(t, "A test_loss", a.Metric(MetricTestLoss), 0.5, 0.2, 3)
	checkStat(t, "A loss_gap", a.Metric(MetricLossGap), 0.3, math.Sqrt(0.07), 3)
	checkStat(t, "A lambda_max", a.Metric(MetricLambdaMax), 5, math.Sqrt(13), 3)
	// Min, max and the 95 % interval 0.7 ∓ t_{0.975, 2}·0.1/√3 of test acc.
	half := 4.302652729911275 * 0.1 / math.Sqrt(3)
	if s := a.Metric(MetricTestAcc); !near(s.Min, 0.6) || !near(s.Max, 0.8) || math.Abs(s.Lo-(0.7-half)) > 1e-9 || math.Abs(s.Hi-(0.7+half)) > 1e-9 {
		t.Errorf("A test_acc = %+v, want min 0.6, max 0.8, CI 0.7 ∓ %v", s, half)
	}

	// C: train acc {0.95, 0.85}: 0.9 ± √(2·0.05²) = 0.05√2; λ₁ {3, NaN}: 3 ± 0 over 1.
	c := groups[0]
	checkStat(t, "C train_acc", c.Metric(MetricTrainAcc), 0.9, 0.05*math.Sqrt2, 2)
	checkStat(t, "C lambda_max", c.Metric(MetricLambdaMax), 3, 0, 1)

	// B and D: one seed, std 0.
	checkStat(t, "B test_acc", groups[4].Metric(MetricTestAcc), 0.45, 0, 1)
	checkStat(t, "D gap", groups[1].Metric(MetricGap), 0.49, 0, 1)

	// E: nothing to average.
	checkStat(t, "E test_acc", groups[3].Metric(MetricTestAcc), math.NaN(), math.NaN(), 0)
}
