package flatness_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/flatness"
	"github.com/flatsweep/flatsweep/compute/nn"
)

// threeParamNet returns the oracle of a one-neuron network with three
// parameters, z = tanh(w₁x₁ + w₂x₂ + b), under the squared error
// ½(z − 1)² (MeanSquaredError with the single label 0), over 24 random
// examples, and a random θ: a smooth nonconvex loss small enough that its
// box maximum can be enumerated.
func threeParamNet(t *testing.T, seed uint64) ([]float64, *flatness.NetOracle) {
	t.Helper()
	net, err := nn.New(nn.MeanSquaredError{}, &nn.Dense{In: 2, Out: 1, Gain: 1}, &nn.Tanh{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 3))
	const n = 24
	x := make([]float64, 2*n)
	for i := range x {
		x[i] = 2 * rng.NormFloat64()
	}
	o, err := flatness.NewNetOracle(net, x, make([]int, n), n)
	if err != nil {
		t.Fatal(err)
	}
	return []float64{rng.NormFloat64(), rng.NormFloat64(), 0.3 * rng.NormFloat64()}, o
}

// TestKeskarBruteForce checks the L-BFGS-B maximizer against an exhaustive
// search on a network with P = 3 parameters: the loss on a 61×61×61 grid over
// C_ε (endpoints included, so the 8 vertices are among its points). The
// solver, started at y = 0 with 10 iterations, must reach the grid maximum
// up to rounding (φ ≥ φ_grid − 1e-9·φ_grid) and cannot exceed the true
// maximum, which the grid approaches from below to within its spacing
// h_i = r_i/30: φ ≤ φ_grid·(1 + 1e-3) (for an interior maximum the gap is
// O(h²), below 1e-3 relative at these box sizes). At ε = 0.1 (seed 2) the
// maximum is no longer at the linear model's vertex and the BFGS model does
// the work. (At ε = 0.3 the box holds several local maxima, and with seed 3
// the solver stops at a KKT vertex 8 % below the grid's best: a local
// method's limit, which this test does not cover.)
func TestKeskarBruteForce(t *testing.T) {
	ctx := context.Background()
	for _, seed := range []uint64{1, 2, 3} {
		theta, o := threeParamNet(t, seed)
		l0 := o.Loss(theta)
		for _, eps := range []float64{1e-3, 1e-2, 0.1} {
			r := make([]float64, 3)
			for i := range r {
				r[i] = eps * (math.Abs(theta[i]) + 1)
			}
			const k = 60
			best := math.Inf(-1)
			pt := make([]float64, 3)
			for a := 0; a <= k; a++ {
				for b := 0; b <= k; b++ {
					for c := 0; c <= k; c++ {
						for i, j := range [3]int{a, b, c} {
							pt[i] = theta[i] + r[i]*(2*float64(j)/k-1)
						}
						best = max(best, o.Loss(pt))
					}
				}
			}
			grid := 100 * (best - l0) / (1 + l0)
			s := flatness.DefaultKeskarSettings()
			s.Epsilon = eps
			res, err := flatness.KeskarSharpness(ctx, o, theta, nil, s)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("seed %d ε = %g: φ = %.10g, grid %.10g (ratio %.8f); %d iterations, %d evaluations (%s)",
				seed, eps, res.Sharpness, grid, res.Sharpness/grid, res.Iterations, res.Evaluations, res.Status)
			if res.Sharpness < grid*(1-1e-9) || res.Sharpness > grid*(1+1e-3) {
				t.Errorf("seed %d ε = %g: φ = %v, grid maximum %v", seed, eps, res.Sharpness, grid)
			}
			for i, d := range res.Delta {
				if math.Abs(d) > r[i] {
					t.Errorf("δ[%d] = %v outside ±%v", i, d, r[i])
				}
			}
		}
	}
}

