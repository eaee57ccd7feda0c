package train_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
)

// isFloat32 reports whether every entry of v is a float32 value.
func isFloat32(v []float64) bool {
	for _, x := range v {
		if float64(float32(x)) != x {
			return false
		}
	}
	return true
}

// TestFloat32NearFloat64 trains the MLP of setup on the synthetic task in
// float32 and in float64 from the same (float32-rounded) initialization
// with every update rule, and checks that the float32 run reaches a final
// training loss within 1e-4 (relative) of the float64 one (differences of
// about 1e-7 are seen on both backends: float32 rounding perturbs each step
// by that much and the runs do not drift apart), with its parameters float32
// values and its metrics the float64 evaluation of them.
func TestFloat32NearFloat64(t *testing.T) {
	net, theta0, tr, te := setup(t)
	for i, x := range theta0 {
		theta0[i] = float64(float32(x))
	}
	for name, opt := range map[string]train.Optimizer{
		"sgd":      {},
		"momentum": {Momentum: 0.9},
		"nesterov": {Momentum: 0.9, Nesterov: true},
		"adam":     {Kind: train.KindAdam},
	} {
		lr := 0.05
		if opt.Kind == train.KindAdam {
			lr = 0.003
		}
		run := func(p train.Precision) (train.Result, []float64) {
			theta := slices.Clone(theta0)
			res, err := train.Train(context.Background(), net, theta, tr, te, train.Config{
				BatchSize: 20, LR: lr, Epochs: 15, Rng: rand.New(rand.NewPCG(2, 2)), Optimizer: opt, Precision: p,
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return res, theta
		}
		r64, _ := run(train.Float64)
		r32, th32 := run(train.Float32)
		l64, l32 := r64.Final.TrainLoss, r32.Final.TrainLoss
		if r32.Diverged || !(l32 < 0.5*r32.Curve[0].TrainLoss) {
			t.Errorf("%s: float32 run did not train: diverged %v, loss %v → %v", name, r32.Diverged, r32.Curve[0].TrainLoss, l32)
		}
		t.Logf("%s: final training loss %.12g in float32, %.12g in float64", name, l32, l64)
		if math.Abs(l32-l64) > 1e-4*l64 {
			t.Errorf("%s: final training loss %v in float32, %v in float64 (more than 1e-4 apart)", name, l32, l64)
		}
		if !isFloat32(th32) {
			t.Errorf("%s: trained θ holds values that are not float32", name)
		}
		l, acc := net.NewWorkspace(train.DefaultEvalRows).Loss(th32, tr.X, tr.Y)
		if l != l32 || acc != r32.Final.TrainAcc {
			t.Errorf("%s: final metrics (%v, %v), float64 evaluation of θ (%v, %v)", name, l32, r32.Final.TrainAcc, l, acc)
		}
	}
}

// TestFloat32Deterministic: two float32 runs of the same configuration
// give bit-identical parameters and curves.
func TestFloat32Deterministic(t *testing.T) {
	net, theta0, tr, te := setup(t)
	wd, err := net.WithWeightDecay(1e-3, true)
	if err != nil {
		t.Fatal(err)
	}
	run := func() (train.Result, []float64) {
		theta := slices.Clone(theta0)
		res, err := train.Train(context.Background(), wd, theta, tr, te, train.Config{
			BatchSize: 32, LR: 0.05, Epochs: 4, Rng: rand.New(rand.NewPCG(3, 3)), Eval: net,
			Optimizer: train.Optimizer{Momentum: 0.9}, Precision: train.Float32, KeepPartial: true,
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res, theta
	}
	ra, ta := run()
	rb, tb := run()
	for i := range ta {
		if math.Float64bits(ta[i]) != math.Float64bits(tb[i]) {
			t.Fatalf("θ[%d] differs between runs: %v vs %v", i, ta[i], tb[i])
		}
	}
	if !slices.Equal(ra.Curve, rb.Curve) {
		t.Errorf("curves differ:\n%v\n%v", ra.Curve, rb.Curve)
	}
}

// TestFloat32ProbeSWA: the probes and the SWA average of a float32 run see
// the float32 parameters, converted to float64.
func TestFloat32ProbeSWA(t *testing.T) {
	net, theta, tr, te := setup(t)
	probes := 0
	res, err := train.Train(context.Background(), net, theta, tr, te, train.Config{
		BatchSize: 20, LR: 0.05, Steps: 45, Rng: rand.New(rand.NewPCG(2, 2)), Precision: train.Float32,
		SWA: train.SWA{Start: 2},
		Probe: &train.Probe{Every: 7, Steps: true, Func: func(_ context.Context, at train.ProbePoint, th []float64) error {
			probes++
			if !at.Final && !isFloat32(th) {
				t.Errorf("probe at step %d: θ is not float32", at.Step)
			}
			return nil
		}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 45 || res.Averaged != 4 || probes != 8 { // steps 0, 7, …, 42 and the end
		t.Errorf("steps %d, averaged %d, probes %d", res.Steps, res.Averaged, probes)
	}
}

// TestFloat32Invalid: float32 training refuses SAM, training-mode layers
// and networks without a float32 path.
func TestFloat32Invalid(t *testing.T) {
	net, theta, tr, te := setup(t)
	bn, err := nn.NewMLPWith(tr.Features, []int{8}, tr.Classes, nn.ActReLU, nn.Options{BatchNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := nn.NewResMLP(tr.Features, 8, 1, tr.Classes, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	base := train.Config{BatchSize: 10, LR: 0.1, Epochs: 1, Rng: rand.New(rand.NewPCG(1, 1)), Precision: train.Float32}
	sam := base
	sam.SAM.Rho = 0.05
	bad := base
	bad.Precision = 7
	for name, c := range map[string]struct {
		net *nn.Network
		cfg train.Config
	}{"sam": {net, sam}, "batchnorm": {bn, base}, "resmlp": {res, base}, "unknown precision": {net, bad}} {
		th := make([]float64, c.net.NumParams())
		if len(th) == len(theta) {
			copy(th, theta)
		}
		if _, err := train.Train(context.Background(), c.net, th, tr, te, c.cfg, nil); !errors.Is(err, train.ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}
