package analysis

import (
	"fmt"
	"math"
)

// CollapseResult compares how well a metric (test accuracy) is explained by
// the noise scale g alone and by the hyperparameters separately (Smith & Le:
// curves of accuracy against g from different (B, ε, N) should collapse).
//
// The data are the grid-point means ȳ_j of the metric over seeds (StatusOK
// trials; points with g ≤ 0, i.e. full batch, are excluded because ln g is
// undefined). Two least-squares fits of total polynomial degree d:
//
//	collapse model:  ȳ ≈ P_d(ln g)                          (d + 1 coefficients)
//	separate model:  ȳ ≈ P_d(ln B, ln ε [, ln N] [, ln 1/(1−m)])  (all monomials of total degree ≤ d)
//
// where N and m enter the separate model only when they vary. Each variable is
// standardized first and its power is capped at its number of distinct values
// minus one; rank deficiency is handled by a truncated SVD. With SSR the
// residual sum of squares and r the numerical rank of the design,
//
//	VarG = SSR_g/(n − r_g),  VarSeparate = SSR_sep/(n − r_sep),  Ratio = VarG / VarSeparate.
//
// Ratio ≈ 1 (or below) means g explains the metric as well as the separate
// hyperparameters with fewer coefficients: the curves collapse. Ratio ≫ 1
// means information is lost by reducing (B, ε, …) to g: no collapse.
//
// Because equal residual variances leave the choice to parsimony, the
// Bayesian information criterion of each fit is reported too,
//
//	BIC = n ln(SSR/n) + r ln n,   DeltaBIC = BIC_g − BIC_sep,
//
// negative when the data favour the collapse model (below −10 is "very
// strong" evidence on the Kass–Raftery scale), positive when they favour the
// separate one.
type CollapseResult struct {
	// Metric is the metric explained.
	Metric string `json:"metric"`
	// Degree is the polynomial degree d.
	Degree int `json:"degree"`
	// Points is the number n of grid points fitted.
	Points int `json:"points"`
	// Excluded counts grid points with a finite mean left out (g ≤ 0 or an axis
	// missing or non-positive).
	Excluded int `json:"excluded"`
	// SeparateAxes lists the axes of the separate model.
	SeparateAxes []string `json:"separate_axes"`
	// VarG is the residual variance of the fit in ln g.
	VarG float64 `json:"var_g"`
	// VarSeparate is the residual variance of the fit in the separate axes.
	VarSeparate float64 `json:"var_separate"`
	// Ratio is VarG / VarSeparate.
	Ratio float64 `json:"ratio"`
	// R2G and R2Separate are the coefficients of determination 1 − SSR/SST.
	R2G        float64 `json:"r2_g"`
	R2Separate float64 `json:"r2_separate"`
	// BICG and BICSeparate are the BICs of the two fits; DeltaBIC is
	// BICG − BICSeparate (−Inf or NaN when a fit is exact, SSR = 0).
	BICG        float64 `json:"bic_g"`
	BICSeparate float64 `json:"bic_separate"`
	DeltaBIC    float64 `json:"delta_bic"`
	// DFG and DFSeparate are the residual degrees of freedom n − r.
	DFG        int `json:"df_g"`
	DFSeparate int `json:"df_separate"`
	// Counts tallies the trials given by status.
	Counts Counts `json:"counts"`
	// Curves is the number of settings of (ε, N, m) among the grid points
	// fitted (each a curve of the metric against g, traced by B), and
	// Overlapping the number of them whose range [min g, max g] overlaps
	// another's. The test needs Overlapping ≥ 2: with one setting g is only
	// a rescaling of B, and curves that share no g cannot be seen to
	// coincide.
	Curves      int `json:"curves"`
	Overlapping int `json:"overlapping"`
	// NoG is true when g does not apply to any grid point with a finite
	// mean (Adam, a batch-size schedule).
	NoG bool `json:"no_g"`
}

