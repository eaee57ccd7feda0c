package results_test

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// setting is one grid point of a hand-made sweep with the results of its
// two seeds.
type setting struct {
	momentum, weightDecay float64
	b                     int
	testAcc, lambda       [2]float64
}

// sweepRecords returns the records of the settings at ε = 0.1, N = 2048,
// seeds 1 and 2, train accuracy 1.
func sweepRecords(settings []setting) []results.Record {
	var recs []results.Record
	for _, s := range settings {
		for i, seed := range []int64{1, 2} {
			tr := trialAt(2048, s.b, 0.1, seed)
			tr.Optimizer.Momentum = s.momentum
			tr.WeightDecay = s.weightDecay
			recs = append(recs, results.Record{
				TrialID: fmt.Sprintf("m%v-wd%v-b%d-s%d", s.momentum, s.weightDecay, s.b, seed),
				Spec:    tr, State: results.StateSucceeded,
				Result: &spec.Result{TrainAcc: 1, TestAcc: s.testAcc[i], TrainLoss: 0.01, TestLoss: 0.5, LambdaMax: s.lambda[i]},
			})
		}
	}
	return recs
}

// relNear compares a noise scale with its hand-computed value.
func relNear(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Abs(b) }

// TestMomentumTrialsAreNotPooled is the regression test of a bug where
// trials differing only in momentum were averaged into one row, with the g
// of plain SGD: by default every grid axis that varies (but the seed) is a
// grouping axis, so momentum 0 and 0.9 stay apart, each with its own g =
// ε(N/B − 1)/(1 − m) and the means of its own two seeds.
func TestMomentumTrialsAreNotPooled(t *testing.T) {
	settings := []setting{
		{momentum: 0, b: 32, testAcc: [2]float64{0.80, 0.82}, lambda: [2]float64{10, 20}},
		{momentum: 0, b: 128, testAcc: [2]float64{0.70, 0.74}, lambda: [2]float64{30, 50}},
		{momentum: 0.9, b: 32, testAcc: [2]float64{0.60, 0.66}, lambda: [2]float64{100, 140}},
		{momentum: 0.9, b: 128, testAcc: [2]float64{0.90, 0.96}, lambda: [2]float64{5, 7}},
	}
	recs := sweepRecords(settings)
	// Interleave the momenta, as a grid expansion would not, so that order
	// cannot keep them apart.
	slices.SortStableFunc(recs, func(a, b results.Record) int { return int(a.Spec.Seed - b.Spec.Seed) })
	g := summarize(t, recs, nil)
	if !slices.Equal(g.By, []string{"momentum", "batch_size"}) {
		t.Fatalf("by %v, want momentum, batch_size", g.By)
	}
	if want := map[string]string{"n": "2048", "lr": "0.1", "weight_decay": "0", "sam_rho": "0", "sam_m": "0"}; !maps.Equal(g.Fixed, want) {
		t.Errorf("fixed %v, want %v", g.Fixed, want)
	}
	// g = 0.1·(2048/32 − 1) = 6.3 and 0.1·(2048/128 − 1) = 1.5 at m = 0,
	// ten times that, 63 and 15, at m = 0.9.
	wants := []struct {
		key       []string
		g         float64
		acc, std  float64
		lambda    float64
		accMin    float64
		accMax    float64
		lambdaStd float64
	}{
		{[]string{"0", "32"}, 6.3, 0.81, 0.02 / math.Sqrt2, 15, 0.80, 0.82, 10 / math.Sqrt2},
		{[]string{"0", "128"}, 1.5, 0.72, 0.04 / math.Sqrt2, 40, 0.70, 0.74, 20 / math.Sqrt2},
		{[]string{"0.9", "32"}, 63, 0.63, 0.06 / math.Sqrt2, 120, 0.60, 0.66, 40 / math.Sqrt2},
		{[]string{"0.9", "128"}, 15, 0.93, 0.06 / math.Sqrt2, 6, 0.90, 0.96, 2 / math.Sqrt2},
	}
	if len(g.Groups) != len(wants) {
		t.Fatalf("%d groups, want 4: %+v", len(g.Groups), g.Groups)
	}
	for i, w := range wants {
		gr := g.Groups[i]
		if !slices.Equal(gr.Key, w.key) || gr.Counts != (results.Counts{Trials: 2, OK: 2}) || !relNear(gr.NoiseScale, w.g) {
			t.Errorf("group %d: key %v, %+v, g %v; want key %v, 2 ok trials, g %v", i, gr.Key, gr.Counts, gr.NoiseScale, w.key, w.g)
		}
		acc := metric(t, g, i, results.MetricTestAcc)
		checkStat(t, fmt.Sprintf("%v test_acc", w.key), acc, w.acc, w.std, 2)
		if !near(acc.Min, w.accMin) || !near(acc.Max, w.accMax) {
			t.Errorf("%v test_acc range [%v, %v], want [%v, %v]", w.key, acc.Min, acc.Max, w.accMin, w.accMax)
		}
		checkStat(t, fmt.Sprintf("%v lambda_max", w.key), metric(t, g, i, results.MetricLambdaMax), w.lambda, w.lambdaStd, 2)
		checkStat(t, fmt.Sprintf("%v gap", w.key), metric(t, g, i, results.MetricGap), 1-w.acc, w.std, 2)
	}

	// The table shows one row per momentum and batch size, with its own g.
	var b bytes.Buffer
	if err := results.WriteTable(&b, g); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	if lines[0] != "fixed: lr=0.1 n=2048 sam_m=0 sam_rho=0 weight_decay=0" ||
		strings.Join(strings.Fields(lines[1]), " ") != "momentum batch_size g ok train_acc test_acc gap lambda_max diverged not_fitted failed unfinished" {
		t.Errorf("table head:\n%s", b.String())
	}
	cells := regexp.MustCompile(`\s{2,}`)
	for i, want := range []string{"0|32|6.3|2", "0|128|1.5|2", "0.9|32|63|2", "0.9|128|15|2"} {
		if got := strings.Join(cells.Split(strings.TrimSpace(lines[i+2]), -1)[:4], "|"); got != want {
			t.Errorf("row %d starts %s, want %s", i, got, want)
		}
	}

	// Grouping by batch size alone pools the momenta on request; the pooled
	// groups have no one noise scale, so none is reported (not plain SGD's).
	pooled := summarize(t, recs, []string{"batch_size"})
	if len(pooled.Groups) != 2 || pooled.Fixed["momentum"] != "" {
		t.Fatalf("by batch_size: %+v, fixed %v", pooled.Groups, pooled.Fixed)
	}
	for i, gr := range pooled.Groups {
		if gr.Counts.OK != 4 || !math.IsNaN(gr.NoiseScale) {
			t.Errorf("pooled group %v: %+v, g %v; want 4 trials, g NaN", gr.Key, gr.Counts, gr.NoiseScale)
		}
		if s := metric(t, pooled, i, results.MetricTestAcc); s.Count != 4 {
			t.Errorf("pooled group %v: test_acc over %d", gr.Key, s.Count)
		}
	}

	// analysis.Aggregate keeps the momenta apart too, with the same g.
	groups := analysis.Aggregate(analysis.PointsFromRecords(recs))
	if len(groups) != 4 {
		t.Fatalf("Aggregate: %d groups, want 4", len(groups))
	}
	for _, w := range wants {
		found := false
		for _, ag := range groups {
			if axisJSON(ag.Axes[analysis.AxisMomentum]) != w.key[0] || axisJSON(ag.Axes[analysis.AxisB]) != w.key[1] {
				continue
			}
			found = true
			if ag.Counts.OK != 2 || !relNear(ag.NoiseScale(), w.g) || !near(ag.Metric(analysis.MetricTestAcc).Mean, w.acc) {
				t.Errorf("Aggregate %v: %+v, g %v, test_acc %v; want 2 trials, g %v, test_acc %v",
					ag.Axes, ag.Counts, ag.NoiseScale(), ag.Metric(analysis.MetricTestAcc).Mean, w.g, w.acc)
			}
		}
		if !found {
			t.Errorf("Aggregate has no group at %v", w.key)
		}
	}
}

