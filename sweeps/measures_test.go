package sweeps

import (
	"errors"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/compute"
)

const measuresSweep = `name: measures
dataset: {name: synthetic, n: 128, n_test: 64}
model: {arch: mlp, hidden: [8]}
train: {epochs: 1}
curvature:
  examples: 64
  measures: [trace, top_k, keskar]
  top_k: {k: 3, negative: 1, tol: 1e-6}
  trace: {method: hutchinson, budget: 40}
  keskar: {epsilons: [1e-3, 5e-4], iterations: 5}
grid: {batch_size: [16], lr: [0.1], seed: [1]}
`

// TestMeasuresSection parses a curvature section with measures: the set and
// settings reach the trial spec, defaults written out are normalized away,
// and the order of the measures does not change the trial ID.
func TestMeasuresSection(t *testing.T) {
	s, err := Parse([]byte(measuresSweep), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := s.Expand()[0].Spec.Curvature
	want := compute.CurvatureSpec{Examples: 64, LanczosSteps: DefaultLanczosSteps, Tol: DefaultTol,
		Measures: compute.MeasureTopK | compute.MeasureTrace | compute.MeasureKeskar,
		TopK:     compute.TopKSpec{K: 3, Negative: 1, Tol: 1e-6},
		Trace:    compute.TraceSpec{Method: compute.TraceHutchinson, Budget: 40},
		Keskar:   compute.KeskarSpec{Iterations: 5}, // default epsilons normalized away
	}
	if c != want {
		t.Errorf("curvature %+v\nwant %+v", c, want)
	}
	reordered := strings.Replace(measuresSweep, "[trace, top_k, keskar]", "[keskar, top_k, trace]", 1)
	reordered = strings.Replace(reordered, "iterations: 5}", "iterations: 5, space: both}", 1)
	s2, err := Parse([]byte(reordered), "m2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := s.Expand()[0].ID, s2.Expand()[0].ID; a != b {
		t.Errorf("IDs differ: %s vs %s", a, b)
	}
	none := strings.Replace(measuresSweep, "  measures: [trace, top_k, keskar]\n  top_k: {k: 3, negative: 1, tol: 1e-6}\n  trace: {method: hutchinson, budget: 40}\n  keskar: {epsilons: [1e-3, 5e-4], iterations: 5}\n", "", 1)
	s3, err := Parse([]byte(none), "m3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := CanonicalTrial(s3.Expand()[0].Spec)
	if strings.Contains(string(b), "measures") {
		t.Errorf("canonical form without measures mentions them: %s", b)
	}
}

func TestBadMeasures(t *testing.T) {
	cases := []struct {
		from, to string
		contains []string
	}{
		{"[trace, top_k, keskar]", "[trace, hessian]", []string{"m.yaml:7:", "curvature.measures[1]", `"hessian"`, "unknown measure"}},
		{"[trace, top_k, keskar]", "[trace, trace, top_k, keskar]", []string{"curvature.measures[1]", "twice"}},
		{"[trace, top_k, keskar]", "[]", []string{"curvature.measures", "empty list"}},
		{"{k: 3,", "{k: 0,", []string{"m.yaml:8:", "curvature.top_k.k = 0", "must be > 0"}},
		{"{k: 3,", "{k: 500,", []string{"m.yaml:8:", "curvature.top_k.k = 500", "≤ P = 172"}},
		{"tol: 1e-6}", "tol: 0}", []string{"curvature.top_k.tol = 0"}},
		{"tol: 1e-6}", "tol: -1e-6}", []string{"curvature.top_k.tol = -1e-6", "finite and > 0"}},
		{"budget: 40}", "budget: 0}", []string{"m.yaml:9:", "curvature.trace.budget = 0"}},
		{"method: hutchinson", "method: exact", []string{"curvature.trace.method = \"exact\"", "unknown trace estimator"}},
		{"method: hutchinson", "method: 3", []string{"curvature.trace.method = 3", "expected a string"}},
		{"[1e-3, 5e-4]", "[1e-3, 1e-3]", []string{"m.yaml:10:", "curvature.keskar.epsilons[1]", "duplicate"}},
		{"[1e-3, 5e-4]", "[1e-3, 0]", []string{"curvature.keskar.epsilons[1] = 0"}},
		{"[1e-3, 5e-4]", "[1, 2, 3, 4, 5]", []string{"curvature.keskar.epsilons", "at most 4"}},
		{"iterations: 5}", "iterations: 5, subspace: 1000}", []string{"curvature.keskar.subspace = 1000", "≤ P"}},
		{"iterations: 5}", "iterationz: 5}", []string{"curvature.keskar.iterationz", "unknown field"}},
		{"  top_k:", "  density: {runs: 2}\n  top_k:", []string{"curvature.density", "not in curvature.measures"}},
	}
	for _, tc := range cases {
		if !strings.Contains(measuresSweep, tc.from) {
			t.Fatalf("%q not in the sweep", tc.from)
		}
		_, err := Parse([]byte(strings.Replace(measuresSweep, tc.from, tc.to, 1)), "m.yaml")
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s → %s: %v", tc.from, tc.to, err)
			continue
		}
		for _, c := range tc.contains {
			if !strings.Contains(err.Error(), c) {
				t.Errorf("%s → %s: %q lacks %q", tc.from, tc.to, err, c)
			}
		}
	}
}
