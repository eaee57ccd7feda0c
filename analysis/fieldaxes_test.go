package analysis

import (
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestPointsFieldAxes: a field on which the records differ besides the
// named axes (a list such as model.hidden, a string such as
// optimizer.name) becomes an axis of the points, exact in Values and
// numbered in Axes, and Aggregate keeps its values apart.
func TestPointsFieldAxes(t *testing.T) {
	var recs []Record
	for _, h := range [][]int{{512, 512}, {1024}, {64}} {
		for _, opt := range []string{"", "adam"} {
			for seed := int64(1); seed <= 2; seed++ {
				sp := spec.Trial{Dataset: spec.Dataset{Name: "synthetic", N: 256, NTest: 64}, Model: spec.Model{Arch: "mlp", Hidden: h},
					BatchSize: 16, LR: 0.1, Epochs: 1, Seed: seed}
				sp.Optimizer.Name = opt
				recs = append(recs, Record{TrialID: spec.ID(sp), Spec: sp, State: "succeeded", Result: &spec.Result{TestAcc: 0.5, TrainAcc: 0.6}})
			}
		}
	}
	points := PointsFromRecords(recs)
	p := points[0]
	if p.Values["model.hidden"] != "[512,512]" || p.Values["optimizer.name"] != `""` {
		t.Fatalf("values %v", p.Values)
	}
	// [1024] < [512,512] < [64] in the order of their JSON.
	if p.Axes["model.hidden"] != 1 || points[4].Axes["model.hidden"] != 0 || points[8].Axes["model.hidden"] != 2 || points[2].Axes["optimizer.name"] != 1 {
		t.Errorf("codes %v %v %v", p.Axes, points[4].Axes, points[8].Axes)
	}
	groups := Aggregate(points)
	if len(groups) != 6 {
		t.Fatalf("%d groups, want 3 widths × 2 optimizers", len(groups))
	}
	for _, g := range groups {
		if g.Counts.OK != 2 {
			t.Errorf("group %v: %+v", g.Axes, g.Counts)
		}
	}
}
