package sweeps

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
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
	c := Expand(s)[0].Spec.Curvature
	if c.Examples != 64 || c.LanczosSteps != spec.DefaultLanczosSteps || c.Tol != spec.DefaultTol ||
		c.Measures.String() != "top_k,trace,keskar" {
		t.Errorf("curvature %+v", c)
	}
	want := map[string]any{
		"top_k":  spec.TopKSettings{K: 3, Negative: 1, Tol: 1e-6},
		"trace":  spec.TraceSettings{Method: spec.TraceHutchinson, Budget: 40},
		"keskar": spec.KeskarSettings{Iterations: 5}, // default epsilons normalized away
	}
	for name, w := range want {
		if got, _ := c.Measures.Settings(name); !reflect.DeepEqual(got, w) {
			t.Errorf("%s settings %+v, want %+v", name, got, w)
		}
	}
	reordered := strings.Replace(measuresSweep, "[trace, top_k, keskar]", "[keskar, top_k, trace]", 1)
	reordered = strings.Replace(reordered, "iterations: 5}", "iterations: 5, space: both}", 1)
	s2, err := Parse([]byte(reordered), "m2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := Expand(s)[0].ID, Expand(s2)[0].ID; a != b {
		t.Errorf("IDs differ: %s vs %s", a, b)
	}
	none := strings.Replace(measuresSweep, "  measures: [trace, top_k, keskar]\n  top_k: {k: 3, negative: 1, tol: 1e-6}\n  trace: {method: hutchinson, budget: 40}\n  keskar: {epsilons: [1e-3, 5e-4], iterations: 5}\n", "", 1)
	s3, err := Parse([]byte(none), "m3.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := spec.Canonical(Expand(s3)[0].Spec)
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
		{"method: hutchinson", "method: exact", []string{"curvature.trace.method = \"exact\"", `expected "hutchpp", "hutchinson" or "krylov"`}},
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

// dinhSweep is measuresSweep with Dinh's check on (curvature.dinh at line 11).
var dinhSweep = strings.Replace(measuresSweep, "grid:", "  dinh: {alpha: 10, layer: 0}\ngrid:", 1)

// TestDinhSection parses curvature.dinh: the setting reaches the trial spec,
// a written-out layer 0 keeps the ID, and the check changes the ID.
func TestDinhSection(t *testing.T) {
	s, err := Parse([]byte(dinhSweep), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sp := Expand(s)[0].Spec
	if d := sp.Curvature.Dinh; d != (spec.Dinh{Alpha: 10}) {
		t.Errorf("dinh = %+v", d)
	}
	if err := sp.Validate(); err != nil {
		t.Error(err)
	}
	s2, err := Parse([]byte(strings.Replace(dinhSweep, "{alpha: 10, layer: 0}", "{alpha: 10}", 1)), "d2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s3, err := Parse([]byte(measuresSweep), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := Expand(s)[0].ID, Expand(s2)[0].ID; a != b {
		t.Errorf("layer: 0 written out changes the ID: %s vs %s", a, b)
	}
	if a, b := Expand(s)[0].ID, Expand(s3)[0].ID; a == b {
		t.Error("the check does not change the ID")
	}
	b, _ := spec.Canonical(Expand(s)[0].Spec)
	if !strings.Contains(string(b), `"dinh":{"alpha":10}`) {
		t.Errorf("canonical form %s", b)
	}
	b, _ = spec.Canonical(Expand(s3)[0].Spec)
	if strings.Contains(string(b), "dinh") {
		t.Errorf("canonical form without the check mentions it: %s", b)
	}
}

func TestBadDinh(t *testing.T) {
	const from = "{alpha: 10, layer: 0}"
	cases := []struct {
		to       string
		contains []string
	}{
		{"{alpha: 1}", []string{"d.yaml:11:", "curvature.dinh.alpha = 1", "differ from 1"}},
		{"{alpha: 0}", []string{"d.yaml:11:", "curvature.dinh.alpha = 0", "finite and > 0"}},
		{"{alpha: -3}", []string{"curvature.dinh.alpha = -3", "finite and > 0"}},
		{"{alpha: .inf}", []string{"curvature.dinh.alpha = .inf", "finite"}},
		{"{alpha: .nan}", []string{"curvature.dinh.alpha = .nan", "finite"}},
		{`{alpha: "ten"}`, []string{"curvature.dinh.alpha", "expected a number"}},
		{"{layer: 0}", []string{"curvature.dinh.alpha", "required field is missing"}},
		{"{}", []string{"curvature.dinh.alpha", "required field is missing"}},
		{"{alpha: 10, layer: -1}", []string{"d.yaml:11:", "curvature.dinh.layer = -1", "≥ 0"}},
		{"{alpha: 10, layer: 1}", []string{"d.yaml:11:", "curvature.dinh.layer = 1", "[0, 0]", "1 Dense–ReLU–Dense pairs"}},
		{"{alpha: 10, beta: 2}", []string{"curvature.dinh.beta", "unknown field"}},
		{"10", []string{"curvature.dinh = 10", "expected a mapping"}},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(strings.Replace(dinhSweep, from, tc.to, 1)), "d.yaml")
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", tc.to, err)
			continue
		}
		for _, c := range tc.contains {
			if !strings.Contains(err.Error(), c) {
				t.Errorf("%s: %q lacks %q", tc.to, err, c)
			}
		}
	}
	tanh := strings.Replace(dinhSweep, "hidden: [8]}", "hidden: [8], activation: tanh}", 1)
	_, err := Parse([]byte(tanh), "d.yaml")
	for _, c := range []string{"d.yaml:11:", "curvature.dinh = {…}", "no Dense–ReLU–Dense pair"} {
		if err == nil || !strings.Contains(err.Error(), c) {
			t.Errorf("tanh model: %v lacks %q", err, c)
		}
	}
}

