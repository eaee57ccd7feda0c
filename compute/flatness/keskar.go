package flatness

import (
	"context"
	"fmt"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// KeskarSettings configure KeskarSharpness.
type KeskarSettings struct {
	// Epsilon > 0 is the relative box size ε (Keskar et al.: 1e-3 and 5e-4).
	Epsilon float64
	// Subspace is p, the number of columns of the random matrix A; 0 selects
	// the full space A = I (Keskar et al. use p = 100 for the random
	// subspace).
	Subspace int
	// Iterations ≥ 1 is the number of ascent iterations (Keskar et al.: 10
	// iterations of L-BFGS-B).
	Iterations int
	// RandomStart starts the ascent at a uniform random point of C_ε instead
	// of y = 0 (useful at an exact stationary point, where ∇L = 0).
	RandomStart bool
}

// DefaultKeskarSettings returns ε = 1e-3, full space, 10 iterations, start 0.
func DefaultKeskarSettings() KeskarSettings {
	return KeskarSettings{Epsilon: 1e-3, Iterations: 10}
}

// KeskarResult is an ε-sharpness estimate.
type KeskarResult struct {
	// Sharpness is φ = 100·(MaxLoss − Loss)/(1 + Loss).
	Sharpness float64
	// Loss is L(θ); Ascent.MaxLoss the largest L(θ + Ay) found in C_ε.
	Loss float64
	Ascent
}

// KeskarSharpness computes the ε-sharpness of Keskar et al. (2017),
//
//	φ(θ, ε, A) = 100 · [max_{y ∈ C_ε} L(θ + A y) − L(θ)] / (1 + L(θ)),
//	C_ε = { y ∈ R^p : |y_i| ≤ ε (|(A⁺θ)_i| + 1) },
//
// with A = I_P (Subspace = 0) or A a P×p matrix of independent standard
// Gaussians drawn from rng (row-major, row by row), A⁺ its Moore–Penrose
// pseudo-inverse (gonum's thin SVD: A⁺θ = V Σ⁻¹ Uᵀθ, singular values below
// P·ε_mach·σ_max treated as zero). The maximization replaces L-BFGS-B by
// projected gradient ascent on the box (see Ascent): the iterations and the
// value attained are reported, and φ is a lower bound on the true maximum.
// The gradient with respect to y is Aᵀ∇L(θ + Ay).
func KeskarSharpness(ctx context.Context, o Oracle, theta []float64, rng *rand.Rand, s KeskarSettings) (KeskarResult, error) {
	if err := checkTheta(o, theta); err != nil {
		return KeskarResult{}, err
	}
	if err := positive("epsilon", s.Epsilon); err != nil {
		return KeskarResult{}, err
	}
	if err := atLeast("iterations", s.Iterations, 1); err != nil {
		return KeskarResult{}, err
	}
	p := len(theta)
	if s.Subspace < 0 || s.Subspace > p {
		return KeskarResult{}, fmt.Errorf("%w: subspace = %d, want 0 (full) or 1…P = %d", ErrInvalid, s.Subspace, p)
	}
	if rng == nil && (s.Subspace > 0 || s.RandomStart) {
		return KeskarResult{}, fmt.Errorf("%w: nil rng", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return KeskarResult{}, fmt.Errorf("keskar: %w", err)
	}
	a := &ascent{o: o, theta: theta}
	var coords []float64 // A⁺θ
	if s.Subspace == 0 {
		a.dim = p
		coords = theta
		a.toDelta = func(dst, u []float64) { copy(dst, u) }
		a.adjoint = func(dst, g []float64) { copy(dst, g) }
	} else {
		k := s.Subspace
		am := mat.NewDense(p, k, nil)
		for i := 0; i < p; i++ {
			for j := 0; j < k; j++ {
				am.Set(i, j, rng.NormFloat64())
			}
		}
		var err error
		coords, err = pinvApply(am, theta)
		if err != nil {
			return KeskarResult{}, err
		}
		a.dim = k
		a.toDelta = func(dst, u []float64) {
			mat.NewVecDense(p, dst).MulVec(am, mat.NewVecDense(k, u))
		}
		a.adjoint = func(dst, g []float64) {
			mat.NewVecDense(k, dst).MulVec(am.T(), mat.NewVecDense(p, g))
		}
	}
	r := make([]float64, a.dim)
	for i, c := range coords {
		r[i] = s.Epsilon * (abs(c) + 1)
	}
	a.proj, a.step0 = boxProj(r), boxStep(r)
	u := make([]float64, a.dim)
	if s.RandomStart {
		for i := range u {
			u[i] = r[i] * (2*rng.Float64() - 1)
		}
	}
	l0 := o.Loss(theta)
	asc, err := a.run(ctx, u, s.Iterations)
	if err != nil {
		return KeskarResult{}, fmt.Errorf("keskar: %w", err)
	}
	asc.LossEvals++
	if asc.MaxLoss < l0 { // a random start may begin below L(θ); y = 0 is feasible
		asc.MaxLoss = l0
		clear(asc.Delta)
	}
	return KeskarResult{Sharpness: 100 * (asc.MaxLoss - l0) / (1 + l0), Loss: l0, Ascent: asc}, nil
}

// pinvApply returns A⁺x by the thin SVD of A.
func pinvApply(a *mat.Dense, x []float64) ([]float64, error) {
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDThin) {
		return nil, fmt.Errorf("flatness: SVD of the random subspace matrix failed")
	}
	sv := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	rows, _ := a.Dims()
	var utx mat.VecDense
	utx.MulVec(u.T(), mat.NewVecDense(rows, x))
	tol := float64(rows) * 0x1p-52 * sv[0]
	for i, s := range sv {
		if s > tol {
			utx.SetVec(i, utx.AtVec(i)/s)
		} else {
			utx.SetVec(i, 0)
		}
	}
	var out mat.VecDense
	out.MulVec(&v, &utx)
	return out.RawVector().Data, nil
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
