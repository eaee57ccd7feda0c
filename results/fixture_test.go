package results_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// tol is the absolute tolerance of the comparisons against hand-computed
// values (a few ulps of the inputs' magnitude).
const tol = 1e-12

func trialAt(n, b int, lr float64, seed int64) spec.Trial {
	return spec.Trial{Dataset: spec.Dataset{Name: "synthetic", N: n, NTest: 100},
		BatchSize: b, LR: lr, Seed: seed, Epochs: 1}
}

func ok(n, b int, lr float64, seed int64, trainAcc, testAcc, trainLoss, testLoss, lambda float64) results.Record {
	return results.Record{TrialID: fmt.Sprint("t-", n, b, lr, seed), Spec: trialAt(n, b, lr, seed), State: results.StateSucceeded,
		Result: &spec.Result{TrainAcc: trainAcc, TestAcc: testAcc, TrainLoss: trainLoss, TestLoss: testLoss, LambdaMax: lambda}}
}

func diverged(n, b int, lr float64, seed int64) results.Record {
	r := ok(n, b, lr, seed, 0.1, 0.1, math.NaN(), math.NaN(), 0)
	r.Result.Diverged = true
	return r
}

func other(n, b int, lr float64, seed int64, state string) results.Record {
	return results.Record{TrialID: "x", Spec: trialAt(n, b, lr, seed), State: state}
}

// fixture returns records for five grid points, in scrambled order:
//
//	A: N=1000 B=10   ε=0.1  3 good seeds + 1 diverged, 2 failed, 1 pending
//	B: N=1000 B=1000 ε=0.1  1 good seed
//	C: N=1000 B=10   ε=0.05 2 good seeds, one with λ₁ = NaN
//	D: N=500  B=10   ε=0.1  1 good seed
//	E: N=1000 B=100  ε=0.1  2 diverged seeds only
//
// Momentum and weight decay are 0 throughout.
func fixture() []results.Record {
	return []results.Record{
		ok(1000, 10, 0.1, 1, 0.9, 0.7, 0.1, 0.5, 2),
		ok(1000, 1000, 0.1, 1, 0.5, 0.45, 1.2, 1.3, 0.25),
		diverged(1000, 10, 0.1, 4),
		ok(1000, 10, 0.05, 1, 0.95, 0.75, 0.1, 0.6, 3),
		other(1000, 10, 0.1, 5, results.StateFailed),
		diverged(1000, 100, 0.1, 1),
		ok(1000, 10, 0.1, 2, 0.8, 0.6, 0.2, 0.7, 4),
		other(1000, 10, 0.1, 6, "pending"),
		ok(500, 10, 0.1, 1, 0.99, 0.5, 0.01, 2, 10),
		other(1000, 10, 0.1, 7, results.StateSucceeded), // succeeded, but no result recorded
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

// metric returns the summary of metric name of group i, failing the test
// when the engine did not compute it.
func metric(t *testing.T, g results.Groups, i int, name string) results.Summary {
	t.Helper()
	s, found := g.Metric(i, name)
	if !found {
		t.Fatalf("no metric %s among %v", name, g.Metrics)
	}
	return s
}

func checkStat(t *testing.T, what string, got results.Summary, mean, std float64, n int) {
	t.Helper()
	if !near(got.Mean, mean) || !near(got.Std, std) || got.Count != n {
		t.Errorf("%s = %v ± %v (n=%d), want %v ± %v (n=%d)", what, got.Mean, got.Std, got.Count, mean, std, n)
	}
}

// summarize is results.Summarize, failing the test on an error.
func summarize(t *testing.T, recs []results.Record, by []string, filters ...results.Filter) results.Groups {
	t.Helper()
	g, err := results.Summarize(recs, by, filters...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}