// landscapeSweep is measuresSweep with a loss landscape (curvature.landscape
// at line 11).
var landscapeSweep = strings.Replace(measuresSweep, "grid:", "  landscape: {dims: 2, points: 5, extent: 0.5}\ngrid:", 1)

// TestLandscapeSection parses curvature.landscape: the settings reach the
// trial spec, defaults written out keep the ID, the block changes it, and
// bad values (a grid of zero or negative extent among them) are errors
// naming the file, line and field.
func TestLandscapeSection(t *testing.T) {
	s, err := Parse([]byte(landscapeSweep), "l.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sp := Expand(s)[0].Spec
	if l := sp.Curvature.Landscape; l != (spec.LandscapeSettings{Dims: 2, Points: 5, Extent: 0.5}) {
		t.Errorf("landscape = %+v", l)
	}
	same, err := Parse([]byte(strings.Replace(landscapeSweep, "extent: 0.5}", "extent: 0.5, bias: zero}", 1)), "l.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Parse([]byte(measuresSweep), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := Expand(s)[0].ID, Expand(same)[0].ID; a != b {
		t.Errorf("defaults written out change the ID: %s vs %s", a, b)
	}
	// A value is checked as written, default or not: the default 1000
	// examples written out on a training set of 128 is an error, as 999 is.
	for _, m := range []string{"1000", "999"} {
		_, err := Parse([]byte(strings.Replace(landscapeSweep, "extent: 0.5}", "extent: 0.5, examples: "+m+"}", 1)), "l.yaml")
		if err == nil || !strings.Contains(err.Error(), "curvature.landscape.examples = "+m) {
			t.Errorf("examples %s on 128 training examples: %v", m, err)
		}
	}
	if a, b := Expand(s)[0].ID, Expand(plain)[0].ID; a == b {
		t.Error("the landscape does not change the ID")
	}
	const from = "{dims: 2, points: 5, extent: 0.5}"
	for _, tc := range []struct {
		to       string
		contains []string
	}{
		{"{dims: 2, extent: 0}", []string{"l.yaml:11:", "curvature.landscape.extent = 0", "zero extent"}},
		{"{dims: 2, extent: -1}", []string{"l.yaml:11:", "curvature.landscape.extent = -1", "zero or negative extent"}},
		{"{dims: 2, extent: .nan}", []string{"curvature.landscape.extent", "finite"}},
		{"{dims: 3}", []string{"curvature.landscape.dims = 3", "1 or 2"}},
		{"{dims: 0}", []string{"curvature.landscape.dims = 0", "1 or 2"}},
		{"{points: 5}", []string{"curvature.landscape.dims", "required field is missing"}},
		{"{}", []string{"curvature.landscape.dims", "required field is missing"}},
		{"{dims: 1, points: 1}", []string{"curvature.landscape.points = 1"}},
		{"{dims: 1, points: 0}", []string{"curvature.landscape.points = 0"}},
		{"{dims: 1, bias: some}", []string{`curvature.landscape.bias = "some"`}},
		{"{dims: 1, size: 3}", []string{"curvature.landscape.size", "unknown field"}},
	} {
		_, err := Parse([]byte(strings.Replace(landscapeSweep, from, tc.to, 1)), "l.yaml")
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", tc.to, err)
			continue
		}
		for _, c := range tc.contains {
			if !strings.Contains(err.Error(), c) {
				t.Errorf("%s: %q lacks %q", tc.to, err, c)
			}
		}
	}
}
