package train_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/train"
)

// TestProbe: probes run at the initialization, at every interval (epochs or
// updates) and at the end, see θ as it is then, report the learning rate of
// the next update, and end training with their error; a probe leaves the
// run bit-identical to one without.
func TestProbe(t *testing.T) {
	net, theta0, tr, te := setup(t)
	// N = 200, B = 30: 6 updates per epoch; a step decay ×0.5 after epoch 2.
	cfg := func(p *train.Probe) train.Config {
		return train.Config{BatchSize: 30, LR: 0.1, Epochs: 5, Rng: rand.New(rand.NewPCG(2, 2)), Probe: p,
			LRSchedule: train.LRSchedule{Kind: train.LRStep, Milestones: []int{2}, Gamma: 0.5}}
	}
	plain := slices.Clone(theta0)
	want, err := train.Train(context.Background(), net, plain, tr, te, cfg(nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		probe train.Probe
		steps []int
		lrs   []float64
	}{
		{"every 2 epochs", train.Probe{Every: 2}, []int{0, 12, 24, 30}, []float64{0.1, 0.05, 0.05, 0.05}},
		{"every epoch", train.Probe{Every: 1}, []int{0, 6, 12, 18, 24, 30}, []float64{0.1, 0.1, 0.05, 0.05, 0.05, 0.05}},
		{"every 7 updates", train.Probe{Every: 7, Steps: true}, []int{0, 7, 14, 21, 28, 30}, []float64{0.1, 0.1, 0.05, 0.05, 0.05, 0.05}},
		{"every 10 updates", train.Probe{Every: 10, Steps: true}, []int{0, 10, 20, 30}, []float64{0.1, 0.1, 0.05, 0.05}},
	} {
		theta := slices.Clone(theta0)
		var steps []int
		var lrs []float64
		var final []bool
		var norms []float64
		c.probe.Func = func(_ context.Context, at train.ProbePoint, th []float64) error {
			steps, lrs, final = append(steps, at.Step), append(lrs, at.LR), append(final, at.Final)
			norms = append(norms, th[0])
			return nil
		}
		got, err := train.Train(context.Background(), net, theta, tr, te, cfg(&c.probe), nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(steps, c.steps) || !slices.Equal(lrs, c.lrs) {
			t.Errorf("%s: probes at steps %v with lr %v, want %v with %v", c.name, steps, lrs, c.steps, c.lrs)
		}
		if !final[len(final)-1] || slices.Contains(final[:len(final)-1], true) {
			t.Errorf("%s: final flags %v, want only the last", c.name, final)
		}
		if norms[0] != theta0[0] || norms[len(norms)-1] != theta[0] {
			t.Errorf("%s: probes saw θ₀[0] = %v and θ[0] = %v, want %v and %v", c.name, norms[0], norms[len(norms)-1], theta0[0], theta[0])
		}
		if !slices.Equal(theta, plain) || got.Steps != want.Steps {
			t.Errorf("%s: probing changed the run", c.name)
		}
	}
	boom := errors.New("boom")
	p := &train.Probe{Every: 1, Func: func(_ context.Context, at train.ProbePoint, _ []float64) error {
		if at.Step == 12 {
			return boom
		}
		return nil
	}}
	res, err := train.Train(context.Background(), net, slices.Clone(theta0), tr, te, cfg(p), nil)
	if !errors.Is(err, boom) || res.Steps != 12 {
		t.Errorf("probe error: %v after %d steps, want boom after 12", err, res.Steps)
	}
	if _, err := train.Train(context.Background(), net, slices.Clone(theta0), tr, te, cfg(&train.Probe{Every: 0, Func: p.Func}), nil); !errors.Is(err, train.ErrConfig) {
		t.Errorf("probe every 0: %v, want ErrConfig", err)
	}
}
