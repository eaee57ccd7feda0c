package lbfgsb_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/flatness/lbfgsb"
)

// boxed wraps f, failing the test if it is ever evaluated outside [l, u]
// (the projection invariant: every iterate and trial point is feasible).
func boxed(t *testing.T, f lbfgsb.Func, l, u []float64) lbfgsb.Func {
	return func(g, x []float64) float64 {
		for i := range x {
			if !(x[i] >= l[i] && x[i] <= u[i]) {
				t.Fatalf("evaluated outside the box: x[%d] = %v ∉ [%v, %v]", i, x[i], l[i], u[i])
			}
		}
		return f(g, x)
	}
}

// quadratic returns f(x) = ½ xᵀQx + bᵀx.
func quadratic(q [][]float64, b []float64) lbfgsb.Func {
	return func(g, x []float64) float64 {
		var f float64
		for i := range x {
			var qi float64
			for j := range x {
				qi += q[i][j] * x[j]
			}
			g[i] = qi + b[i]
			f += x[i] * (qi/2 + b[i])
		}
		return f
	}
}

// TestQuadraticActiveBounds: a strictly convex quadratic whose minimizer over
// the box is built to have a third of its coordinates at the lower bound, a
// third at the upper bound and a third free, by choosing b so that the KKT
// conditions hold at x*: g_i = 0 (free), g_i > 0 (at l_i), g_i < 0 (at u_i).
// The solution is unique, so the solver must reach x* to 1e-8 (in ∞-norm).
// Run with the default memory and with m = 2, which exercises the dropping
// of old pairs.
func TestQuadraticActiveBounds(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 30
	q := make([][]float64, n)
	r := make([][]float64, n)
	for i := range r {
		r[i] = make([]float64, n)
		for j := range r[i] {
			r[i][j] = rng.NormFloat64()
		}
	}
	for i := range q { // Q = RᵀR/n + I, condition ~ 10
		q[i] = make([]float64, n)
		for j := range q[i] {
			for k := range r {
				q[i][j] += r[k][i] * r[k][j] / n
			}
		}
		q[i][i]++
	}
	l, u := make([]float64, n), make([]float64, n)
	xs, gs := make([]float64, n), make([]float64, n)
	for i := range l {
		l[i], u[i] = -1-rng.Float64(), 1+rng.Float64()
		switch i % 3 {
		case 0:
			xs[i], gs[i] = l[i], 0.5+rng.Float64()
		case 1:
			xs[i], gs[i] = u[i], -0.5-rng.Float64()
		default:
			xs[i] = l[i] + (u[i]-l[i])*(0.2+0.6*rng.Float64())
		}
	}
	b := make([]float64, n)
	for i := range b {
		b[i] = gs[i]
		for j := range xs {
			b[i] -= q[i][j] * xs[j]
		}
	}
	for _, mem := range []int{0, 2} {
		f := boxed(t, quadratic(q, b), l, u)
		res, err := lbfgsb.Minimize(context.Background(), f, make([]float64, n), l, u,
			lbfgsb.Settings{Memory: mem, PGTol: 1e-12, MaxIterations: 500})
		if err != nil {
			t.Fatal(err)
		}
		var worst float64
		for i := range xs {
			worst = max(worst, math.Abs(res.X[i]-xs[i]))
		}
		t.Logf("m = %d: |x − x*|∞ = %.2g after %d iterations, %d evaluations, %d updates, %d skipped (%v)",
			mem, worst, res.Iterations, res.Evaluations, res.Updates, res.Skipped, res.Status)
		if worst > 1e-8 {
			t.Errorf("m = %d: |x − x*|∞ = %v, want ≤ 1e-8", mem, worst)
		}
		// The bounds active at x* are met exactly (the Cauchy point sets them).
		for i := 0; i < n; i += 3 {
			if res.X[i] != l[i] || res.X[i+1] != u[i+1] {
				t.Errorf("m = %d: active bounds not exact at %d: %v, %v", mem, i, res.X[i], res.X[i+1])
			}
		}
	}
}

func rosenbrock(g, x []float64) float64 {
	var f float64
	clear(g)
	for i := 0; i+1 < len(x); i++ {
		a, b := 1-x[i], x[i+1]-x[i]*x[i]
		f += a*a + 100*b*b
		g[i] += -2*a - 400*x[i]*b
		g[i+1] += 200 * b
	}
	return f
}

