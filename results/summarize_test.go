package results_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"math"
	"slices"
	"strconv"
	"testing"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

func TestSummarize(t *testing.T) {
	g := summarize(t, fixture(), nil)
	// Default grouping: the grid axes that vary but the seed, in expansion
	// order; momentum and weight decay are the same in every trial.
	if !slices.Equal(g.By, []string{"n", "batch_size", "lr"}) {
		t.Fatalf("by %v, want n, batch_size, lr", g.By)
	}
	if want := map[string]string{"momentum": "0", "weight_decay": "0", "sam_rho": "0", "sam_m": "0"}; !maps.Equal(g.Fixed, want) {
		t.Errorf("fixed %v, want %v", g.Fixed, want)
	}
	if !slices.Equal(g.Metrics[:len(results.BaseMetrics())], results.BaseMetrics()) || len(g.Metrics) != len(results.BaseMetrics()) {
		t.Errorf("metrics %v, want the base metrics %v", g.Metrics, results.BaseMetrics())
	}
	type want struct {
		key                                      []string
		g                                        float64
		trials, ok, diverged, failed, unfinished int
	}
	// Sorted by N, then B, then ε (numerically). g = ε(N/B − 1).
	wants := []want{
		{[]string{"500", "10", "0.1"}, 0.1 * 49, 1, 1, 0, 0, 0},    // D: g = 4.9
		{[]string{"1000", "10", "0.05"}, 0.05 * 99, 2, 2, 0, 0, 0}, // C: g = 4.95
		{[]string{"1000", "10", "0.1"}, 0.1 * 99, 7, 3, 1, 2, 1},   // A: g = 9.9
		{[]string{"1000", "100", "0.1"}, 0.1 * 9, 2, 0, 2, 0, 0},   // E: g = 0.9
		{[]string{"1000", "1000", "0.1"}, 0, 1, 1, 0, 0, 0},        // B: full batch, g = 0
	}
	if len(g.Groups) != len(wants) {
		t.Fatalf("got %d groups, want %d", len(g.Groups), len(wants))
	}
	for i, w := range wants {
		gr := g.Groups[i]
		c := gr.Counts
		if !slices.Equal(gr.Key, w.key) || !near(gr.NoiseScale, w.g) ||
			c.Trials != w.trials || c.OK != w.ok || c.Diverged != w.diverged || c.Failed != w.failed || c.Unfinished != w.unfinished {
			t.Errorf("group %d = %v g=%v %+v, want %+v", i, gr.Key, gr.NoiseScale, c, w)
		}
		if len(gr.Metrics) != len(g.Metrics) {
			t.Errorf("group %d: %d metrics, want %d", i, len(gr.Metrics), len(g.Metrics))
		}
	}

	// A: train acc {0.9, 0.8, 1.0}: mean 0.9, Σ(x−x̄)² = 0.02, std √(0.02/2) = 0.1.
	// test acc {0.7, 0.6, 0.8}: 0.7 ± 0.1. gap {0.2, 0.2, 0.2}: 0.2 ± 0.
	// loss gap {0.4, 0.5, 0.0}: mean 0.3, Σ(x−x̄)² = 0.14, std √0.07.
	// λ₁ {2, 4, 9}: mean 5, Σ(x−x̄)² = 26, std √13.
	// The diverged trial (acc 0.1, NaN loss) would change every mean.
	const a, b, c, d, e = 2, 4, 1, 0, 3
	checkStat(t, "A train_acc", metric(t, g, a, results.MetricTrainAcc), 0.9, 0.1, 3)
	checkStat(t, "A test_acc", metric(t, g, a, results.MetricTestAcc), 0.7, 0.1, 3)
	checkStat(t, "A gap", metric(t, g, a, results.MetricGap), 0.2, 0, 3)
	checkStat(t, "A train_loss", metric(t, g, a, results.MetricTrainLoss), 0.2, 0.1, 3)
	checkStat(t, "A test_loss", metric(t, g, a, results.MetricTestLoss), 0.5, 0.2, 3)
	checkStat(t, "A loss_gap", metric(t, g, a, results.MetricLossGap), 0.3, math.Sqrt(0.07), 3)
	checkStat(t, "A lambda_max", metric(t, g, a, results.MetricLambdaMax), 5, math.Sqrt(13), 3)
	// Min, max and the 95 % interval 0.7 ∓ t_{0.975, 2}·0.1/√3 of test acc
	// (t_{0.975, 2} = 4.302652729911275, tables).
	half := 4.302652729911275 * 0.1 / math.Sqrt(3)
	if s := metric(t, g, a, results.MetricTestAcc); !near(s.Min, 0.6) || !near(s.Max, 0.8) ||
		math.Abs(s.Lo-(0.7-half)) > 1e-9 || math.Abs(s.Hi-(0.7+half)) > 1e-9 {
		t.Errorf("A test_acc = %+v, want min 0.6, max 0.8, CI 0.7 ∓ %v", s, half)
	}

	// C: train acc {0.95, 0.85}: 0.9 ± √(2·0.05²) = 0.05√2; λ₁ {3, NaN}: 3 ± 0 over 1.
	checkStat(t, "C train_acc", metric(t, g, c, results.MetricTrainAcc), 0.9, 0.05*math.Sqrt2, 2)
	checkStat(t, "C lambda_max", metric(t, g, c, results.MetricLambdaMax), 3, 0, 1)
	if s := metric(t, g, c, results.MetricLambdaMax); !math.IsNaN(s.Lo) || !math.IsNaN(s.Hi) {
		t.Errorf("C lambda_max over one value has an interval: %+v", s)
	}

	// B and D: one seed, std 0.
	checkStat(t, "B test_acc", metric(t, g, b, results.MetricTestAcc), 0.45, 0, 1)
	checkStat(t, "D gap", metric(t, g, d, results.MetricGap), 0.49, 0, 1)

	// E: nothing to average.
	checkStat(t, "E test_acc", metric(t, g, e, results.MetricTestAcc), math.NaN(), math.NaN(), 0)

	// Without a result recorded, the duration is not a value: A has 3.
	checkStat(t, "A duration", metric(t, g, a, results.MetricDuration), 0, 0, 3)
}

