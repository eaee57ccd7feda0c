package train_test

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
	"gonum.org/v1/gonum/floats"
)

// BenchmarkTrainStep is one SGD step (gather a batch of 128 rows, loss and
// gradient, update) on a 64-256-256-10 ReLU MLP, as in SGD's inner loop.
func BenchmarkTrainStep(b *testing.B) {
	const n, d, B = 4096, 64, 128
	net, err := nn.NewMLP(d, []int{256, 256}, 10, nn.ActReLU)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	theta := make([]float64, net.NumParams())
	net.Init(theta, rng)
	x := make([]float64, n*d)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(10)
	}
	perm := rng.Perm(n)
	ws := net.NewWorkspace(B)
	grad := make([]float64, len(theta))
	xb, yb := make([]float64, B*d), make([]int, B)
	b.ReportAllocs()
	lo := 0
	for b.Loop() {
		if lo+B > n {
			lo = 0
		}
		for j, i := range perm[lo : lo+B] {
			copy(xb[j*d:(j+1)*d], x[i*d:(i+1)*d])
			yb[j] = y[i]
		}
		ws.LossGrad(grad, theta, xb, yb)
		floats.AddScaled(theta, -1e-3, grad)
		lo += B
	}
}

// BenchmarkTrainPrecision is train.Train in float64 and in float32 on the
// reference network (784-512-512-512-10 ReLU MLP, cross-entropy, plain SGD
// at B = 128) for 4 epochs of 16 updates over 2,048 random examples, with
// its two float64 evaluations of the training and the 16 test examples (at
// the start and the end, eval_every 4) included. Every iteration runs both,
// float64 first, so that they see the same load; it reports each one's
// median training examples per second (4·2,048 per run) and the median of
// the per-iteration ratios float32/float64 (the speed-up).
func BenchmarkTrainPrecision(b *testing.B) {
	const n, d, B = 2048, 784, 128
	net, err := nn.NewMLP(d, []int{512, 512, 512}, 10, nn.ActReLU)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	theta0 := make([]float64, net.NumParams())
	net.Init(theta0, rng)
	set := func(n int) data.Set {
		s := data.Set{X: make([]float64, n*d), Y: make([]int, n), Features: d, Classes: 10}
		for i := range s.X {
			s.X[i] = rng.Float64()
		}
		for i := range s.Y {
			s.Y[i] = rng.IntN(10)
		}
		return s
	}
	tr, te := set(n), set(16)
	theta := make([]float64, len(theta0))
	run := func(p train.Precision) float64 {
		copy(theta, theta0)
		t0 := time.Now()
		if _, err := train.Train(context.Background(), net, theta, tr, te, train.Config{
			BatchSize: B, LR: 0.01, Epochs: 4, EvalEvery: 4, Rng: rand.New(rand.NewPCG(1, 1)), Precision: p,
		}, nil); err != nil {
			b.Fatal(err)
		}
		return time.Since(t0).Seconds()
	}
	var t64, t32, ratio []float64
	for b.Loop() {
		a, c := run(train.Float64), run(train.Float32)
		t64, t32, ratio = append(t64, a), append(t32, c), append(ratio, a/c)
	}
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(4*n/median(t64), "f64-examples/s")
	b.ReportMetric(4*n/median(t32), "f32-examples/s")
	b.ReportMetric(median(ratio), "f32/f64")
}
