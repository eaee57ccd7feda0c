package flatness

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"

	"github.com/flatsweep/flatsweep/compute/flatness/lbfgsb"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// KeskarSolver selects the maximizer of KeskarSharpness.
type KeskarSolver int

const (
	// KeskarLBFGSB maximizes with L-BFGS-B (package lbfgsb), as Keskar et
	// al. did: the default.
	KeskarLBFGSB KeskarSolver = iota
	// KeskarProjectedAscent maximizes by projected gradient ascent with an
	// Armijo search along the projected path (see Ascent), flatsweep's
	// earlier solver, kept for comparison.
	KeskarProjectedAscent
)

// String names the solver.
func (s KeskarSolver) String() string {
	switch s {
	case KeskarLBFGSB:
		return "lbfgsb"
	case KeskarProjectedAscent:
		return "projected-ascent"
	}
	return fmt.Sprintf("KeskarSolver(%d)", int(s))
}

// KeskarSettings configure KeskarSharpness.
type KeskarSettings struct {
	// Epsilon > 0 is the relative box size ε (Keskar et al.: 1e-3 and 5e-4).
	Epsilon float64
	// Subspace is p, the number of columns of the random matrix A; 0 selects
	// the full space A = I (Keskar et al. use p = 100 for the random
	// subspace).
	Subspace int
	// Iterations ≥ 1 is the number of solver iterations (Keskar et al.: 10
	// iterations of L-BFGS-B).
	Iterations int
	// RandomStart starts the ascent at a uniform random point of C_ε instead
	// of y = 0 (useful at an exact stationary point, where ∇L = 0).
	RandomStart bool
	// Solver is the maximizer, L-BFGS-B by default.
	Solver KeskarSolver
}

// DefaultKeskarSettings returns ε = 1e-3, full space, 10 iterations of
// L-BFGS-B, start 0.
func DefaultKeskarSettings() KeskarSettings {
	return KeskarSettings{Epsilon: 1e-3, Iterations: 10}
}

// KeskarResult is an ε-sharpness estimate.
type KeskarResult struct {
	// Sharpness is φ = 100·(MaxLoss − Loss)/(1 + Loss).
	Sharpness float64
	// Loss is L(θ); Ascent.MaxLoss the largest L(θ + Ay) found in C_ε, at
	// the perturbation Ascent.Delta = Ay.
	Loss float64
	// Ascent counts the solver's iterations and oracle calls: LossEvals
	// calls of Loss and Gradients calls of Grad (each of which also returns
	// the loss). L-BFGS-B evaluates the loss and gradient together, so it
	// makes Loss calls only for L(θ) after a random start.
	Ascent
	// Evaluations = LossEvals + Gradients, the oracle calls in all.
	Evaluations int
	// OriginShared reports that the evaluation at y = 0 (L(θ) and
	// Aᵀ∇L(θ), the solver's first) was taken from an earlier measurement in
	// the same KeskarSpace with the same oracle, so Gradients counts one
	// call fewer than the solver's evaluations (see KeskarSpace.Sharpness).
	OriginShared bool
	// Status is the solver's reason for stopping (L-BFGS-B only; see
	// lbfgsb.Status), e.g. "iteration limit" or "converged" at a vertex
	// where every gradient component points out of the box.
	Status string
}

