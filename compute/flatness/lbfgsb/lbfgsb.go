// Package lbfgsb minimizes a smooth function over a box with the limited-memory
// BFGS-B method of Byrd, Lu, Nocedal & Zhu (1995), "A limited memory algorithm
// for bound constrained optimization", SIAM J. Sci. Comput. 16(5):1190–1208:
//
//	minimize f(x) subject to l ≤ x ≤ u   (l, u ∈ R^n, l ≤ u, finite).
//
// Each iteration k builds the quadratic model
//
//	m_k(x) = f(x_k) + g_kᵀ(x − x_k) + ½ (x − x_k)ᵀ B_k (x − x_k)
//
// with the limited-memory BFGS matrix in compact form (Byrd, Nocedal &
// Schnabel 1994),
//
//	B = θI − W M Wᵀ,  W = [Y  θS],  M = [[−D, Lᵀ], [L, θSᵀS]]⁻¹,
//
// where S and Y (n×k, k ≤ Memory) hold the last accepted pairs
// s_j = x_{j+1} − x_j, y_j = g_{j+1} − g_j, D = diag(s_jᵀy_j) and L is the
// strictly lower triangle of SᵀY. Then:
//
//  1. Generalized Cauchy point (Byrd et al. §4, algorithm CP): the first local
//     minimizer x^c of m_k along the projected steepest-descent path
//     x(t) = P(x_k − t g_k), found by walking the breakpoints
//     t_i = (x_i − u_i)/g_i (g_i < 0), (x_i − l_i)/g_i (g_i > 0) in
//     increasing order and updating the first and second derivatives of
//     m_k(x(t)) on each segment in O(k²) per breakpoint.
//
//  2. Subspace minimization (§5.1, the direct primal method): with the
//     variables at a bound in x^c fixed, the model is minimized over the free
//     variables F by the Sherman–Morrison–Woodbury form of the reduced
//     inverse, with Z the columns of I in F and r̂ = Zᵀ(g + B(x^c − x_k)),
//
//     d̂ = −r̂/θ − θ⁻² ZᵀW (I − θ⁻¹ M WᵀZZᵀW)⁻¹ M WᵀZ r̂,
//
//     and the step back-tracked to the box: x̄ = x^c + α* d̂,
//     α* = max{α ≤ 1 : l ≤ x^c + α d̂ ≤ u}.
//
//  3. Line search along d = x̄ − x_k from the step 1 (x̄ itself): every trial
//     point lies in the box (0 < α ≤ 1 and the box is convex). The first
//     trial satisfying the Armijo condition f(x_k + αd) ≤ f(x_k) + 10⁻⁴ α g_kᵀd
//     is accepted; otherwise α is reduced by a safeguarded quadratic
//     interpolation to [0.1α, 0.5α]. Byrd et al. use the Moré–Thuente line
//     search, which also enforces a curvature condition; without it the pairs
//     with s_kᵀy_k ≤ ε_mach·y_kᵀy_k are skipped, as their code does for every
//     pair that fails that test, so B stays positive definite.
//
//  4. The pair (s_k, y_k) is stored (dropping the oldest beyond Memory) and
//     θ = y_kᵀy_k / s_kᵀy_k, or θ kept at θ₀ with Settings.KeepScale: B is
//     then the L-BFGS update of the fixed B₀ = θ₀I, still positive definite,
//     with the curvature along the stored steps only.
//
// Before the first accepted pair B₀ = θ₀I, with θ₀ = 1 as in Byrd et al.
// unless Settings.Scale0 says otherwise. If the direction is not one of
// descent or the line search fails with a nonempty memory, the memory is
// discarded and the iteration restarts from the steepest-descent model, as in
// Byrd et al.'s code.
//
// Every evaluation is one call of the objective (value and gradient
// together). Iterates never leave the box, and the method is deterministic:
// ties between breakpoints are broken by index.
package lbfgsb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// ErrInvalid is returned for invalid arguments; the message names the
// argument.
var ErrInvalid = errors.New("lbfgsb: invalid argument")

// Func evaluates the objective at x: it sets grad = ∇f(x) and returns f(x).
// x must not be retained or modified.
type Func func(grad, x []float64) float64

