package train_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/train"
)

// TestTarget: a run with a fit target stops after the first epoch whose
// training metrics meet every given target — its curve and parameters are
// the full run's up to that epoch — and says so; an unreachable target
// runs the whole budget and says it was not reached; a bad target is a
// configuration error.
func TestTarget(t *testing.T) {
	net, theta0, tr, te := setup(t)
	cfg := func(target train.Target) train.Config {
		return train.Config{BatchSize: 20, LR: 0.1, Epochs: 30, Rng: rand.New(rand.NewPCG(2, 2)), Target: target}
	}
	full, err := train.Train(context.Background(), net, slices.Clone(theta0), tr, te, cfg(train.Target{}), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Targets between the first and the last epoch's values.
	lossTarget := (full.Curve[0].TrainLoss + full.Final.TrainLoss) / 2
	accTarget := full.Curve[len(full.Curve)/2].TrainAcc
	for _, c := range []struct {
		name   string
		target train.Target
	}{
		{"loss", train.Target{TrainLoss: lossTarget}},
		{"accuracy", train.Target{TrainAcc: accTarget}},
		{"both", train.Target{TrainLoss: lossTarget, TrainAcc: accTarget}},
	} {
		want := slices.IndexFunc(full.Curve, func(m train.Metrics) bool {
			return (c.target.TrainLoss == 0 || m.TrainLoss <= c.target.TrainLoss) && (c.target.TrainAcc == 0 || m.TrainAcc >= c.target.TrainAcc)
		})
		if want < 0 || want == len(full.Curve)-1 {
			t.Fatalf("%s: the full run meets the target at epoch index %d of %d: not a test of stopping early", c.name, want, len(full.Curve))
		}
		theta := slices.Clone(theta0)
		got, err := train.Train(context.Background(), net, theta, tr, te, cfg(c.target), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !got.TargetReached || len(got.Curve) != want+1 || got.Steps != full.Curve[want].Step || !slices.Equal(got.Curve, full.Curve[:want+1]) {
			t.Errorf("%s: reached %v after %d epochs and %d steps, want after %d epochs and %d steps", c.name, got.TargetReached,
				len(got.Curve), got.Steps, want+1, full.Curve[want].Step)
		}
	}
	never, err := train.Train(context.Background(), net, slices.Clone(theta0), tr, te, cfg(train.Target{TrainLoss: 1e-300}), nil)
	if err != nil || never.TargetReached || never.Steps != full.Steps {
		t.Errorf("unreachable target: reached %v after %d steps (budget %d), err %v", never.TargetReached, never.Steps, full.Steps, err)
	}
	if full.TargetReached {
		t.Error("a run without a target reports one reached")
	}
	if _, err := train.Train(context.Background(), net, slices.Clone(theta0), tr, te, cfg(train.Target{TrainAcc: 2}), nil); !errors.Is(err, train.ErrConfig) {
		t.Errorf("accuracy target 2: %v, want ErrConfig", err)
	}
}