// KeskarSharpness computes the ε-sharpness of Keskar et al. (2017),
//
//	φ(θ, ε, A) = 100 · [max_{y ∈ C_ε} L(θ + A y) − L(θ)] / (1 + L(θ)),
//	C_ε = { y ∈ R^p : |y_i| ≤ r_i = ε (|(A⁺θ)_i| + 1) },
//
// with A = I_P (Subspace = 0) or A a P×p matrix of independent standard
// Gaussians drawn from rng (row-major, row by row), A⁺ its Moore–Penrose
// pseudo-inverse. A⁺θ is the least-squares solution of A z = θ, computed by
// the normal equations with one step of iterative refinement: the Gram
// matrix G = AᵀA by one symmetric rank-p update (P·p² flops, BLAS level 3),
// its Cholesky factor, z = G⁻¹Aᵀθ and one correction
// z ← z + G⁻¹Aᵀ(θ − Az) from the residual.
// This is accurate when κ(A)²·ε_mach ≪ 1, which holds with overwhelming
// probability for a Gaussian A with P ≫ p (κ(A) ≈ (1 + √(p/P))/(1 − √(p/P)));
// when the Cholesky factorization fails or cond(G) > 1/√ε_mach it falls back
// to the thin SVD (A⁺θ = V Σ⁻¹ Uᵀθ, singular values below P·ε_mach·σ_max
// treated as zero). The gradient with respect to y is Aᵀ∇L(θ + Ay).
//
// The maximization runs Iterations iterations of the chosen solver from y = 0
// (or a random point of C_ε), so φ is a lower bound of the true maximum;
// y = 0 is feasible, so φ ≥ 0.
//
// L-BFGS-B (package lbfgsb: Byrd, Lu, Nocedal & Zhu 1995, the solver of
// Keskar et al.) minimizes −L(θ + A(r∘z)) over the cube z ∈ [−1, 1]^p, the
// box C_ε in the coordinates z_i = y_i/r_i (a diagonal change of variables
// that makes B₀ = θ₀I isotropic over the box), with memory 10 (up to 20
// vectors of length p, allocated at the first stored pair) and no
// tolerance stops other than an exact KKT point (a vertex where every
// component of the gradient points out of the box). Two choices adapt it to
// a maximization over a small box around a minimum, where L is convex in
// most directions and the maximum lies at or near a vertex:
//
//   - θ₀ = √ε_mach·‖g₀‖_∞ (g₀ the gradient at the start). The model is then
//     nearly linear, so the first Cauchy point is the maximizer of the
//     first-order model over the box, the vertex sign(Aᵀ∇L)∘r (coordinates
//     with |g_i| < 2√ε_mach‖g₀‖_∞ excepted), which the projected ascent
//     reaches only after a line search of many loss evaluations. Byrd et al.
//     take θ₀ = 1, which ties the first step to the scale of L.
//   - θ stays θ₀ (lbfgsb.Settings.KeepScale) instead of yᵀy/sᵀy. Along a
//     step where L is convex, sᵀy < 0 in the minimization and the pair is
//     skipped; along one where L is concave the pair is stored and carries
//     that curvature. The scaling yᵀy/sᵀy would impose the curvature of the
//     concave directions on every direction, including the convex ones where
//     the model should stay flat, and shorten every later step.
//
// The iteration thus moves from vertex to vertex along the projected
// gradient path where L is convex and uses the BFGS model where it is not;
// each iteration costs one gradient evaluation (with the loss) when its
// first trial step is accepted, as it is when L is convex along it. Like the
// projected ascent it finds a local maximum: on a landscape with several,
// the two can stop at different ones.
//
// The projected ascent (KeskarProjectedAscent) is described at Ascent.
//
// KeskarSharpness builds the space with NewKeskarSpace and measures in it; to
// measure several ε in the same random subspace, build the space once and
// call KeskarSpace.Sharpness for each.
func KeskarSharpness(ctx context.Context, o Oracle, theta []float64, rng *rand.Rand, s KeskarSettings) (KeskarResult, error) {
	if err := checkTheta(o, theta); err != nil {
		return KeskarResult{}, err
	}
	if err := s.check(); err != nil {
		return KeskarResult{}, err
	}
	if err := ctx.Err(); err != nil {
		return KeskarResult{}, fmt.Errorf("keskar: %w", err)
	}
	sp, err := NewKeskarSpace(theta, rng, s.Subspace)
	if err != nil {
		return KeskarResult{}, err
	}
	return sp.Sharpness(ctx, o, rng, s)
}

// check validates the settings that do not depend on θ.
func (s KeskarSettings) check() error {
	if err := positive("epsilon", s.Epsilon); err != nil {
		return err
	}
	if err := atLeast("iterations", s.Iterations, 1); err != nil {
		return err
	}
	if s.Solver != KeskarLBFGSB && s.Solver != KeskarProjectedAscent {
		return fmt.Errorf("%w: solver = %v, want lbfgsb or projected-ascent", ErrInvalid, s.Solver)
	}
	return nil
}

// KeskarSpace is the space of Keskar's maximization at one θ: A = I, or a
// random P×p matrix A with A⁺θ, drawn and solved once (see KeskarSharpness)
// and shared by every ε measured in it, together with the evaluation at the
// origin y = 0 (see Sharpness). It retains θ and holds P·p values. A
// KeskarSpace must not be used concurrently.
type KeskarSpace struct {
	theta    []float64
	subspace int
	a        *mat.Dense // nil for the full space
	coords   []float64  // A⁺θ
	origin   origin
}

// origin is the evaluation at y = 0 — L(θ) and Aᵀ∇L(θ), which do not
// depend on ε — kept for the oracle o that made it (nil: none yet).
type origin struct {
	o    Oracle
	loss float64
	grad []float64
}

