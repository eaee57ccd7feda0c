package train_test

import (
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
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
