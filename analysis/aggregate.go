package analysis

import (
	"slices"
	"strings"

	"github.com/flatsweep/flatsweep/results"
)

// ConfidenceLevel is the coverage of every interval: 95 %.
const ConfidenceLevel = results.ConfidenceLevel

// Summary describes the finite values of a metric over a group of trials:
// count, mean, sample std, min, max and the Student-t interval of the mean
// (see results.Summary, computed by the one results engine).
type Summary = results.Summary

// Describe summarizes the finite values of xs (see Summary).
func Describe(xs []float64) Summary { return results.Describe(xs) }

// Group is a grid point: the trials that share every axis value except the
// axes aggregated over (by default the seed).
type Group struct {
	// Axes are the grid point's axis values (without the aggregated axes).
	Axes map[string]float64
	// Counts tallies the group's trials by status.
	Counts Counts
	// Metrics summarizes every metric of every group over its StatusOK trials,
	// with 95 % intervals (ConfidenceLevel).
	Metrics map[string]Summary
	// Points are the group's trials, in input order, in every status.
	Points []Point
	// G is the noise scale the group's trials share, NaN where it does not
	// apply or they do not share it (see results.Group.NoiseScale).
	G float64
}

// Metric returns the summary of metric name, with Count = 0 and NaN values
// when no trial of the group has it.
func (g Group) Metric(name string) Summary {
	if s, ok := g.Metrics[name]; ok {
		return s
	}
	return Describe(nil)
}

// NoiseScale returns the noise scale of the group (see G).
func (g Group) NoiseScale() float64 { return g.G }

// Aggregate groups points by their axis values other than the axes named in
// over (AxisSeed when over is empty), exactly (by the canonical JSON of each
// value where the points carry it), and summarizes every metric of every
// group over its StatusOK points with the results engine (results.Grouper):
// the numbers are those of every other summary flatsweep prints. Diverged,
// failed and unfinished points are kept in Group.Points and counted in
// Group.Counts but do not enter the summaries. Groups are sorted by axis
// names, then values.
func Aggregate(points []Point, over ...string) []Group {
	if len(over) == 0 {
		over = []string{AxisSeed}
	}
	names := AxisNames(points)
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(over, n) })
	metrics := keysOf(points, func(p Point) map[string]float64 { return p.Metrics })
	gr := results.NewGrouper(metrics)
	index := map[string]int{}
	var groups []Group
	key := make([]string, len(names))
	values := make([]float64, len(metrics))
	for _, p := range points {
		for i, n := range names {
			key[i] = p.axisJSON(n)
		}
		k := strings.Join(key, "\x00")
		i, ok := index[k]
		if !ok {
			i = len(groups)
			index[k] = i
			groups = append(groups, Group{Axes: axesExcept(p, over...)})
		}
		groups[i].Points = append(groups[i].Points, p)
		for j, m := range metrics {
			values[j] = p.Metric(m)
		}
		gr.Add(key, p.Status, values, p.NoiseScale())
	}
	out := gr.Groups(names)
	for _, g := range out.Groups {
		i := index[strings.Join(g.Key, "\x00")]
		groups[i].Counts, groups[i].G = g.Counts, g.NoiseScale
		groups[i].Metrics = map[string]Summary{}
		for j, m := range metrics {
			if g.Metrics[j].Count > 0 {
				groups[i].Metrics[m] = g.Metrics[j]
			}
		}
	}
	slices.SortStableFunc(groups, func(a, b Group) int { return compareAxes(a.Axes, b.Axes) })
	return groups
}