// TestSummarizeGroupByAndFilter groups the fixture by named axes and keeps
// some trials only.
func TestSummarizeGroupByAndFilter(t *testing.T) {
	g := summarize(t, fixture(), []string{"batch_size"})
	if len(g.Groups) != 3 || g.Groups[0].Key[0] != "10" || g.Groups[0].Counts.Trials != 10 || !math.IsNaN(g.Groups[0].NoiseScale) {
		// B = 10 pools ε = 0.05 and 0.1, N = 500 and 1000: no one g.
		t.Errorf("by batch_size: %+v", g.Groups)
	}
	if g.Fixed["batch_size"] != "" || g.Fixed["momentum"] != "0" {
		t.Errorf("fixed %v", g.Fixed)
	}
	f, err := results.ParseFilter("lr=1e-1")
	if err != nil || !slices.Equal(f.Values, []string{"0.1"}) {
		t.Fatalf("ParseFilter: %+v, %v", f, err)
	}
	g = summarize(t, fixture(), []string{"n", "batch_size"}, f)
	var trials int
	for _, gr := range g.Groups {
		trials += gr.Counts.Trials
	}
	if len(g.Groups) != 4 || trials != 11 || g.Fixed["lr"] != "0.1" {
		t.Errorf("lr = 0.1: %d groups over %d trials, fixed %v; want 4 over 11, lr fixed", len(g.Groups), trials, g.Fixed)
	}
	if _, err := results.Summarize(fixture(), []string{"colour"}); err == nil {
		t.Error("unknown axis accepted")
	}
	if _, err := results.ParseFilter("lr"); err == nil {
		t.Error("filter without values accepted")
	}
}

func TestNoiseScale(t *testing.T) {
	for _, c := range []struct {
		lr   float64
		n, b int
		m    float64
		want float64
	}{
		{1, 60000, 1, 0, 59999},
		{0.1, 1000, 10, 0, 9.9},
		{0.5, 1024, 1024, 0, 0},
		{0.2, 1024, 256, 0, 0.6},
		{0.1, 100, 0, 0, math.NaN()},
		// ε/(1 − m) · (N/B − 1).
		{0.1, 1000, 10, 0.9, 99},
		{0.2, 1024, 256, 0.5, 1.2},
		{0.1, 100, 10, 1, math.NaN()},
	} {
		tr := trialAt(c.n, c.b, c.lr, 1)
		tr.Optimizer.Momentum = c.m
		if got := results.NoiseScale(tr); !(near(got, c.want) || math.Abs(got-c.want) <= 1e-12*math.Abs(c.want)) {
			t.Errorf("NoiseScale(ε=%v, N=%d, B=%d, m=%v) = %v, want %v", c.lr, c.n, c.b, c.m, got, c.want)
		}
	}
	adam := trialAt(1000, 10, 0.1, 1)
	adam.Optimizer.Name = spec.OptimizerAdam
	if g := results.NoiseScale(adam); !math.IsNaN(g) {
		t.Errorf("Adam: g = %v, want NaN", g)
	}
	sched := trialAt(1000, 10, 0.1, 1)
	sched.Schedule.Batch.Milestones = []int{1}
	if g := results.NoiseScale(sched); !math.IsNaN(g) {
		t.Errorf("batch-size schedule: g = %v, want NaN", g)
	}
}

