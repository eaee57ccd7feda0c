package flatness

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
)

// SharpnessSettings configure AdaptiveSharpness and AverageSharpness.
type SharpnessSettings struct {
	// Rho > 0 is the radius ρ.
	Rho float64
	// Norm is p ∈ {2, +Inf} for the worst case (ignored by the average case).
	Norm float64
	// Adaptive selects c = |θ| + Eta (adaptive sharpness); false selects
	// c = 1 (plain sharpness).
	Adaptive bool
	// Eta ≥ 0 is added to |θ| in the adaptive scale (ASAM uses 0.01 for
	// biases; the definition of Kwon et al. is Eta = 0, the default). With
	// Eta > 0 the measure is no longer exactly invariant under rescaling.
	Eta float64
	// Iterations ≥ 1 is the number of ascent iterations (worst case).
	Iterations int
	// RandomStart starts the worst-case ascent at a random point of the ball
	// (a Gaussian direction at radius ρ/2 for p = 2, uniform in [−ρ/2, ρ/2]
	// per coordinate for p = ∞) instead of δ = 0.
	RandomStart bool
	// Samples ≥ 2 is the number of Monte Carlo samples (average case).
	Samples int
}

// AdaptiveResult is a worst-case sharpness estimate.
type AdaptiveResult struct {
	// Sharpness is S_max = MaxLoss − Loss (a lower bound on the maximum).
	Sharpness float64
	// Loss is L(θ).
	Loss float64
	Ascent
}

// scale returns c.
func (s SharpnessSettings) scale(theta []float64) []float64 {
	c := make([]float64, len(theta))
	for i, t := range theta {
		if s.Adaptive {
			c[i] = math.Abs(t) + s.Eta
		} else {
			c[i] = 1
		}
	}
	return c
}

func (s SharpnessSettings) validate(o Oracle, theta []float64) error {
	if err := checkTheta(o, theta); err != nil {
		return err
	}
	if err := positive("rho", s.Rho); err != nil {
		return err
	}
	if !(s.Eta >= 0) || math.IsInf(s.Eta, 0) {
		return fmt.Errorf("%w: eta = %v, want finite ≥ 0", ErrInvalid, s.Eta)
	}
	return nil
}

// AdaptiveSharpness computes the worst-case (adaptive) sharpness
//
//	S_max = max_{‖δ ⊙ c⁻¹‖_p ≤ ρ} L(θ + δ) − L(θ)
//
// (Kwon et al. 2021; Andriushchenko et al. 2023) with c = |θ| (+Eta) when
// Adaptive, else c = 1, and p = Norm ∈ {2, ∞}. Writing δ = c ⊙ u the set is
// the ball ‖u‖_p ≤ ρ (coordinates with c_i = 0 cannot move), and the
// maximization is projected gradient ascent in u with gradient c ⊙ ∇L(θ + δ)
// (see Ascent; first trial step 2ρ/‖g‖₂ for p = 2). With c = |θ| the problem in
// u is identical for θ and for any rescaling Dθ with positive diagonal D that
// leaves the function unchanged (such as Dinh's α-scaling), so S_max is
// invariant; with c = 1 it is not.
func AdaptiveSharpness(ctx context.Context, o Oracle, theta []float64, rng *rand.Rand, s SharpnessSettings) (AdaptiveResult, error) {
	if err := s.validate(o, theta); err != nil {
		return AdaptiveResult{}, err
	}
	if s.Norm != 2 && !math.IsInf(s.Norm, 1) {
		return AdaptiveResult{}, fmt.Errorf("%w: norm p = %v, want 2 or +Inf", ErrInvalid, s.Norm)
	}
	if err := atLeast("iterations", s.Iterations, 1); err != nil {
		return AdaptiveResult{}, err
	}
	if s.RandomStart && rng == nil {
		return AdaptiveResult{}, fmt.Errorf("%w: nil rng", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return AdaptiveResult{}, fmt.Errorf("adaptive sharpness: %w", err)
	}
	p := len(theta)
	c := s.scale(theta)
	a := &ascent{o: o, theta: theta, dim: p,
		toDelta: func(dst, u []float64) { floats.MulTo(dst, c, u) },
		adjoint: func(dst, g []float64) { floats.MulTo(dst, c, g) },
	}
	u := make([]float64, p)
	if s.Norm == 2 {
		rho := s.Rho
		a.proj = func(u []float64) {
			if n := floats.Norm(u, 2); n > rho {
				floats.Scale(rho/n, u)
			}
		}
		a.step0 = func(_, g []float64) (float64, float64) {
			t := 2 * rho / floats.Norm(g, 2)
			return t, 1024 * t
		}
		if s.RandomStart {
			for i := range u {
				u[i] = rng.NormFloat64()
			}
			if n := floats.Norm(u, 2); n > 0 {
				floats.Scale(rho/2/n, u)
			}
		}
	} else {
		r := make([]float64, p)
		for i := range r {
			r[i] = s.Rho
		}
		a.proj, a.step0 = boxProj(r), boxStep(r)
		if s.RandomStart {
			for i := range u {
				u[i] = s.Rho * (rng.Float64() - 0.5)
			}
		}
	}
	l0 := o.Loss(theta)
	asc, err := a.run(ctx, u, s.Iterations)
	if err != nil {
		return AdaptiveResult{}, fmt.Errorf("adaptive sharpness: %w", err)
	}
	asc.LossEvals++
	if asc.MaxLoss < l0 {
		asc.MaxLoss = l0
		clear(asc.Delta)
	}
	return AdaptiveResult{Sharpness: asc.MaxLoss - l0, Loss: l0, Ascent: asc}, nil
}

// AverageResult is an average-case sharpness estimate.
type AverageResult struct {
	// Sharpness is the Monte Carlo mean of L(θ + δ) − L(θ), StdErr its
	// standard error (sample standard deviation over √Samples).
	Sharpness, StdErr float64
	// Loss is L(θ); Samples the number of perturbations.
	Loss    float64
	Samples int
}

// AverageSharpness computes the average-case (adaptive) sharpness
//
//	S_avg = E_{δ ~ N(0, ρ² diag(c²))} [L(θ + δ) − L(θ)]
//
// by Monte Carlo over s.Samples draws δ = ρ c ⊙ z, z ~ N(0, I) from rng, with c
// as in AdaptiveSharpness. With c = |θ| and the same rng seed the estimate is
// invariant under function-preserving positive rescalings.
func AverageSharpness(ctx context.Context, o Oracle, theta []float64, rng *rand.Rand, s SharpnessSettings) (AverageResult, error) {
	if err := s.validate(o, theta); err != nil {
		return AverageResult{}, err
	}
	if err := atLeast("samples", s.Samples, 2); err != nil {
		return AverageResult{}, err
	}
	if rng == nil {
		return AverageResult{}, fmt.Errorf("%w: nil rng", ErrInvalid)
	}
	c := s.scale(theta)
	l0 := o.Loss(theta)
	pt := make([]float64, len(theta))
	var n, mean, m2 float64
	for k := 0; k < s.Samples; k++ {
		if err := ctx.Err(); err != nil {
			return AverageResult{}, fmt.Errorf("average sharpness sample %d: %w", k+1, err)
		}
		for i, t := range theta {
			pt[i] = t + s.Rho*c[i]*rng.NormFloat64()
		}
		x := o.Loss(pt) - l0
		n++
		d := x - mean
		mean += d / n
		m2 += d * (x - mean)
	}
	return AverageResult{Sharpness: mean, StdErr: math.Sqrt(m2/(n-1)) / math.Sqrt(n), Loss: l0, Samples: s.Samples}, nil
}
