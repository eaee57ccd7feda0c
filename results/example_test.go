package results_test

import (
	"fmt"

	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// Summarize groups trials by every axis that varies except the seed: here
// momentum, so the two momenta are never averaged together.
func ExampleSummarize() {
	var recs []results.Record
	for i, m := range []float64{0, 0, 0.9, 0.9} {
		t := spec.Trial{Dataset: spec.Dataset{Name: spec.DatasetSynthetic, N: 1000}, BatchSize: 100, LR: 0.1,
			Seed: int64(i % 2), Training: spec.Training{Optimizer: spec.Optimizer{Momentum: m}}}
		recs = append(recs, results.Record{TrialID: fmt.Sprint(i), Spec: t, State: results.StateSucceeded,
			Result: &spec.Result{TrainAcc: 0.9, TestAcc: 0.7 + 0.1*float64(i)}})
	}
	g, err := results.Summarize(recs, nil)
	if err != nil {
		panic(err)
	}
	for i, gr := range g.Groups {
		s, _ := g.Metric(i, results.MetricTestAcc)
		fmt.Printf("%s=%s g=%.4g trials=%d test_acc=%.2f\n", g.By[0], gr.Key[0], gr.NoiseScale, gr.Counts.OK, s.Mean)
	}
	// Output:
	// momentum=0 g=0.9 trials=2 test_acc=0.75
	// momentum=0.9 g=9 trials=2 test_acc=0.95
}