func TestSummarizeEmpty(t *testing.T) {
	g := summarize(t, nil, nil)
	if len(g.Groups) != 0 || len(g.By) != 0 {
		t.Errorf("Summarize(nil) = %+v", g)
	}
	var b bytes.Buffer
	if err := results.WriteJSON(&b, g); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		By     []string          `json:"group_by"`
		Groups []json.RawMessage `json:"groups"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil || doc.By == nil || doc.Groups == nil || len(doc.Groups) != 0 {
		t.Errorf("WriteJSON of no groups = %q, %v; want empty lists", b.String(), err)
	}
}

// TestAggregateMatchesSummarize: analysis.Aggregate over the seeds of the
// fixture's points gives the groups, counts, g and summaries that
// Summarize gives.
func TestAggregateMatchesSummarize(t *testing.T) {
	groups := analysis.Aggregate(analysis.PointsFromRecords(fixture()))
	sum := summarize(t, fixture(), nil)
	if len(groups) != len(sum.Groups) {
		t.Fatalf("%d groups, %d summarized", len(groups), len(sum.Groups))
	}
	for i, r := range sum.Groups {
		found := false
		for _, g := range groups {
			if axisJSON(g.Axes[analysis.AxisN]) != r.Key[0] || axisJSON(g.Axes[analysis.AxisB]) != r.Key[1] || axisJSON(g.Axes[analysis.AxisLR]) != r.Key[2] {
				continue
			}
			found = true
			if g.Counts != r.Counts {
				t.Errorf("%v: counts %+v, summarized %+v", g.Axes, g.Counts, r.Counts)
			}
			for _, name := range []string{results.MetricTestAcc, results.MetricGap, results.MetricLambdaMax} {
				s, st := g.Metric(name), metric(t, sum, i, name)
				if s.Count != st.Count || !near(s.Mean, st.Mean) || !near(s.Std, st.Std) {
					t.Errorf("%v %s: %+v, summarized %+v", g.Axes, name, s, st)
				}
			}
			if !near(g.NoiseScale(), r.NoiseScale) {
				t.Errorf("%v: g %v, summarized %v", g.Axes, g.NoiseScale(), r.NoiseScale)
			}
		}
		if !found {
			t.Errorf("group %v has no Aggregate group", r.Key)
		}
	}
}

// axisJSON formats an axis value as its canonical JSON (a float64 of an
// integer field prints without a fraction).
func axisJSON(x float64) string {
	b, _ := json.Marshal(x)
	return string(b)
}

// TestNoiseScalePrintsAsDecimal: g of decimal axes prints as the decimal
// its inputs give, not with the noise of binary arithmetic, and stays within
// 1e-12 of the unrounded value.
func TestNoiseScalePrintsAsDecimal(t *testing.T) {
	for _, c := range []struct {
		lr, n, b, m float64
		want        string
	}{
		{0.1, 520, 10, 0, "5.1"},
		{0.1, 512, 10, 0, "5.02"},
		{0.3, 4000, 64, 0.9, "184.5"},
		{0.05, 2048, 2048, 0, "0"},
	} {
		g := results.NoiseScaleOf(c.lr, c.n, c.b, c.m)
		raw := c.lr / (1 - c.m) * (c.n/c.b - 1)
		if got := strconv.FormatFloat(g, 'g', -1, 64); got != c.want || math.Abs(g-raw) > 1e-12*math.Max(1, math.Abs(raw)) {
			t.Errorf("g(ε=%g, N=%g, B=%g, m=%g) = %s (unrounded %v), want %s", c.lr, c.n, c.b, c.m, got, raw, c.want)
		}
	}
	if !math.IsNaN(results.NoiseScaleOf(0.1, 10, 0, 0)) || !math.IsNaN(results.NoiseScaleOf(0.1, 10, 1, 1)) {
		t.Error("g of B = 0 or m = 1 is not NaN")
	}
}
