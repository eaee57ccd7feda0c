package flatness

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flatsweep/flatsweep/compute/curvature"
)

// EvidenceSettings configure Evidence.
type EvidenceSettings struct {
	// Lambda > 0 is the L2 regularization strength λ, i.e. the precision of
	// the Gaussian prior N(0, λ⁻¹I).
	Lambda float64
	// Examples ≥ 1 is M, the number of examples the mean loss and its
	// curvature operator average over (the summed cost is M times the mean).
	Examples int
	// SLQ configures the log-determinant estimate (runs × steps products).
	SLQ curvature.SLQSettings
}

// EvidenceResult is a Laplace evidence estimate.
type EvidenceResult struct {
	// LogEvidence is log P(y|x) ≈ −C(θ₀) + LogOccam.
	LogEvidence float64
	// LogOccam is the log Occam factor −½ Σᵢ ln(λᵢ/λ) (≤ 0 after clipping).
	LogOccam float64
	// StdErr is the SLQ standard error of LogOccam (and LogEvidence).
	StdErr float64
	// Cost is C(θ₀) = M·L(θ₀) + (λ/2)‖θ₀‖².
	Cost float64
	// Clipped is the number of Ritz nodes (over all SLQ runs) below λ that
	// were raised to λ, and ClippedMass the fraction of the spectral weight
	// they carry (mean over runs of Σ τ² over clipped nodes): ClippedMass·P
	// estimates how many eigenvalues of ∇²C lie below λ, which is possible
	// only away from a minimum or where the curvature operator is not PSD.
	Clipped     int
	ClippedMass float64
	// MinNode is the smallest Ritz node of ∇²C (before clipping).
	MinNode float64
	// Products is the number of curvature products.
	Products int
}

// Evidence estimates the Laplace-approximation log evidence of Smith & Le
// (2018) for the L2-regularized summed cost C(θ) = Σᵢ ℓᵢ(θ) + (λ/2)‖θ‖²:
//
//	log P(y|x) ≈ −C(θ₀) − ½ Σᵢ ln(λᵢ/λ),
//
// λᵢ being the eigenvalues of ∇²C(θ₀) = M·K + λI, with K the curvature of the
// mean loss given as the operator curv (the Hessian ∇²L, e.g.
// HessianOperator(o, θ₀), or the PSD Gauss–Newton matrix). The Occam factor
// is Πᵢ (λ/λᵢ)^{1/2}. The sum Σᵢ ln(λᵢ/λ) = tr ln(∇²C/λ) is estimated by
// stochastic Lanczos quadrature on the operator v ↦ M·K v + λv:
// P·mean_r Σ_j τ_j² ln(max(θ_j, λ)/λ).
//
// Treatment of small and negative eigenvalues: at an exact minimum with the
// Hessian every λᵢ ≥ λ. Away from one (or with a non-PSD K) Ritz nodes below λ
// would give negative or undefined logarithms; they are clipped at λ
// (contributing 0 — such directions are treated as determined by the prior
// alone) and counted in Clipped/ClippedMass. Passing the Gauss–Newton
// operator instead avoids clipping altogether.
//
// meanLoss is L(θ₀), the mean data loss over the M examples; theta is θ₀ (for
// the prior term). rng draws the SLQ probes.
func Evidence(ctx context.Context, meanLoss float64, theta []float64, curv curvature.Operator,
	rng *rand.Rand, s EvidenceSettings) (EvidenceResult, error) {
	switch {
	case curv == nil:
		return EvidenceResult{}, fmt.Errorf("%w: nil curvature operator", ErrInvalid)
	case rng == nil:
		return EvidenceResult{}, fmt.Errorf("%w: nil rng", ErrInvalid)
	case len(theta) == 0:
		return EvidenceResult{}, fmt.Errorf("%w: empty theta", ErrInvalid)
	case math.IsNaN(meanLoss) || math.IsInf(meanLoss, 0):
		return EvidenceResult{}, fmt.Errorf("%w: mean loss = %v", ErrInvalid, meanLoss)
	}
	if err := positive("lambda", s.Lambda); err != nil {
		return EvidenceResult{}, err
	}
	if err := atLeast("examples", s.Examples, 1); err != nil {
		return EvidenceResult{}, err
	}
	m, lam := float64(s.Examples), s.Lambda
	op := func(dst, v []float64) {
		curv(dst, v)
		for i := range dst {
			dst[i] = m*dst[i] + lam*v[i]
		}
	}
	q, err := curvature.StochasticLanczosQuadrature(ctx, len(theta), op, rng, s.SLQ)
	if err != nil {
		return EvidenceResult{}, fmt.Errorf("evidence: %w", err)
	}
	var sq float64
	for _, t := range theta {
		sq += t * t
	}
	res := EvidenceResult{Cost: m*meanLoss + lam/2*sq, Products: q.Products, MinNode: math.Inf(1)}
	for r, nodes := range q.Nodes {
		for j, t := range nodes {
			res.MinNode = min(res.MinNode, t)
			if t < lam {
				res.Clipped++
				res.ClippedMass += q.Weights[r][j] / float64(len(q.Nodes))
			}
		}
	}
	sum, se, err := q.Quadrature(func(t float64) (float64, error) {
		return math.Log(max(t, lam) / lam), nil
	})
	if err != nil {
		return EvidenceResult{}, fmt.Errorf("evidence: %w", err)
	}
	res.LogOccam, res.StdErr = -sum/2, se/2
	res.LogEvidence = -res.Cost + res.LogOccam
	return res, nil
}
