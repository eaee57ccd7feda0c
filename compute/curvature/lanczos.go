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
//	w     ← w − Q_j (Q_jᵀ w)          (full reorthogonalization, repeated when needed)
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
// spurious copies of converged eigenvalues appear. It is classical
// Gram–Schmidt as two BLAS matrix–vector products over the basis, stored as
// one contiguous j×P matrix, repeated only when the first pass cancels most
// of w (the criterion of Daniel, Gragg, Kaufman & Stewart). It costs O(j·P)
// flops per step and j·P memory per run and is bound by reading Q_j from
// memory, so for a cheap operator (a Hessian over a hundred examples) it is
// not negligible next to the products.
//
// # Other estimators
//
// LanczosTopK extends Lanczos to the k extreme eigenpairs (largest, most
// negative or largest in magnitude) with a residual test on all k;
// PowerIteration is PyHessian's deflated power method, kept as a baseline;
// Hutchinson and HutchPP estimate tr(H) with a standard error, and
// DeflatedHutchinson does so from the basis of a Lanczos run made for the
// eigenvalues (KrylovBasis), spending products only on what it missed; and
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
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
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
	// Work, if non-nil, holds the run's vectors (the basis Q, w and the Ritz
	// vector) for reuse by later runs, which then allocate nothing of size n
	// once it has grown to their step count. Eigen.Vector then lives in
	// Work: it is valid until the next run that uses Work.
	Work *Workspace
	// Basis, when non-nil, receives the run's Krylov basis Q_j and tr(T_j)
	// for a trace estimate that reuses them (DeflatedHutchinson): views of
	// the run's vectors when Work is nil, copies otherwise (Work's vectors
	// are overwritten by its next run).
	Basis *KrylovBasis
}

// Workspace is memory for Lanczos runs (see Settings.Work). The zero value
// is ready to use; a Workspace must not be used by two runs at once.
type Workspace struct {
	basis []float64 // the basis vectors q_1, q_2, … one after the other
	w, y  []float64
	h     []float64 // the coefficients Q_jᵀ w of a reorthogonalization
}

// vector returns a slice of length n backed by *buf, reallocated when its
// length differs.
func vector(buf *[]float64, n int) []float64 {
	if len(*buf) != n {
		*buf = make([]float64, n)
	}
	return *buf
}

// basisVector returns the workspace's i-th basis vector of length n,
// growing the basis (keeping the vectors before i) as needed.
func (ws *Workspace) basisVector(i, n int) []float64 {
	if need := (i + 1) * n; len(ws.basis) < need {
		grown := make([]float64, max(need, 2*len(ws.basis)))
		copy(grown, ws.basis)
		ws.basis = grown
	}
	return ws.basis[i*n : (i+1)*n : (i+1)*n]
}

// norm2 returns ‖v‖₂ as √(v·v): several times faster than floats.Norm,
// which rescales to avoid overflow that the vectors of a Lanczos run (unit
// basis vectors and their images under the operator) never come near.
func norm2(v []float64) float64 { return math.Sqrt(floats.Dot(v, v)) }

// reorthogonalize removes from w its components along the first j basis
// vectors Q_j (orthonormal, of length n) by classical Gram–Schmidt,
// w ← w − Q_j(Q_jᵀ w), as two matrix–vector products that read Q_j once
// each, repeated when needed (see twiceIfNeeded). It returns the final ‖w‖.
func (ws *Workspace) reorthogonalize(w []float64, j, n int) float64 {
	q := blas64.General{Rows: j, Cols: n, Stride: n, Data: ws.basis[:j*n]}
	h := blas64.Vector{N: j, Inc: 1, Data: vector(&ws.h, j)}
	wv := blas64.Vector{N: n, Inc: 1, Data: w}
	return twiceIfNeeded(w, func() {
		blas64.Gemv(blas.NoTrans, 1, q, wv, 0, h)
		blas64.Gemv(blas.Trans, -1, q, h, 1, wv)
	})
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
	ws := s.Work
	if ws == nil {
		ws = &Workspace{}
	}
	ws.basisVector(min(steps, 16)-1, n) // room for 16 vectors: fresh pages cost nothing until written
	floats.ScaleTo(ws.basisVector(0, n), 1/nrm, start)
	var alpha, beta []float64
	w := vector(&ws.w, n)
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
		qj := ws.basisVector(j, n)
		op(w, qj)
		products++
		if j > 0 {
			floats.AddScaled(w, -beta[j-1], ws.basisVector(j-1, n))
		}
		a := floats.Dot(qj, w)
		floats.AddScaled(w, -a, qj)
		b := ws.reorthogonalize(w, j+1, n)
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
		floats.ScaleTo(ws.basisVector(j+1, n), 1/b, w)
	}
	if s.Basis != nil {
		*s.Basis = KrylovBasis{Q: make([][]float64, len(alpha)), Trace: floats.Sum(alpha)}
		for i := range alpha {
			q := ws.basisVector(i, n)
			if s.Work != nil {
				q = slices.Clone(q)
			}
			s.Basis.Q[i] = q
		}
		if b := lastOr0(beta); b > 64*float64(n)*eps*anorm && len(alpha) < n {
			s.Basis.Next, s.Basis.Beta = make([]float64, n), b
			floats.ScaleTo(s.Basis.Next, 1/b, w)
		}
	}
	y := vector(&ws.y, n)
	clear(y)
	for i, si := range sv {
		floats.AddScaled(y, si, ws.basisVector(i, n))
	}
	floats.Scale(1/norm2(y), y)
	if s.Verify {
		if err := ctx.Err(); err != nil {
			return Eigen{}, fmt.Errorf("lanczos verification: %w", err)
		}
		resid = residualNorm(op, w, y, theta)
		products++
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
