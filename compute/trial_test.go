package compute_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/spec"
)

// smallSpec is a quick trial (fast under -race too).
func smallSpec() spec.Trial {
	return spec.Trial{
		Dataset:   spec.Dataset{Name: "synthetic", N: 256, NTest: 128, LabelNoise: 0.2, Seed: 3},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{16, 16}, Activation: "relu"},
		BatchSize: 32, LR: 0.1, Epochs: 3, Seed: 11,
		Curvature: spec.Curvature{Examples: 100, LanczosSteps: 10},
	}
}

// demoSpec is one trial of the demo sweep.
func demoSpec() spec.Trial {
	return spec.Trial{
		Dataset:   spec.Dataset{Name: "synthetic", N: 1024, NTest: 1024, LabelNoise: 0.2, Seed: 1},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{64, 64}, Activation: "relu"},
		BatchSize: 16, LR: 0.1, Epochs: 30, Seed: 1,
		Curvature: spec.Curvature{Examples: 512, LanczosSteps: 20, Tol: 1e-3},
	}
}

func TestRunTrial(t *testing.T) {
	var progress []spec.EpochMetrics
	res, err := compute.RunTrial(context.Background(), smallSpec(), func(m spec.EpochMetrics) {
		progress = append(progress, m)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Diverged || len(res.Curve) != 3 || !reflect.DeepEqual(progress, res.Curve) {
		t.Fatalf("diverged %v, curve %v, progress %v", res.Diverged, res.Curve, progress)
	}
	if want := 16*16 + 16 + 16*16 + 16 + 16*4 + 4; res.Params != want {
		t.Errorf("Params = %d, want %d", res.Params, want)
	}
	last := res.Curve[2]
	if res.TrainLoss != last.TrainLoss || res.TestAcc != last.TestAcc || last.Epoch != 3 {
		t.Errorf("final metrics %+v differ from last epoch %+v", res, last)
	}
	if !(res.LambdaMax > 0) || res.HVPs < 2 || res.HVPs > 11 {
		t.Errorf("λ₁ = %v with %d products", res.LambdaMax, res.HVPs)
	}
	if res.LambdaConverged != (res.LambdaResidual <= 1e-3*res.LambdaMax) {
		t.Errorf("converged %v but residual %v, λ %v", res.LambdaConverged, res.LambdaResidual, res.LambdaMax)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Error(err)
	}
}

// TestDeterminism: two runs of the same spec give bitwise identical results.
func TestDeterminism(t *testing.T) {
	ts := smallSpec()
	ts.Curvature = spec.Curvature{} // whole training set, defaults
	a, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a.WithoutTimes(), b.WithoutTimes()) || math.Float64bits(a.LambdaMax) != math.Float64bits(b.LambdaMax) {
		t.Fatalf("results differ:\n%+v\n%+v", a, b)
	}
	ts.Seed++
	c, _ := compute.RunTrial(context.Background(), ts, nil)
	if c.TrainLoss == a.TrainLoss {
		t.Error("a different seed gives the same training loss")
	}
}

// TestCancel: cancelling during training returns promptly with an error
// wrapping context.Canceled; a cancelled context stops before any work.
func TestCancel(t *testing.T) {
	ts := smallSpec()
	ts.Epochs = 100000
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel()
	}()
	start := time.Now()
	_, err := compute.RunTrial(ctx, ts, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("returned %v after start (cancelled at 50ms)", d)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := compute.RunTrial(ctx2, smallSpec(), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("pre-cancelled: err = %v", err)
	}
}

// TestDiverge: a huge learning rate diverges; that is a result, not an error,
// the curvature and the landscape are skipped, and the result stays
// JSON-encodable.
func TestDiverge(t *testing.T) {
	ts := smallSpec()
	ts.LR = 1e200
	ts.Curvature.Landscape = spec.LandscapeSettings{Dims: 1, Points: 3}
	res, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Diverged || res.HVPs != 0 || res.LambdaMax != 0 || res.Landscape != nil {
		t.Fatalf("diverged %v, HVPs %d, λ %v", res.Diverged, res.HVPs, res.LambdaMax)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Errorf("diverged result not encodable: %v", err)
	}
}

// TestRunTrialValidates: RunTrial rejects an invalid spec with the error of
// spec.Trial.Validate, before any work. (The checks themselves are tested in
// package spec.)
func TestRunTrialValidates(t *testing.T) {
	for _, c := range []struct {
		field  string
		mutate func(*spec.Trial)
	}{
		{"dataset.name", func(s *spec.Trial) { s.Dataset.Name = "imagenet" }},
		{"dataset.n_test", func(s *spec.Trial) { s.Dataset.NTest = math.MaxInt }},
		{"dataset.label_noise", func(s *spec.Trial) { s.Dataset.LabelNoise = math.NaN() }},
		{"model.arch", func(s *spec.Trial) { s.Model.Arch = "cnn" }},
		{"model.hidden[1]", func(s *spec.Trial) { s.Model.Hidden = []int{4, 0} }},
		{"model.hidden", func(s *spec.Trial) { s.Model.Hidden = []int{65536, 65536, 65536} }},
		{"batch_size", func(s *spec.Trial) { s.BatchSize = 257 }},
		{"lr", func(s *spec.Trial) { s.LR = math.NaN() }},
		{"epochs", func(s *spec.Trial) { s.Epochs = 0 }},
		{"curvature.examples", func(s *spec.Trial) { s.Curvature.Examples = 257 }},
		{"curvature.tol", func(s *spec.Trial) { s.Curvature.Tol = -1e-3 }},
		{"curvature.top_k.k", func(s *spec.Trial) { s.Curvature.Measures = spec.MeasuresOf(spec.TopKSettings{K: 10000}) }},
	} {
		s := smallSpec()
		c.mutate(&s)
		err := s.Validate()
		var fe *spec.FieldError
		if !errors.Is(err, spec.ErrInvalid) || !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(err.Error(), c.field+" = ") {
			t.Errorf("%s: err = %v", c.field, err)
			continue
		}
		if _, err2 := compute.RunTrial(context.Background(), s, nil); err2 == nil || err2.Error() != err.Error() || !errors.Is(err2, spec.ErrInvalid) {
			t.Errorf("%s: RunTrial err = %v", c.field, err2)
		}
	}
}

// TestDemoTrial runs one demo-sized trial and reports its time (skipped with
// -short and under the race detector's slowdown it is still only seconds).
func TestDemoTrial(t *testing.T) {
	if testing.Short() {
		t.Skip("demo-sized trial")
	}
	start := time.Now()
	res, err := compute.RunTrial(context.Background(), demoSpec(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("demo trial: %v; train acc %.3f, test acc %.3f, λ₁ %.4g (residual %.2g, converged %v, %d HVPs), P=%d",
		time.Since(start), res.TrainAcc, res.TestAcc, res.LambdaMax, res.LambdaResidual, res.LambdaConverged, res.HVPs, res.Params)
}

// BenchmarkTrial is one demo-sized trial.
func BenchmarkTrial(b *testing.B) {
	for b.Loop() {
		if _, err := compute.RunTrial(context.Background(), demoSpec(), nil); err != nil {
			b.Fatal(err)
		}
	}
}