// sameOracle reports whether o is the oracle the origin was evaluated with:
// the same comparable interface value (a pointer, for NetOracle).
func (c *origin) sameOracle(o Oracle) bool {
	if c.o == nil || o == nil {
		return false
	}
	if tc, to := reflect.TypeOf(c.o), reflect.TypeOf(o); tc != to || !to.Comparable() {
		return false
	}
	return c.o == o
}

// NewKeskarSpace returns the full space (subspace = 0) or draws the P×p
// matrix A of standard Gaussians from rng (row-major, row by row) and
// computes A⁺θ, as KeskarSharpness does. theta is retained, not copied.
func NewKeskarSpace(theta []float64, rng *rand.Rand, subspace int) (*KeskarSpace, error) {
	p := len(theta)
	switch {
	case p == 0:
		return nil, fmt.Errorf("%w: empty theta", ErrInvalid)
	case subspace < 0 || subspace > p:
		return nil, fmt.Errorf("%w: subspace = %d, want 0 (full) or 1…P = %d", ErrInvalid, subspace, p)
	case subspace == 0:
		return &KeskarSpace{theta: theta, coords: theta}, nil
	case rng == nil:
		return nil, fmt.Errorf("%w: nil rng", ErrInvalid)
	}
	raw := make([]float64, p*subspace) // row-major: the draw order of A
	for i := range raw {
		raw[i] = rng.NormFloat64()
	}
	am := mat.NewDense(p, subspace, raw)
	coords, err := leastSquares(am, theta)
	if err != nil {
		return nil, err
	}
	return &KeskarSpace{theta: theta, subspace: subspace, a: am, coords: coords}, nil
}

// Subspace returns p, or 0 for the full space.
func (sp *KeskarSpace) Subspace() int { return sp.subspace }

