package lbfgsb_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/flatness/lbfgsb"
)

// BenchmarkLargeBox times the solver's own work (the objective is cheap) at
// the size of the keskar-f1 network, n = 669,706, on the box [−1, 1]^n with
// f(x) = cᵀx + ½ Σ_j α_j (v_jᵀx)², a linear term and a few convex directions:
// with KeepScale and a small θ₀ (as KeskarSharpness runs it) every Cauchy
// point passes all n breakpoints and the pairs along the convex directions
// are stored, so the later iterations carry up to 10 pairs. Run it with
//
//	go test -run '^$' -bench LargeBox -benchtime 3x ./compute/flatness/lbfgsb/
func BenchmarkLargeBox(b *testing.B) {
	const n, q = 669706, 4
	rng := rand.New(rand.NewPCG(1, 1))
	c := make([]float64, n)
	v := make([][]float64, q)
	for i := range c {
		c[i] = rng.NormFloat64()
	}
	for j := range v {
		v[j] = make([]float64, n)
		for i := range v[j] {
			v[j][i] = rng.NormFloat64() / math.Sqrt(n)
		}
	}
	f := func(g, x []float64) float64 {
		copy(g, c)
		var s float64
		for i := range x {
			s += c[i] * x[i]
		}
		for j := range v {
			var vx float64
			for i := range x {
				vx += v[j][i] * x[i]
			}
			a := 100 * float64(j+1)
			s += a * vx * vx / 2
			for i := range g {
				g[i] += a * vx * v[j][i]
			}
		}
		return s
	}
	l, u := make([]float64, n), make([]float64, n)
	for i := range l {
		l[i], u[i] = -1, 1
	}
	var res lbfgsb.Result
	for range b.N {
		var err error
		res, err = lbfgsb.Minimize(context.Background(), f, make([]float64, n), l, u, lbfgsb.Settings{
			MaxIterations: 20, KeepScale: true,
			Scale0: func(g []float64) float64 { return 0x1p-26 * projNorm(g) },
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Iterations), "iterations")
	b.ReportMetric(float64(res.Updates), "pairs")
	b.ReportMetric(float64(res.Evaluations), "evals")
}
