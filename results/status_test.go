package results

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestOutcomeClasses: planted results are classified ok, diverged, not
// fitted (near chance, or a missed fit target) — on 4 synthetic classes and
// on 10 MNIST ones — failed and unfinished, and summaries count the not
// fitted trials apart and leave them out of the metrics.
func TestOutcomeClasses(t *testing.T) {
	syn := spec.Trial{Dataset: spec.Dataset{Name: spec.DatasetSynthetic, Classes: 4, N: 100}, BatchSize: 10, LR: 0.1}
	mnist := spec.Trial{Dataset: spec.Dataset{Name: spec.DatasetMNIST, N: 100}, BatchSize: 10, LR: 0.1}
	target := syn
	target.Stop = spec.Stop{TrainLoss: 0.01}
	rec := func(t spec.Trial, state string, res *spec.Result) Record {
		return Record{TrialID: "x", Spec: t, State: state, Result: res}
	}
	for _, c := range []struct {
		name string
		r    Record
		want Status
	}{
		{"fitted", rec(syn, StateSucceeded, &spec.Result{TrainAcc: 0.9}), StatusOK},
		{"at chance + margin (4 classes)", rec(syn, StateSucceeded, &spec.Result{TrainAcc: 0.3}), StatusNotFitted},
		{"just above it", rec(syn, StateSucceeded, &spec.Result{TrainAcc: 0.31}), StatusOK},
		{"near chance (10 classes)", rec(mnist, StateSucceeded, &spec.Result{TrainAcc: 0.14}), StatusNotFitted},
		{"above chance (10 classes)", rec(mnist, StateSucceeded, &spec.Result{TrainAcc: 0.16}), StatusOK},
		{"target missed", rec(target, StateSucceeded, &spec.Result{TrainAcc: 0.95}), StatusNotFitted},
		{"target reached", rec(target, StateSucceeded, &spec.Result{TrainAcc: 0.95, TargetReached: true}), StatusOK},
		{"diverged", rec(syn, StateSucceeded, &spec.Result{Diverged: true}), StatusDiverged},
		{"failed", rec(syn, StateFailed, nil), StatusFailed},
		{"running", rec(syn, StateRunning, nil), StatusUnfinished},
	} {
		if got := Classify(c.r); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	var recs []Record
	for i, acc := range []float64{0.9, 0.8, 0.2, 0.25} {
		r := rec(syn, StateSucceeded, &spec.Result{TrainAcc: acc, TestAcc: acc})
		r.TrialID, r.Spec.Seed = string(rune('a'+i)), int64(i)
		recs = append(recs, r)
	}
	g, err := Summarize(recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := g.Metric(0, MetricTestAcc)
	if c := g.Groups[0].Counts; c.OK != 2 || c.NotFitted != 2 || s.Count != 2 || math.Abs(s.Mean-0.85) > 1e-15 {
		t.Errorf("counts %+v, test accuracy over %d trials %v; want 2 ok (mean 0.85) and 2 not fitted", c, s.Count, s.Mean)
	}
	if got := g.Groups[0].Counts.String(); got != "4 trials: 2 ok, 0 diverged, 2 not fitted, 0 failed, 0 unfinished" {
		t.Errorf("counts: %q", got)
	}
	back := GroupsFromProto(g.ToProto())
	if back.Groups[0].Counts != g.Groups[0].Counts {
		t.Errorf("counts through the proto: %+v, want %+v", back.Groups[0].Counts, g.Groups[0].Counts)
	}
}

// TestLegendStatesTheMargin: the table legend gives the margin the code uses.
func TestLegendStatesTheMargin(t *testing.T) {
	if !strings.Contains(TableLegend, "within "+strconv.FormatFloat(ChanceMargin, 'g', -1, 64)+" of chance") {
		t.Errorf("legend does not state the chance margin %v:\n%s", ChanceMargin, TableLegend)
	}
}
