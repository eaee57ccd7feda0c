package curvature

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// ExtremesSettings configure LanczosExtremes.
type ExtremesSettings struct {
	// Top is the number of largest eigenvalues λ₁ ≥ λ₂ ≥ … wanted and Bottom
	// the number of most negative (smallest) ones; 0 ≤ Top, Bottom ≤ n and
	// Top + Bottom ≥ 1.
	Top, Bottom int
	// Steps is the maximum number of Lanczos steps (operator products, not
	// counting verification); it is capped at n and must be ≥ 1.
	Steps int
	// Tol > 0 is the relative residual tolerance of every wanted pair:
	// ‖Hy − θy‖ ≤ Tol·|θ|.
	Tol float64
	// LeadTol, when > 0, is the tolerance of the first top pair (λ₁) in place
	// of Tol, so that one run meets both a λ₁ tolerance and a looser (or
	// tighter) one for the rest. 0 means Tol.
	LeadTol float64
	// VerifyLead spends one more product to compute the residual of the
	// first top pair (λ₁, or the first bottom pair when Top = 0) explicitly;
	// its Residual and Converged then use it. The other pairs keep the
	// Lanczos residual |β_j e_jᵀ s_i|, which with full reorthogonalization
	// equals ‖Hy − θy‖ to rounding (TestExtremesResidualEstimate).
	VerifyLead bool
	// Restart, when non-nil, continues a run that reaches an invariant
	// subspace before the wanted pairs have converged from a fresh random
	// direction (see TopKSettings.Restart).
	Restart *rand.Rand
	// Basis, when non-nil, receives the run's Krylov basis Q_m and tr(T_m)
	// for a trace estimate that reuses them (DeflatedHutchinson). The
	// vectors are the run's own (m·n memory kept alive), not copies.
	Basis *KrylovBasis
}

// ExtremesResult is the outcome of LanczosExtremes.
type ExtremesResult struct {
	// Top holds the wanted largest Ritz pairs, descending, and Bottom the
	// most negative ones, ascending; each has fewer entries than asked only
	// when the Krylov space has smaller dimension. Vectors are not formed
	// (Eigen.Vector is nil). Each entry's Steps and Products are the run's.
	Top, Bottom []Eigen
	// TopConverged and BottomConverged report that every wanted pair of that
	// end met its tolerance (true for an end with none wanted).
	TopConverged, BottomConverged bool
	// Steps is the number of Lanczos steps, Products the operator products
	// (Steps, plus one with VerifyLead), Restarts the fresh directions taken.
	Steps, Products, Restarts int
}

