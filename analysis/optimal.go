package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Refinement says how a BatchOptimum was located.
type Refinement string

// Refinements of a BatchOptimum.
const (
	// RefineParabola: the best grid B is interior; B is the vertex of the
	// parabola in ln B through it and its two neighbours.
	RefineParabola Refinement = "parabola"
	// RefineEdge: the best grid B is the smallest or largest of the sweep; B is
	// that grid value and the true optimum may lie beyond the sweep.
	RefineEdge Refinement = "edge"
	// RefineSingle: only one B has a finite mean; B is that value.
	RefineSingle Refinement = "single"
	// RefineNone: no B has a finite mean (e.g. every trial diverged); B,
	// GridB and Best are NaN. Kept so that such settings stay visible.
	RefineNone Refinement = "none"
)

// BatchMean is the mean of a metric at one batch size of a slice of the sweep.
type BatchMean struct {
	// B is the batch size.
	B float64 `json:"b"`
	// Summary summarizes the metric over the seeds at B.
	Summary Summary `json:"summary"`
}

// BatchOptimum is the batch size that maximizes the mean of a metric (test
// accuracy) at one setting of the other axes (ε, N, m, …).
type BatchOptimum struct {
	// Axes are the values of the other axes (all but AxisB and AxisSeed).
	Axes map[string]float64 `json:"axes"`
	// B is the optimum, refined by Refinement.
	B float64 `json:"b"`
	// GridB is the batch size of the sweep with the best mean.
	GridB float64 `json:"grid_b"`
	// Best is the best mean (at GridB).
	Best float64 `json:"best"`
	// Refinement says how B was obtained from GridB.
	Refinement Refinement `json:"refinement"`
	// Curve holds the mean metric at every batch size with a finite mean, in
	// increasing B.
	Curve []BatchMean `json:"curve"`
	// Counts tallies the trials of this slice by status.
	Counts Counts `json:"counts"`
}

// OptimalBatches finds, for every setting of the axes other than AxisB and
// AxisSeed, the batch size B_opt maximizing the seed mean of metric (usually
// MetricTestAcc) over the StatusOK trials.
//
// Refinement: with the best grid point (x₁, y₁), x = ln B, y the mean, and its
// neighbours (x₀, y₀), (x₂, y₂), the parabola through the three points has its
// vertex at
//
//	x* = x₁ − ½ [(x₁−x₀)²(y₁−y₂) − (x₁−x₂)²(y₁−y₀)] / [(x₁−x₀)(y₁−y₂) − (x₁−x₂)(y₁−y₀)],
//
// which lies in [x₀, x₂] because y₁ ≥ y₀, y₂; B_opt = e^{x*}. Ties for the
// best mean go to the smallest B, so y₀ < y₁ and the denominator is positive
// (a plateau y₁ = y₂ puts the vertex midway between x₁ and x₂). Fallbacks: the
// best B at either end of the sweep gives RefineEdge and B_opt = that B; a
// single B gives RefineSingle; no finite mean at all (every trial diverged,
// failed or lacks the metric) gives RefineNone with B = NaN, kept so that the
// setting and its Counts stay visible.
//
// Optima are sorted by their axes. When no setting has a finite mean the
// optima (all RefineNone) are returned with an error wrapping ErrNoData.
func OptimalBatches(points []Point, metric string) ([]BatchOptimum, error) {
	index := map[string]int{}
	var out []BatchOptimum
	var members [][]Point
	for _, p := range points {
		k := axesKey(p, AxisB, AxisSeed)
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, BatchOptimum{Axes: axesExcept(p, AxisB, AxisSeed)})
			members = append(members, nil)
		}
		members[i] = append(members[i], p)
		out[i].Counts.Add(p.Status)
	}
	found := false
	for i := range out {
		out[i].Curve = batchCurve(members[i], metric)
		refine(&out[i])
		found = found || out[i].Refinement != RefineNone
	}
	sortByAxes(out)
	if !found {
		return out, fmt.Errorf("optimal batch size of %s over %s: %w", metric, CountPoints(points), ErrNoData)
	}
	return out, nil
}

func sortByAxes(opts []BatchOptimum) {
	slices.SortStableFunc(opts, func(a, b BatchOptimum) int { return compareAxes(a.Axes, b.Axes) })
}

// batchCurve returns the finite seed means of metric per batch size.
func batchCurve(points []Point, metric string) []BatchMean {
	var curve []BatchMean
	for _, g := range Aggregate(points, AxisSeed) {
		b, ok := g.Axes[AxisB]
		s := g.Metric(metric)
		if !ok || !(b > 0) || s.Count == 0 {
			continue
		}
		curve = append(curve, BatchMean{B: b, Summary: s})
	}
	slices.SortFunc(curve, func(a, b BatchMean) int { return cmp.Compare(a.B, b.B) })
	return curve
}