// TestRosenbrockBox: the 2-D Rosenbrock function on [−2, 0.5] × [−2, 2] has
// its constrained minimum at (0.5, 0.25) with f = 0.25 (x₁ = 0.5 active, the
// gradient there is (−1, 0)); on [−2, 2]² the interior minimum (1, 1), f = 0.
// Both from (−1.2, 1), to 1e-6 in x.
func TestRosenbrockBox(t *testing.T) {
	for _, c := range []struct {
		u0   float64
		want [2]float64
		f    float64
	}{{0.5, [2]float64{0.5, 0.25}, 0.25}, {2, [2]float64{1, 1}, 0}} {
		l, u := []float64{-2, -2}, []float64{c.u0, 2}
		res, err := lbfgsb.Minimize(context.Background(), boxed(t, rosenbrock, l, u), []float64{-1.2, 1}, l, u,
			lbfgsb.Settings{PGTol: 1e-10, MaxIterations: 1000})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("upper x₁ = %v: x = %v, f = %.3g, %d iterations, %d evaluations (%v)", c.u0, res.X, res.F, res.Iterations, res.Evaluations, res.Status)
		if math.Abs(res.X[0]-c.want[0]) > 1e-6 || math.Abs(res.X[1]-c.want[1]) > 1e-6 || math.Abs(res.F-c.f) > 1e-10 {
			t.Errorf("x = %v, f = %v; want %v, %v", res.X, res.F, c.want, c.f)
		}
	}
}

// TestRosenbrockHighDim: the extended Rosenbrock function of Moré, Garbow &
// Hillstrom (1981), ten independent pairs (x_{2i}, x_{2i+1}) in R^20 from
// their standard start (−1.2, 1), with the first coordinate of every other
// pair bounded above by 0.5: the minimum is (0.5, 0.25) for those pairs and
// (1, 1) for the others, f = 5·0.25; reached to 1e-6, every evaluation in the
// box.
func TestRosenbrockHighDim(t *testing.T) {
	const n = 20
	l, u, x0, want := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	for i := 0; i < n; i += 2 {
		l[i], l[i+1], u[i], u[i+1] = -2, -2, 2, 2
		x0[i], x0[i+1] = -1.2, 1
		want[i], want[i+1] = 1, 1
		if i%4 == 0 {
			u[i] = 0.5
			want[i], want[i+1] = 0.5, 0.25
		}
	}
	f := func(g, x []float64) float64 {
		var s float64
		for i := 0; i < len(x); i += 2 {
			s += rosenbrock(g[i:i+2], x[i:i+2])
		}
		return s
	}
	res, err := lbfgsb.Minimize(context.Background(), boxed(t, f, l, u), x0, l, u,
		lbfgsb.Settings{PGTol: 1e-10, MaxIterations: 5000})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("f = %.6g, %d iterations, %d evaluations (%v)", res.F, res.Iterations, res.Evaluations, res.Status)
	for i, v := range res.X {
		if math.Abs(v-want[i]) > 1e-6 {
			t.Errorf("x[%d] = %v, want %v", i, v, want[i])
		}
	}
	if math.Abs(res.F-1.25) > 1e-9 {
		t.Errorf("f = %v, want 1.25", res.F)
	}
}

