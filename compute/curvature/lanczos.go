// Package curvature estimates spectral properties of symmetric linear
// operators available only through matrix-vector products, such as the Hessian
// of a training loss through exact Hessian-vector products.
//
// # Lanczos
//
// From a unit start vector q₁ the Lanczos recurrence builds an orthonormal
// basis Q_j = [q₁ … q_j] of the Krylov space span{q₁, Hq₁, …, H^{j−1}q₁} and
// the symmetric tridiagonal T_j = Q_jᵀ H Q_j (diagonal α, off-diagonal β):
//
//	w     = H q_j − β_{j−1} q_{j−1}
//	α_j   = q_jᵀ w,   w ← w − α_j q_j
//	w     ← w − Q_j (Q_jᵀ w)          (full reorthogonalization, applied twice)
//	β_j   = ‖w‖,      q_{j+1} = w / β_j
//
// so that H Q_j = Q_j T_j + β_j q_{j+1} e_jᵀ. If T_j s = θ s (‖s‖ = 1) then the
// Ritz pair (θ, y = Q_j s) has residual ‖H y − θ y‖ = |β_j s_j|, s_j being the
// last component of s; this costs no product. Iteration stops when
// |β_j s_j| ≤ Tol·|θ| for the wanted Ritz value, when the step budget is spent,
// or at an invariant subspace (β_j ≈ 0, including j = dim), where the Ritz
// values are exact eigenvalues of H restricted to the Krylov space. T_j is
// diagonalized with gonum's mat.EigenSym.
//
// Full reorthogonalization keeps Q_j orthonormal to working precision, so no
// spurious copies of converged eigenvalues appear; it costs O(j·P) flops and
// j·P memory per run, negligible next to Hessian-vector products for the few
// tens of steps used here.
//
// # Other estimators
//
// LanczosTopK extends Lanczos to the k extreme eigenpairs (largest, most
// negative or largest in magnitude) with a residual test on all k;
// PowerIteration is PyHessian's deflated power method, kept as a baseline;
// Hutchinson and HutchPP estimate tr(H) with a standard error; and
// StochasticLanczosQuadrature gives the spectral density and tr f(H), such as
// log det(H + λI). Every randomized routine draws from a passed *rand.Rand
// (math/rand/v2), so results are deterministic given the seed, and checks its
// context before every operator product.
package curvature

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Operator is a symmetric linear operator: it sets dst = A v. dst and v have
// the operator's dimension and never alias.
type Operator func(dst, v []float64)

// Which selects the eigenvalue Lanczos targets.
type Which int

const (
	// LargestAlgebraic is the largest eigenvalue λ₁ (the "top" eigenvalue).
	LargestAlgebraic Which = iota
	// SmallestAlgebraic is the most negative (smallest) eigenvalue.
	SmallestAlgebraic
	// LargestMagnitude is the eigenvalue of largest |λ| (the one power
	// iteration finds).
	LargestMagnitude
)

// Settings configure Lanczos.
type Settings struct {
	// Steps is the maximum number of Lanczos steps (operator products, not
	// counting the verification product); it is capped at the dimension.
	Steps int
	// Tol is the relative residual tolerance: stop when ‖Hy − θy‖ ≤ Tol·|θ|.
	Tol float64
	// Which is the targeted eigenvalue.
	Which Which
	// Verify spends one more product to compute the residual ‖Hy − θy‖ of the
	// returned Ritz pair explicitly; Eigen.Residual and Converged then use it
	// instead of the Lanczos estimate |β_j s_j|.
	Verify bool
}

// Eigen is a Ritz approximation (Value, Vector) to an eigenpair.
type Eigen struct {
	// Value is the Ritz value θ.
	Value float64
	// Vector is the unit Ritz vector y = Q s.
	Vector []float64
	// Residual is ‖Hy − θy‖ (explicit if Settings.Verify, else the Lanczos
	// estimate |β_j s_j|).
	Residual float64
	// Converged reports Residual ≤ Tol·|Value|.
	Converged bool
	// Steps is the number of Lanczos steps taken.
	Steps int
	// Products is the number of operator products used (Steps, plus one when
	// verified).
	Products int
}

// ErrInvalid is returned for invalid arguments.
var ErrInvalid = errors.New("curvature: invalid argument")

// RandomUnit fills dst with a uniformly distributed unit vector drawn from rng
// (normalized standard Gaussian).
func RandomUnit(dst []float64, rng *rand.Rand) {
	for {
		for i := range dst {
			dst[i] = rng.NormFloat64()
		}
		if nrm := floats.Norm(dst, 2); nrm > 0 {
			floats.Scale(1/nrm, dst)
			return
		}
		if len(dst) == 0 {
			return
		}
	}
}

