package compute

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

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

// TestDinhCheckInTrial runs a trial with Dinh's check: T_α preserves the
// outputs, λ₁ and the trace change, adaptive sharpness and the Fisher–Rao
// norm do not, the values at θ are those of a run without the check, and
// the result is deterministic.
func TestDinhCheckInTrial(t *testing.T) {
	ts := dinhSpec()
	ctx := context.Background()
	res, err := RunTrial(ctx, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Measures
	t.Logf("measures: %v", m)
	if c, ok := m[spec.MeasureDinhOutputChange]; !ok || c > 1e-12 {
		t.Errorf("dinh_output_change = %v, %v; want ≤ 1e-12", c, ok)
	}
	for _, name := range []string{"lambda_1", "lambda_2", "trace"} {
		a, b := m[name], m[name+spec.DinhSuffix]
		if _, ok := m[name+spec.DinhSuffix]; !ok || math.Abs(b-a) <= 1e-3*math.Abs(a) {
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
		a, b := m[c.name], m[c.name+spec.DinhSuffix]
		if _, ok := m[c.name+spec.DinhSuffix]; !ok || math.Abs(b-a) > c.tol*math.Abs(a) {
			t.Errorf("%s = %v, %s@dinh = %v: relative change %.3g > %g", c.name, a, c.name, b, math.Abs(b-a)/math.Abs(a), c.tol)
		}
	}
	for name := range m {
		if name == spec.MeasureDinhOutputChange || strings.HasSuffix(name, spec.DinhSuffix) {
			continue
		}
		if _, ok := m[name+spec.DinhSuffix]; !ok {
			t.Errorf("%s has no %s counterpart", name, spec.DinhSuffix)
		}
	}
	if res.Density == nil {
		t.Error("density missing")
	}

	plain := ts
	plain.Curvature.Dinh = spec.Dinh{}
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
	again, err := RunTrial(ctx, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.WithoutTimes(), again.WithoutTimes()) {
		t.Error("two runs of the same spec differ")
	}
}

// TestDinhWithoutMeasures checks that the check alone adds λ₁ at T_α θ and
// the output change.
func TestDinhWithoutMeasures(t *testing.T) {
	ts := dinhSpec()
	ts.Curvature = spec.Curvature{LanczosSteps: 20, Dinh: spec.Dinh{Alpha: 0.25}}
	res, err := RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Measures) != 2 || res.Measures[spec.MeasureDinhOutputChange] > 1e-12 {
		t.Errorf("measures %v", res.Measures)
	}
	if _, ok := res.Measures["lambda_max@dinh"]; !ok {
		t.Errorf("lambda_max@dinh missing: %v", res.Measures)
	}
}

// TestDinhDiverged checks that a diverged run skips the check.
func TestDinhDiverged(t *testing.T) {
	ts := dinhSpec()
	ts.LR = 1e200
	res, err := RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Diverged || res.Measures != nil {
		t.Errorf("diverged %v, measures %v", res.Diverged, res.Measures)
	}
}
