package flatness_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/flatness"
)

// TestKeskarQuadratic: for L = ½ Σ a_i θ_i² with a_i > 0 the box maximum is
// at the vertex y_i = sign(θ_i) r_i, r_i = ε(|θ_i| + 1), so
// max L = ½ Σ a_i (|θ_i| + r_i)²; the ascent must reach it to 1e-12
// relative.
func TestKeskarQuadratic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := 50
	a, theta := make([]float64, p), make([]float64, p)
	for i := range a {
		a[i] = math.Exp(3 * rng.NormFloat64())
		theta[i] = rng.NormFloat64()
	}
	o := quad{a}
	for _, eps := range []float64{1e-3, 5e-4} {
		var maxL float64
		for i := range a {
			r := eps * (math.Abs(theta[i]) + 1)
			maxL += a[i] * (math.Abs(theta[i]) + r) * (math.Abs(theta[i]) + r) / 2
		}
		l0 := o.Loss(theta)
		want := 100 * (maxL - l0) / (1 + l0)
		s := flatness.DefaultKeskarSettings()
		s.Epsilon = eps
		res, err := flatness.KeskarSharpness(context.Background(), o, theta, nil, s)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("ε = %g: φ = %.10g, closed form %.10g (relative %.2g), %d iterations, %d evaluations",
			eps, res.Sharpness, want, relDiff(res.Sharpness, want), res.Iterations, res.Evaluations)
		if relDiff(res.Sharpness, want) > 1e-12 {
			t.Errorf("φ = %v, want %v", res.Sharpness, want)
		}
		if res.Iterations < 1 || res.Iterations > s.Iterations {
			t.Errorf("iterations %d", res.Iterations)
		}
	}
}

// TestKeskarSubspace: in a random subspace the objective is a convex
// quadratic of y, maximized at a vertex of C_ε; the ascent value is compared
// with the exact maximum over all 2^p vertices (p = 6), reconstructing A
// from the documented draw order (rng, row by row).
func TestKeskarSubspace(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	P, p := 30, 6
	a, theta := make([]float64, P), make([]float64, P)
	for i := range a {
		a[i] = 0.5 + rng.Float64()*10
		theta[i] = rng.NormFloat64()
	}
	o := quad{a}
	s := flatness.KeskarSettings{Epsilon: 1e-3, Subspace: p, Iterations: 10}
	res, err := flatness.KeskarSharpness(context.Background(), o, theta, rand.New(rand.NewPCG(9, 9)), s)
	if err != nil {
		t.Fatal(err)
	}
	// Rebuild A and A⁺θ (least squares by normal equations, fine at p = 6).
	ar := rand.New(rand.NewPCG(9, 9))
	A := make([][]float64, P)
	for i := range A {
		A[i] = make([]float64, p)
		for j := range A[i] {
			A[i][j] = ar.NormFloat64()
		}
	}
	coords := leastSquares(A, theta)
	best := math.Inf(-1)
	pt := make([]float64, P)
	for mask := 0; mask < 1<<p; mask++ {
		copy(pt, theta)
		for j := 0; j < p; j++ {
			r := 1e-3 * (math.Abs(coords[j]) + 1)
			if mask&(1<<j) == 0 {
				r = -r
			}
			for i := range pt {
				pt[i] += A[i][j] * r
			}
		}
		best = max(best, o.Loss(pt))
	}
	l0 := o.Loss(theta)
	want := 100 * (best - l0) / (1 + l0)
	t.Logf("subspace φ = %.8g, vertex maximum %.8g (ratio %.6f), %d iterations", res.Sharpness, want, res.Sharpness/want, res.Iterations)
	if res.Sharpness > want*(1+1e-9) || res.Sharpness < 0.99*want {
		t.Errorf("φ = %v, vertex maximum %v", res.Sharpness, want)
	}
	again, _ := flatness.KeskarSharpness(context.Background(), o, theta, rand.New(rand.NewPCG(9, 9)), s)
	if again.Sharpness != res.Sharpness {
		t.Errorf("not deterministic: %v vs %v", again.Sharpness, res.Sharpness)
	}
}

// leastSquares solves min ‖A y − b‖ by the normal equations (Gaussian
// elimination), a test oracle for A⁺b with A of full column rank.
func leastSquares(A [][]float64, b []float64) []float64 {
	p := len(A[0])
	m := make([][]float64, p)
	for i := range m {
		m[i] = make([]float64, p+1)
		for j := 0; j < p; j++ {
			for k := range A {
				m[i][j] += A[k][i] * A[k][j]
			}
		}
		for k := range A {
			m[i][p] += A[k][i] * b[k]
		}
	}
	for c := 0; c < p; c++ {
		for r := c + 1; r < p; r++ {
			f := m[r][c] / m[c][c]
			for j := c; j <= p; j++ {
				m[r][j] -= f * m[c][j]
			}
		}
	}
	y := make([]float64, p)
	for r := p - 1; r >= 0; r-- {
		s := m[r][p]
		for j := r + 1; j < p; j++ {
			s -= m[r][j] * y[j]
		}
		y[r] = s / m[r][r]
	}
	return y
}

func TestKeskarInvalid(t *testing.T) {
	o := quad{[]float64{1, 2}}
	theta := []float64{1, 1}
	ctx := context.Background()
	for name, s := range map[string]flatness.KeskarSettings{
		"epsilon":    {Epsilon: 0, Iterations: 10},
		"iterations": {Epsilon: 1e-3, Iterations: 0},
		"subspace":   {Epsilon: 1e-3, Iterations: 10, Subspace: 3},
		"solver":     {Epsilon: 1e-3, Iterations: 10, Solver: 7},
	} {
		if _, err := flatness.KeskarSharpness(ctx, o, theta, rand.New(rand.NewPCG(1, 1)), s); !errors.Is(err, flatness.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := flatness.KeskarSharpness(ctx, o, []float64{1}, nil, flatness.DefaultKeskarSettings()); !errors.Is(err, flatness.ErrInvalid) {
		t.Errorf("theta length: accepted")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := flatness.KeskarSharpness(cctx, o, theta, nil, flatness.DefaultKeskarSettings()); !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
}
