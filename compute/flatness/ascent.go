package flatness

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
)

// Ascent reports a bounded maximization of L(θ + δ(u)) over a convex set of
// u: by projected gradient ascent (see ascent), or by L-BFGS-B for
// KeskarSharpness's default solver.
type Ascent struct {
	// MaxLoss is the largest loss found, L(θ + δ(u*)), and Delta = δ(u*) the
	// perturbation attaining it.
	MaxLoss float64
	Delta   []float64
	// Iterations is the number of iterations run (for the projected ascent
	// each is one gradient plus a line search), LossEvals and Gradients the
	// oracle calls.
	Iterations, LossEvals, Gradients int
}

// ascent is a maximization problem max_{u ∈ U} L(θ + M u) for a linear map M
// and a convex set U with Euclidean projection proj.
//
// Each iteration of the method: g = Mᵀ∇L(θ + M u); a projected path
// u(t) = proj(u + t g); the first trial step t₀ from step0 (chosen so that the
// step spans the set, making the method independent of the scale of L); the
// step is halved until the Armijo condition L(u(t)) ≥ L(u) + 10⁻⁴ gᵀ(u(t) − u)
// holds (at most 30 halvings), then doubled (capped at tmax) while the loss keeps
// increasing. The iteration stops early when the projected step vanishes
// (a KKT point) or no step increases the loss.
type ascent struct {
	o       Oracle
	theta   []float64
	dim     int
	toDelta func(dst, u []float64) // δ = M u
	adjoint func(dst, g []float64) // Mᵀ g
	proj    func(u []float64)
	step0   func(u, g []float64) (t0, tmax float64)
}

func (a *ascent) run(ctx context.Context, u []float64, iters int) (Ascent, error) {
	p := len(a.theta)
	delta, point, grad := make([]float64, p), make([]float64, p), make([]float64, p)
	g, trial, best := make([]float64, a.dim), make([]float64, a.dim), make([]float64, a.dim)
	a.proj(u)
	eval := func(u []float64) float64 {
		a.toDelta(delta, u)
		floats.AddTo(point, a.theta, delta)
		return a.o.Loss(point)
	}
	var res Ascent
	fu := eval(u)
	res.LossEvals++
	for it := 0; it < iters; it++ {
		if err := ctx.Err(); err != nil {
			return Ascent{}, fmt.Errorf("ascent iteration %d: %w", it+1, err)
		}
		res.Iterations++
		a.toDelta(delta, u)
		floats.AddTo(point, a.theta, delta)
		a.o.Grad(grad, point)
		res.Gradients++
		a.adjoint(g, grad)
		if floats.Norm(g, 2) == 0 {
			break
		}
		t0, tmax := a.step0(u, g)
		fbest, moved := fu, false
		try := func(t float64) (float64, float64, bool) {
			floats.AddScaledTo(trial, u, t, g)
			a.proj(trial)
			var gd, dd float64
			for i := range trial {
				d := trial[i] - u[i]
				gd += g[i] * d
				dd += d * d
			}
			if dd == 0 {
				return 0, 0, false
			}
			f := eval(trial)
			res.LossEvals++
			return f, gd, true
		}
		t := t0
		for h := 0; h <= 30; h, t = h+1, t/2 {
			if err := ctx.Err(); err != nil {
				return Ascent{}, fmt.Errorf("ascent line search: %w", err)
			}
			f, gd, ok := try(t)
			if !ok {
				break
			}
			if f >= fu+1e-4*gd && f > fu {
				fbest, moved = f, true
				copy(best, trial)
				break
			}
		}
		for moved && t < tmax {
			t = min(2*t, tmax)
			f, _, ok := try(t)
			if !ok || !(f > fbest) {
				break
			}
			fbest = f
			copy(best, trial)
		}
		if !moved {
			break
		}
		copy(u, best)
		fu = fbest
	}
	res.MaxLoss = fu
	res.Delta = make([]float64, p)
	a.toDelta(res.Delta, u)
	return res, nil
}

// boxStep returns the step sizes for the box [−r, r]: t₀ = 2·min_i r_i/|g_i|
// over the coordinates with the largest |g_i|/r_i (the step that carries the
// steepest scaled coordinate across the box) and tmax the largest breakpoint,
// beyond which the projected path no longer moves.
func boxStep(r []float64) func(u, g []float64) (float64, float64) {
	return func(u, g []float64) (float64, float64) {
		var gmax, tmax float64
		for i, gi := range g {
			if gi == 0 || r[i] == 0 {
				continue
			}
			gmax = max(gmax, math.Abs(gi)/r[i])
			dist := r[i] - math.Copysign(1, gi)*u[i]
			tmax = max(tmax, dist/math.Abs(gi))
		}
		if gmax == 0 {
			return 0, 0
		}
		return 2 / gmax, tmax
	}
}

// boxProj clips u to [−r, r].
func boxProj(r []float64) func(u []float64) {
	return func(u []float64) {
		for i := range u {
			u[i] = max(-r[i], min(r[i], u[i]))
		}
	}
}
