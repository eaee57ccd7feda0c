package flatness

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// PACBayesSettings configure PACBayesFlatness.
type PACBayesSettings struct {
	// Target > 0 is the largest allowed training-accuracy drop (Jiang et al.:
	// 0.1).
	Target float64
	// Samples ≥ 1 is the number of noise draws averaged per σ'.
	Samples int
	// Floor ≥ 0 is the additive variance ε² of the noise (Jiang et al.:
	// 1e-6, i.e. ε = 1e-3).
	Floor float64
	// Lo < Hi (both > 0) bracket σ'; the bisection runs on log σ'.
	Lo, Hi float64
	// Steps ≥ 1 is the number of bisection steps.
	Steps int
}

// DefaultPACBayesSettings returns Target 0.1, 5 samples, Floor 1e-6,
// σ' ∈ [1e-6, 10], 20 bisection steps (log-bracket ratio 1e7 resolved to a
// factor 1e7^(1/2^20) ≈ 1.00002).
func DefaultPACBayesSettings() PACBayesSettings {
	return PACBayesSettings{Target: 0.1, Samples: 5, Floor: 1e-6, Lo: 1e-6, Hi: 10, Steps: 20}
}

// PACBayesResult is a magnitude-aware PAC-Bayes flatness.
type PACBayesResult struct {
	// Sigma is σ', the largest scale found whose accuracy drop is ≤ Target;
	// Flatness = 1/σ'².
	Sigma, Flatness float64
	// Accuracy is the training accuracy at θ and Drop the mean accuracy drop
	// at Sigma.
	Accuracy, Drop float64
	// AtHi reports that even Hi keeps the drop ≤ Target (σ' = Hi, a lower
	// bound); AtLo that even Lo exceeds it (σ' = Lo, an upper bound).
	AtHi, AtLo bool
	// Evaluations is the number of accuracy evaluations.
	Evaluations int
}

// PACBayesFlatness computes the magnitude-aware PAC-Bayes flatness 1/σ'² of
// Jiang et al. (2020): σ' is the largest scale such that, with independent
// per-weight noise ξᵢ ~ N(0, σ'² θᵢ² + Floor), the mean training accuracy drop
//
//	acc(θ) − (1/S) Σ_k acc(θ + ξ^{(k)})
//
// stays ≤ Target. The S standard-normal draws z^{(k)} (ξᵢ = √(σ'²θᵢ²+Floor)·zᵢ)
// are drawn once from rng and reused for every σ' (common random numbers),
// which makes the drop a deterministic, nearly monotone function of σ'; σ' is
// then found by Steps bisection steps on log σ' in [Lo, Hi], keeping the
// invariant drop(lo) ≤ Target < drop(hi).
func PACBayesFlatness(ctx context.Context, c Classifier, theta []float64, rng *rand.Rand, s PACBayesSettings) (PACBayesResult, error) {
	if err := checkTheta(c, theta); err != nil {
		return PACBayesResult{}, err
	}
	for _, p := range []struct {
		name string
		v    float64
	}{{"target", s.Target}, {"lo", s.Lo}, {"hi", s.Hi}} {
		if err := positive(p.name, p.v); err != nil {
			return PACBayesResult{}, err
		}
	}
	switch {
	case !(s.Floor >= 0) || math.IsInf(s.Floor, 0):
		return PACBayesResult{}, fmt.Errorf("%w: floor = %v, want finite ≥ 0", ErrInvalid, s.Floor)
	case !(s.Lo < s.Hi):
		return PACBayesResult{}, fmt.Errorf("%w: lo = %v, hi = %v, want lo < hi", ErrInvalid, s.Lo, s.Hi)
	case rng == nil:
		return PACBayesResult{}, fmt.Errorf("%w: nil rng", ErrInvalid)
	}
	if err := atLeast("samples", s.Samples, 1); err != nil {
		return PACBayesResult{}, err
	}
	if err := atLeast("steps", s.Steps, 1); err != nil {
		return PACBayesResult{}, err
	}
	p := len(theta)
	z := make([][]float64, s.Samples)
	for k := range z {
		z[k] = make([]float64, p)
		for i := range z[k] {
			z[k][i] = rng.NormFloat64()
		}
	}
	res := PACBayesResult{Accuracy: c.Accuracy(theta), Evaluations: 1}
	pt := make([]float64, p)
	drop := func(sigma float64) (float64, error) {
		var acc float64
		for k := range z {
			if err := ctx.Err(); err != nil {
				return 0, fmt.Errorf("pac-bayes σ' = %g: %w", sigma, err)
			}
			for i, t := range theta {
				pt[i] = t + math.Sqrt(sigma*sigma*t*t+s.Floor)*z[k][i]
			}
			acc += c.Accuracy(pt)
			res.Evaluations++
		}
		return res.Accuracy - acc/float64(len(z)), nil
	}
	dHi, err := drop(s.Hi)
	if err != nil {
		return PACBayesResult{}, err
	}
	if dHi <= s.Target {
		res.Sigma, res.Drop, res.AtHi = s.Hi, dHi, true
		res.Flatness = 1 / (s.Hi * s.Hi)
		return res, nil
	}
	dLo, err := drop(s.Lo)
	if err != nil {
		return PACBayesResult{}, err
	}
	if dLo > s.Target {
		res.Sigma, res.Drop, res.AtLo = s.Lo, dLo, true
		res.Flatness = 1 / (s.Lo * s.Lo)
		return res, nil
	}
	lo, hi := math.Log(s.Lo), math.Log(s.Hi)
	for it := 0; it < s.Steps; it++ {
		mid := (lo + hi) / 2
		d, err := drop(math.Exp(mid))
		if err != nil {
			return PACBayesResult{}, err
		}
		if d <= s.Target {
			lo, dLo = mid, d
		} else {
			hi = mid
		}
	}
	res.Sigma, res.Drop = math.Exp(lo), dLo
	res.Flatness = 1 / (res.Sigma * res.Sigma)
	return res, nil
}
