package analysis

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// scalingFit fits B_opt against axis over the optima (FitBatchScaling), with
// its t interval and its residual bootstrap-t interval, and a message for a
// reader when there is no fit.
func scalingFit(opts []BatchOptimum, axis string) ScalingFit {
	f := ScalingFit{Axis: axis, Predicted: PredictedSlope, Deviation: math.NaN(),
		CI: undefinedInterval("t"), Bootstrap: undefinedInterval("bootstrap")}
	var err error
	f.Fit, err = FitBatchScaling(opts, axis)
	var vals []float64
	for _, o := range opts {
		if v, ok := o.Axes[axis]; ok {
			vals = append(vals, v)
		}
	}
	if distinct(vals) < 2 {
		f.Error = fmt.Sprintf("not applicable: %s takes %d value(s) in this sweep", axisSymbol(axis), distinct(vals))
		return f
	}
	if err != nil {
		f.Error = fitMessage(f.Fit, len(opts))
		return f
	}
	f.CI = f.Fit.CI()
	if f.Fit.SlopeSE > 0 {
		f.Deviation = f.Fit.Deviation(PredictedSlope)
	}
	f.Bootstrap = residualBootstrapT(f.Fit)
	return f
}

// residualBootstrapT returns the 95 % residual bootstrap-t interval of the
// slope of fit (Davison & Hinkley 1997, §6.3): with ŷᵢ the fitted values and
// rᵢ = (yᵢ − ŷᵢ)/sqrt(1 − hᵢ) the residuals adjusted for their leverage
// hᵢ = 1/n_j + x̃ᵢ²/S_xx and centred, each resample is y*ᵢ = ŷᵢ + r*ᵢ (r*
// drawn with replacement from all of them), refitted to s* and SE*; the
// interval is
//
//	[s − q_{0.975}(t*)·SE, s − q_{0.025}(t*)·SE],  t* = (s* − s)/SE*,
//
// studentized, so that it does not shrink with the few residual degrees of
// freedom a sweep has (a percentile interval of s* does). Undefined when
// the fit is.
func residualBootstrapT(fit PowerLawFit) Interval {
	if !finite(fit.SlopeSE) || !(fit.SlopeSE > 0) || len(fit.groups) == 0 {
		return undefinedInterval("bootstrap-t")
	}
	s, se, sxx := pooledSlope(fit.groups)
	type obs struct {
		g, i int
		yhat float64
	}
	var fitted []obs
	var res []float64
	for gi, g := range fit.groups {
		mx, my := means(g)
		for i, p := range g {
			yhat := my + s*(p.x-mx)
			h := 1/float64(len(g)) + (p.x-mx)*(p.x-mx)/sxx
			fitted = append(fitted, obs{gi, i, yhat})
			res = append(res, (p.y-yhat)/math.Sqrt(max(1-h, 1e-12)))
		}
	}
	var mean float64
	for _, r := range res {
		mean += r
	}
	mean /= float64(len(res))
	for i := range res {
		res[i] -= mean
	}
	star := make([][]logXY, len(fit.groups))
	for gi, g := range fit.groups {
		star[gi] = slices.Clone(g)
	}
	iv := bootstrap(BootstrapResamples, BootstrapSeed, func(r *rand.Rand) float64 {
		for _, o := range fitted {
			star[o.g][o.i].y = o.yhat + res[r.IntN(len(res))]
		}
		ss, sse, _ := pooledSlope(star)
		if !(sse > 0) {
			return math.NaN()
		}
		return (ss - s) / sse
	})
	out := Interval{Lo: math.NaN(), Hi: math.NaN(), Method: "bootstrap-t", Resamples: iv.Resamples, Defined: iv.Defined}
	if iv.Finite() {
		out.Lo, out.Hi = s-iv.Hi*se, s-iv.Lo*se
	}
	return out
}

// fitMessage says why a fit of B_opt has no slope, with the counts.
func fitMessage(f PowerLawFit, optima int) string {
	x := f.Axis
	if x == AxisMomentum {
		x = "1/(1−m)"
	}
	var why []string
	if f.Edge > 0 {
		why = append(why, fmt.Sprintf("%d at the edge of the batch-size grid (the optimum may lie beyond it)", f.Edge))
	}
	if other := f.Excluded - f.Edge; other > 0 {
		why = append(why, fmt.Sprintf("%d without a located optimum, without a value of %s, or alone in their setting of the other axes", other, x))
	}
	left := ""
	if len(why) > 0 {
		left = "; left out: " + strings.Join(why, ", ")
	}
	j := max(f.Slices, 1)
	return fmt.Sprintf("not enough data: %d of %d optima usable, in %d setting(s) of the other axes; a slope against %s with %d residual degrees of freedom needs at least %d optima with two or more values of %s in one setting%s",
		f.N, optima, f.Slices, x, MinFitDF, MinFitOptima(j), x, left)
}

// collapseMessage says why the collapse test gave no verdict.
func collapseMessage(c CollapseResult, err error) string {
	switch {
	case errors.Is(err, ErrNoData):
		return "not enough data: no grid point has a successful trial with a finite test accuracy"
	case c.NoG:
		return "not applicable: the noise scale g describes SGD (with or without momentum); it does not apply to these trials (Adam or another optimizer, or a batch-size schedule)"
	case c.Curves < 2:
		return fmt.Sprintf("not enough data: %d setting(s) of (ε, N, m) over %d grid points; g is then only a rescaling of B, and a collapse needs at least two settings whose ranges of g overlap", c.Curves, c.Points)
	case c.Overlapping < 2:
		return fmt.Sprintf("not enough data: the ranges of g of the %d settings of (ε, N, m) do not overlap, so nothing tests whether they fall on one curve", c.Curves)
	}
	return fmt.Sprintf("not enough data: %d grid points leave no residual degree of freedom for a quadratic fit in the separate hyperparameters", c.Points)
}
