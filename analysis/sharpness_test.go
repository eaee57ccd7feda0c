package analysis

import (
	"bytes"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestSharpnessAlongTraining: tracked trials become one curve each with
// their limits, the figure draws them and names what it leaves out, and a
// sweep without tracking gets an empty figure that says why.
func TestSharpnessAlongTraining(t *testing.T) {
	pts := []Point{
		{ID: "a", Status: StatusOK, Axes: map[string]float64{AxisLR: 0.1, AxisSeed: 1},
			Curve:     []spec.EpochMetrics{{Epoch: 1}},
			Sharpness: []spec.SharpnessPoint{{Step: 0, LambdaMax: 2, StabilityLimit: 20}, {Step: 10, LambdaMax: 19, StabilityLimit: 20}}},
		{ID: "b", Status: StatusOK, Axes: map[string]float64{AxisLR: 0.2, AxisSeed: 1},
			Curve:     []spec.EpochMetrics{{Epoch: 1}},
			Sharpness: []spec.SharpnessPoint{{Step: 0, LambdaMax: 3}, {Step: 10, LambdaMax: 4}}},
		{ID: "c", Status: StatusOK, Axes: map[string]float64{AxisLR: 0.3, AxisSeed: 1}, Curve: []spec.EpochMetrics{{Epoch: 1}}},
	}
	cs := SharpnessFromPoints(pts)
	if len(cs) != 2 || cs[0].Label != "ε=0.1" || cs[1].Label != "ε=0.2" || len(cs[0].Steps) != 2 || cs[0].Limit[1] != 20 || cs[1].Lambda[1] != 4 {
		t.Fatalf("curves: %+v", cs)
	}
	f := SharpnessAlongTraining(cs)
	if f.Empty || !strings.Contains(f.Note, "stability limit (dashed) drawn for 1 of 2 trials") {
		t.Errorf("figure: empty %v, note %q", f.Empty, f.Note)
	}
	var b bytes.Buffer
	if err := f.Write(&b, "svg"); err != nil || b.Len() == 0 {
		t.Fatalf("svg: %v", err)
	}
	if e := SharpnessAlongTraining(SharpnessFromPoints(pts[2:])); !e.Empty || !strings.Contains(e.Note, "curvature.track") {
		t.Errorf("no tracking: empty %v, note %q", e.Empty, e.Note)
	}
	adam := SharpnessAlongTraining(cs[1:])
	if !strings.Contains(adam.Note, "no stability limit") {
		t.Errorf("Adam note: %q", adam.Note)
	}
}
