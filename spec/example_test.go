package spec_test

import (
	"fmt"

	"github.com/flatsweep/flatsweep/spec"
)

// A trial's ID is the hash of its identity form: writing a default out does
// not change it, changing a value does.
func ExampleID() {
	t := spec.Trial{
		Dataset:   spec.Dataset{Name: spec.DatasetSynthetic, N: 1024, NTest: 1024, Features: 16, Classes: 4, LabelNoise: 0.2, Seed: 1},
		Model:     spec.Model{Arch: spec.ArchMLP, Hidden: []int{64, 64}, Activation: spec.ActivationReLU},
		BatchSize: 16, LR: 0.05, Epochs: 20, Seed: 1,
		Curvature: spec.Curvature{Examples: 512, LanczosSteps: 20, Tol: 1e-3},
	}
	spelled := t
	spelled.Optimizer.Name = spec.OptimizerSGD // the default, written out
	other := t
	other.Seed = 2
	fmt.Println(spec.ID(t))
	fmt.Println(spec.ID(spelled.Resolved()) == spec.ID(t), spec.ID(other) == spec.ID(t))
	// Output:
	// t-d42b32c99966934f165b344d54923494
	// true false
}

// Measures are selected with their settings; the settings a trial runs with
// have every default applied.
func ExampleMeasuresOf() {
	ms := spec.MeasuresOf(spec.TraceSettings{Budget: 30}, spec.TopKSettings{K: 3})
	topK, _ := spec.SettingsOf[spec.TopKSettings](ms)
	fmt.Println(ms)
	fmt.Printf("%+v\n", topK)
	// Output:
	// top_k,trace
	// {K:3 Negative:0 Tol:0.001 Steps:100}
}

// A trial's network is known from its spec, without building it.
func ExampleTrial_Architecture() {
	t := spec.Trial{Dataset: spec.Dataset{Name: spec.DatasetMNIST}, Model: spec.Model{Arch: spec.ArchMLP, Hidden: []int{800}}}
	a, err := t.Architecture()
	if err != nil {
		panic(err)
	}
	fmt.Println(a.Kinds(), a.Params, a.DinhPairs())
	// Output: [dense relu dense] 636010 [0]
}

// Validation names the field and the value.
func ExampleTrial_Validate() {
	t := spec.Trial{
		Dataset: spec.Dataset{Name: spec.DatasetSynthetic, N: 100, NTest: 10}, Model: spec.Model{Arch: spec.ArchMLP, Hidden: []int{8}},
		BatchSize: 200, LR: 0.1, Epochs: 1,
	}
	fmt.Println(t.Validate())
	// Output: batch_size = 200: batch size must be an integer in 1…dataset.n (100)
}