// Lanczos approximates one extreme eigenpair of the symmetric operator op of
// dimension n, starting from start (any nonzero vector; it is normalized and
// not modified). It checks ctx before every product and returns the wrapped
// ctx.Err() when cancelled.
func Lanczos(ctx context.Context, n int, op Operator, start []float64, s Settings) (Eigen, error) {
	switch {
	case n < 1:
		return Eigen{}, fmt.Errorf("%w: dimension %d", ErrInvalid, n)
	case len(start) != n:
		return Eigen{}, fmt.Errorf("%w: len(start) = %d, want %d", ErrInvalid, len(start), n)
	case s.Steps < 1:
		return Eigen{}, fmt.Errorf("%w: steps = %d", ErrInvalid, s.Steps)
	case !(s.Tol >= 0) || math.IsInf(s.Tol, 0):
		return Eigen{}, fmt.Errorf("%w: tol = %v", ErrInvalid, s.Tol)
	}
	nrm := floats.Norm(start, 2)
	if !(nrm > 0) || math.IsInf(nrm, 0) {
		return Eigen{}, fmt.Errorf("%w: start vector norm %v", ErrInvalid, nrm)
	}
	steps := min(s.Steps, n)
	q := make([][]float64, 0, steps)
	q1 := make([]float64, n)
	floats.ScaleTo(q1, 1/nrm, start)
	q = append(q, q1)
	var alpha, beta []float64
	w := make([]float64, n)
	var (
		theta, resid float64
		sv           []float64
		anorm        float64
		products     int
	)
	for j := 0; j < steps; j++ {
		if err := ctx.Err(); err != nil {
			return Eigen{}, fmt.Errorf("lanczos step %d: %w", j+1, err)
		}
		op(w, q[j])
		products++
		if j > 0 {
			floats.AddScaled(w, -beta[j-1], q[j-1])
		}
		a := floats.Dot(q[j], w)
		floats.AddScaled(w, -a, q[j])
		for pass := 0; pass < 2; pass++ {
			for _, qi := range q {
				floats.AddScaled(w, -floats.Dot(qi, w), qi)
			}
		}
		b := floats.Norm(w, 2)
		alpha = append(alpha, a)
		anorm = max(anorm, math.Abs(a)+b+lastOr0(beta))
		beta = append(beta, b)
		var err error
		theta, sv, err = ritz(alpha, beta[:j], s.Which)
		if err != nil {
			return Eigen{}, err
		}
		resid = math.Abs(b * sv[j])
		breakdown := b <= 64*float64(n)*eps*anorm || j+1 == n
		if resid <= s.Tol*math.Abs(theta) || breakdown || j+1 == steps {
			break
		}
		qn := make([]float64, n)
		floats.ScaleTo(qn, 1/b, w)
		q = append(q, qn)
	}
	y := make([]float64, n)
	for i, si := range sv {
		floats.AddScaled(y, si, q[i])
	}
	floats.Scale(1/floats.Norm(y, 2), y)
	if s.Verify {
		if err := ctx.Err(); err != nil {
			return Eigen{}, fmt.Errorf("lanczos verification: %w", err)
		}
		op(w, y)
		products++
		floats.AddScaled(w, -theta, y)
		resid = floats.Norm(w, 2)
	}
	return Eigen{Value: theta, Vector: y, Residual: resid,
		Converged: resid <= s.Tol*math.Abs(theta), Steps: len(alpha), Products: products}, nil
}

const eps = 0x1p-52

func lastOr0(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	return x[len(x)-1]
}

// ritz returns the wanted eigenvalue and unit eigenvector of the tridiagonal
// matrix with diagonal alpha and off-diagonal beta (len(alpha)−1 entries).
func ritz(alpha, beta []float64, which Which) (float64, []float64, error) {
	m := len(alpha)
	t := mat.NewSymDense(m, nil)
	for i, a := range alpha {
		t.SetSym(i, i, a)
		if i+1 < m {
			t.SetSym(i, i+1, beta[i])
		}
	}
	var es mat.EigenSym
	if !es.Factorize(t, true) {
		return 0, nil, fmt.Errorf("curvature: tridiagonal eigendecomposition of order %d failed", m)
	}
	vals := es.Values(nil) // ascending
	k := 0
	switch which {
	case LargestAlgebraic:
		k = m - 1
	case SmallestAlgebraic:
		k = 0
	case LargestMagnitude:
		if math.Abs(vals[m-1]) >= math.Abs(vals[0]) {
			k = m - 1
		}
	default:
		return 0, nil, fmt.Errorf("%w: which = %d", ErrInvalid, which)
	}
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	return vals[k], mat.Col(nil, k, &vecs), nil
}