// refine sets GridB, Best, B and Refinement of o from o.Curve.
func refine(o *BatchOptimum) {
	c := o.Curve
	if len(c) == 0 {
		o.B, o.GridB, o.Best, o.Refinement = math.NaN(), math.NaN(), math.NaN(), RefineNone
		return
	}
	k := 0
	for i := range c {
		if c[i].Summary.Mean > c[k].Summary.Mean {
			k = i
		}
	}
	o.GridB, o.Best, o.B = c[k].B, c[k].Summary.Mean, c[k].B
	switch {
	case len(c) == 1:
		o.Refinement = RefineSingle
		return
	case k == 0 || k == len(c)-1:
		o.Refinement = RefineEdge
		return
	}
	x0, x1, x2 := math.Log(c[k-1].B), math.Log(c[k].B), math.Log(c[k+1].B)
	y0, y1, y2 := c[k-1].Summary.Mean, c[k].Summary.Mean, c[k+1].Summary.Mean
	num := (x1-x0)*(x1-x0)*(y1-y2) - (x1-x2)*(x1-x2)*(y1-y0)
	den := (x1-x0)*(y1-y2) - (x1-x2)*(y1-y0)
	if !(den > 0) { // unreachable for finite means with y₀ < y₁; kept as a guard
		o.Refinement = RefineEdge
		return
	}
	x := min(max(x1-0.5*num/den, x0), x2) // clamp against rounding
	o.B, o.Refinement = math.Exp(x), RefineParabola
}

// PowerLawFit is a least-squares fit of ln B_opt = a + s·ln x, the exponent s
// of B_opt ∝ x^s (Smith & Le predict s = 1 for x = ε, N and 1/(1 − m)).
//
// With several slices (settings of the remaining axes, e.g. several N when
// fitting against ε) each slice j gets its own intercept a_j and s is the
// pooled within-slice slope:
//
//	s = Σ (x̃ᵢ ỹᵢ) / Σ x̃ᵢ²,  x̃ = ln x − mean_j ln x,  ỹ = ln B_opt − mean_j ln B_opt,
//	SSR = Σ (ỹᵢ − s x̃ᵢ)²,  df = n − J − 1,  SE(s) = sqrt( SSR/df / Σ x̃ᵢ² ),
//	R² = 1 − SSR / Σ ỹᵢ²,
//
// which is ordinary least squares, its standard error and R² when J = 1.
type PowerLawFit struct {
	// Axis is the predictor axis.
	Axis string `json:"axis"`
	// Slope is the exponent s.
	Slope float64 `json:"slope"`
	// SlopeSE is the standard error of s (NaN when df = 0).
	SlopeSE float64 `json:"slope_se"`
	// Intercept is a (ln B_opt at x = 1); NaN when there are several slices.
	Intercept float64 `json:"intercept"`
	// R2 is the (within-slice) coefficient of determination.
	R2 float64 `json:"r2"`
	// N is the number of optima fitted.
	N int `json:"n"`
	// Slices is the number J of slices (settings of the other axes).
	Slices int `json:"slices"`
	// DF is the residual degrees of freedom n − J − 1.
	DF int `json:"df"`
	// Excluded counts the optima left out: at the edge of the batch sweep
	// (RefineEdge or RefineSingle: censored, the optimum may lie beyond it),
	// without any finite mean (RefineNone),
	// without the axis or with a non-positive value, or alone in their slice.
	Excluded int `json:"excluded"`
	// Edge counts the optima among Excluded at the edge of the batch sweep
	// (RefineEdge or RefineSingle).
	Edge int `json:"edge"`

	// groups holds the fitted points (ln x, ln B_opt) of each slice.
	groups [][]logXY
}

// logXY is a fitted point (ln x, ln B_opt).
type logXY struct{ x, y float64 }

// means returns the means of the x and of the y of g (non-empty).
func means(g []logXY) (mx, my float64) {
	for _, p := range g {
		mx, my = mx+p.x, my+p.y
	}
	return mx / float64(len(g)), my / float64(len(g))
}

// pooledSlope returns the pooled within-slice least-squares slope of
// groups (see PowerLawFit), its standard error on df = n − J − 1, and
// S_xx = Σ x̃².
func pooledSlope(groups [][]logXY) (slope, se, sxx float64) {
	var sxy, syy float64
	n := 0
	for _, g := range groups {
		mx, my := means(g)
		for _, p := range g {
			sxx += (p.x - mx) * (p.x - mx)
			sxy += (p.x - mx) * (p.y - my)
			syy += (p.y - my) * (p.y - my)
		}
		n += len(g)
	}
	df := n - len(groups) - 1
	if !(sxx > 0) || df < 1 {
		return math.NaN(), math.NaN(), sxx
	}
	slope = sxy / sxx
	return slope, math.Sqrt(max(syy-slope*sxy, 0) / float64(df) / sxx), sxx
}

