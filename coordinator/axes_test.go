package coordinator

import (
	"context"
	"slices"
	"testing"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// axesSweep has a field axis over list values and a linked pair.
const axesSweep = `name: unit
dataset: {name: synthetic, n: 64, n_test: 16, seed: 1}
model: {arch: mlp}
train: {epochs: 1}
curvature: {lanczos_steps: 5}
grid:
  seed: [1, 2]
  axes:
    model.hidden: [[8, 8], [16]]
  linked:
    - lr: [0.1, 0.2]
      batch_size: [8, 16]
`

// TestAggregateByFieldAxis: the coordinator stores and leases the trials of
// a sweep with field and linked axes, and groups their results by a field
// axis on request and, by default, by every axis that varies but the seed.
func TestAggregateByFieldAxis(t *testing.T) {
	b := setup(t, "")
	if _, err := b.sweeps.SubmitSweep(context.Background(), submitRequest(t, axesSweep, "unit.yaml", 0)); err != nil {
		t.Fatal(err)
	}
	w := b.register(t)
	n := b.completeAll(t, w, func(l *pb.Lease) float64 {
		st, err := spec.DecodeTrial([]byte(l.SpecJson))
		if err != nil {
			t.Fatal(err)
		}
		return float64(st.Model.Hidden[0]) / 100
	})
	if n != 8 {
		t.Fatalf("completed %d trials", n)
	}
	resp, err := b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{SweepId: "unit", GroupBy: []string{"model.hidden"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Groups) != 2 {
		t.Fatalf("%d groups, want 2", len(resp.Groups))
	}
	for i, want := range []struct {
		key string
		acc float64
	}{{"[16]", 0.16}, {"[8,8]", 0.08}} {
		g := resp.Groups[i]
		if m := metricOf(resp, g, "test_acc"); !slices.Equal(g.KeyJson, []string{want.key}) || g.Succeeded != 4 || m == nil || m.Mean != want.acc {
			t.Errorf("group %d: %+v, want key %s with 4 trials of test_acc %v", i, g, want.key, want.acc)
		}
	}
	resp, err = b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{SweepId: "unit"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(resp.GroupBy, []string{"batch_size", "lr", "model.hidden"}) || len(resp.Groups) != 4 {
		t.Errorf("default grouping by %v, %d groups; want batch_size, lr, model.hidden and 4", resp.GroupBy, len(resp.Groups))
	}
	if _, err := b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{SweepId: "unit", GroupBy: []string{"model.width"}}); err == nil {
		t.Error("grouping by a field that is no axis of the sweep succeeded")
	}
}
