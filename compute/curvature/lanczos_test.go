package curvature_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// spectral returns the operator of A = Q diag(lambda) Qᵀ with a random
// orthogonal Q (QR of a Gaussian matrix) and A itself.
func spectral(t *testing.T, lambda []float64, seed uint64) (curvature.Operator, *mat.Dense) {
	t.Helper()
	n := len(lambda)
	rng := rand.New(rand.NewPCG(seed, 1))
	g := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	var a mat.Dense
	a.Mul(&q, mat.NewDiagDense(n, lambda))
	a.Mul(&a, q.T())
	// Symmetrize exactly.
	for i := 0; i < n; i++ {
		for j := 0; j < i; j++ {
			m := (a.At(i, j) + a.At(j, i)) / 2
			a.Set(i, j, m)
			a.Set(j, i, m)
		}
	}
	return matOp(&a), &a
}

func matOp(a *mat.Dense) curvature.Operator {
	return func(dst, v []float64) {
		d := mat.NewVecDense(len(dst), dst)
		d.MulVec(a, mat.NewVecDense(len(v), v))
	}
}

func start(n int, seed uint64) []float64 {
	s := make([]float64, n)
	curvature.RandomUnit(s, rand.New(rand.NewPCG(seed, 2)))
	return s
}

// checkPair verifies ‖A y − θ y‖ ≤ tol·|θ| and ‖y‖ = 1 explicitly.
func checkPair(t *testing.T, a *mat.Dense, e curvature.Eigen, tol float64) {
	t.Helper()
	ay := make([]float64, len(e.Vector))
	matOp(a)(ay, e.Vector)
	floats.AddScaled(ay, -e.Value, e.Vector)
	if r := floats.Norm(ay, 2); r > tol*math.Abs(e.Value) {
		t.Errorf("explicit residual %.3g > %.3g·|%v|", r, tol, e.Value)
	}
	if nrm := floats.Norm(e.Vector, 2); math.Abs(nrm-1) > 1e-12 {
		t.Errorf("‖y‖ = %v", nrm)
	}
}

// TestKnownSpectrum: λ ∈ {1, …, 100} plus a gap, Q random; the extreme
// eigenvalues must be found to 1e-10 relative within 100 steps.
func TestKnownSpectrum(t *testing.T) {
	n := 100
	lambda := make([]float64, n)
	for i := range lambda {
		lambda[i] = float64(i+1) - 50 // −49 … 50
	}
	lambda[n-1] = 80 // top, gap 31
	lambda[0] = -120 // most negative, largest magnitude
	op, a := spectral(t, lambda, 3)
	for _, c := range []struct {
		name  string
		which curvature.Which
		want  float64
	}{
		{"largest", curvature.LargestAlgebraic, 80},
		{"smallest", curvature.SmallestAlgebraic, -120},
		{"magnitude", curvature.LargestMagnitude, -120},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, err := curvature.Lanczos(context.Background(), n, op, start(n, 4),
				curvature.Settings{Steps: 100, Tol: 1e-10, Which: c.which, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if r := math.Abs(e.Value-c.want) / math.Abs(c.want); r > 1e-10 || !e.Converged {
				t.Errorf("λ = %v (converged %v), want %v: relative %.3g", e.Value, e.Converged, c.want, r)
			}
			if e.Products != e.Steps+1 {
				t.Errorf("Products = %d, Steps = %d", e.Products, e.Steps)
			}
			checkPair(t, a, e, 1e-10)
			t.Logf("%s: %d steps, residual %.2g", c.name, e.Steps, e.Residual)
		})
	}
}

