package train_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
)

func setup(t *testing.T) (*nn.Network, []float64, data.Set, data.Set) {
	t.Helper()
	tr, te, err := data.Synthetic(data.SyntheticConfig{N: 200, NTest: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.NewMLP(tr.Features, []int{32}, tr.Classes, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	theta := make([]float64, net.NumParams())
	net.Init(theta, rand.New(rand.NewPCG(1, 1)))
	return net, theta, tr, te
}

// TestSGD: the training loss decreases, ⌊N/B⌋ steps per epoch, one progress
// call per epoch.
func TestSGD(t *testing.T) {
	net, theta, tr, te := setup(t)
	var seen []int
	res, err := train.SGD(context.Background(), net, theta, tr, te,
		train.Config{BatchSize: 30, LR: 0.1, Epochs: 5, Rng: rand.New(rand.NewPCG(2, 2))},
		func(m train.Metrics) { seen = append(seen, m.Epoch) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 5*(200/30) || len(res.Curve) != 5 || len(seen) != 5 || seen[4] != 5 || res.Diverged {
		t.Fatalf("steps %d, curve %d, progress %v, diverged %v", res.Steps, len(res.Curve), seen, res.Diverged)
	}
	if first, last := res.Curve[0].TrainLoss, res.Final.TrainLoss; !(last < first) {
		t.Errorf("training loss did not decrease: %v → %v", first, last)
	}
}

func TestDiverge(t *testing.T) {
	net, theta, tr, te := setup(t)
	res, err := train.SGD(context.Background(), net, theta, tr, te,
		train.Config{BatchSize: 10, LR: 1e200, Epochs: 3, Rng: rand.New(rand.NewPCG(2, 2))}, nil)
	if err != nil || !res.Diverged {
		t.Fatalf("diverged %v, err %v", res.Diverged, err)
	}
	if res.Final.Epoch != 0 || len(res.Curve) != 0 {
		t.Errorf("final metrics of epoch %d, curve %d", res.Final.Epoch, len(res.Curve))
	}
}

func TestCancel(t *testing.T) {
	net, theta, tr, te := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	res, err := train.SGD(ctx, net, theta, tr, te,
		train.Config{BatchSize: 10, LR: 0.1, Epochs: 1000, Rng: rand.New(rand.NewPCG(2, 2))},
		func(m train.Metrics) {
			if m.Epoch == 2 {
				cancel()
			}
		})
	if !errors.Is(err, context.Canceled) || len(res.Curve) != 2 {
		t.Fatalf("err %v, curve %d", err, len(res.Curve))
	}
}

func TestInvalid(t *testing.T) {
	net, theta, tr, te := setup(t)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, c := range []train.Config{
		{BatchSize: 0, LR: 1, Epochs: 1, Rng: rng},
		{BatchSize: 201, LR: 1, Epochs: 1, Rng: rng},
		{BatchSize: 1, LR: -1, Epochs: 1, Rng: rng},
		{BatchSize: 1, LR: 1, Epochs: 0, Rng: rng},
		{BatchSize: 1, LR: 1, Epochs: 1},
	} {
		if _, err := train.SGD(context.Background(), net, theta, tr, te, c, nil); !errors.Is(err, train.ErrConfig) {
			t.Errorf("%+v: err = %v", c, err)
		}
	}
}
