package compute_test

import (
	"context"
	"fmt"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/spec"
)

// RunTrial runs one trial: train, then λ₁ and the selected measures.
func ExampleRunTrial() {
	t := spec.Trial{
		Dataset:   spec.Dataset{Name: spec.DatasetSynthetic, N: 256, NTest: 64, Features: 8, Classes: 3, Seed: 1},
		Model:     spec.Model{Arch: spec.ArchMLP, Hidden: []int{16}, Activation: spec.ActivationReLU},
		BatchSize: 32, LR: 0.1, Epochs: 3, Seed: 7,
		Curvature: spec.Curvature{LanczosSteps: 20, Tol: 1e-3, Measures: spec.MeasuresOf(spec.TraceSettings{Budget: 12})},
	}
	res, err := compute.RunTrial(context.Background(), t, nil)
	if err != nil {
		panic(err)
	}
	_, hasTrace := res.Measures["trace"]
	fmt.Println(res.Params, res.Steps, len(res.Curve), res.LambdaMax > 0, hasTrace)
	// Output: 195 24 3 true true
}