// TestResidualEstimate: without verification the Lanczos estimate |β s_j|
// must agree with the explicit residual (full reorthogonalization).
func TestResidualEstimate(t *testing.T) {
	n := 60
	rng := rand.New(rand.NewPCG(9, 9))
	lambda := make([]float64, n)
	for i := range lambda {
		lambda[i] = rng.Float64()*10 - 2
	}
	op, a := spectral(t, lambda, 5)
	for _, steps := range []int{5, 10, 20} {
		e, err := curvature.Lanczos(context.Background(), n, op, start(n, 1),
			curvature.Settings{Steps: steps, Tol: 0})
		if err != nil {
			t.Fatal(err)
		}
		ay := make([]float64, n)
		matOp(a)(ay, e.Vector)
		floats.AddScaled(ay, -e.Value, e.Vector)
		explicit := floats.Norm(ay, 2)
		if math.Abs(explicit-e.Residual) > 1e-8*max(explicit, 1e-6) {
			t.Errorf("steps %d: estimate %.10g, explicit %.10g", steps, e.Residual, explicit)
		}
		if e.Products != steps {
			t.Errorf("Products = %d, want %d", e.Products, steps)
		}
	}
}

// TestPowerIterationComparison: on a spectrum with a small relative gap,
// Lanczos reaches the residual tolerance 1e-3 in far fewer products than
// power iteration (PyHessian's stopping rule: relative change < 1e-3).
func TestPowerIterationComparison(t *testing.T) {
	n := 200
	lambda := make([]float64, n)
	for i := range lambda {
		lambda[i] = float64(i) / float64(n) // [0, 1)
	}
	lambda[n-1] = 1.05
	op, _ := spectral(t, lambda, 7)
	e, err := curvature.Lanczos(context.Background(), n, op, start(n, 1),
		curvature.Settings{Steps: 100, Tol: 1e-3, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Converged || math.Abs(e.Value-1.05) > 1e-4 {
		t.Fatalf("Lanczos: λ = %v converged %v", e.Value, e.Converged)
	}
	// Power iteration: products until PyHessian's rule stops, and until the
	// Rayleigh quotient is actually within Lanczos's error.
	v := start(n, 1)
	w := make([]float64, n)
	prev, stopK, stopErr, accK := 0.0, 0, 0.0, 0
	lanErr := math.Abs(e.Value - 1.05)
	for k := 1; k <= 5000 && accK == 0; k++ {
		op(w, v)
		lam := floats.Dot(v, w)
		floats.ScaleTo(v, 1/floats.Norm(w, 2), w)
		if stopK == 0 && k > 1 && math.Abs(lam-prev) < 1e-3*math.Abs(prev) {
			stopK, stopErr = k, math.Abs(lam-1.05)
		}
		if math.Abs(lam-1.05) <= lanErr {
			accK = k
		}
		prev = lam
	}
	t.Logf("Lanczos: %d products, λ error %.2g; power iteration: stops after %d products with λ error %.2g, needs %d for error ≤ %.2g",
		e.Products, lanErr, stopK, stopErr, accK, lanErr)
	if accK != 0 && 4*e.Products > accK {
		t.Errorf("Lanczos used %d products, power iteration %d", e.Products, accK)
	}
}

// TestInvariantSubspace covers β ≈ 0: a start vector that is an eigenvector,
// a low-rank operator, and a dimension smaller than the step budget.
func TestInvariantSubspace(t *testing.T) {
	ctx := context.Background()
	t.Run("eigenvector", func(t *testing.T) {
		d := mat.NewDense(4, 4, nil)
		for i, l := range []float64{3, 1, 2, 5} {
			d.Set(i, i, l)
		}
		e, err := curvature.Lanczos(ctx, 4, matOp(d), []float64{0, 0, 0, 2},
			curvature.Settings{Steps: 20, Tol: 1e-12})
		if err != nil {
			t.Fatal(err)
		}
		if e.Value != 5 || e.Steps != 1 || !e.Converged || !slices.Equal(e.Vector, []float64{0, 0, 0, 1}) {
			t.Errorf("got %+v", e)
		}
	})
	t.Run("rank2", func(t *testing.T) {
		n := 30
		lambda := make([]float64, n)
		lambda[3], lambda[17] = 4, -1
		op, a := spectral(t, lambda, 11)
		e, err := curvature.Lanczos(ctx, n, op, start(n, 3), curvature.Settings{Steps: 20, Tol: 1e-10, Verify: true})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(e.Value-4) > 1e-12 || e.Steps > 3 || !e.Converged {
			t.Errorf("λ = %v after %d steps (converged %v)", e.Value, e.Steps, e.Converged)
		}
		checkPair(t, a, e, 1e-10)
	})
	t.Run("zero", func(t *testing.T) {
		op := func(dst, v []float64) { clear(dst) }
		e, err := curvature.Lanczos(ctx, 5, op, start(5, 1), curvature.Settings{Steps: 20, Tol: 1e-3, Verify: true})
		if err != nil || e.Value != 0 || e.Residual != 0 || !e.Converged || e.Steps != 1 {
			t.Errorf("got %+v, %v", e, err)
		}
	})
	t.Run("small dimension", func(t *testing.T) {
		op, _ := spectral(t, []float64{-1, 0.5, 2}, 2)
		e, err := curvature.Lanczos(ctx, 3, op, start(3, 1), curvature.Settings{Steps: 20, Tol: 0})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(e.Value-2) > 1e-13 || e.Steps > 3 {
			t.Errorf("λ = %v after %d steps", e.Value, e.Steps)
		}
	})
}

func TestInvalid(t *testing.T) {
	ctx := context.Background()
	op := func(dst, v []float64) { copy(dst, v) }
	for name, c := range map[string]struct {
		n     int
		start []float64
		s     curvature.Settings
	}{
		"dimension": {0, nil, curvature.Settings{Steps: 1}},
		"length":    {3, []float64{1, 2}, curvature.Settings{Steps: 1}},
		"steps":     {2, []float64{1, 2}, curvature.Settings{Steps: 0}},
		"tol":       {2, []float64{1, 2}, curvature.Settings{Steps: 1, Tol: math.NaN()}},
		"zero":      {2, []float64{0, 0}, curvature.Settings{Steps: 1}},
		"which":     {2, []float64{1, 2}, curvature.Settings{Steps: 1, Which: 7}},
	} {
		if _, err := curvature.Lanczos(ctx, c.n, op, c.start, c.s); !errors.Is(err, curvature.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	op := func(dst, v []float64) {
		calls++
		if calls == 3 {
			cancel()
		}
		for i := range v {
			dst[i] = float64(i+1) * v[i]
		}
	}
	_, err := curvature.Lanczos(ctx, 10, op, start(10, 1), curvature.Settings{Steps: 10, Tol: 0})
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Errorf("err = %v after %d calls", err, calls)
	}
}

// TestWorkspace: runs that share a Workspace give bitwise the results of
// runs without one, also when a later run needs more steps than the
// workspace held; and with clustered eigenvalues below an isolated λ₁ = 3,
// where orthogonality matters, the run finds λ₁ with a small explicit
// residual.
func TestWorkspace(t *testing.T) {
	lambda := make([]float64, 60)
	for i := range lambda {
		lambda[i] = 1 + float64(i%7)*1e-3 // clusters: orthogonality matters
	}
	lambda[59] = 3
	op, a := spectral(t, lambda, 9)
	var ws curvature.Workspace
	for _, steps := range []int{5, 40, 12} {
		s := curvature.Settings{Steps: steps, Tol: 1e-10, Verify: true}
		want, err := curvature.Lanczos(context.Background(), 60, op, start(60, uint64(steps)), s)
		if err != nil {
			t.Fatal(err)
		}
		s.Work = &ws
		got, err := curvature.Lanczos(context.Background(), 60, op, start(60, uint64(steps)), s)
		if err != nil {
			t.Fatal(err)
		}
		if got.Value != want.Value || got.Residual != want.Residual || !slices.Equal(got.Vector, want.Vector) || got.Steps != want.Steps {
			t.Errorf("steps %d: with a workspace λ = %v (residual %v), without %v (%v)", steps, got.Value, got.Residual, want.Value, want.Residual)
		}
		if steps == 40 {
			checkPair(t, a, got, 1e-8)
			if math.Abs(got.Value-3) > 1e-10 {
				t.Errorf("λ₁ = %.15g, want 3", got.Value)
			}
		}
	}
}
