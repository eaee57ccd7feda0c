package curvature

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/floats"
)

// KrylovBasis is the orthonormal basis Q_m = [q₁ … q_m] of a Lanczos run
// with full reorthogonalization, kept for a trace estimate that reuses it
// (DeflatedHutchinson). Because H Q_m = Q_m T_m + β_m q_{m+1} e_mᵀ with
// q_{m+1} ⊥ Q_m, Q_mᵀ H Q_m = T_m, so tr(Q_mᵀ H Q_m) = tr(T_m) = Σ α_j is
// known without another product.
type KrylovBasis struct {
	// Q holds the m orthonormal basis vectors, each of the operator's
	// dimension.
	Q [][]float64
	// Trace is tr(QᵀHQ) = Σ_j α_j, the trace of the run's tridiagonal T_m.
	Trace float64
	// Next is the unit vector q_{m+1} and Beta the coupling β_m, with which
	// the run can be continued (DeflatedHutchinson's TraceSettings.Sketch);
	// Next is nil when the run ended at an invariant subspace.
	Next []float64
	Beta float64
}

// basisOf returns the basis of the run k: its vectors (shared, not copied),
// the trace of its tridiagonal and the next basis vector.
func (k *krylov) basisOf() KrylovBasis {
	b := KrylovBasis{Q: k.q[:len(k.alpha)], Trace: floats.Sum(k.alpha)}
	if k.b > 0 && k.w != nil {
		b.Next, b.Beta = make([]float64, len(k.w)), k.b
		floats.ScaleTo(b.Next, 1/k.b, k.w)
	}
	return b
}

// extend continues the Lanczos run of b by steps more steps (one product
// each, full reorthogonalization), adding the new vectors to b.Q and their
// α to b.Trace, so that QᵀHQ = T keeps holding. It stops early at an
// invariant subspace. It returns the products spent.
func (b *KrylovBasis) extend(ctx context.Context, n int, op Operator, steps int) (int, error) {
	q := slices.Clip(b.Q) // never write into the run's own slice
	w := make([]float64, n)
	products := 0
	var anorm float64
	for ; products < steps && b.Next != nil && len(q) < n; products++ {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("krylov basis step %d: %w", len(q)+1, err)
		}
		qj := b.Next
		op(w, qj)
		if len(q) > 0 {
			floats.AddScaled(w, -b.Beta, q[len(q)-1])
		}
		a := floats.Dot(qj, w)
		floats.AddScaled(w, -a, qj)
		q = append(q, qj)
		orthogonalize(w, q)
		nrm := floats.Norm(w, 2)
		anorm = max(anorm, math.Abs(a)+nrm+b.Beta)
		b.Trace += a
		if nrm <= 64*float64(n)*eps*anorm {
			b.Next, b.Beta = nil, 0
			continue
		}
		b.Next, b.Beta = make([]float64, n), nrm
		floats.ScaleTo(b.Next, 1/nrm, w)
	}
	b.Q = q
	return products, nil
}

// DeflatedHutchinson estimates tr(H) from a Krylov basis Q of a Lanczos run
// made for other purposes (λ₁, the top k), spending products only on the
// part of H that Q does not capture:
//
//	tr(H) = tr(QᵀHQ) + tr((I−QQᵀ) H (I−QQᵀ)),
//
// an identity for any orthonormal Q. The first term is basis.Trace, exact
// and free (see KrylovBasis); the second is estimated by Hutchinson with
// Rademacher probes g, each costing one product of (I−QQᵀ)H(I−QQᵀ)g. This is
// Hutch++ (Meyer, Musco, Musco & Woodruff 2021) with the Krylov space of the
// Lanczos run in place of Hutch++'s sketch span{HS}, the idea of Chen &
// Hallman's Krylov-aware trace estimation (2023): the sketch and its
// projection, two thirds of Hutch++'s products, come for free, and the
// Lanczos space, which has converged onto the top eigenvectors, deflates the
// outlying eigenvalues of a network's Hessian at least as well as a sketch
// of the same size. Q must not depend on the probes (a Lanczos run from its
// own seeded start does not), so the estimate is unbiased conditional on Q;
// its variance is 2(‖R‖²_F − Σ R_ii²)/probes for the remainder
// R = (I−QQᵀ)H(I−QQᵀ).
//
// Sketch, when it exceeds m = len(Q), first extends the basis to Sketch
// vectors by continuing the Lanczos run (basis.Next), one product per
// vector: each deflates one more direction of the top of the spectrum, where
// a Hutch++ sketch column costs two products. Budget is the number of
// products, those of the extension included, the rest going to probes;
// RelErr stops earlier as for Hutchinson. TraceEstimate.SketchRank is the
// final basis size and StdErr that of the probes. When Q spans the whole
// space the estimate is the basis's trace, exact, with no probes. basis is
// not modified.
func DeflatedHutchinson(ctx context.Context, n int, op Operator, rng *rand.Rand, basis KrylovBasis, s TraceSettings) (TraceEstimate, error) {
	if err := s.validate(n, op, rng); err != nil {
		return TraceEstimate{}, err
	}
	for i, q := range basis.Q {
		if len(q) != n {
			return TraceEstimate{}, fmt.Errorf("%w: basis vector %d has length %d, want %d", ErrInvalid, i+1, len(q), n)
		}
	}
	if len(basis.Q) > n {
		return TraceEstimate{}, fmt.Errorf("%w: basis of %d vectors in dimension %d", ErrInvalid, len(basis.Q), n)
	}
	extended := 0
	if s.Sketch > len(basis.Q) {
		if s.Sketch-len(basis.Q) >= s.Budget {
			return TraceEstimate{}, fmt.Errorf("%w: budget = %d products cannot extend a basis of %d vectors to %d and leave a probe",
				ErrInvalid, s.Budget, len(basis.Q), s.Sketch)
		}
		if basis.Next != nil && len(basis.Next) != n {
			return TraceEstimate{}, fmt.Errorf("%w: next basis vector has length %d, want %d", ErrInvalid, len(basis.Next), n)
		}
		spent, err := basis.extend(ctx, n, op, s.Sketch-len(basis.Q))
		if err != nil {
			return TraceEstimate{}, err
		}
		s.Budget -= spent
		extended = spent
	}
	res := TraceEstimate{Trace: basis.Trace, SketchRank: len(basis.Q), Products: extended}
	if len(basis.Q) == n {
		res.StdErr, res.Converged = 0, true
		return res, nil
	}
	g, w := make([]float64, n), make([]float64, n)
	var acc welford
	for res.Products < extended+s.Budget {
		if err := ctx.Err(); err != nil {
			return TraceEstimate{}, fmt.Errorf("deflated hutchinson probe %d: %w", res.Probes+1, err)
		}
		rademacher(g, rng)
		orthogonalize1(g, basis.Q)
		op(w, g)
		res.Products++
		res.Probes++
		acc.add(floats.Dot(g, w)) // gᵀ(I−QQᵀ)w = gᵀw, g being orthogonal to Q already
		if s.RelErr > 0 && acc.n >= 2 && acc.stderr() <= s.RelErr*math.Abs(basis.Trace+acc.mean) {
			res.Converged = true
			break
		}
	}
	res.Trace, res.StdErr = basis.Trace+acc.mean, acc.stderr()
	return res, nil
}
