package flatness_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/flatness"
)

// TestOnNetwork runs Keskar sharpness (full space and a random subspace) and
// the evidence on a trained network through NetOracle: values are finite,
// φ ≥ 0, the reported maximum is the loss at the reported perturbation, and
// runs are deterministic in the seed.
func TestOnNetwork(t *testing.T) {
	_, theta, o := trainedNet(t, 3, 8, 3, 60, 11)
	ctx := context.Background()
	for _, p := range []int{0, 20} {
		s := flatness.KeskarSettings{Epsilon: 1e-3, Subspace: p, Iterations: 10}
		r, err := flatness.KeskarSharpness(ctx, o, theta, rand.New(rand.NewPCG(4, 4)), s)
		if err != nil {
			t.Fatal(err)
		}
		r2, _ := flatness.KeskarSharpness(ctx, o, theta, rand.New(rand.NewPCG(4, 4)), s)
		pt := make([]float64, len(theta))
		for i := range pt {
			pt[i] = theta[i] + r.Delta[i]
		}
		t.Logf("p = %d: φ = %.5g (L = %.4g → %.4g), %d iterations, %d evaluations",
			p, r.Sharpness, r.Loss, r.MaxLoss, r.Iterations, r.Evaluations)
		if !(r.Sharpness >= 0) || r.Sharpness != r2.Sharpness || relDiff(o.Loss(pt), r.MaxLoss) > 1e-12 {
			t.Errorf("p = %d: %+v", p, r)
		}
	}
	ev, err := flatness.Evidence(ctx, o.Loss(theta), theta, flatness.HessianOperator(o, theta), rand.New(rand.NewPCG(1, 1)),
		flatness.EvidenceSettings{Lambda: 1e-2, Examples: 60, SLQ: curvature.SLQSettings{Runs: 5, Steps: 20}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("log evidence %.5g (cost %.4g, Occam %.4g ± %.2g), %d clipped nodes (mass %.3g), min node %.3g",
		ev.LogEvidence, ev.Cost, ev.LogOccam, ev.StdErr, ev.Clipped, ev.ClippedMass, ev.MinNode)
	if !(ev.LogOccam <= 0) || ev.Products != 100 {
		t.Errorf("evidence %+v", ev)
	}
}
