package train_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/train"
)

// TestKeepPartial: with KeepPartial an epoch of N = 200 examples at B = 30
// takes ⌈200/30⌉ = 7 updates, the last on the 20 examples left over, and the
// parameters equal a hand-unrolled run of plain SGD over the same
// permutations bit for bit; without it the epoch takes 6.
func TestKeepPartial(t *testing.T) {
	net, theta0, tr, te := setup(t)
	const b, lr, epochs = 30, 0.1, 2
	got := slices.Clone(theta0)
	res, err := train.Train(context.Background(), net, got, tr, te,
		train.Config{BatchSize: b, LR: lr, Epochs: epochs, Rng: rand.New(rand.NewPCG(2, 2)), KeepPartial: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != epochs*7 || res.Curve[0].Step != 7 {
		t.Fatalf("%d steps (%d in the first epoch), want %d (7)", res.Steps, res.Curve[0].Step, epochs*7)
	}
	// By hand: the same shuffles, batches of 30 and a last one of 20.
	want := slices.Clone(theta0)
	rng := rand.New(rand.NewPCG(2, 2))
	n, d := tr.Len(), tr.Features
	ws := net.NewWorkspace(n)
	grad := make([]float64, len(want))
	perm := make([]int, n)
	for range epochs {
		for i := range perm {
			perm[i] = i
		}
		rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		for lo := 0; lo < n; lo += b {
			idx := perm[lo:min(lo+b, n)]
			x, y := make([]float64, 0, len(idx)*d), make([]int, 0, len(idx))
			for _, i := range idx {
				x, y = append(x, tr.Row(i)...), append(y, tr.Y[i])
			}
			ws.LossGrad(grad, want, x, y)
			for i := range want {
				want[i] -= lr * grad[i]
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Error("kept partial batches differ from the hand-unrolled run")
	}
	drop, err := train.Train(context.Background(), net, slices.Clone(theta0), tr, te,
		train.Config{BatchSize: b, LR: lr, Epochs: epochs, Rng: rand.New(rand.NewPCG(2, 2))}, nil)
	if err != nil || drop.Steps != epochs*6 {
		t.Errorf("dropping: %d steps, want %d (%v)", drop.Steps, epochs*6, err)
	}
}

// TestEvalEvery: evaluating every third epoch (and the last) leaves
// training unchanged and gives exactly those epochs of the full curve.
func TestEvalEvery(t *testing.T) {
	net, theta0, tr, te := setup(t)
	cfg := func(every int) train.Config {
		return train.Config{BatchSize: 20, LR: 0.1, Epochs: 10, Rng: rand.New(rand.NewPCG(3, 3)), EvalEvery: every}
	}
	a, b := slices.Clone(theta0), slices.Clone(theta0)
	full, err := train.Train(context.Background(), net, a, tr, te, cfg(0), nil)
	if err != nil {
		t.Fatal(err)
	}
	var seen []int
	sparse, err := train.Train(context.Background(), net, b, tr, te, cfg(3), func(m train.Metrics) { seen = append(seen, m.Epoch) })
	if err != nil {
		t.Fatal(err)
	}
	want := []train.Metrics{full.Curve[2], full.Curve[5], full.Curve[8], full.Curve[9]}
	if !slices.Equal(sparse.Curve, want) || !slices.Equal(seen, []int{3, 6, 9, 10}) || !slices.Equal(a, b) || sparse.Final != full.Final {
		t.Errorf("evaluated epochs %v, curve equal %v, θ equal %v", seen, slices.Equal(sparse.Curve, want), slices.Equal(a, b))
	}
}

// TestKeepPartialEpochs: a step budget counts the kept partial batches when
// it works out how many epochs it runs: 60 updates at N = 200, B = 30 are 9
// epochs of 7 (the last partial), so SWA may start at epoch 9 but not 10.
func TestKeepPartialEpochs(t *testing.T) {
	net, theta0, tr, te := setup(t)
	cfg := func(start int) train.Config {
		return train.Config{BatchSize: 30, LR: 0.1, Steps: 60, Rng: rand.New(rand.NewPCG(2, 2)), KeepPartial: true, SWA: train.SWA{Start: start}}
	}
	res, err := train.Train(context.Background(), net, slices.Clone(theta0), tr, te, cfg(9), nil)
	if err != nil || res.Averaged != 1 || len(res.Curve) != 9 {
		t.Errorf("SWA from epoch 9 of 9: %v, %d iterates averaged over %d epochs", err, res.Averaged, len(res.Curve))
	}
	if _, err := train.Train(context.Background(), net, slices.Clone(theta0), tr, te, cfg(10), nil); !errors.Is(err, train.ErrConfig) {
		t.Errorf("SWA from epoch 10 of 9: %v, want ErrConfig", err)
	}
}
