package results

import (
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestCostTable: the costs of results add up per entry, training and the
// curvature come first, results without costs are skipped, and the table
// shows each row with its share of the time.
func TestCostTable(t *testing.T) {
	a := &spec.Result{Gradients: 100, TrainSeconds: 6, CurvatureSeconds: 4, Costs: []spec.MeasureCost{
		{Measure: spec.CostHessian, Gradients: 1, Seconds: 0.5}, {Measure: "top_k", HVPs: 17, Seconds: 3.5, Residuals: []float64{1e-4}}}}
	b := &spec.Result{Gradients: 50, TrainSeconds: 3, CurvatureSeconds: 7, Costs: []spec.MeasureCost{
		{Measure: spec.CostHessian, Gradients: 1, Seconds: 0.5}, {Measure: "top_k", HVPs: 19, Seconds: 4}, {Measure: "trace", HVPs: 99, Seconds: 2.5}}}
	old := &spec.Result{Gradients: 10, LambdaMax: 3} // stored before costs
	rows := CostTable([]*spec.Result{a, nil, old, b})
	want := []CostRow{
		{Name: CostTraining, Trials: 2, Gradients: 150, Seconds: 9},
		{Name: CostCurvature, Trials: 2, HVPs: 135, Gradients: 2, Seconds: 11},
		{Name: spec.CostHessian, Trials: 2, Gradients: 2, Seconds: 1},
		{Name: "top_k", Trials: 2, HVPs: 36, Seconds: 7.5},
		{Name: "trace", Trials: 1, HVPs: 99, Seconds: 2.5},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v", rows)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, rows[i], want[i])
		}
	}
	var b1 strings.Builder
	if err := WriteCosts(&b1, rows); err != nil {
		t.Fatal(err)
	}
	out := b1.String()
	for _, s := range []string{"training", "  top_k", "36", "7.50", "37.5%", "45.0%"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	if CostTable([]*spec.Result{old}) != nil {
		t.Error("rows for results without costs")
	}
	var b2 strings.Builder
	_ = WriteCosts(&b2, nil)
	if !strings.Contains(b2.String(), "no result records its costs") {
		t.Errorf("empty table: %q", b2.String())
	}
}