// Collapse fits the collapse and separate models of CollapseResult for metric
// with polynomial degree deg (2 when deg < 1). It returns ErrNoData when no
// grid point has a finite mean, and ErrTooFewPoints (with every number NaN)
// when g does not apply, when fewer than two settings of (ε, N, m) have
// overlapping ranges of g (see Curves), or when either fit has no residual
// degree of freedom.
func Collapse(points []Point, metric string, deg int) (CollapseResult, error) {
	if deg < 1 {
		deg = 2
	}
	res := CollapseResult{Metric: metric, Degree: deg, Counts: CountPoints(points),
		VarG: math.NaN(), VarSeparate: math.NaN(), Ratio: math.NaN(), R2G: math.NaN(), R2Separate: math.NaN(),
		BICG: math.NaN(), BICSeparate: math.NaN(), DeltaBIC: math.NaN()}
	var y, lg []float64
	axes := []string{AxisB, AxisLR, AxisN, AxisMomentum}
	vars := make([][]float64, len(axes))
	seenAny, withG := false, 0
	ranges := map[[3]float64][2]float64{}
	for _, g := range Aggregate(points, AxisSeed) {
		s := g.Metric(metric)
		if s.Count == 0 {
			continue
		}
		seenAny = true
		gs := g.NoiseScale()
		row, ok := separateRow(g.Axes)
		if !math.IsNaN(gs) {
			withG++
		}
		if !(gs > 0) || math.IsInf(gs, 0) || !ok {
			res.Excluded++
			continue
		}
		k := [3]float64{row[1], row[2], row[3]}
		if r, seen := ranges[k]; seen {
			ranges[k] = [2]float64{min(r[0], gs), max(r[1], gs)}
		} else {
			ranges[k] = [2]float64{gs, gs}
		}
		y, lg = append(y, s.Mean), append(lg, math.Log(gs))
		for k := range axes {
			vars[k] = append(vars[k], row[k])
		}
	}
	if !seenAny {
		return res, fmt.Errorf("collapse of %s over %s: %w", metric, res.Counts, ErrNoData)
	}
	res.Points = len(y)
	res.NoG = withG == 0
	res.Curves, res.Overlapping = len(ranges), overlapping(ranges)
	if res.NoG || res.Overlapping < 2 {
		return res, fmt.Errorf("collapse of %s: %d settings of (ε, N, m), %d with overlapping ranges of g: %w", metric, res.Curves, res.Overlapping, ErrTooFewPoints)
	}
	var sep [][]float64
	for k, name := range axes {
		// B and ε always enter; N and m only when they vary.
		if k < 2 || distinct(vars[k]) > 1 {
			sep = append(sep, vars[k])
			res.SeparateAxes = append(res.SeparateAxes, name)
		}
	}
	if res.Points < 2 {
		return res, fmt.Errorf("collapse of %s: %d grid points: %w", metric, res.Points, ErrTooFewPoints)
	}
	fg, err := lstsq(polyDesign([][]float64{lg}, deg), y)
	if err != nil {
		return res, fmt.Errorf("collapse of %s, fit in ln g: %w", metric, err)
	}
	fs, err := lstsq(polyDesign(sep, deg), y)
	if err != nil {
		return res, fmt.Errorf("collapse of %s, separate fit: %w", metric, err)
	}
	res.VarG, res.VarSeparate = fg.resVar(), fs.resVar()
	res.R2G, res.R2Separate = fg.r2(), fs.r2()
	res.DFG, res.DFSeparate = fg.df(), fs.df()
	res.BICG, res.BICSeparate = fg.bic(), fs.bic()
	res.DeltaBIC = res.BICG - res.BICSeparate
	if res.DFG <= 0 || res.DFSeparate <= 0 {
		return res, fmt.Errorf("collapse of %s: %d grid points, %d and %d coefficients: %w",
			metric, res.Points, fg.rank, fs.rank, ErrTooFewPoints)
	}
	res.Ratio = res.VarG / res.VarSeparate
	return res, nil
}

// separateRow returns ln B, ln ε, ln N and ln 1/(1 − m) of a grid point, and
// whether they are all defined (m absent counts as 0).
func separateRow(axes map[string]float64) ([4]float64, bool) {
	b, okB := axes[AxisB]
	lr, okLR := axes[AxisLR]
	n, okN := axes[AxisN]
	m := axes[AxisMomentum]
	if !okB || !okLR || !okN || !(b > 0) || !(lr > 0) || !(n > 0) || !(m < 1) {
		return [4]float64{}, false
	}
	return [4]float64{math.Log(b), math.Log(lr), math.Log(n), -math.Log(1 - m)}, true
}

// overlapping counts the ranges that overlap another range in an interval
// of positive length (lo_i < hi_j and lo_j < hi_i).
func overlapping(ranges map[[3]float64][2]float64) int {
	n := 0
	for ki, ri := range ranges {
		for kj, rj := range ranges {
			if ki != kj && ri[0] < rj[1] && rj[0] < ri[1] {
				n++
				break
			}
		}
	}
	return n
}