// Settings configure Minimize. The zero value runs to an exact KKT point
// with Memory 10.
type Settings struct {
	// Memory is the number m of correction pairs (0 selects 10, the default
	// of Byrd et al.'s code).
	Memory int
	// MaxIterations ≥ 0 bounds the iterations (accepted line searches);
	// 0 means no bound.
	MaxIterations int
	// MaxEvaluations ≥ 0 bounds the evaluations of f, the first one at x₀
	// included; 0 means no bound.
	MaxEvaluations int
	// PGTol ≥ 0 stops when the projected gradient ‖P(x − g) − x‖_∞ ≤ PGTol
	// (with 0 only at an exact KKT point).
	PGTol float64
	// FTol ≥ 0 stops when an iteration decreases f by at most
	// FTol·max(|f_k|, |f_{k+1}|, 1) (Byrd et al.'s factr·ε_mach); 0 disables
	// the test.
	FTol float64
	// Scale0, if not nil, returns θ₀ > 0 of B₀ = θ₀I from the gradient at x₀;
	// nil selects θ₀ = 1. θ₀ sets the length of the first steps: along the
	// projected path the model is minimized at t = 1/θ₀ before any bound is
	// met, so a small θ₀ carries the first Cauchy point to the box's faces.
	Scale0 func(g []float64) float64
	// KeepScale keeps θ = θ₀ for the whole run instead of setting
	// θ = yᵀy/sᵀy at every stored pair; the pairs then carry all the
	// curvature of the model (see the package documentation).
	KeepScale bool
}

// Status says why Minimize stopped.
type Status int

const (
	// Converged: the projected gradient is at most PGTol (a KKT point).
	Converged Status = iota
	// FunctionTolerance: the last decrease was below FTol.
	FunctionTolerance
	// IterationLimit: MaxIterations were run.
	IterationLimit
	// EvaluationLimit: MaxEvaluations were spent.
	EvaluationLimit
	// LineSearchFailed: no decrease along the steepest-descent model's
	// direction (at a point the model cannot improve, e.g. in rounding).
	LineSearchFailed
)

// String names the status.
func (s Status) String() string {
	switch s {
	case Converged:
		return "converged"
	case FunctionTolerance:
		return "function tolerance"
	case IterationLimit:
		return "iteration limit"
	case EvaluationLimit:
		return "evaluation limit"
	case LineSearchFailed:
		return "line search failed"
	}
	return fmt.Sprintf("status(%d)", int(s))
}

// Result is the outcome of Minimize.
type Result struct {
	// X is the best point found (the last iterate) and F = f(X).
	X []float64
	F float64
	// Iterations counts accepted line searches, Evaluations the calls of f.
	Iterations, Evaluations int
	// Updates counts the stored correction pairs, Skipped the pairs rejected
	// for s_kᵀy_k ≤ ε_mach·y_kᵀy_k.
	Updates, Skipped int
	// Status says why the iteration stopped.
	Status Status
}

// Minimize minimizes f over the box [lower, upper] from x0 (projected onto
// the box first), as the package documentation describes. It returns an
// error wrapping ErrInvalid for mismatched lengths, non-finite or crossed
// bounds or negative settings, and one wrapping ctx.Err() when ctx is
// cancelled (checked before every evaluation).
func Minimize(ctx context.Context, f Func, x0, lower, upper []float64, s Settings) (Result, error) {
	n := len(x0)
	switch {
	case f == nil:
		return Result{}, fmt.Errorf("%w: nil function", ErrInvalid)
	case n == 0:
		return Result{}, fmt.Errorf("%w: empty x0", ErrInvalid)
	case len(lower) != n || len(upper) != n:
		return Result{}, fmt.Errorf("%w: len(lower) = %d, len(upper) = %d, want len(x0) = %d", ErrInvalid, len(lower), len(upper), n)
	case s.Memory < 0 || s.MaxIterations < 0 || s.MaxEvaluations < 0:
		return Result{}, fmt.Errorf("%w: memory %d, max iterations %d, max evaluations %d, want ≥ 0", ErrInvalid, s.Memory, s.MaxIterations, s.MaxEvaluations)
	case !(s.PGTol >= 0) || !(s.FTol >= 0):
		return Result{}, fmt.Errorf("%w: pgtol %v, ftol %v, want ≥ 0", ErrInvalid, s.PGTol, s.FTol)
	}
	for i := range x0 {
		l, u := lower[i], upper[i]
		if math.IsNaN(l) || math.IsNaN(u) || math.IsInf(l, 0) || math.IsInf(u, 0) || l > u {
			return Result{}, fmt.Errorf("%w: bounds [%v, %v] at index %d, want finite lower ≤ upper", ErrInvalid, l, u, i)
		}
		if math.IsNaN(x0[i]) {
			return Result{}, fmt.Errorf("%w: x0[%d] is NaN", ErrInvalid, i)
		}
	}
	m := s.Memory
	if m == 0 {
		m = 10
	}
	sv := &solver{n: n, m: m, f: f, l: lower, u: upper, set: s, theta: 1}
	return sv.run(ctx, x0)
}

