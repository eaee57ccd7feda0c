package flatness_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/flatness"
	"github.com/flatsweep/flatsweep/compute/nn"
)

// quad is the oracle of L(θ) = ½ Σ a_i θ_i² (diagonal A).
type quad struct{ a []float64 }

func (q quad) Dim() int { return len(q.a) }

func (q quad) Loss(theta []float64) float64 {
	var s float64
	for i, t := range theta {
		s += q.a[i] * t * t / 2
	}
	return s
}

func (q quad) Grad(dst, theta []float64) float64 {
	for i, t := range theta {
		dst[i] = q.a[i] * t
	}
	return q.Loss(theta)
}

func (q quad) HVP(dst, _, v []float64) {
	for i, x := range v {
		dst[i] = q.a[i] * x
	}
}

// tinyNet returns a ReLU MLP in-h…-out, a random θ, random data and its
// oracle.
func tinyNet(t *testing.T, in int, hidden []int, out, n int, seed uint64) (*nn.Network, []float64, *flatness.NetOracle) {
	t.Helper()
	net, err := nn.NewMLP(in, hidden, out, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	theta := make([]float64, net.NumParams())
	net.Init(theta, rng)
	for i := range theta {
		theta[i] += 0.1 * rng.NormFloat64() // nonzero biases
	}
	x := make([]float64, n*in)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(out)
	}
	o, err := flatness.NewNetOracle(net, x, y, 16)
	if err != nil {
		t.Fatal(err)
	}
	return net, theta, o
}

// denseHessian builds ∇²L(θ) column by column from Hessian-vector products.
func denseHessian(o flatness.Oracle, theta []float64) [][]float64 {
	p := len(theta)
	h := make([][]float64, p)
	e := make([]float64, p)
	for j := range h {
		h[j] = make([]float64, p)
		e[j] = 1
		o.HVP(h[j], theta, e)
		e[j] = 0
	}
	return h
}

func relDiff(a, b float64) float64 {
	d := a - b
	if d < 0 {
		d = -d
	}
	s := max(abs(a), abs(b))
	if s == 0 {
		return 0
	}
	return d / s
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

// trainedNet returns a ReLU MLP trained by full-batch gradient descent to
// high training accuracy on a learnable task (labels = argmax of a random
// linear map of x).
func trainedNet(t *testing.T, in, hidden, out, n int, seed uint64) (*nn.Network, []float64, *flatness.NetOracle) {
	t.Helper()
	net, err := nn.NewMLP(in, []int{hidden}, out, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 2))
	theta := make([]float64, net.NumParams())
	net.Init(theta, rng)
	w := make([]float64, in*out)
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	x := make([]float64, n*in)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		best := math.Inf(-1)
		for c := 0; c < out; c++ {
			var s float64
			for j := 0; j < in; j++ {
				x[i*in+j] = rng.NormFloat64()
			}
			for j := 0; j < in; j++ {
				s += w[c*in+j] * x[i*in+j]
			}
			if s > best {
				best, y[i] = s, c
			}
		}
	}
	o, err := flatness.NewNetOracle(net, x, y, 64)
	if err != nil {
		t.Fatal(err)
	}
	g := make([]float64, len(theta))
	for it := 0; it < 500; it++ {
		o.Grad(g, theta)
		for i := range theta {
			theta[i] -= 0.5 * g[i]
		}
	}
	return net, theta, o
}