// TestWeightDecayTrialsAreNotPooled: trials that differ only in weight
// decay are two groups, with the same g (weight decay does not enter it).
func TestWeightDecayTrialsAreNotPooled(t *testing.T) {
	recs := sweepRecords([]setting{
		{weightDecay: 0, b: 32, testAcc: [2]float64{0.80, 0.82}, lambda: [2]float64{10, 20}},
		{weightDecay: 1e-4, b: 32, testAcc: [2]float64{0.86, 0.90}, lambda: [2]float64{4, 6}},
	})
	g := summarize(t, recs, nil)
	if !slices.Equal(g.By, []string{"weight_decay"}) || len(g.Groups) != 2 {
		t.Fatalf("by %v, %d groups; want weight_decay, 2", g.By, len(g.Groups))
	}
	if want := map[string]string{"n": "2048", "lr": "0.1", "momentum": "0", "batch_size": "32", "sam_rho": "0", "sam_m": "0"}; !maps.Equal(g.Fixed, want) {
		t.Errorf("fixed %v, want %v", g.Fixed, want)
	}
	for i, w := range []struct {
		key         string
		acc, lambda float64
	}{{"0", 0.81, 15}, {"0.0001", 0.88, 5}} {
		gr := g.Groups[i]
		if gr.Key[0] != w.key || gr.Counts.OK != 2 || !relNear(gr.NoiseScale, 6.3) {
			t.Errorf("group %d: key %v, %+v, g %v; want %s, 2 trials, g 6.3", i, gr.Key, gr.Counts, gr.NoiseScale, w.key)
		}
		if s := metric(t, g, i, results.MetricTestAcc); s.Count != 2 || !near(s.Mean, w.acc) {
			t.Errorf("weight decay %s: test_acc %+v, want mean %v", w.key, s, w.acc)
		}
		if s := metric(t, g, i, results.MetricLambdaMax); !near(s.Mean, w.lambda) {
			t.Errorf("weight decay %s: lambda_max %+v, want mean %v", w.key, s, w.lambda)
		}
	}
}