// solver holds the state of one minimization.
type solver struct {
	n, m int
	f    Func
	l, u []float64
	set  Settings

	// The k stored correction pairs, row-major with stride m so that a row
	// w_i of W is contiguous: the j-th oldest pair is column slot[j],
	// s_j[i] = sbuf[i·m + slot[j]] (likewise y). Their inner products are
	// sy[i][j] = s_iᵀy_j, ss[i][j] = s_iᵀs_j, yy[i][j] = y_iᵀy_j.
	sbuf, ybuf []float64
	slot       []int
	sy, ss, yy [][]float64
	theta      float64
	mInv       *mat.Dense // M (2k×2k), nil when k = 0

	evals int
}

func (sv *solver) run(ctx context.Context, x0 []float64) (Result, error) {
	n := sv.n
	x := slices.Clone(x0)
	project(x, sv.l, sv.u)
	g := make([]float64, n)
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("lbfgsb: %w", err)
	}
	fx := sv.f(g, x)
	sv.evals++
	if math.IsNaN(fx) {
		return Result{}, fmt.Errorf("%w: f(x0) is NaN", ErrInvalid)
	}
	if sv.set.Scale0 != nil {
		if t := sv.set.Scale0(g); t > 0 && !math.IsInf(t, 0) {
			sv.theta = t
		}
	}
	res := Result{}
	xc, xbar, d := make([]float64, n), make([]float64, n), make([]float64, n)
	xt, gt := make([]float64, n), make([]float64, n)
	sk, yk := make([]float64, n), make([]float64, n)
	done := func(st Status) (Result, error) {
		res.X, res.F, res.Evaluations, res.Status = x, fx, sv.evals, st
		return res, nil
	}
	for {
		if projGradNorm(x, g, sv.l, sv.u) <= sv.set.PGTol {
			return done(Converged)
		}
		if sv.set.MaxIterations > 0 && res.Iterations >= sv.set.MaxIterations {
			return done(IterationLimit)
		}
		if sv.set.MaxEvaluations > 0 && sv.evals >= sv.set.MaxEvaluations {
			return done(EvaluationLimit)
		}
		c := sv.cauchy(xc, x, g)
		sv.subspace(xbar, xc, x, g, c)
		var gd float64
		for i := range d {
			d[i] = xbar[i] - x[i]
			gd += g[i] * d[i]
		}
		ft, ok, err := sv.lineSearch(ctx, xt, gt, x, d, fx, gd)
		if err != nil {
			return Result{}, err
		}
		if !ok {
			if sv.set.MaxEvaluations > 0 && sv.evals >= sv.set.MaxEvaluations {
				return done(EvaluationLimit)
			}
			if len(sv.slot) > 0 { // restart from the steepest-descent model
				sv.reset()
				continue
			}
			return done(LineSearchFailed)
		}
		res.Iterations++
		// s = xt − x, y = gt − g, then x ← xt, g ← gt.
		for i := range sk {
			sk[i], yk[i] = xt[i]-x[i], gt[i]-g[i]
		}
		if sv.update(sk, yk) {
			res.Updates++
		} else {
			res.Skipped++
		}
		prev := fx
		copy(x, xt)
		copy(g, gt)
		fx = ft
		if sv.set.FTol > 0 && prev-fx <= sv.set.FTol*max(math.Abs(prev), math.Abs(fx), 1) {
			return done(FunctionTolerance)
		}
	}
}

