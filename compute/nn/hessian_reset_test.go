package nn

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHessianReset: a Hessian moved to new parameters with Reset gives
// products bitwise identical to a new Hessian there, for one cached chunk
// and for several, and counts its products from 0 again.
func TestHessianReset(t *testing.T) {
	net, err := NewMLP(5, []int{7, 6}, 3, ActTanh)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	p, n := net.NumParams(), 40
	x, y := make([]float64, n*5), make([]int, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	for i := range y {
		y[i] = rng.IntN(3)
	}
	th0, th1, v := make([]float64, p), make([]float64, p), make([]float64, p)
	net.Init(th0, rng)
	net.Init(th1, rng)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	for _, rows := range []int{64, 16} {
		h := NewHessian(net, th0, x, y, rows)
		a, b := make([]float64, p), make([]float64, p)
		h.Apply(a, v)
		h.Reset(th1)
		if h.Products() != 0 {
			t.Errorf("rows %d: %d products after Reset", rows, h.Products())
		}
		h.Apply(a, v)
		NewHessian(net, th1, x, y, rows).Apply(b, v)
		if !slices.Equal(a, b) {
			t.Errorf("rows %d: product after Reset differs from a new Hessian's", rows)
		}
	}
}
