package curvature

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
)

// TraceSettings configure Hutchinson and HutchPP.
type TraceSettings struct {
	// Budget ≥ 1 is the maximum number of operator products (for HutchPP it
	// includes the 2·Sketch products of the sketch).
	Budget int
	// RelErr, when > 0, stops early once StdErr ≤ RelErr·|Trace| (checked
	// after at least two probes); 0 spends the whole budget.
	RelErr float64
	// Sketch is HutchPP's number s of sketch columns (Rademacher columns of
	// S); 0 means Budget/3, Meyer et al.'s equal split. It is capped at n.
	// Hutchinson ignores it.
	Sketch int
}

// TraceEstimate is a stochastic trace estimate.
type TraceEstimate struct {
	// Trace is the estimate of tr(H).
	Trace float64
	// StdErr is its standard error: the sample standard deviation of the
	// probe values divided by √(probes) (for HutchPP, of the residual part;
	// the sketch part is exact given Q). It is NaN with fewer than two probes
	// and 0 when the sketch spans the whole space.
	StdErr float64
	// Probes is the number of Hutchinson probes, SketchRank the number of
	// columns of Q (HutchPP), Products the number of operator products.
	Probes, SketchRank, Products int
	// Converged reports that the RelErr target was met.
	Converged bool
}

func (s TraceSettings) validate(n int, op Operator, rng *rand.Rand) error {
	if err := checkOperator(n, op); err != nil {
		return err
	}
	switch {
	case rng == nil:
		return fmt.Errorf("%w: nil rng", ErrInvalid)
	case s.Budget < 1:
		return fmt.Errorf("%w: budget = %d products, want ≥ 1", ErrInvalid, s.Budget)
	case !(s.RelErr >= 0) || math.IsInf(s.RelErr, 0):
		return fmt.Errorf("%w: relative error target = %v, want finite ≥ 0", ErrInvalid, s.RelErr)
	case s.Sketch < 0:
		return fmt.Errorf("%w: sketch = %d, want ≥ 0", ErrInvalid, s.Sketch)
	}
	return nil
}

// Hutchinson estimates tr(H) = E[vᵀHv] over Rademacher probes v (entries ±1
// with probability ½): the estimate is the mean of vᵀHv over the probes and
// its standard error the sample standard deviation over √(probes). The
// variance of one probe is 2(‖H‖²_F − Σ H_ii²). Probes are drawn until the
// budget is spent or StdErr ≤ RelErr·|Trace|.
func Hutchinson(ctx context.Context, n int, op Operator, rng *rand.Rand, s TraceSettings) (TraceEstimate, error) {
	if err := s.validate(n, op, rng); err != nil {
		return TraceEstimate{}, err
	}
	v, w := make([]float64, n), make([]float64, n)
	var acc welford
	res := TraceEstimate{}
	for res.Products < s.Budget {
		if err := ctx.Err(); err != nil {
			return TraceEstimate{}, fmt.Errorf("hutchinson probe %d: %w", res.Probes+1, err)
		}
		rademacher(v, rng)
		op(w, v)
		res.Products++
		res.Probes++
		acc.add(floats.Dot(v, w))
		if s.RelErr > 0 && acc.n >= 2 && acc.stderr() <= s.RelErr*math.Abs(acc.mean) {
			res.Converged = true
			break
		}
	}
	res.Trace, res.StdErr = acc.mean, acc.stderr()
	return res, nil
}

