package compute

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

// dinhSpec is a small synthetic trial with Dinh's check on the second
// Dense–ReLU–Dense pair of a two-hidden-layer mlp.
func dinhSpec() TrialSpec {
	return TrialSpec{
		Dataset:   DatasetSpec{Name: "synthetic", N: 96, NTest: 32, Features: 4, Classes: 3, Seed: 5},
		Model:     ModelSpec{Arch: "mlp", Hidden: []int{6, 5}, Activation: "relu"},
		BatchSize: 16, LR: 0.1, Epochs: 4, Seed: 7,
		Curvature: CurvatureSpec{
			LanczosSteps: 30, Tol: 1e-8,
			Measures: MeasureTopK | MeasureTrace | MeasureDensity | MeasureAdaptive | MeasureFisherRao,
			TopK:     TopKSpec{K: 2, Tol: 1e-8, Steps: 80},
			Trace:    TraceSpec{Budget: 30},
			Density:  DensitySpec{Runs: 2, Steps: 8},
			Adaptive: AdaptiveSpec{Iterations: 3, Samples: 4},
			Dinh:     DinhSpec{Alpha: 10, Layer: 1},
		},
	}
}

// TestDinhCheckInTrial runs a trial with Dinh's check: T_α preserves the
// outputs, λ₁ and the trace change, adaptive sharpness and the Fisher–Rao
// norm do not, the values at θ are those of a run without the check, and
// the result is deterministic.
func TestDinhCheckInTrial(t *testing.T) {
	spec := dinhSpec()
	ctx := context.Background()
	res, err := RunTrial(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Measures
	t.Logf("measures: %v", m)
	if c, ok := m[MeasureDinhOutputChange]; !ok || c > 1e-12 {
		t.Errorf("dinh_output_change = %v, %v; want ≤ 1e-12", c, ok)
	}
	for _, name := range []string{"lambda_1", "lambda_2", "trace"} {
		a, b := m[name], m[name+DinhSuffix]
		if _, ok := m[name+DinhSuffix]; !ok || math.Abs(b-a) <= 1e-3*math.Abs(a) {
			t.Errorf("%s = %v, %s@dinh = %v: want a change", name, a, name, b)
		}
	}
	if a, b := res.LambdaMax, m["lambda_max@dinh"]; math.Abs(b-a) <= 1e-3*math.Abs(a) {
		t.Errorf("lambda_max = %v, lambda_max@dinh = %v: want a change", a, b)
	}
	for _, c := range []struct {
		name string
		tol  float64
	}{{"adaptive_sharpness", 1e-8}, {"adaptive_sharpness_avg", 1e-8}, {"fisher_rao", 1e-10}} {
		a, b := m[c.name], m[c.name+DinhSuffix]
		if _, ok := m[c.name+DinhSuffix]; !ok || math.Abs(b-a) > c.tol*math.Abs(a) {
			t.Errorf("%s = %v, %s@dinh = %v: relative change %.3g > %g", c.name, a, c.name, b, math.Abs(b-a)/math.Abs(a), c.tol)
		}
	}
	for name := range m {
		if name == MeasureDinhOutputChange || strings.HasSuffix(name, DinhSuffix) {
			continue
		}
		if _, ok := m[name+DinhSuffix]; !ok {
			t.Errorf("%s has no %s counterpart", name, DinhSuffix)
		}
	}
	if res.Density == nil {
		t.Error("density missing")
	}

	plain := spec
	plain.Curvature.Dinh = DinhSpec{}
	base, err := RunTrial(ctx, plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if base.LambdaMax != res.LambdaMax || !reflect.DeepEqual(base.Density, res.Density) {
		t.Error("the check changed λ₁ or the density at θ")
	}
	for name, v := range base.Measures {
		if res.Measures[name] != v {
			t.Errorf("%s = %v without the check, %v with it", name, v, res.Measures[name])
		}
	}
	if want := 2*len(base.Measures) + 2; len(res.Measures) != want {
		t.Errorf("%d measures, want %d", len(res.Measures), want)
	}
	again, err := RunTrial(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, again) {
		t.Error("two runs of the same spec differ")
	}
}

// TestDinhWithoutMeasures checks that the check alone adds λ₁ at T_α θ and
// the output change.
func TestDinhWithoutMeasures(t *testing.T) {
	spec := dinhSpec()
	spec.Curvature = CurvatureSpec{LanczosSteps: 20, Dinh: DinhSpec{Alpha: 0.25}}
	res, err := RunTrial(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Measures) != 2 || res.Measures[MeasureDinhOutputChange] > 1e-12 {
		t.Errorf("measures %v", res.Measures)
	}
	if _, ok := res.Measures["lambda_max@dinh"]; !ok {
		t.Errorf("lambda_max@dinh missing: %v", res.Measures)
	}
}

// TestDinhValidation checks the errors for bad α, a bad pair and networks
// without a Dense–ReLU–Dense pair, and that the zero value keeps the
// canonical form.
func TestDinhValidation(t *testing.T) {
	cases := []struct {
		edit     func(*TrialSpec)
		contains []string
	}{
		{func(s *TrialSpec) { s.Curvature.Dinh.Alpha = 1 }, []string{"curvature.dinh.alpha = 1", "identity"}},
		{func(s *TrialSpec) { s.Curvature.Dinh.Alpha = -2 }, []string{"curvature.dinh.alpha = -2", "> 0"}},
		{func(s *TrialSpec) { s.Curvature.Dinh.Alpha = math.Inf(1) }, []string{"curvature.dinh.alpha = +Inf", "finite"}},
		{func(s *TrialSpec) { s.Curvature.Dinh.Alpha = math.NaN() }, []string{"curvature.dinh.alpha = NaN"}},
		{func(s *TrialSpec) { s.Curvature.Dinh = DinhSpec{Layer: 1} }, []string{"curvature.dinh.alpha = 0", "required"}},
		{func(s *TrialSpec) { s.Curvature.Dinh.Layer = -1 }, []string{"curvature.dinh.layer = -1"}},
		{func(s *TrialSpec) { s.Curvature.Dinh.Layer = 2 }, []string{"curvature.dinh.layer = 2", "[0, 1]", "2 Dense–ReLU–Dense pairs"}},
		{func(s *TrialSpec) { s.Model.Activation = "tanh" }, []string{"curvature.dinh = {alpha: 10, layer: 1}", "no Dense–ReLU–Dense pair"}},
		{func(s *TrialSpec) {
			s.Model = ModelSpec{Arch: "resmlp", Width: 4, Blocks: 1, Activation: "relu"}
			s.Curvature.Dinh.Layer = 0
		}, []string{"curvature.dinh", "no Dense–ReLU–Dense pair"}},
	}
	for i, tc := range cases {
		s := dinhSpec()
		tc.edit(&s)
		err := s.Validate()
		var se *SpecError
		if !errors.As(err, &se) || !errors.Is(err, ErrInvalidSpec) {
			t.Errorf("case %d: %v", i, err)
			continue
		}
		for _, c := range tc.contains {
			if !strings.Contains(err.Error(), c) {
				t.Errorf("case %d: %q lacks %q", i, err, c)
			}
		}
	}
	ok := dinhSpec()
	ok.Model = ModelSpec{Arch: "resmlp", Width: 4, Activation: "relu"}
	ok.Curvature.Dinh.Layer = 0
	if err := ok.Validate(); err != nil {
		t.Errorf("resmlp without blocks: %v", err)
	}
	s := dinhSpec()
	s.Curvature.Dinh = DinhSpec{}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "dinh") {
		t.Errorf("canonical form without the check mentions it: %s", b)
	}
}

// TestDinhDiverged checks that a diverged run skips the check.
func TestDinhDiverged(t *testing.T) {
	spec := dinhSpec()
	spec.LR = 1e200
	res, err := RunTrial(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Diverged || res.Measures != nil {
		t.Errorf("diverged %v, measures %v", res.Diverged, res.Measures)
	}
}
