package spec_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// smallSpec is a small synthetic trial (as in compute's tests).
func smallSpec() spec.Trial {
	return spec.Trial{
		Dataset:   spec.Dataset{Name: "synthetic", N: 256, NTest: 128, LabelNoise: 0.2, Seed: 3},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{16, 16}, Activation: "relu"},
		BatchSize: 32, LR: 0.1, Epochs: 3, Seed: 11,
		Curvature: spec.Curvature{Examples: 100, LanczosSteps: 10},
	}
}

// idxSpec is a cnn trial on an IDX dataset in dir (28×28 as far as the spec
// knows).
func idxSpec(dir string) spec.Trial {
	return spec.Trial{
		Dataset:   spec.Dataset{Name: "mnist", Dir: dir, N: 120, NTest: 60, Seed: 2},
		Model:     spec.Model{Arch: "cnn", Conv: []int{3}, Hidden: []int{8}, Activation: "relu"},
		BatchSize: 20, LR: 0.05, Epochs: 2, Seed: 5,
		Curvature: spec.Curvature{Examples: 40, LanczosSteps: 5},
	}
}

// measureSpec is a small synthetic trial (P = 4·6 + 6 + 6·3 + 3 = 51) with
// every measure selected.
func measureSpec() spec.Trial {
	return spec.Trial{
		Dataset:   spec.Dataset{Name: "synthetic", N: 96, NTest: 32, Features: 4, Classes: 3, Seed: 5},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{6}, Activation: "relu"},
		BatchSize: 16, LR: 0.1, Epochs: 4, Seed: 7,
		Curvature: spec.Curvature{
			LanczosSteps: 10,
			Measures: spec.MeasuresOf(
				spec.TopKSettings{K: 4, Negative: 2, Tol: 1e-10, Steps: 60},
				spec.TraceSettings{Budget: 30},
				spec.DensitySettings{Runs: 3, Steps: 12},
				spec.EvidenceSettings{Lambda: 0.1, Runs: 3, Steps: 12},
				spec.KeskarSettings{Subspace: 10, Iterations: 3},
				spec.AdaptiveSettings{Iterations: 3, Samples: 4},
				spec.RelativeSettings{},
				spec.FisherRaoSettings{},
				spec.PACBayesSettings{Samples: 2, Steps: 6},
			),
		},
	}
}

// dinhSpec is a small synthetic trial with Dinh's check on the second
// Dense–ReLU–Dense pair of a two-hidden-layer mlp.
func dinhSpec() spec.Trial {
	return spec.Trial{
		Dataset:   spec.Dataset{Name: "synthetic", N: 96, NTest: 32, Features: 4, Classes: 3, Seed: 5},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{6, 5}, Activation: "relu"},
		BatchSize: 16, LR: 0.1, Epochs: 4, Seed: 7,
		Curvature: spec.Curvature{
			LanczosSteps: 30, Tol: 1e-8,
			Measures: spec.MeasuresOf(
				spec.TopKSettings{K: 2, Tol: 1e-8, Steps: 80},
				spec.TraceSettings{Budget: 30},
				spec.DensitySettings{Runs: 2, Steps: 8},
				spec.AdaptiveSettings{Iterations: 3, Samples: 4},
				spec.FisherRaoSettings{},
			),
			Dinh: spec.Dinh{Alpha: 10, Layer: 1},
		},
	}
}

// edit returns a mutation of the settings of the selected measure whose
// settings type is T (as given, zero fields meaning their defaults).
func edit[T any](f func(*T)) func(*spec.Curvature) {
	return func(c *spec.Curvature) {
		for _, sel := range c.Measures.List() {
			if s, ok := sel.Settings.(T); ok {
				f(&s)
				c.Measures = c.Measures.With(sel.Measure, s)
				return
			}
		}
		var zero T
		panic(fmt.Sprintf("no measure with settings %T selected", zero))
	}
}

// fieldError returns err as a *spec.FieldError wrapping spec.ErrInvalid, or
// fails the test.
func fieldError(t *testing.T, what string, err error) *spec.FieldError {
	t.Helper()
	var fe *spec.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, spec.ErrInvalid) {
		t.Errorf("%s: err = %v (%T), want a *spec.FieldError wrapping spec.ErrInvalid", what, err, err)
		return nil
	}
	return fe
}