// HutchPP is the Hutch++ estimator of Meyer, Musco, Musco & Woodruff (2021):
//
//	S ∈ {±1}^{n×s} Rademacher,  Q = orth(H S)   (s products)
//	tr(H) = tr(QᵀHQ) + tr((I−QQᵀ) H (I−QQᵀ))
//
// The first term is computed exactly with s more products (H Q); the second by
// Hutchinson with Rademacher probes g, each costing one product of
// (I−QQᵀ)H(I−QQᵀ)g. Because the split is an identity for any orthonormal Q
// the estimator is unbiased; for PSD H the residual has small Frobenius norm
// once Q captures the top eigenvectors, giving relative error δ with O(1/δ)
// products. Q is orthonormalized by Gram–Schmidt with reorthogonalization;
// columns of HS that are numerically dependent are dropped (SketchRank < s).
// StdErr is that of the residual Hutchinson part. Probes continue until the
// budget is spent or StdErr ≤ RelErr·|Trace|.
func HutchPP(ctx context.Context, n int, op Operator, rng *rand.Rand, s TraceSettings) (TraceEstimate, error) {
	if err := s.validate(n, op, rng); err != nil {
		return TraceEstimate{}, err
	}
	sk := s.Sketch
	if sk == 0 {
		sk = s.Budget / 3
	}
	sk = min(sk, n)
	if sk < 1 || 2*sk > s.Budget {
		return TraceEstimate{}, fmt.Errorf("%w: budget = %d products cannot hold a sketch of %d columns (2·sketch products)",
			ErrInvalid, s.Budget, sk)
	}
	res := TraceEstimate{}
	// Q = orth(H S).
	var q [][]float64
	g := make([]float64, n)
	var hnorm float64
	for j := 0; j < sk; j++ {
		if err := ctx.Err(); err != nil {
			return TraceEstimate{}, fmt.Errorf("hutch++ sketch %d: %w", j+1, err)
		}
		rademacher(g, rng)
		hs := make([]float64, n)
		op(hs, g)
		res.Products++
		nrm := floats.Norm(hs, 2)
		hnorm = max(hnorm, nrm)
		orthogonalize(hs, q)
		if r := floats.Norm(hs, 2); r > 1e-10*hnorm && r > 0 {
			floats.Scale(1/r, hs)
			q = append(q, hs)
		}
	}
	res.SketchRank = len(q)
	// tr(QᵀHQ).
	w := make([]float64, n)
	var head float64
	for j, qj := range q {
		if err := ctx.Err(); err != nil {
			return TraceEstimate{}, fmt.Errorf("hutch++ projection %d: %w", j+1, err)
		}
		op(w, qj)
		res.Products++
		head += floats.Dot(qj, w)
	}
	res.Trace = head
	if len(q) == n {
		res.StdErr, res.Converged = 0, true
		return res, nil
	}
	var acc welford
	for res.Products < s.Budget {
		if err := ctx.Err(); err != nil {
			return TraceEstimate{}, fmt.Errorf("hutch++ probe %d: %w", res.Probes+1, err)
		}
		rademacher(g, rng)
		orthogonalize1(g, q)
		op(w, g)
		res.Products++
		res.Probes++
		acc.add(floats.Dot(g, w)) // gᵀ(I−QQᵀ)w = gᵀw, g being orthogonal to Q already
		if s.RelErr > 0 && acc.n >= 2 && acc.stderr() <= s.RelErr*math.Abs(head+acc.mean) {
			res.Converged = true
			break
		}
	}
	res.Trace, res.StdErr = head+acc.mean, acc.stderr()
	return res, nil
}

// orthogonalize1 applies the projector I − QQᵀ once (Q orthonormal).
func orthogonalize1(w []float64, q [][]float64) {
	for _, qi := range q {
		floats.AddScaled(w, -floats.Dot(qi, w), qi)
	}
}

// welford accumulates a running mean and variance (Welford's algorithm).
type welford struct {
	n        int
	mean, m2 float64
}

func (a *welford) add(x float64) {
	a.n++
	d := x - a.mean
	a.mean += d / float64(a.n)
	a.m2 += d * (x - a.mean)
}

// stderr is the sample standard deviation (n−1 denominator) over √n; NaN for
// n < 2.
func (a *welford) stderr() float64 {
	if a.n < 2 {
		return math.NaN()
	}
	return math.Sqrt(a.m2/float64(a.n-1)) / math.Sqrt(float64(a.n))
}
