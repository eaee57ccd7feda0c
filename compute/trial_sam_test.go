package compute_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/spec"
)

// TestSAMSWATrial: a trial with ASAM, m-sharpness, momentum, weight decay
// and SWA runs deterministically, counts two gradients per update, and
// reports final metrics at θ_swa (not the last iterate's); a plain trial
// counts one gradient per update and reports its last epoch.
func TestSAMSWATrial(t *testing.T) {
	plain := smallSpec() // N = 256, B = 32: 8 updates per epoch, 3 epochs
	p, err := compute.RunTrial(context.Background(), plain, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Steps != 24 || p.Gradients != 24 || p.TrainLoss != p.Curve[len(p.Curve)-1].TrainLoss {
		t.Errorf("plain: %d steps, %d gradients, final loss %v, last epoch %+v", p.Steps, p.Gradients, p.TrainLoss, p.Curve[len(p.Curve)-1])
	}
	s := smallSpec()
	s.Optimizer.Momentum, s.WeightDecay = 0.9, 1e-3
	s.SAM, s.SWA = spec.SAM{Rho: 0.5, Adaptive: true, M: 8}, spec.SWA{Start: 2}
	a, err := compute.RunTrial(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := compute.RunTrial(context.Background(), s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.WithoutTimes(), b.WithoutTimes()) {
		t.Fatalf("results differ:\n%+v\n%+v", a, b)
	}
	last := a.Curve[len(a.Curve)-1]
	if a.Steps != 24 || a.Gradients != 48 || a.Diverged || len(a.Curve) != 3 || a.TrainLoss == last.TrainLoss ||
		a.LambdaMax == p.LambdaMax || !(a.LambdaMax > 0) {
		t.Errorf("sam+swa: %d steps, %d gradients, final loss %v, last epoch %+v, λ₁ %v (plain %v)",
			a.Steps, a.Gradients, a.TrainLoss, last, a.LambdaMax, p.LambdaMax)
	}
}

// TestSAMInputErrors: bad sam and swa settings are input errors naming the
// field, before any data is read.
func TestSAMInputErrors(t *testing.T) {
	for field, mutate := range map[string]func(*spec.Trial){
		"sam.rho":   func(s *spec.Trial) { s.SAM.Rho = -1 },
		"sam.m":     func(s *spec.Trial) { s.SAM = spec.SAM{Rho: 0.05, M: 5} },
		"swa.start": func(s *spec.Trial) { s.SWA.Start = 4 },
	} {
		s := smallSpec()
		mutate(&s)
		_, err := compute.RunTrial(context.Background(), s, nil)
		var fe *spec.FieldError
		if !errors.As(err, &fe) || fe.Field != field || !compute.IsInputError(err) {
			t.Errorf("%s: err %v", field, err)
		}
	}
}
