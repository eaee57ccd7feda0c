package analysis

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// ConfidenceLevel is the coverage of the intervals of Aggregate: 95 %.
const ConfidenceLevel = 0.95

// Summary describes the finite values x₁…x_n of a metric over the seeds of a
// grid point:
//
//	Mean = x̄ = (1/n) Σ xᵢ,   Std = s = sqrt( Σ (xᵢ − x̄)² / (n − 1) ),
//	[Lo, Hi] = x̄ ∓ t_{(1+c)/2, n−1} · s/√n,
//
// the Student-t confidence interval of level c for the mean (t the quantile of
// Student's t with n − 1 degrees of freedom). Std is 0 and Lo, Hi are NaN when
// n = 1 (one seed bounds nothing); everything but N is NaN when n = 0.
type Summary struct {
	// Mean is the sample mean x̄.
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation s (n − 1 denominator).
	Std float64 `json:"std"`
	// Lo and Hi bound the confidence interval of the mean.
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// N is the number of finite values.
	N int `json:"n"`
}

// Describe summarizes the finite values of xs with a confidence interval of the
// given level in (0, 1) (ConfidenceLevel for the usual 95 %); see Summary.
// NaN and ±Inf values are ignored. A level outside (0, 1) gives NaN bounds.
func Describe(xs []float64, level float64) Summary {
	fin := make([]float64, 0, len(xs))
	for _, x := range xs {
		if finite(x) {
			fin = append(fin, x)
		}
	}
	nan := math.NaN()
	switch len(fin) {
	case 0:
		return Summary{Mean: nan, Std: nan, Lo: nan, Hi: nan}
	case 1:
		return Summary{Mean: fin[0], Lo: nan, Hi: nan, N: 1}
	}
	mean, std := stat.MeanStdDev(fin, nil)
	s := Summary{Mean: mean, Std: std, Lo: nan, Hi: nan, N: len(fin)}
	if level > 0 && level < 1 {
		n := float64(len(fin))
		t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: n - 1}.Quantile((1 + level) / 2)
		half := t * std / math.Sqrt(n)
		s.Lo, s.Hi = mean-half, mean+half
	}
	return s
}

// Group is a grid point: the trials that share every axis value except the
// axes aggregated over (by default the seed).
type Group struct {
	// Axes are the grid point's axis values (without the aggregated axes).
	Axes map[string]float64
	// Counts tallies the group's trials by status.
	Counts Counts
	// Metrics summarizes every metric over the group's StatusOK trials, with
	// 95 % intervals (ConfidenceLevel).
	Metrics map[string]Summary
	// Points are the group's trials, in input order, in every status.
	Points []Point
}

// Metric returns the summary of metric name, with N = 0 and NaN values when
// no trial of the group has it.
func (g Group) Metric(name string) Summary {
	if s, ok := g.Metrics[name]; ok {
		return s
	}
	return Describe(nil, ConfidenceLevel)
}

// NoiseScale returns the noise scale ε(N/B − 1)/(1 − m) of the group's axes
// (see Point.NoiseScale).
func (g Group) NoiseScale() float64 { return Point{Axes: g.Axes}.NoiseScale() }

// Aggregate groups points by their axis values other than the axes named in
// over (AxisSeed when over is empty) and summarizes every metric of every
// group over its StatusOK points (Describe at ConfidenceLevel). Diverged,
// failed and unfinished points are kept in Group.Points and counted in
// Group.Counts but do not enter the summaries. Groups are sorted by axis
// names, then values.
func Aggregate(points []Point, over ...string) []Group {
	if len(over) == 0 {
		over = []string{AxisSeed}
	}
	index := map[string]int{}
	var groups []Group
	for _, p := range points {
		k := axesKey(p, over...)
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, Group{Axes: axesExcept(p, over...)})
		}
		groups[i].Points = append(groups[i].Points, p)
		groups[i].Counts.add(p.Status)
	}
	for i := range groups {
		groups[i].Metrics = summarizeMetrics(groups[i].Points)
	}
	slices.SortStableFunc(groups, func(a, b Group) int { return compareAxes(a.Axes, b.Axes) })
	return groups
}

// summarizeMetrics describes every metric over the StatusOK points.
func summarizeMetrics(points []Point) map[string]Summary {
	values := map[string][]float64{}
	for _, p := range points {
		if p.Status != StatusOK {
			continue
		}
		for name, v := range p.Metrics {
			values[name] = append(values[name], v)
		}
	}
	out := make(map[string]Summary, len(values))
	for name, xs := range values {
		out[name] = Describe(xs, ConfidenceLevel)
	}
	return out
}
