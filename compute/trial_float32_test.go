package compute_test

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/spec"
)

// TestRunTrialFloat32 runs a trial of the demo sweep (embedded synthetic
// task) with precision float32 and float64: the float32 run trains to a
// final training loss within 1e-4 (relative) of the float64 one and a λ₁
// within 1e-3 (Lanczos to tol 1e-3), its weights are float32 values, its
// metrics are the float64 evaluation of them, and a repeat gives a
// bit-identical result. Writing "float64" out keeps the trial's ID (in
// canonical form, Trial.Resolved); "float32" changes it.
func TestRunTrialFloat32(t *testing.T) {
	base := demoSpec()
	base.Epochs = 10
	f32 := base
	f32.Precision = spec.PrecisionFloat32
	r64, _, err := compute.Run(context.Background(), base, nil)
	if err != nil {
		t.Fatal(err)
	}
	r32, tr32, err := compute.Run(context.Background(), f32, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("training loss %.12g (float32), %.12g (float64); λ₁ %.10g, %.10g", r32.TrainLoss, r64.TrainLoss, r32.LambdaMax, r64.LambdaMax)
	if r32.Diverged || math.Abs(r32.TrainLoss-r64.TrainLoss) > 1e-4*r64.TrainLoss {
		t.Errorf("final training loss %v in float32, %v in float64", r32.TrainLoss, r64.TrainLoss)
	}
	if !(r32.TrainLoss < 0.7*r32.Curve[0].TrainLoss) {
		t.Errorf("float32 run did not train: %v → %v", r32.Curve[0].TrainLoss, r32.TrainLoss)
	}
	if math.Abs(r32.LambdaMax-r64.LambdaMax) > 1e-3*r64.LambdaMax {
		t.Errorf("λ₁ %v in float32, %v in float64", r32.LambdaMax, r64.LambdaMax)
	}
	for i, x := range tr32.Theta {
		if float64(float32(x)) != x {
			t.Fatalf("θ[%d] = %v is not a float32 value", i, x)
		}
	}
	again, _, err := compute.Run(context.Background(), f32, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again.WithoutTimes(), r32.WithoutTimes()) {
		t.Errorf("repeat of the float32 trial differs")
	}
	written := base
	written.Precision = spec.PrecisionFloat64
	id0, id64, id32 := spec.ID(base.Resolved()), spec.ID(written.Resolved()), spec.ID(f32.Resolved())
	if id64 != id0 || id32 == id0 {
		t.Errorf("IDs: default %s, float64 written %s, float32 %s", id0, id64, id32)
	}
}
