package curvature_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"gonum.org/v1/gonum/mat"
)

// oracleEigen returns the ascending eigenvalues of a by gonum's dense EigenSym.
func oracleEigen(t *testing.T, a *mat.Dense) []float64 {
	t.Helper()
	n, _ := a.Dims()
	s := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			s.SetSym(i, j, a.At(i, j))
		}
	}
	var es mat.EigenSym
	if !es.Factorize(s, false) {
		t.Fatal("EigenSym failed")
	}
	return es.Values(nil)
}

// testSpectrum is a spectrum with a decaying top and a negative tail, like a
// Hessian away from a minimum.
func testSpectrum(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	lambda := make([]float64, n)
	for i := range lambda {
		lambda[i] = rng.Float64()*2 - 0.5
	}
	copy(lambda, []float64{40, 25, 18, 12, 9, 7, -6, -4.5, -3.8})
	return lambda
}

// TestTopK: the k largest and the k most negative eigenvalues to 1e-8
// relative of the dense oracle, explicit residuals ≤ tol·|λ|.
func TestTopK(t *testing.T) {
	n := 150
	op, a := spectral(t, testSpectrum(n, 1), 21)
	want := oracleEigen(t, a)
	for _, c := range []struct {
		name  string
		which curvature.Which
		want  []float64
	}{
		{"top", curvature.LargestAlgebraic, []float64{want[n-1], want[n-2], want[n-3], want[n-4], want[n-5]}},
		{"negative", curvature.SmallestAlgebraic, want[:3]},
		{"magnitude", curvature.LargestMagnitude, []float64{want[n-1], want[n-2], want[n-3], want[n-4], want[n-5], want[n-6], want[0]}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tol := 1e-9
			res, err := curvature.LanczosTopK(context.Background(), n, op, start(n, 5),
				curvature.TopKSettings{K: len(c.want), Steps: n, Tol: tol, Which: c.which, Vectors: true, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if !res.Converged || len(res.Eigen) != len(c.want) {
				t.Fatalf("converged %v with %d values", res.Converged, len(res.Eigen))
			}
			worst := 0.0
			for i, e := range res.Eigen {
				rel := math.Abs(e.Value-c.want[i]) / math.Abs(c.want[i])
				worst = max(worst, rel)
				if rel > 1e-8 {
					t.Errorf("λ_%d = %v, want %v (relative %.2g)", i+1, e.Value, c.want[i], rel)
				}
				checkPair(t, a, e, tol)
			}
			if res.Products != res.Steps+len(c.want) {
				t.Errorf("products %d, steps %d", res.Products, res.Steps)
			}
			t.Logf("%s: %d steps, worst relative error %.2g", c.name, res.Steps, worst)
		})
	}
}

// TestTopKDegenerate: a double eigenvalue is found twice only with Restart.
func TestTopKDegenerate(t *testing.T) {
	n := 40
	lambda := make([]float64, n)
	for i := range lambda {
		lambda[i] = float64(i) / float64(n)
	}
	lambda[0], lambda[1], lambda[2] = 5, 5, 3 // 5 twice
	op, _ := spectral(t, lambda, 2)
	res, err := curvature.LanczosTopK(context.Background(), n, op, start(n, 1),
		curvature.TopKSettings{K: 3, Steps: 3 * n, Tol: 1e-10, Restart: rand.New(rand.NewPCG(1, 1))})
	if err != nil {
		t.Fatal(err)
	}
	got := []float64{res.Eigen[0].Value, res.Eigen[1].Value, res.Eigen[2].Value}
	for i, w := range []float64{5, 5, 3} {
		if math.Abs(got[i]-w) > 1e-9 {
			t.Errorf("got %v, want [5 5 3] (restarts %d)", got, res.Restarts)
		}
	}
}

func TestTopKInvalid(t *testing.T) {
	ctx := context.Background()
	op := func(dst, v []float64) { copy(dst, v) }
	s := []float64{1, 2, 3}
	for name, c := range map[string]curvature.TopKSettings{
		"k zero":     {K: 0, Steps: 3, Tol: 1e-3},
		"k > n":      {K: 4, Steps: 3, Tol: 1e-3},
		"steps zero": {K: 1, Steps: 0, Tol: 1e-3},
		"tol zero":   {K: 1, Steps: 3, Tol: 0},
		"tol NaN":    {K: 1, Steps: 3, Tol: math.NaN()},
		"which":      {K: 1, Steps: 3, Tol: 1e-3, Which: 9},
	} {
		if _, err := curvature.LanczosTopK(ctx, 3, op, s, c); !errors.Is(err, curvature.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := curvature.LanczosTopK(cctx, 3, op, s, curvature.TopKSettings{K: 1, Steps: 3, Tol: 1e-3}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

// TestPowerIteration: PyHessian's deflated power iteration finds the top
// eigenvalues of a well-separated spectrum; it is deterministic in the seed.
func TestPowerIteration(t *testing.T) {
	n := 80
	lambda := make([]float64, n)
	for i := range lambda {
		lambda[i] = float64(i) / float64(n)
	}
	copy(lambda, []float64{20, 10, 5})
	op, _ := spectral(t, lambda, 4)
	run := func() curvature.PowerResult {
		res, err := curvature.PowerIteration(context.Background(), n, op, rand.New(rand.NewPCG(3, 3)),
			curvature.DefaultPowerSettings(3))
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run()
	for i, w := range []float64{20, 10, 5} {
		e := res.Eigen[i]
		if math.Abs(e.Value-w) > 1e-2*w || !e.Converged {
			t.Errorf("λ_%d = %v (converged %v), want %v", i+1, e.Value, e.Converged, w)
		}
	}
	again := run()
	for i := range res.Eigen {
		if res.Eigen[i].Value != again.Eigen[i].Value || !slices.Equal(res.Eigen[i].Vector, again.Eigen[i].Vector) {
			t.Errorf("pair %d not deterministic", i+1)
		}
	}
	t.Logf("power iteration: %d products", res.Products)
	if _, err := curvature.PowerIteration(context.Background(), n, op, rand.New(rand.NewPCG(1, 1)),
		curvature.PowerSettings{K: 1, MaxIter: 0, Tol: 1e-3}); !errors.Is(err, curvature.ErrInvalid) {
		t.Errorf("max iterations 0: err = %v", err)
	}
}
