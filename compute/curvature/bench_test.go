package curvature_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/nn"
)

// mlpHessian returns the Hessian operator of a 20-32-32-5 ReLU MLP (P = 1893)
// at its seeded initialization over 256 seeded examples.
func mlpHessian(tb testing.TB) (int, curvature.Operator) {
	tb.Helper()
	net, err := nn.NewMLP(20, []int{32, 32}, 5, nn.ActReLU)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	theta := make([]float64, net.NumParams())
	net.Init(theta, rng)
	n := 256
	x := make([]float64, n*20)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	y := make([]int, n)
	for i := range y {
		if x[i*20] > 0 {
			y[i] = 1 + rng.IntN(4)
		}
	}
	h := nn.NewHessian(net, theta, x, y, 256)
	return h.Dim(), h.Apply
}

// BenchmarkTop5 compares the products, time and accuracy of Lanczos top-5
// (residual tolerance 1e-4) with PyHessian's power iteration with
// Gram–Schmidt deflation (relative-change tolerance 1e-3, at most 100
// iterations per pair) on a small MLP Hessian. maxrelerr is the largest
// relative error of the five values against a tight Lanczos reference
// (tolerance 1e-10).
func BenchmarkTop5(b *testing.B) {
	n, op := mlpHessian(b)
	ctx := context.Background()
	ref, err := curvature.LanczosTopK(ctx, n, op, start(n, 99), curvature.TopKSettings{K: 5, Steps: 400, Tol: 1e-10})
	if err != nil || !ref.Converged {
		b.Fatalf("reference: %v (converged %v)", err, ref.Converged)
	}
	relErr := func(vals []float64) float64 {
		worst := 0.0
		for i, v := range vals {
			worst = max(worst, math.Abs(v-ref.Eigen[i].Value)/math.Abs(ref.Eigen[i].Value))
		}
		return worst
	}
	b.Run("lanczos", func(b *testing.B) {
		var res curvature.TopKResult
		for b.Loop() {
			res, err = curvature.LanczosTopK(ctx, n, op, start(n, 1), curvature.TopKSettings{K: 5, Steps: 400, Tol: 1e-4})
			if err != nil {
				b.Fatal(err)
			}
		}
		vals := make([]float64, 5)
		for i, e := range res.Eigen {
			vals[i] = e.Value
		}
		b.ReportMetric(float64(res.Products), "products")
		b.ReportMetric(relErr(vals), "maxrelerr")
	})
	b.Run("power", func(b *testing.B) {
		var res curvature.PowerResult
		for b.Loop() {
			res, err = curvature.PowerIteration(ctx, n, op, rand.New(rand.NewPCG(1, 1)), curvature.DefaultPowerSettings(5))
			if err != nil {
				b.Fatal(err)
			}
		}
		vals := make([]float64, 5)
		for i, e := range res.Eigen {
			vals[i] = e.Value
		}
		b.ReportMetric(float64(res.Products), "products")
		b.ReportMetric(relErr(vals), "maxrelerr")
	})
}
