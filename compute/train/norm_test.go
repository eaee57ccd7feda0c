package train_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
)

// bnSetup is setup with batch normalization and dropout 0.3.
func bnSetup(t *testing.T) (*nn.Network, []float64, data.Set, data.Set) {
	t.Helper()
	tr, te, err := data.Synthetic(data.SyntheticConfig{N: 200, NTest: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.NewMLPWith(tr.Features, []int{32, 16}, tr.Classes, nn.ActReLU, nn.Options{BatchNorm: true, Dropout: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	theta := make([]float64, net.NumParams())
	net.Init(theta, rand.New(rand.NewPCG(1, 1)))
	return net, theta, tr, te
}

// TestBatchNormDropoutTraining: training with batch normalization and
// dropout is bit-for-bit reproducible for the same MaskSeed and differs for
// another; it updates the running statistics once per update (the batch
// count buffer equals Steps); the reported metrics are those of evaluation
// mode with the final running statistics (Workspace.Loss of
// net.WithBuffers(Result.Buffers), bit for bit); probes see the running
// statistics of their point; with SAM, only the first gradient of an update
// updates them.
func TestBatchNormDropoutTraining(t *testing.T) {
	net, theta0, tr, te := bnSetup(t)
	run := func(seed uint64, sam train.SAM, probe *train.Probe) ([]float64, train.Result) {
		theta := slices.Clone(theta0)
		res, err := train.Train(context.Background(), net, theta, tr, te, train.Config{
			BatchSize: 20, LR: 0.05, Epochs: 3, Rng: rand.New(rand.NewPCG(2, 2)),
			MaskSeed: seed, SAM: sam, Probe: probe, Optimizer: train.Optimizer{Momentum: 0.9}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return theta, res
	}
	a, ra := run(5, train.SAM{}, nil)
	b, rb := run(5, train.SAM{}, nil)
	c, _ := run(6, train.SAM{}, nil)
	if !slices.Equal(a, b) || !slices.Equal(ra.Buffers, rb.Buffers) || ra.Final != rb.Final {
		t.Fatal("two runs with the same MaskSeed differ")
	}
	if slices.Equal(a, c) {
		t.Error("runs with different MaskSeeds give the same parameters")
	}
	if ra.Diverged || ra.Steps != 30 {
		t.Fatalf("diverged %t, %d steps", ra.Diverged, ra.Steps)
	}
	if n := len(ra.Buffers); n != net.NumBuffers() || ra.Buffers[2*32] != 30 || ra.Buffers[n-1] != 30 {
		t.Errorf("buffers of length %d (want %d), batch counts %v and %v (want 30)",
			n, net.NumBuffers(), ra.Buffers[2*32], ra.Buffers[n-1])
	}
	if first, last := ra.Curve[0].TrainLoss, ra.Final.TrainLoss; !(last < first) {
		t.Errorf("training loss did not decrease: %v → %v", first, last)
	}
	enet, err := net.WithBuffers(ra.Buffers)
	if err != nil {
		t.Fatal(err)
	}
	ws := enet.NewWorkspace(512)
	l, acc := ws.Loss(a, tr.X, tr.Y)
	if l != ra.Final.TrainLoss || acc != ra.Final.TrainAcc {
		t.Errorf("final metrics %v, %v; evaluation mode at the final statistics %v, %v",
			ra.Final.TrainLoss, ra.Final.TrainAcc, l, acc)
	}
	// Probes: at the initialization the statistics are fresh; at the end
	// they are the final ones.
	var first, last []float64
	probe := &train.Probe{Every: 1, Func: func(_ context.Context, at train.ProbePoint, _ []float64) error {
		if at.Step == 0 {
			first = slices.Clone(at.Buffers)
		}
		last = slices.Clone(at.Buffers)
		return nil
	}}
	p, rp := run(5, train.SAM{}, probe)
	if !slices.Equal(p, a) || !slices.Equal(last, rp.Buffers) || !slices.Equal(first, net.Buffers()) {
		t.Errorf("probe buffers: first %v…, last equals final %t; parameters equal %t",
			first[:2], slices.Equal(last, rp.Buffers), slices.Equal(p, a))
	}
	// SAM: two gradients per update, one update of the statistics.
	_, rs := run(5, train.SAM{Rho: 0.05}, nil)
	if rs.Gradients != 60 || rs.Buffers[2*32] != 30 {
		t.Errorf("SAM: %d gradients, batch count %v (want 60 and 30)", rs.Gradients, rs.Buffers[2*32])
	}
}

// TestBatchNormSWA: with SWA the running statistics are recomputed at
// θ_swa (update_bn): for the first BatchNorm, whose input z is the first
// Dense layer's output at θ_swa, the running mean and variance are the
// means over the ⌊N/B⌋ consecutive batches of the batch means and unbiased
// batch variances of z (closed form, relative error ≤ 1e-12), the batch
// count is ⌊N/B⌋, and the final metrics are evaluation-mode metrics with
// those statistics.
func TestBatchNormSWA(t *testing.T) {
	net, theta, tr, te := bnSetup(t)
	const B = 20
	res, err := train.Train(context.Background(), net, theta, tr, te, train.Config{
		BatchSize: B, LR: 0.05, Epochs: 3, Rng: rand.New(rand.NewPCG(2, 2)), MaskSeed: 4,
		SWA: train.SWA{Start: 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Averaged != 2 {
		t.Fatalf("averaged %d iterates, want 2", res.Averaged)
	}
	const h = 32 // the first hidden width
	n := tr.Len()
	J := n / B
	z := make([]float64, n*h)
	net.NewWorkspace(n).LayerForward(0, theta, tr.X, z)
	mean, vari := make([]float64, h), make([]float64, h)
	for j := range J {
		for c := range h {
			var s, ss float64
			for i := j * B; i < (j+1)*B; i++ {
				s += z[i*h+c]
			}
			m := s / B
			for i := j * B; i < (j+1)*B; i++ {
				ss += (z[i*h+c] - m) * (z[i*h+c] - m)
			}
			mean[c] += m / float64(J)
			vari[c] += ss / (B - 1) / float64(J)
		}
	}
	got := res.Buffers
	for c := range h {
		if math.Abs(got[c]-mean[c]) > 1e-12*math.Abs(mean[c]) || math.Abs(got[h+c]-vari[c]) > 1e-12*vari[c] {
			t.Fatalf("channel %d: running mean, variance %v, %v; want %v, %v", c, got[c], got[h+c], mean[c], vari[c])
		}
	}
	if got[2*h] != float64(J) {
		t.Errorf("batch count %v, want %d", got[2*h], J)
	}
	enet, err := net.WithBuffers(got)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := enet.NewWorkspace(512).Loss(theta, tr.X, tr.Y); l != res.Final.TrainLoss {
		t.Errorf("final train loss %v, evaluation mode at θ_swa with the recomputed statistics %v", res.Final.TrainLoss, l)
	}
}