// MinFitDF is the fewest residual degrees of freedom n − J − 1 with which
// FitBatchScaling reports a slope: below it a slope is "not enough data".
// With df = 0 a line through two points has R² = 1 and no error at all;
// with df = 1 the 95 % t-quantile is 12.7 and the interval says nothing.
// Two degrees of freedom (four optima in one slice) is the least a slope
// with an interval can be read from.
const MinFitDF = 2

// MinFitOptima returns the fewest interior optima a fit over j slices
// needs: j + 1 + MinFitDF.
func MinFitOptima(j int) int { return max(j, 1) + 1 + MinFitDF }

// CI returns the 95 % Student-t interval of the slope, s ∓ t_{0.975, df}·SE
// (undefined without a standard error).
func (f PowerLawFit) CI() Interval {
	iv := undefinedInterval("t")
	if !finite(f.SlopeSE) || f.DF < 1 {
		return iv
	}
	h := tQuantile(f.DF) * f.SlopeSE
	iv.Lo, iv.Hi = f.Slope-h, f.Slope+h
	return iv
}

// Deviation returns (Slope − want)/SlopeSE: how many standard errors the slope
// lies from a predicted exponent (1 for Smith & Le).
func (f PowerLawFit) Deviation(want float64) float64 { return (f.Slope - want) / f.SlopeSE }

// FitBatchScaling fits B_opt ∝ x^s over the optima (see PowerLawFit) with x the
// value of axis, except for AxisMomentum where x = 1/(1 − m). Slices are the
// settings of the axes other than axis. Only optima refined by a parabola
// enter; the others (at the edge of the sweep, single, none) are excluded and
// counted. It returns ErrTooFewPoints, with the counts filled but every
// number NaN, when no slice has two distinct x values or the fit would have
// fewer than MinFitDF residual degrees of freedom: a slope is never given
// without an error bar.
func FitBatchScaling(opts []BatchOptimum, axis string) (PowerLawFit, error) {
	fit := PowerLawFit{Axis: axis, Intercept: math.NaN(), SlopeSE: math.NaN(), R2: math.NaN(), Slope: math.NaN()}
	index := map[string]int{}
	var groups [][]logXY
	for _, o := range opts {
		v, ok := o.Axes[axis]
		if axis == AxisMomentum && ok {
			v = 1 / (1 - v)
		}
		if !ok || !(v > 0) || math.IsInf(v, 0) || o.Refinement != RefineParabola || !(o.B > 0) {
			fit.Excluded++
			if o.Refinement == RefineEdge || o.Refinement == RefineSingle {
				fit.Edge++
			}
			continue
		}
		k := axesKey(Point{Axes: o.Axes}, axis)
		i, seen := index[k]
		if !seen {
			i = len(groups)
			index[k] = i
			groups = append(groups, nil)
		}
		groups[i] = append(groups[i], logXY{math.Log(v), math.Log(o.B)})
	}
	var sxx, sxy, syy float64
	var xs, ys []float64
	for _, g := range groups {
		if len(g) < 2 {
			fit.Excluded += len(g)
			continue
		}
		mx, my := means(g)
		for _, p := range g {
			sxx += (p.x - mx) * (p.x - mx)
			sxy += (p.x - mx) * (p.y - my)
			syy += (p.y - my) * (p.y - my)
			xs, ys = append(xs, p.x), append(ys, p.y)
		}
		fit.Slices++
		fit.N += len(g)
		fit.groups = append(fit.groups, g)
	}
	if fit.Slices == 0 || !(sxx > 0) {
		return fit, fmt.Errorf("fit B_opt against %s: %d optima, %d excluded: %w", axis, len(opts), fit.Excluded, ErrTooFewPoints)
	}
	fit.DF = fit.N - fit.Slices - 1
	if fit.DF < MinFitDF {
		return fit, fmt.Errorf("fit B_opt against %s: %d optima in %d slices, %d residual degrees of freedom, want %d: %w",
			axis, fit.N, fit.Slices, fit.DF, MinFitDF, ErrTooFewPoints)
	}
	fit.Slope = sxy / sxx
	ssr := max(syy-fit.Slope*sxy, 0)
	fit.SlopeSE = math.Sqrt(ssr / float64(fit.DF) / sxx)
	if syy > 0 {
		fit.R2 = 1 - ssr/syy
	}
	if fit.Slices == 1 {
		var mx, my float64
		for i := range xs {
			mx += xs[i]
			my += ys[i]
		}
		fit.Intercept = (my - fit.Slope*mx) / float64(len(xs))
	}
	return fit, nil
}
