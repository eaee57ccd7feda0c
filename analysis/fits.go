package analysis

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

// scalingFit fits B_opt against axis over the optima (FitBatchScaling), with
// its t interval and its bootstrap interval over the seeds of the grid
// points cs, and a message for a reader when there is no fit.
func scalingFit(opts []BatchOptimum, cs [][]Point, axis string) ScalingFit {
	f := ScalingFit{Axis: axis, Predicted: PredictedSlope, Deviation: math.NaN(),
		CI: undefinedInterval("t"), Bootstrap: undefinedInterval("bootstrap")}
	var err error
	f.Fit, err = FitBatchScaling(opts, axis)
	if err != nil {
		f.Error = fitMessage(f.Fit, len(opts))
		return f
	}
	f.CI = f.Fit.CI()
	if f.Fit.SlopeSE > 0 {
		f.Deviation = f.Fit.Deviation(PredictedSlope)
	}
	if maxSeeds(cs) >= 2 {
		f.Bootstrap = bootstrap(BootstrapResamples, BootstrapSeed, func(r *rand.Rand) float64 {
			o, err := OptimalBatches(resampleSeeds(cs, r), MetricTestAcc)
			if err != nil {
				return math.NaN()
			}
			ft, err := FitBatchScaling(o, axis)
			if err != nil {
				return math.NaN()
			}
			return ft.Slope
		})
	}
	return f
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
