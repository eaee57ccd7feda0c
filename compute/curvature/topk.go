package curvature

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// TopKSettings configure LanczosTopK.
type TopKSettings struct {
	// K is the number of wanted eigenvalues, 1 ≤ K ≤ n.
	K int
	// Steps is the maximum number of Lanczos steps (operator products, not
	// counting verification); it is capped at n and must be ≥ 1.
	Steps int
	// Tol > 0 is the relative residual tolerance: the run stops when every
	// one of the K wanted Ritz pairs has ‖Hy − θy‖ ≤ Tol·|θ|. (An eigenvalue
	// 0 therefore never converges by this test; the run then ends at the
	// step budget or at an invariant subspace.)
	Tol float64
	// Which selects the wanted end of the spectrum: LargestAlgebraic gives
	// λ₁ ≥ λ₂ ≥ … (top-k), SmallestAlgebraic the K most negative eigenvalues
	// (ascending), LargestMagnitude the K of largest |λ|.
	Which Which
	// Vectors requests the unit Ritz vectors y = Q s (K·n memory).
	Vectors bool
	// Verify spends K more products to compute the residuals ‖Hy − θy‖
	// explicitly; the result's Residual and Converged then use them. It
	// implies that the Ritz vectors are formed (they are returned only when
	// Vectors is set).
	Verify bool
	// Restart, when non-nil, supplies a fresh random direction (orthogonal to
	// the Krylov basis) when the run reaches an invariant subspace before
	// the K wanted values have converged, e.g. because of a degenerate
	// eigenvalue or a low-rank operator. When nil the run stops there.
	Restart *rand.Rand
}

// TopKResult is the outcome of LanczosTopK.
type TopKResult struct {
	// Eigen holds the wanted Ritz pairs in the order of Which (descending for
	// LargestAlgebraic, ascending for SmallestAlgebraic, by descending |θ| for
	// LargestMagnitude). It has fewer than K entries only when the Krylov
	// space has dimension < K. Each entry's Steps and Products are the run's
	// totals.
	Eigen []Eigen
	// Converged reports that all K wanted pairs satisfy the residual test.
	Converged bool
	// Steps is the number of Lanczos steps, Products the number of operator
	// products (Steps plus K when verified), Restarts the number of fresh
	// directions taken at invariant subspaces.
	Steps, Products, Restarts int
}

// LanczosTopK approximates the K extreme eigenpairs of the symmetric operator
// op of dimension n by Lanczos with full reorthogonalization from start (any
// nonzero vector; normalized, not modified).
//
// After step j the Ritz pairs (θ_i, Q_j s_i) of T_j = Q_jᵀ H Q_j have
// residuals ‖H y_i − θ_i y_i‖ = |β_j e_jᵀ s_i| (exact identity given the
// orthonormal basis), computed without further products. T_j is diagonalized
// each step by LAPACK's implicit QL/QR (Dsteqr). The run stops when all K
// wanted pairs satisfy |β_j e_jᵀ s_i| ≤ Tol·|θ_i|, at the step budget, or when
// the Krylov space is exhausted. Lanczos from a single start vector sees each
// distinct eigenvalue once: a multiple eigenvalue is reported once unless
// Restart is set, in which case a breakdown continues from a fresh random
// direction and further copies can be found.
//
// ctx is checked before every product; a cancelled run returns the wrapped
// ctx.Err().
func LanczosTopK(ctx context.Context, n int, op Operator, start []float64, s TopKSettings) (TopKResult, error) {
	if err := checkOperator(n, op); err != nil {
		return TopKResult{}, err
	}
	switch {
	case s.K < 1 || s.K > n:
		return TopKResult{}, fmt.Errorf("%w: k = %d, want 1 ≤ k ≤ n = %d", ErrInvalid, s.K, n)
	case s.Steps < 1:
		return TopKResult{}, fmt.Errorf("%w: steps = %d, want ≥ 1", ErrInvalid, s.Steps)
	case !(s.Tol > 0) || math.IsInf(s.Tol, 0):
		return TopKResult{}, fmt.Errorf("%w: tol = %v, want finite > 0", ErrInvalid, s.Tol)
	case s.Which < LargestAlgebraic || s.Which > LargestMagnitude:
		return TopKResult{}, fmt.Errorf("%w: which = %d", ErrInvalid, s.Which)
	}
	q1, err := unitStart(n, start)
	if err != nil {
		return TopKResult{}, err
	}
	var (
		vals, z []float64
		idx     []int
		done    bool
	)
	check := func(k *krylov) (bool, error) {
		var err error
		vals, z, err = tridiagEigen(k.alpha, k.beta)
		if err != nil {
			return false, err
		}
		idx = wanted(vals, s.K, s.Which)
		m := len(vals)
		done = len(idx) == s.K
		for _, i := range idx {
			if math.Abs(k.b*z[(m-1)*m+i]) > s.Tol*math.Abs(vals[i]) {
				done = false
			}
		}
		return done, nil
	}
	k, err := runKrylov(ctx, n, op, q1, s.Steps, s.Restart, check)
	if err != nil {
		return TopKResult{}, err
	}
	m := len(vals)
	res := TopKResult{Steps: m, Products: k.products, Restarts: k.restarts}
	w := make([]float64, n)
	for _, i := range idx {
		e := Eigen{Value: vals[i], Residual: math.Abs(k.b * z[(m-1)*m+i]), Steps: m}
		if s.Vectors || s.Verify {
			y := k.ritzVector(z, i)
			if s.Verify {
				if err := ctx.Err(); err != nil {
					return TopKResult{}, fmt.Errorf("lanczos verification: %w", err)
				}
				e.Residual = residualNorm(op, w, y, e.Value)
				res.Products++
			}
			if s.Vectors {
				e.Vector = y
			}
		}
		e.Converged = e.Residual <= s.Tol*math.Abs(e.Value)
		res.Eigen = append(res.Eigen, e)
	}
	res.Converged = len(res.Eigen) == s.K
	for i := range res.Eigen {
		res.Eigen[i].Products = res.Products
		res.Converged = res.Converged && res.Eigen[i].Converged
	}
	return res, nil
}

// wanted returns the indices into the ascending vals of the (at most) k wanted
// values, in the order documented on TopKResult.Eigen.
func wanted(vals []float64, k int, which Which) []int {
	m := len(vals)
	idx := make([]int, m)
	for i := range idx {
		idx[i] = i
	}
	switch which {
	case LargestAlgebraic:
		slices.Reverse(idx)
	case LargestMagnitude:
		slices.SortStableFunc(idx, func(a, b int) int {
			return -cmpFloat(math.Abs(vals[a]), math.Abs(vals[b]))
		})
	}
	return idx[:min(k, m)]
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
