package sweeps

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAppendJSONFloat checks the float encoding against encoding/json on
// edge values (the thresholds of the exponent form, subnormals, extremes)
// and on 100,000 seeded random bit patterns.
func TestAppendJSONFloat(t *testing.T) {
	vals := []float64{0, 1, -1, 0.1, 1e-6, 9.999999999999999e-7, 1e-7, 1e20, 1e21, 9.999999999999999e20,
		123456.789, 5e-324, math.MaxFloat64, -math.SmallestNonzeroFloat64, 1e-100, 2.5e-9, 1e100, 3}
	r := rand.New(rand.NewPCG(1, 2))
	for len(vals) < 100_000 {
		f := math.Float64frombits(r.Uint64())
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			vals = append(vals, f)
		}
	}
	for _, f := range vals {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendJSONFloat(nil, f); string(got) != string(want) {
			t.Fatalf("%v: got %s, encoding/json gives %s", f, got, want)
		}
	}
}

// TestSpecTemplateAppend checks that a template with spliced values gives
// the canonical JSON of every trial of a grid with unusual values.
func TestSpecTemplateAppend(t *testing.T) {
	s, err := Parse(reference(), "reference.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := s.Expand()[0].Spec
	tmpl, ok := NewSpecTemplate(base)
	if !ok {
		t.Fatal("the reference spec has no template")
	}
	for _, b := range []int{1, 16, 1 << 40} {
		for _, lr := range []float64{1e-7, 0.05, 3, 1e21, 123456.789, 2.5e-9} {
			for _, seed := range []int64{-5, 0, 9007199254740993, math.MaxInt64} {
				spec := base
				spec.BatchSize, spec.LR, spec.Seed = b, lr, seed
				want, err := CanonicalTrial(spec)
				if err != nil {
					t.Fatal(err)
				}
				if got := tmpl.Append(nil, b, lr, seed); string(got) != string(want) {
					t.Fatalf("B=%d lr=%v seed=%d:\n got %s\nwant %s", b, lr, seed, got, want)
				}
			}
		}
	}
}
