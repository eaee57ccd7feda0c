package curvature

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/lapack"
	"gonum.org/v1/gonum/lapack/gonum"
)

// krylov is the state of a Lanczos run with full reorthogonalization: the
// orthonormal basis q, the tridiagonal T (diagonal alpha, off-diagonal beta,
// len(beta) = len(alpha)−1) and the coupling b = β_j of the last basis vector
// to the next one, so that H Q = Q T + b q_{j+1} e_jᵀ.
type krylov struct {
	q           [][]float64
	alpha, beta []float64
	b           float64
	products    int
	restarts    int
	// w is the last step's residual H q_j − α_j q_j − β_{j−1} q_{j−1},
	// orthogonalized against Q: b·q_{j+1} when b > 0.
	w []float64
}

// krylovCheck is called after every step; returning true stops the run.
type krylovCheck func(k *krylov) (bool, error)

// runKrylov performs at most steps Lanczos steps (capped at n) from the unit
// vector q1, calling check after each. At an invariant subspace (β_j below
// 64·n·ε·‖T‖) b is set to 0; the run then stops, unless restart is non-nil
// and check asked to continue, in which case the next basis vector is a fresh
// random vector from restart orthogonalized against Q (T stays block
// diagonal, and H Q = Q T + b q eᵀ keeps holding).
func runKrylov(ctx context.Context, n int, op Operator, q1 []float64, steps int,
	restart *rand.Rand, check krylovCheck) (*krylov, error) {
	k := &krylov{q: [][]float64{q1}}
	w := make([]float64, n)
	var anorm float64
	steps = min(steps, n)
	for j := 0; j < steps; j++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("lanczos step %d: %w", j+1, err)
		}
		op(w, k.q[j])
		k.products++
		if j > 0 {
			floats.AddScaled(w, -k.beta[j-1], k.q[j-1])
		}
		a := floats.Dot(k.q[j], w)
		floats.AddScaled(w, -a, k.q[j])
		orthogonalize(w, k.q)
		b := floats.Norm(w, 2)
		anorm = max(anorm, math.Abs(a)+b+lastOr0(k.beta))
		breakdown := b <= 64*float64(n)*eps*anorm || j+1 == n
		if breakdown {
			b = 0
		}
		k.alpha = append(k.alpha, a)
		k.b = b
		k.w = w
		stop, err := check(k)
		if err != nil {
			return nil, err
		}
		if stop || j+1 == steps {
			break
		}
		next := make([]float64, n)
		if breakdown {
			if restart == nil || !freshVector(next, k.q, restart) {
				break
			}
			k.restarts++
		} else {
			floats.ScaleTo(next, 1/b, w)
		}
		k.beta = append(k.beta, b)
		k.q = append(k.q, next)
	}
	return k, nil
}

// ritzVector returns the unit Ritz vector Q_m s_i of the run, s_i column i
// of the m×m row-major eigenvector matrix z of T_m (see tridiagEigen).
func (k *krylov) ritzVector(z []float64, i int) []float64 {
	m := len(k.alpha)
	y := make([]float64, len(k.q[0]))
	for r := 0; r < m; r++ {
		floats.AddScaled(y, z[r*m+i], k.q[r])
	}
	floats.Scale(1/floats.Norm(y, 2), y)
	return y
}

// residualNorm returns ‖op(y) − θ y‖, computing op(y) into w.
func residualNorm(op Operator, w, y []float64, theta float64) float64 {
	op(w, y)
	floats.AddScaled(w, -theta, y)
	return floats.Norm(w, 2)
}

// orthogonalize removes from w its components along the orthonormal vectors q
// by modified Gram–Schmidt, repeated when needed (see twiceIfNeeded).
func orthogonalize(w []float64, q [][]float64) {
	twiceIfNeeded(w, func() {
		for _, qi := range q {
			floats.AddScaled(w, -floats.Dot(qi, w), qi)
		}
	})
}

// twiceIfNeeded runs one Gram–Schmidt pass over w, and a second one when the
// first cancelled most of w (‖w‖ fell below ‖w₀‖/√2, the criterion of
// Daniel, Gragg, Kaufman & Stewart 1976). One pass suffices when w is far
// from the span, as a Lanczos residual is until convergence, and a second
// restores orthogonality to working precision when it is not ("twice is
// enough"); skipping the unneeded one halves the O(j·P) cost of step j. It
// returns the final ‖w‖.
func twiceIfNeeded(w []float64, pass func()) float64 {
	before := norm2(w)
	pass()
	after := norm2(w)
	if after <= before/math.Sqrt2 {
		pass()
		after = norm2(w)
	}
	return after
}

// freshVector fills dst with a random unit vector orthogonal to q; it reports
// false when q already spans the space.
func freshVector(dst []float64, q [][]float64, rng *rand.Rand) bool {
	for try := 0; try < 3; try++ {
		RandomUnit(dst, rng)
		orthogonalize(dst, q)
		if nrm := floats.Norm(dst, 2); nrm > 1e-8 {
			floats.Scale(1/nrm, dst)
			return true
		}
	}
	return false
}

// tridiagEigen diagonalizes the symmetric tridiagonal matrix T (diagonal
// alpha, off-diagonal beta) with LAPACK's implicit QL/QR (gonum Dsteqr). It
// returns the eigenvalues in ascending order and the row-major m×m matrix z
// whose column i is the unit eigenvector of vals[i].
func tridiagEigen(alpha, beta []float64) (vals, z []float64, err error) {
	m := len(alpha)
	vals = append([]float64(nil), alpha...)
	e := make([]float64, max(m-1, 0))
	copy(e, beta)
	z = make([]float64, m*m)
	work := make([]float64, max(1, 2*m-2))
	if !(gonum.Implementation{}).Dsteqr(lapack.EVTridiag, m, vals, e, z, m, work) {
		return nil, nil, fmt.Errorf("curvature: tridiagonal eigendecomposition of order %d did not converge", m)
	}
	return vals, z, nil
}

// checkOperator validates the common arguments n and op.
func checkOperator(n int, op Operator) error {
	switch {
	case n < 1:
		return fmt.Errorf("%w: dimension n = %d, want ≥ 1", ErrInvalid, n)
	case op == nil:
		return fmt.Errorf("%w: nil operator", ErrInvalid)
	}
	return nil
}

// unitStart validates start (length n, finite nonzero norm) and returns a
// normalized copy.
func unitStart(n int, start []float64) ([]float64, error) {
	if len(start) != n {
		return nil, fmt.Errorf("%w: len(start) = %d, want %d", ErrInvalid, len(start), n)
	}
	nrm := floats.Norm(start, 2)
	if !(nrm > 0) || math.IsInf(nrm, 0) {
		return nil, fmt.Errorf("%w: start vector norm %v", ErrInvalid, nrm)
	}
	q := make([]float64, n)
	floats.ScaleTo(q, 1/nrm, start)
	return q, nil
}

// rademacher fills dst with independent ±1 entries from rng.
func rademacher(dst []float64, rng *rand.Rand) {
	for i := 0; i < len(dst); i += 64 {
		bits := rng.Uint64()
		for j := i; j < min(i+64, len(dst)); j++ {
			if bits&1 == 0 {
				dst[j] = 1
			} else {
				dst[j] = -1
			}
			bits >>= 1
		}
	}
}