// Sharpness computes φ(θ, ε, A) in the space (see KeskarSharpness) with the
// settings s, whose Subspace must be the space's. rng is used only for a
// random start.
//
// Started at y = 0, L-BFGS-B first evaluates L(θ) and g₀ = Aᵀ∇L(θ), which do
// not depend on ε. The space keeps them from its first such measurement
// and reuses them in every later one with the same oracle (the same
// comparable Oracle value, such as the same *NetOracle), saving one
// gradient evaluation and one product with Aᵀ per extra ε; the values are
// bit-identical to a fresh space's (the oracle must, as every Oracle here
// does, return the same values for the same θ). KeskarResult.OriginShared
// reports the reuse.
func (sp *KeskarSpace) Sharpness(ctx context.Context, o Oracle, rng *rand.Rand, s KeskarSettings) (KeskarResult, error) {
	theta := sp.theta
	if err := checkTheta(o, theta); err != nil {
		return KeskarResult{}, err
	}
	if err := s.check(); err != nil {
		return KeskarResult{}, err
	}
	if s.Subspace != sp.subspace {
		return KeskarResult{}, fmt.Errorf("%w: subspace = %d, but the space has %d", ErrInvalid, s.Subspace, sp.subspace)
	}
	if rng == nil && s.RandomStart {
		return KeskarResult{}, fmt.Errorf("%w: nil rng", ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return KeskarResult{}, fmt.Errorf("keskar: %w", err)
	}
	p := len(theta)
	a := &ascent{o: o, theta: theta}
	coords := sp.coords
	if sp.a == nil {
		a.dim = p
		a.toDelta = func(dst, u []float64) { copy(dst, u) }
		a.adjoint = func(dst, g []float64) { copy(dst, g) }
	} else {
		k, am := sp.subspace, sp.a
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
	u := make([]float64, a.dim)
	if s.RandomStart {
		for i := range u {
			u[i] = r[i] * (2*rng.Float64() - 1)
		}
	}
	var (
		asc    Ascent
		l0     float64
		status string
		shared bool
		err    error
	)
	if s.Solver == KeskarProjectedAscent {
		a.proj, a.step0 = boxProj(r), boxStep(r)
		l0 = o.Loss(theta)
		asc, err = a.run(ctx, u, s.Iterations)
		asc.LossEvals++
	} else {
		var org *origin
		if !s.RandomStart {
			org = &sp.origin
		}
		asc, l0, status, shared, err = a.lbfgsb(ctx, u, r, s.Iterations, org)
		if s.RandomStart {
			l0 = o.Loss(theta)
			asc.LossEvals++
		}
	}
	if err != nil {
		return KeskarResult{}, fmt.Errorf("keskar: %w", err)
	}
	if asc.MaxLoss < l0 { // a random start may begin below L(θ); y = 0 is feasible
		asc.MaxLoss = l0
		clear(asc.Delta)
	}
	return KeskarResult{Sharpness: 100 * (asc.MaxLoss - l0) / (1 + l0), Loss: l0, Ascent: asc,
		Evaluations: asc.LossEvals + asc.Gradients, Status: status, OriginShared: shared}, nil
}

// lbfgsb maximizes L(θ + M(r∘z)) over z ∈ [−1, 1]^dim from u = r∘z₀ by
// L-BFGS-B (see KeskarSharpness) and returns the result with the loss at the
// first point evaluated (L(θ) when u = 0) and the solver's status. org is nil
// for a start u ≠ 0; for u = 0 it holds (or receives) the evaluation at the
// origin, Mᵀ∇L(θ) and L(θ), used instead of an oracle call when it was made
// with a.o, and the origin's product M·0 = 0 is skipped.
func (a *ascent) lbfgsb(ctx context.Context, u, r []float64, iters int, org *origin) (asc Ascent, first float64, status string, shared bool, err error) {
	p := len(a.theta)
	delta, point, grad := make([]float64, p), make([]float64, p), make([]float64, p)
	y, gy := make([]float64, a.dim), make([]float64, a.dim)
	lower, upper, z0 := make([]float64, a.dim), make([]float64, a.dim), make([]float64, a.dim)
	for i := range z0 {
		lower[i], upper[i], z0[i] = -1, 1, u[i]/r[i]
	}
	evals := 0
	shared = org != nil && org.sameOracle(a.o)
	lastZ := make([]float64, a.dim) // the point of the last evaluation, whose δ is in delta
	f := func(gz, z []float64) float64 {
		copy(lastZ, z)
		var l float64
		switch {
		case evals == 0 && shared:
			l = org.loss
			copy(gy, org.grad)
		case evals == 0 && org != nil:
			// z = 0: δ = M·0 = 0, the point θ itself.
			floats.AddTo(point, a.theta, delta)
			l = a.o.Grad(grad, point)
			a.adjoint(gy, grad)
			*org = origin{o: a.o, loss: l, grad: slices.Clone(gy)}
		default:
			for i, zi := range z {
				y[i] = r[i] * zi
			}
			a.toDelta(delta, y)
			floats.AddTo(point, a.theta, delta)
			l = a.o.Grad(grad, point)
			a.adjoint(gy, grad)
		}
		for i := range gz {
			gz[i] = -r[i] * gy[i]
		}
		if evals == 0 {
			first = l
		}
		evals++
		return -l
	}
	res, err := lbfgsb.Minimize(ctx, f, z0, lower, upper, lbfgsb.Settings{
		MaxIterations: iters,
		KeepScale:     true,
		Scale0:        func(g []float64) float64 { return 0x1p-26 * floats.Norm(g, math.Inf(1)) },
	})
	if err != nil {
		return Ascent{}, 0, "", false, err
	}
	out := Ascent{MaxLoss: -res.F, Delta: make([]float64, p), Iterations: res.Iterations, Gradients: res.Evaluations}
	if shared {
		out.Gradients--
	}
	if evals > 0 && slices.EqualFunc(res.X, lastZ, func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }) {
		copy(out.Delta, delta) // the solution is the last point evaluated: δ is known
	} else {
		for i, zi := range res.X {
			y[i] = r[i] * zi
		}
		a.toDelta(out.Delta, y)
	}
	return out, first, res.Status.String(), shared, nil
}

// leastSquares returns A⁺x for A of full column rank by the refined normal
// equations, falling back to the SVD (see KeskarSharpness).
func leastSquares(a *mat.Dense, x []float64) ([]float64, error) {
	rows, k := a.Dims()
	var g mat.SymDense
	g.SymOuterK(1, a.T())
	var ch mat.Cholesky
	if !ch.Factorize(&g) || ch.Cond() > 0x1p26 {
		return pinvApply(a, x)
	}
	xv := mat.NewVecDense(rows, x)
	var atx, z, res, corr mat.VecDense
	atx.MulVec(a.T(), xv)
	if err := ch.SolveVecTo(&z, &atx); err != nil {
		return pinvApply(a, x)
	}
	res.MulVec(a, &z)
	res.SubVec(xv, &res)
	atx.MulVec(a.T(), &res)
	if err := ch.SolveVecTo(&corr, &atx); err != nil {
		return pinvApply(a, x)
	}
	z.AddVec(&z, &corr)
	out := make([]float64, k)
	for i := range out {
		out[i] = z.AtVec(i)
	}
	return out, nil
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
