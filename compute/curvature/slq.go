package curvature

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// SLQSettings configure StochasticLanczosQuadrature.
type SLQSettings struct {
	// Runs ≥ 1 is the number n_v of independent start vectors.
	Runs int
	// Steps ≥ 1 is the number m of Lanczos steps per run (capped at n).
	Steps int
}

// SLQ is a stochastic Lanczos quadrature of the spectral measure of a
// symmetric operator H of dimension Dim (Ghorbani, Krishnan & Xiao 2019).
//
// Run r starts Lanczos (full reorthogonalization) from v = g/‖g‖, g
// Rademacher, and takes m steps; the eigen-decomposition T = S diag(θ) Sᵀ of
// its tridiagonal gives nodes θ_j and weights τ_j² = S_{1j}² (Σ_j τ_j² = 1).
// Then vᵀ f(H) v ≈ Σ_j τ_j² f(θ_j) (Gauss quadrature, exact for polynomials of
// degree < 2m) and, since E[vᵀ f(H) v] = tr f(H)/P for the normalized
// Rademacher v,
//
//	tr f(H) ≈ P · mean_r Σ_j τ_{r,j}² f(θ_{r,j}).
//
// A run that reaches an invariant subspace (β_j ≈ 0) stops early; its
// quadrature is then exact.
type SLQ struct {
	// Dim is P, the operator's dimension.
	Dim int
	// Nodes[r] and Weights[r] are the θ_{r,j} and τ_{r,j}² of run r.
	Nodes, Weights [][]float64
	// Products is the number of operator products used.
	Products int
}

// ErrDomain is returned when a spectral function is evaluated outside its
// domain, e.g. the logarithm of a non-positive shifted node.
var ErrDomain = errors.New("curvature: spectral function outside its domain")

// StochasticLanczosQuadrature runs s.Runs Lanczos runs of s.Steps steps from
// normalized Rademacher vectors drawn from rng. ctx is checked before every
// product.
func StochasticLanczosQuadrature(ctx context.Context, n int, op Operator, rng *rand.Rand, s SLQSettings) (*SLQ, error) {
	if err := checkOperator(n, op); err != nil {
		return nil, err
	}
	switch {
	case rng == nil:
		return nil, fmt.Errorf("%w: nil rng", ErrInvalid)
	case s.Runs < 1:
		return nil, fmt.Errorf("%w: runs = %d, want ≥ 1", ErrInvalid, s.Runs)
	case s.Steps < 1:
		return nil, fmt.Errorf("%w: steps = %d, want ≥ 1", ErrInvalid, s.Steps)
	}
	q := &SLQ{Dim: n}
	for r := 0; r < s.Runs; r++ {
		v := make([]float64, n)
		rademacher(v, rng)
		scale := 1 / math.Sqrt(float64(n))
		for i := range v {
			v[i] *= scale
		}
		var nodes, weights []float64
		check := func(k *krylov) (bool, error) { return false, nil }
		k, err := runKrylov(ctx, n, op, v, s.Steps, nil, check)
		if err != nil {
			return nil, fmt.Errorf("slq run %d: %w", r+1, err)
		}
		q.Products += k.products
		vals, z, err := tridiagEigen(k.alpha, k.beta)
		if err != nil {
			return nil, fmt.Errorf("slq run %d: %w", r+1, err)
		}
		m := len(vals)
		for j := 0; j < m; j++ {
			nodes = append(nodes, vals[j])
			weights = append(weights, z[j]*z[j]) // first row of S
		}
		q.Nodes = append(q.Nodes, nodes)
		q.Weights = append(q.Weights, weights)
	}
	return q, nil
}

// Range returns the smallest and largest node over all runs, estimates of
// λ_min and λ_max.
func (q *SLQ) Range() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, nodes := range q.Nodes {
		for _, t := range nodes {
			lo, hi = min(lo, t), max(hi, t)
		}
	}
	return lo, hi
}

// DefaultVariance returns σ² = 1e-5·max(1, λ_max − λ_min) with the range taken
// over the nodes, as Ghorbani et al. (2019) choose it.
func (q *SLQ) DefaultVariance() float64 {
	lo, hi := q.Range()
	return 1e-5 * max(1, hi-lo)
}

// Density evaluates the smoothed spectral density
//
//	ρ(t) = P · mean_r Σ_j τ_{r,j}² N(t; θ_{r,j}, σ²)
//
// at each point of grid into dst (allocated when nil or too short) and
// returns it. Since Σ_j τ_{r,j}² = 1, ∫ρ = P: ρ counts eigenvalues per unit
// length. sigma2 ≤ 0 selects DefaultVariance.
func (q *SLQ) Density(dst, grid []float64, sigma2 float64) []float64 {
	if sigma2 <= 0 {
		sigma2 = q.DefaultVariance()
	}
	if len(dst) < len(grid) {
		dst = make([]float64, len(grid))
	}
	dst = dst[:len(grid)]
	norm := float64(q.Dim) / float64(len(q.Nodes)) / math.Sqrt(2*math.Pi*sigma2)
	for i, t := range grid {
		var s float64
		for r, nodes := range q.Nodes {
			for j, th := range nodes {
				d := t - th
				s += q.Weights[r][j] * math.Exp(-d*d/(2*sigma2))
			}
		}
		dst[i] = norm * s
	}
	return dst
}

// Quadrature returns the SLQ estimate P·mean_r Σ_j τ_{r,j}² f(θ_{r,j}) of
// tr f(H) and its standard error over runs (P times the sample standard
// deviation of the per-run sums over √runs; NaN for one run). It stops with
// the error of f, wrapped, if f fails on a node.
func (q *SLQ) Quadrature(f func(theta float64) (float64, error)) (est, stderr float64, err error) {
	var acc welford
	for r, nodes := range q.Nodes {
		var s float64
		for j, th := range nodes {
			v, err := f(th)
			if err != nil {
				return 0, 0, fmt.Errorf("slq run %d node %d (θ = %g): %w", r+1, j+1, th, err)
			}
			s += q.Weights[r][j] * v
		}
		acc.add(s)
	}
	p := float64(q.Dim)
	return p * acc.mean, p * acc.stderr(), nil
}

// LogDet estimates log det(H + shift·I) = tr ln(H + shift·I) ≈
// P·mean_r Σ_j τ_{r,j}² ln(θ_{r,j} + shift), with its standard error over
// runs. It returns an error wrapping ErrDomain if some θ_{r,j} + shift ≤ 0 (H
// + shift·I is then not positive definite, or the quadrature cannot tell).
func (q *SLQ) LogDet(shift float64) (est, stderr float64, err error) {
	return q.Quadrature(func(t float64) (float64, error) {
		if !(t+shift > 0) {
			return 0, fmt.Errorf("%w: θ + shift = %g ≤ 0", ErrDomain, t+shift)
		}
		return math.Log(t + shift), nil
	})
}

// Trace estimates tr(H) = P·mean_r Σ_j τ_{r,j}² θ_{r,j} (equal to the
// Hutchinson estimate with the same normalized probes).
func (q *SLQ) Trace() (est, stderr float64) {
	est, stderr, _ = q.Quadrature(func(t float64) (float64, error) { return t, nil })
	return est, stderr
}