// TestKeskarNewVersusOld: on small MLPs (trained and random), in the full
// space and a random subspace, the L-BFGS-B value is at least the projected
// ascent's up to 0.1 %, φ_new ≥ φ_old·(1 − 1e-3), with fewer oracle
// evaluations; and the reported maximum is the loss at the reported
// perturbation. Both solvers stop at local maxima, so neither dominates on
// every landscape: here they agree to the logged digits except in two cases
// in the full space. For the random network at ε = 1e-2, L-BFGS-B is 0.02 %
// higher (24 evaluations against 100). For the trained network at
// ε = 1e-3, the ascent's line search passes the linear model's vertex (a KKT
// point, where L-BFGS-B stops after 2 evaluations) and reaches a vertex
// 0.06 % higher after 55 calls.
func TestKeskarNewVersusOld(t *testing.T) {
	ctx := context.Background()
	_, trained, ot := trainedNet(t, 3, 8, 3, 60, 11)
	_, random, or := tinyNet(t, 5, []int{6, 6}, 3, 40, 2)
	for _, c := range []struct {
		name  string
		o     *flatness.NetOracle
		theta []float64
	}{{"trained", ot, trained}, {"random", or, random}} {
		for _, p := range []int{0, 10} {
			for _, eps := range []float64{1e-3, 5e-4, 1e-2} {
				name := fmt.Sprintf("%s p=%d ε=%g", c.name, p, eps)
				s := flatness.KeskarSettings{Epsilon: eps, Subspace: p, Iterations: 10}
				nw, err := flatness.KeskarSharpness(ctx, c.o, c.theta, rand.New(rand.NewPCG(5, 5)), s)
				if err != nil {
					t.Fatal(err)
				}
				s.Solver = flatness.KeskarProjectedAscent
				old, err := flatness.KeskarSharpness(ctx, c.o, c.theta, rand.New(rand.NewPCG(5, 5)), s)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: L-BFGS-B φ = %.8g (%d evaluations, %s), projected ascent φ = %.8g (%d losses + %d gradients)",
					name, nw.Sharpness, nw.Evaluations, nw.Status, old.Sharpness, old.LossEvals, old.Gradients)
				if nw.Sharpness < old.Sharpness*(1-1e-3) {
					t.Errorf("%s: L-BFGS-B φ = %v < projected ascent %v", name, nw.Sharpness, old.Sharpness)
				}
				if nw.Evaluations >= old.Evaluations {
					t.Errorf("%s: %d evaluations, projected ascent %d", name, nw.Evaluations, old.Evaluations)
				}
				pt := make([]float64, len(c.theta))
				for i := range pt {
					pt[i] = c.theta[i] + nw.Delta[i]
				}
				if relDiff(c.o.Loss(pt), nw.MaxLoss) > 1e-12 {
					t.Errorf("%s: L(θ + δ) = %v, reported %v", name, c.o.Loss(pt), nw.MaxLoss)
				}
			}
		}
	}
}

// TestKeskarDeterministic: the same settings and seed give bit-identical
// values, with both solvers, full space and subspace, and a random start.
func TestKeskarDeterministic(t *testing.T) {
	_, theta, o := tinyNet(t, 4, []int{5}, 3, 30, 8)
	for _, solver := range []flatness.KeskarSolver{flatness.KeskarLBFGSB, flatness.KeskarProjectedAscent} {
		for _, p := range []int{0, 7} {
			for _, rs := range []bool{false, true} {
				s := flatness.KeskarSettings{Epsilon: 1e-3, Subspace: p, Iterations: 10, RandomStart: rs, Solver: solver}
				a, err := flatness.KeskarSharpness(context.Background(), o, theta, rand.New(rand.NewPCG(3, 1)), s)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := flatness.KeskarSharpness(context.Background(), o, theta, rand.New(rand.NewPCG(3, 1)), s)
				if math.Float64bits(a.Sharpness) != math.Float64bits(b.Sharpness) || a.Evaluations != b.Evaluations {
					t.Errorf("%v p=%d random start %v: %v (%d) vs %v (%d)", solver, p, rs, a.Sharpness, a.Evaluations, b.Sharpness, b.Evaluations)
				}
				if !(a.Sharpness >= 0) {
					t.Errorf("%v p=%d: φ = %v", solver, p, a.Sharpness)
				}
			}
		}
	}
}

// countingOracle counts the gradient calls made through it.
type countingOracle struct {
	flatness.Oracle
	grads int
}

func (c *countingOracle) Grad(dst, theta []float64) float64 {
	c.grads++
	return c.Oracle.Grad(dst, theta)
}

