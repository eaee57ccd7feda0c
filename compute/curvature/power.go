package curvature

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
)

// PowerSettings configure PowerIteration.
type PowerSettings struct {
	// K is the number of eigenpairs, 1 ≤ K ≤ n.
	K int
	// MaxIter ≥ 1 bounds the iterations (products) per eigenpair
	// (PyHessian: 100).
	MaxIter int
	// Tol > 0 is the relative-change stopping tolerance (PyHessian: 1e-3).
	Tol float64
}

// DefaultPowerSettings returns PyHessian's settings for k eigenpairs:
// MaxIter 100, Tol 1e-3.
func DefaultPowerSettings(k int) PowerSettings {
	return PowerSettings{K: k, MaxIter: 100, Tol: 1e-3}
}

// PowerResult is the outcome of PowerIteration.
type PowerResult struct {
	// Eigen holds the K pairs in the order found. Each Residual is the exact
	// ‖Hv − λv‖ of the returned vector v (available without a further
	// product), Converged reports that the relative-change rule stopped the
	// iteration (not the residual test), and Steps/Products count that
	// pair's iterations.
	Eigen []Eigen
	// Products is the total number of operator products.
	Products int
}

// PowerIteration is PyHessian's eigensolver, implemented as the baseline
// against which Lanczos is benchmarked. For each pair k = 1…K, from a fresh
// random unit vector drawn from rng (normalized Gaussian):
//
//	repeat up to MaxIter times:
//	  v ← v − Σ_{i<k} (v_iᵀ v) v_i, v ← v/‖v‖   (Gram–Schmidt deflation)
//	  w = H v,  λ^{(t)} = vᵀ w,  v ← w/‖w‖
//	  stop when |λ^{(t)} − λ^{(t−1)}| < Tol·|λ^{(t−1)}|
//
// (PyHessian writes the test as |Δλ|/(|λ^{(t−1)}| + 1e-6) < Tol; the 1e-6 guard
// only matters for λ ≈ 0 and is omitted, following Yao et al.'s definition.) The pair
// returned is (λ^{(t)}, the vector v it was the Rayleigh quotient of), so its
// residual ‖Hv − λv‖ comes free. Power iteration converges to the eigenvalue of
// largest magnitude of the deflated operator, at a rate |λ_{k+1}/λ_k| per
// product; the relative-change rule can stop long before the residual is
// small when the gap is small.
func PowerIteration(ctx context.Context, n int, op Operator, rng *rand.Rand, s PowerSettings) (PowerResult, error) {
	if err := checkOperator(n, op); err != nil {
		return PowerResult{}, err
	}
	switch {
	case rng == nil:
		return PowerResult{}, fmt.Errorf("%w: nil rng", ErrInvalid)
	case s.K < 1 || s.K > n:
		return PowerResult{}, fmt.Errorf("%w: k = %d, want 1 ≤ k ≤ n = %d", ErrInvalid, s.K, n)
	case s.MaxIter < 1:
		return PowerResult{}, fmt.Errorf("%w: max iterations = %d, want ≥ 1", ErrInvalid, s.MaxIter)
	case !(s.Tol > 0) || math.IsInf(s.Tol, 0):
		return PowerResult{}, fmt.Errorf("%w: tol = %v, want finite > 0", ErrInvalid, s.Tol)
	}
	var res PowerResult
	var vecs [][]float64
	w := make([]float64, n)
	for k := 0; k < s.K; k++ {
		v := make([]float64, n)
		RandomUnit(v, rng)
		e := Eigen{}
		var prev float64
		for it := 1; it <= s.MaxIter; it++ {
			if err := ctx.Err(); err != nil {
				return PowerResult{}, fmt.Errorf("power iteration pair %d step %d: %w", k+1, it, err)
			}
			orthogonalize(v, vecs)
			if nrm := floats.Norm(v, 2); nrm > 0 {
				floats.Scale(1/nrm, v)
			}
			op(w, v)
			e.Products++
			res.Products++
			lam := floats.Dot(v, w)
			e.Value, e.Steps = lam, it
			e.Vector = append(e.Vector[:0], v...)
			floats.AddScaled(w, -lam, v)
			e.Residual = floats.Norm(w, 2)
			floats.AddScaled(w, lam, v) // w = Hv again
			if it > 1 && math.Abs(lam-prev) < s.Tol*math.Abs(prev) {
				e.Converged = true
				break
			}
			prev = lam
			nrm := floats.Norm(w, 2)
			if nrm == 0 {
				e.Converged = true // v is in the null space: exact eigenpair λ = 0
				break
			}
			floats.ScaleTo(v, 1/nrm, w)
		}
		vecs = append(vecs, e.Vector)
		res.Eigen = append(res.Eigen, e)
	}
	return res, nil
}