// LanczosExtremes approximates, from one Lanczos run with full
// reorthogonalization started at start (any nonzero vector; normalized, not
// modified), the Top largest and the Bottom smallest eigenpairs of the
// symmetric operator op of dimension n.
//
// The Krylov space span{q₁, Hq₁, …, H^{j−1}q₁} approximates both ends of the
// spectrum at once, so one run serves λ₁, the top k and the most negative
// eigenvalues: the run stops at the first step j after which every wanted
// Ritz pair (θ_i, Q_j s_i) of T_j satisfies |β_j e_jᵀ s_i| ≤ tol_i·|θ_i|
// (tol_i = LeadTol for λ₁, Tol otherwise), at the step budget, or when the
// Krylov space is exhausted. It costs max over the ends of the steps each
// would need alone, instead of their sum, and its Ritz values are those
// separate runs from the same start would give at the same step.
//
// ctx is checked before every product; a cancelled run returns the wrapped
// ctx.Err().
func LanczosExtremes(ctx context.Context, n int, op Operator, start []float64, s ExtremesSettings) (ExtremesResult, error) {
	if err := checkOperator(n, op); err != nil {
		return ExtremesResult{}, err
	}
	switch {
	case s.Top < 0 || s.Top > n || s.Bottom < 0 || s.Bottom > n || s.Top+s.Bottom < 1:
		return ExtremesResult{}, fmt.Errorf("%w: top = %d, bottom = %d, want 0 ≤ each ≤ n = %d and top + bottom ≥ 1", ErrInvalid, s.Top, s.Bottom, n)
	case s.Steps < 1:
		return ExtremesResult{}, fmt.Errorf("%w: steps = %d, want ≥ 1", ErrInvalid, s.Steps)
	case !(s.Tol > 0) || math.IsInf(s.Tol, 0):
		return ExtremesResult{}, fmt.Errorf("%w: tol = %v, want finite > 0", ErrInvalid, s.Tol)
	case !(s.LeadTol >= 0) || math.IsInf(s.LeadTol, 0):
		return ExtremesResult{}, fmt.Errorf("%w: lead tol = %v, want finite ≥ 0", ErrInvalid, s.LeadTol)
	}
	leadTol := s.LeadTol
	if leadTol == 0 {
		leadTol = s.Tol
	}
	q1, err := unitStart(n, start)
	if err != nil {
		return ExtremesResult{}, err
	}
	var (
		vals, z     []float64
		top, bottom []int
	)
	// tolOf is the tolerance of a pair: LeadTol for the leading one (the
	// first top pair, or the first bottom pair when no top is wanted).
	tolOf := func(lead bool) float64 {
		if lead {
			return leadTol
		}
		return s.Tol
	}
	converged := func(b float64, i int, tol float64) bool {
		m := len(vals)
		return math.Abs(b*z[(m-1)*m+i]) <= tol*math.Abs(vals[i])
	}
	check := func(k *krylov) (bool, error) {
		var err error
		vals, z, err = tridiagEigen(k.alpha, k.beta)
		if err != nil {
			return false, err
		}
		top = wanted(vals, s.Top, LargestAlgebraic)
		bottom = wanted(vals, s.Bottom, SmallestAlgebraic)
		done := len(top) == s.Top && len(bottom) == s.Bottom
		for p, i := range top {
			done = done && converged(k.b, i, tolOf(p == 0))
		}
		for p, i := range bottom {
			done = done && converged(k.b, i, tolOf(s.Top == 0 && p == 0))
		}
		return done, nil
	}
	k, err := runKrylov(ctx, n, op, q1, s.Steps, s.Restart, check)
	if err != nil {
		return ExtremesResult{}, err
	}
	m := len(vals)
	res := ExtremesResult{Steps: m, Products: k.products, Restarts: k.restarts}
	if s.Basis != nil {
		*s.Basis = k.basisOf()
	}
	pairs := func(idx []int) []Eigen {
		out := make([]Eigen, 0, len(idx))
		for _, i := range idx {
			out = append(out, Eigen{Value: vals[i], Residual: math.Abs(k.b * z[(m-1)*m+i]), Steps: m})
		}
		return out
	}
	res.Top, res.Bottom = pairs(top), pairs(bottom)
	if s.VerifyLead {
		lead, idx := res.Top, top
		if s.Top == 0 {
			lead, idx = res.Bottom, bottom
		}
		if err := ctx.Err(); err != nil {
			return ExtremesResult{}, fmt.Errorf("lanczos verification: %w", err)
		}
		lead[0].Residual = residualNorm(op, make([]float64, n), k.ritzVector(z, idx[0]), lead[0].Value)
		res.Products++
	}
	mark := func(es []Eigen, want int, leadEnd bool) bool {
		ok := len(es) == want
		for p := range es {
			es[p].Products = res.Products
			es[p].Converged = es[p].Residual <= tolOf(leadEnd && p == 0)*math.Abs(es[p].Value)
			ok = ok && es[p].Converged
		}
		return ok
	}
	res.TopConverged = mark(res.Top, s.Top, true)
	res.BottomConverged = mark(res.Bottom, s.Bottom, s.Top == 0)
	return res, nil
}