// TestConcaveVertex: minimizing the concave f(x) = −½ Σ a_i x_i² − cᵀx over a
// box has its minimum at a vertex; for a separable f the best vertex is
// known coordinate by coordinate (x_i = u_i or l_i, whichever has the larger
// ½a_i x_i² + c_i x_i). All pairs have sᵀy < 0 and are skipped; a small θ₀
// (Scale0) carries the first Cauchy point to the faces, and the solver must
// end at that vertex with every evaluation in the box.
func TestConcaveVertex(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	const n = 200
	a, c, l, u := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	want := make([]float64, n)
	for i := range a {
		a[i], c[i] = rng.Float64(), 1e-2*rng.NormFloat64()
		l[i], u[i] = -1e-3*(1+rng.Float64()), 1e-3*(1+rng.Float64())
		h := func(x float64) float64 { return a[i]*x*x/2 + c[i]*x }
		want[i] = l[i]
		if h(u[i]) > h(l[i]) {
			want[i] = u[i]
		}
	}
	f := func(g, x []float64) float64 {
		var s float64
		for i := range x {
			g[i] = -a[i]*x[i] - c[i]
			s -= a[i]*x[i]*x[i]/2 + c[i]*x[i]
		}
		return s
	}
	res, err := lbfgsb.Minimize(context.Background(), boxed(t, f, l, u), make([]float64, n), l, u,
		lbfgsb.Settings{MaxIterations: 20, Scale0: func(g []float64) float64 { return 1e-9 * projNorm(g) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d iterations, %d evaluations, %d updates, %d skipped (%v)", res.Iterations, res.Evaluations, res.Updates, res.Skipped, res.Status)
	if res.Updates != 0 {
		t.Errorf("%d pairs stored for a concave function", res.Updates)
	}
	for i := range want {
		if res.X[i] != want[i] {
			t.Errorf("x[%d] = %v, want the vertex %v", i, res.X[i], want[i])
		}
	}
}

func projNorm(g []float64) float64 {
	var m float64
	for _, v := range g {
		m = max(m, math.Abs(v))
	}
	return m
}

// TestLimits: MaxEvaluations and MaxIterations bound the work, the result is
// the best point (f decreases monotonically), and a cancelled context stops
// the solver.
func TestLimits(t *testing.T) {
	l, u := []float64{-2, -2, -2, -2}, []float64{2, 2, 2, 2}
	x0 := []float64{-1.2, 1, -1.2, 1}
	var g [4]float64
	f0 := rosenbrock(g[:], x0)
	for _, s := range []lbfgsb.Settings{{MaxEvaluations: 7}, {MaxIterations: 3}} {
		res, err := lbfgsb.Minimize(context.Background(), rosenbrock, x0, l, u, s)
		if err != nil {
			t.Fatal(err)
		}
		if (s.MaxEvaluations > 0 && (res.Evaluations > 7 || res.Status != lbfgsb.EvaluationLimit)) ||
			(s.MaxIterations > 0 && (res.Iterations != 3 || res.Status != lbfgsb.IterationLimit)) || !(res.F < f0) {
			t.Errorf("%+v: %+v", s, res)
		}
		if got := rosenbrock(g[:], res.X); got != res.F {
			t.Errorf("F = %v, f(X) = %v", res.F, got)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := lbfgsb.Minimize(ctx, rosenbrock, x0, l, u, lbfgsb.Settings{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// TestInvalid: bad arguments are errors wrapping ErrInvalid.
func TestInvalid(t *testing.T) {
	ctx := context.Background()
	one := []float64{1}
	for name, call := range map[string]func() error{
		"nil f": func() error { _, err := lbfgsb.Minimize(ctx, nil, one, one, one, lbfgsb.Settings{}); return err },
		"empty": func() error { _, err := lbfgsb.Minimize(ctx, rosenbrock, nil, nil, nil, lbfgsb.Settings{}); return err },
		"length": func() error {
			_, err := lbfgsb.Minimize(ctx, rosenbrock, one, []float64{0, 0}, one, lbfgsb.Settings{})
			return err
		},
		"crossed": func() error {
			_, err := lbfgsb.Minimize(ctx, rosenbrock, one, []float64{2}, one, lbfgsb.Settings{})
			return err
		},
		"infinite": func() error {
			_, err := lbfgsb.Minimize(ctx, rosenbrock, one, []float64{math.Inf(-1)}, one, lbfgsb.Settings{})
			return err
		},
		"memory": func() error {
			_, err := lbfgsb.Minimize(ctx, rosenbrock, one, one, one, lbfgsb.Settings{Memory: -1})
			return err
		},
		"pgtol": func() error {
			_, err := lbfgsb.Minimize(ctx, rosenbrock, one, one, one, lbfgsb.Settings{PGTol: math.NaN()})
			return err
		},
	} {
		if err := call(); !errors.Is(err, lbfgsb.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestIgnoredCoordinates: coordinates on which f does not depend (zero
// gradient throughout, like the weights of a network's constant inputs) stay
// where they start while the others reach the minimizer of a separable
// quadratic, (x_i − c_i)², clipped to the box [−1, 1] (to 1e-9); the stored
// pairs make the Cauchy point pass every breakpoint with such coordinates
// still free.
func TestIgnoredCoordinates(t *testing.T) {
	const n = 12
	c := []float64{0.5, -2, 3, 0.25, -0.75, 2, 0, 0, 0, 0, 0, 0}
	a := []float64{1, 3, 0.5, 2, 1.5, 1, 0, 0, 0, 0, 0, 0}
	l, u, x0 := make([]float64, n), make([]float64, n), make([]float64, n)
	for i := range l {
		l[i], u[i], x0[i] = -1, 1, 0.1*float64(i%5)-0.2
	}
	f := func(g, x []float64) float64 {
		var s float64
		for i := range x {
			d := x[i] - c[i]
			g[i] = 2 * a[i] * d
			s += a[i] * d * d
		}
		return s
	}
	res, err := lbfgsb.Minimize(context.Background(), boxed(t, f, l, u), x0, l, u, lbfgsb.Settings{PGTol: 1e-12, MaxIterations: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d iterations, %d evaluations, %d updates (%v)", res.Iterations, res.Evaluations, res.Updates, res.Status)
	for i := range c {
		want := max(-1, min(1, c[i]))
		if a[i] == 0 {
			want = x0[i]
		}
		if math.Abs(res.X[i]-want) > 1e-9 {
			t.Errorf("x[%d] = %v, want %v", i, res.X[i], want)
		}
	}
}

// TestCancelMidRun: a context cancelled during the run (here by the
// objective itself, at its third evaluation) stops the solver before the
// next evaluation with an error wrapping context.Canceled.
func TestCancelMidRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	f := func(g, x []float64) float64 {
		calls++
		if calls == 3 {
			cancel()
		}
		return rosenbrock(g, x)
	}
	l, u := []float64{-2, -2}, []float64{2, 2}
	_, err := lbfgsb.Minimize(ctx, f, []float64{-1.2, 1}, l, u, lbfgsb.Settings{})
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Errorf("err = %v after %d calls, want context.Canceled after 3", err, calls)
	}
}