// lineSearch tries x + αd from α = 1, backtracking until the Armijo
// condition holds. On success xt, gt hold the accepted point and gradient.
// It fails (ok false) when d is not a descent direction, after 20 trials,
// when a step no longer changes x, or when the evaluation budget runs out.
func (sv *solver) lineSearch(ctx context.Context, xt, gt, x, d []float64, fx, gd float64) (float64, bool, error) {
	if !(gd < 0) {
		return 0, false, nil
	}
	alpha := 1.0
	for trial := 0; trial < 20; trial++ {
		if sv.set.MaxEvaluations > 0 && sv.evals >= sv.set.MaxEvaluations {
			return 0, false, nil
		}
		if err := ctx.Err(); err != nil {
			return 0, false, fmt.Errorf("lbfgsb line search: %w", err)
		}
		moved := false
		for i := range xt {
			xt[i] = x[i] + alpha*d[i]
			moved = moved || xt[i] != x[i]
		}
		// The box is convex and x, x + d lie in it; clip rounding only.
		project(xt, sv.l, sv.u)
		if !moved {
			return 0, false, nil
		}
		ft := sv.f(gt, xt)
		sv.evals++
		if ft <= fx+1e-4*alpha*gd {
			return ft, true, nil
		}
		// Minimizer of the quadratic through f(x), f'(x; d) and f(x + αd).
		next := 0.5 * alpha
		if den := 2 * (ft - fx - alpha*gd); den > 0 && !math.IsNaN(ft) {
			next = -gd * alpha * alpha / den
		}
		alpha = max(0.1*alpha, min(0.5*alpha, next))
	}
	return 0, false, nil
}

// update stores the pair (s, y) if sᵀy > ε_mach·yᵀy and reports whether it
// did.
func (sv *solver) update(s, y []float64) bool {
	sty, yty := dot(s, y), dot(y, y)
	if !(sty > 0x1p-52*yty) {
		return false
	}
	n, m := sv.n, sv.m
	if sv.sbuf == nil {
		sv.sbuf, sv.ybuf = make([]float64, n*m), make([]float64, n*m)
	}
	var col int
	if len(sv.slot) == m { // drop the oldest pair and reuse its column
		col = sv.slot[0]
		sv.slot = append(sv.slot[1:], col)
		for _, g := range []*[][]float64{&sv.sy, &sv.ss, &sv.yy} {
			rows := (*g)[1:]
			for i := range rows {
				rows[i] = rows[i][1:]
			}
			*g = rows
		}
	} else {
		col = len(sv.slot)
		sv.slot = append(sv.slot, col)
	}
	k := len(sv.slot)
	// One pass: store the pair and form its inner products with every pair,
	// itself included (the last entries).
	sNewY, sNewS, yNewY, sOldYNew := make([]float64, k), make([]float64, k), make([]float64, k), make([]float64, k)
	for i := 0; i < n; i++ {
		base := i * m
		si, yi := s[i], y[i]
		sv.sbuf[base+col], sv.ybuf[base+col] = si, yi
		for j, c := range sv.slot {
			sj, yj := sv.sbuf[base+c], sv.ybuf[base+c]
			sNewY[j] += si * yj
			sNewS[j] += si * sj
			yNewY[j] += yi * yj
			sOldYNew[j] += sj * yi
		}
	}
	sv.sy = growGram(sv.sy, sOldYNew, sNewY)
	sv.ss = growGram(sv.ss, sNewS, sNewS)
	sv.yy = growGram(sv.yy, yNewY, yNewY)
	if !sv.set.KeepScale {
		sv.theta = yty / sty
	}
	sv.formM()
	return true
}

// growGram extends the (k−1)×(k−1) matrix g to k×k with the new column
// g[i][k−1] = col[i] (i < k−1) and the new row g[k−1][j] = row[j].
func growGram(g [][]float64, col, row []float64) [][]float64 {
	k := len(row)
	for i := 0; i < k-1; i++ {
		g[i] = append(g[i], col[i])
	}
	return append(g, row)
}

// reset discards the correction pairs; θ keeps its value.
func (sv *solver) reset() {
	sv.slot, sv.sy, sv.ss, sv.yy, sv.mInv = sv.slot[:0], nil, nil, nil, nil
}

// formM sets M = [[−D, Lᵀ], [L, θSᵀS]]⁻¹. The middle matrix is nonsingular
// when every stored pair has sᵀy > 0; if rounding makes the inversion fail
// the memory is discarded.
func (sv *solver) formM() {
	k := len(sv.slot)
	km := mat.NewDense(2*k, 2*k, nil)
	for i := 0; i < k; i++ {
		km.Set(i, i, -sv.sy[i][i])
		for j := 0; j < i; j++ {
			km.Set(k+i, j, sv.sy[i][j]) // L
			km.Set(j, k+i, sv.sy[i][j]) // Lᵀ
		}
		for j := 0; j < k; j++ {
			km.Set(k+i, k+j, sv.theta*sv.ss[i][j])
		}
	}
	var inv mat.Dense
	if err := inv.Inverse(km); err != nil {
		sv.reset()
		return
	}
	sv.mInv = &inv
}