// TestKeskarSharedSpace: measuring several ε in one KeskarSpace gives
// bit-identical values (φ, the maximum, the perturbation, the iterations)
// to KeskarSharpness with a fresh generator per ε (the same A); from the
// second ε on, the evaluation at y = 0 comes from the space
// (OriginShared), so each measurement makes exactly one gradient call fewer
// than a fresh one, and Gradients counts the calls really made. Another
// oracle in the same space, or a random start, does not use the shared
// origin. A mismatched Subspace setting is refused.
func TestKeskarSharedSpace(t *testing.T) {
	_, theta, base := tinyNet(t, 4, []int{6}, 3, 30, 4)
	_, _, other := tinyNet(t, 4, []int{6}, 3, 30, 5) // the same network on other data
	ctx := context.Background()
	for _, p := range []int{0, 9} {
		sp, err := flatness.NewKeskarSpace(theta, rand.New(rand.NewPCG(6, 6)), p)
		if err != nil {
			t.Fatal(err)
		}
		o := &countingOracle{Oracle: base}
		for k, eps := range []float64{1e-3, 5e-4, 2.5e-3} {
			s := flatness.KeskarSettings{Epsilon: eps, Subspace: p, Iterations: 10}
			before := o.grads
			shared, err := sp.Sharpness(ctx, o, nil, s)
			if err != nil {
				t.Fatal(err)
			}
			calls := o.grads - before
			fresh, err := flatness.KeskarSharpness(ctx, base, theta, rand.New(rand.NewPCG(6, 6)), s)
			if err != nil {
				t.Fatal(err)
			}
			if math.Float64bits(shared.Sharpness) != math.Float64bits(fresh.Sharpness) ||
				math.Float64bits(shared.MaxLoss) != math.Float64bits(fresh.MaxLoss) ||
				!bitsEqual(shared.Delta, fresh.Delta) || shared.Iterations != fresh.Iterations {
				t.Errorf("p = %d ε = %g: shared %v (%d iterations), fresh %v (%d)", p, eps, shared.Sharpness, shared.Iterations, fresh.Sharpness, fresh.Iterations)
			}
			wantShared, wantEvals := k > 0, fresh.Evaluations
			if wantShared {
				wantEvals--
			}
			if shared.OriginShared != wantShared || shared.Evaluations != wantEvals || shared.Gradients != calls {
				t.Errorf("p = %d ε = %g: OriginShared %v, %d evaluations, %d gradients for %d calls; want %v, %d (fresh %d)",
					p, eps, shared.OriginShared, shared.Evaluations, shared.Gradients, calls, wantShared, wantEvals, fresh.Evaluations)
			}
		}
		s := flatness.KeskarSettings{Epsilon: 1e-3, Subspace: p, Iterations: 10}
		got, err := sp.Sharpness(ctx, other, nil, s)
		if err != nil {
			t.Fatal(err)
		}
		want, err := flatness.KeskarSharpness(ctx, other, theta, rand.New(rand.NewPCG(6, 6)), s)
		if err != nil {
			t.Fatal(err)
		}
		if got.OriginShared || math.Float64bits(got.Sharpness) != math.Float64bits(want.Sharpness) || got.Evaluations != want.Evaluations {
			t.Errorf("p = %d, another oracle: %v (%d, shared %v), fresh %v (%d)", p, got.Sharpness, got.Evaluations, got.OriginShared, want.Sharpness, want.Evaluations)
		}
		s.RandomStart = true
		rs, err := sp.Sharpness(ctx, other, rand.New(rand.NewPCG(1, 1)), s)
		if err != nil {
			t.Fatal(err)
		}
		if rs.OriginShared {
			t.Errorf("p = %d: a random start used the shared origin", p)
		}
		if _, err := sp.Sharpness(ctx, o, nil, flatness.KeskarSettings{Epsilon: 1e-3, Subspace: p + 1, Iterations: 10}); !errors.Is(err, flatness.ErrInvalid) {
			t.Errorf("p = %d: mismatched subspace accepted: %v", p, err)
		}
	}
	if _, err := flatness.NewKeskarSpace(theta, nil, 3); !errors.Is(err, flatness.ErrInvalid) {
		t.Errorf("nil rng: %v", err)
	}
}

// bitsEqual reports whether a and b are identical bit for bit.
func bitsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
			return false
		}
	}
	return true
}