// wRow sets dst = w_i, row i of W = [Y θS].
func (sv *solver) wRow(dst []float64, i int) {
	k, base := len(sv.slot), i*sv.m
	for j, c := range sv.slot {
		dst[j] = sv.ybuf[base+c]
		dst[k+j] = sv.theta * sv.sbuf[base+c]
	}
}

// wTimes sets dst = Wᵀv = [Yᵀv, θSᵀv].
func (sv *solver) wTimes(dst, v []float64) {
	k := len(sv.slot)
	clear(dst)
	for i, vi := range v {
		if vi == 0 {
			continue
		}
		base := i * sv.m
		for j, c := range sv.slot {
			dst[j] += sv.ybuf[base+c] * vi
			dst[k+j] += sv.sbuf[base+c] * vi
		}
	}
	for j := k; j < 2*k; j++ {
		dst[j] *= sv.theta
	}
}

// mulM sets dst = M v.
func (sv *solver) mulM(dst, v []float64) {
	k2 := len(v)
	for i := 0; i < k2; i++ {
		var t float64
		row := sv.mInv.RawRowView(i)
		for j, vj := range v {
			t += row[j] * vj
		}
		dst[i] = t
	}
}

// cauchy sets xc to the generalized Cauchy point from x with gradient g and
// returns c = Wᵀ(xc − x).
func (sv *solver) cauchy(xc, x, g []float64) []float64 {
	n, k := sv.n, len(sv.slot)
	copy(xc, x)
	d := make([]float64, n)
	type breakpoint struct {
		t float64
		i int
	}
	var order []breakpoint
	var fp float64
	for i := 0; i < n; i++ {
		t := math.Inf(1)
		switch {
		case g[i] < 0:
			t = (x[i] - sv.u[i]) / g[i]
		case g[i] > 0:
			t = (x[i] - sv.l[i]) / g[i]
		}
		if t > 0 {
			d[i] = -g[i]
			fp -= d[i] * d[i]
			if !math.IsInf(t, 1) {
				order = append(order, breakpoint{t, i})
			}
		}
	}
	k2 := 2 * k
	p, c := make([]float64, k2), make([]float64, k2)
	if fp == 0 {
		return c
	}
	mp, mc, wb, mwb := make([]float64, k2), make([]float64, k2), make([]float64, k2), make([]float64, k2)
	if k > 0 {
		sv.wTimes(p, d)
		sv.mulM(mp, p)
	}
	fpp := -sv.theta*fp - dot(p, mp)
	fpp0 := fpp
	dtMin := -fp / fpp
	slices.SortFunc(order, func(a, b breakpoint) int {
		if c := cmp.Compare(a.t, b.t); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	var tOld float64
	passed := 0
	for _, bp := range order {
		b := bp.i
		dt := bp.t - tOld
		if dtMin < dt {
			break
		}
		passed++
		// Variable b reaches its bound: the path turns.
		if d[b] > 0 {
			xc[b] = sv.u[b]
		} else {
			xc[b] = sv.l[b]
		}
		zb, gb := xc[b]-x[b], g[b]
		for j := range c {
			c[j] += dt * p[j]
			mc[j] += dt * mp[j]
		}
		fp += dt*fpp + gb*gb + sv.theta*gb*zb
		fpp -= sv.theta * gb * gb
		if k > 0 {
			sv.wRow(wb, b)
			sv.mulM(mwb, wb)
			fp -= gb * dot(wb, mc)
			fpp -= 2*gb*dot(wb, mp) + gb*gb*dot(wb, mwb)
			for j := range p {
				p[j] += gb * wb[j]
				mp[j] += gb * mwb[j]
			}
		}
		fpp = max(0x1p-52*fpp0, fpp)
		d[b] = 0
		tOld = bp.t
		dtMin = -fp / fpp
	}
	if passed == len(order) {
		// Every breakpoint passed: the path stops at the last one (the
		// variables left have g_i = 0), whatever the model's slope says.
		dtMin = 0
	}
	dtMin = max(dtMin, 0)
	tOld += dtMin
	for i := 0; i < n; i++ {
		if d[i] != 0 {
			xc[i] = x[i] + tOld*d[i]
		}
	}
	project(xc, sv.l, sv.u) // rounding in x + t·d at the breakpoints passed
	for j := range c {
		c[j] += dtMin * p[j]
	}
	return c
}

// subspace sets xbar to the result of the subspace minimization from the
// Cauchy point xc (direct primal method, back-tracked to the box).
func (sv *solver) subspace(xbar, xc, x, g, c []float64) {
	n, k := sv.n, len(sv.slot)
	copy(xbar, xc)
	var free []int
	for i := 0; i < n; i++ {
		if xc[i] > sv.l[i] && xc[i] < sv.u[i] {
			free = append(free, i)
		}
	}
	if len(free) == 0 {
		return
	}
	k2 := 2 * k
	mc := make([]float64, k2)
	wb := make([]float64, k2)
	if k > 0 {
		sv.mulM(mc, c)
	}
	// r̂ = Zᵀ(g + θ(xc − x) − W M c).
	r := make([]float64, len(free))
	for a, i := range free {
		r[a] = g[i] + sv.theta*(xc[i]-x[i])
		if k > 0 {
			sv.wRow(wb, i)
			r[a] -= dot(wb, mc)
		}
	}
	dh := make([]float64, len(free))
	for a := range r {
		dh[a] = -r[a] / sv.theta
	}
	if k > 0 {
		// v = M WᵀZ r̂; N = I − θ⁻¹ M WᵀZZᵀW; solve N v' = v.
		wzr := make([]float64, k2)
		for a, i := range free {
			sv.wRow(wb, i)
			for j := range wb {
				wzr[j] += wb[j] * r[a]
			}
		}
		v := make([]float64, k2)
		sv.mulM(v, wzr)
		wzzw := sv.freeGram(free, wb)
		nm := mat.NewDense(k2, k2, nil)
		nm.Mul(sv.mInv, wzzw)
		nm.Scale(-1/sv.theta, nm)
		for j := 0; j < k2; j++ {
			nm.Set(j, j, nm.At(j, j)+1)
		}
		var vp mat.VecDense
		if err := vp.SolveVec(nm, mat.NewVecDense(k2, v)); err == nil {
			t2 := 1 / (sv.theta * sv.theta)
			for a, i := range free {
				sv.wRow(wb, i)
				var s float64
				for j := range wb {
					s += wb[j] * vp.AtVec(j)
				}
				dh[a] -= t2 * s
			}
		}
	}
	alpha := 1.0
	for a, i := range free {
		switch {
		case dh[a] > 0 && xc[i]+alpha*dh[a] > sv.u[i]:
			alpha = max(0, (sv.u[i]-xc[i])/dh[a])
		case dh[a] < 0 && xc[i]+alpha*dh[a] < sv.l[i]:
			alpha = max(0, (sv.l[i]-xc[i])/dh[a])
		}
	}
	for a, i := range free {
		xbar[i] = xc[i] + alpha*dh[a]
	}
	project(xbar, sv.l, sv.u)
}

// freeGram returns WᵀZZᵀW = Σ_{i ∈ free} w_i w_iᵀ, summing over the free
// variables or subtracting the fixed ones from WᵀW, whichever is fewer.
func (sv *solver) freeGram(free []int, wb []float64) *mat.Dense {
	k := len(sv.slot)
	k2 := 2 * k
	out := mat.NewDense(k2, k2, nil)
	add := func(i int, sign float64) {
		sv.wRow(wb, i)
		for a := 0; a < k2; a++ {
			row := out.RawRowView(a)
			for b := 0; b < k2; b++ {
				row[b] += sign * wb[a] * wb[b]
			}
		}
	}
	if 2*len(free) <= sv.n {
		for _, i := range free {
			add(i, 1)
		}
		return out
	}
	th := sv.theta
	for i := 0; i < k; i++ {
		for j := 0; j < k; j++ {
			out.Set(i, j, sv.yy[i][j])
			out.Set(i, k+j, th*sv.sy[j][i]) // y_iᵀ s_j
			out.Set(k+i, j, th*sv.sy[i][j])
			out.Set(k+i, k+j, th*th*sv.ss[i][j])
		}
	}
	fi := 0
	for i := 0; i < sv.n; i++ {
		if fi < len(free) && free[fi] == i {
			fi++
			continue
		}
		add(i, -1)
	}
	return out
}

// project clips x to [l, u].
func project(x, l, u []float64) {
	for i := range x {
		x[i] = max(l[i], min(u[i], x[i]))
	}
}

// projGradNorm returns ‖P(x − g) − x‖_∞.
func projGradNorm(x, g, l, u []float64) float64 {
	var m float64
	for i := range x {
		m = max(m, math.Abs(max(l[i], min(u[i], x[i]-g[i]))-x[i]))
	}
	return m
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}
