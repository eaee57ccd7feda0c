package analysis

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Environment is one of Dziugaite et al.'s (2020, arXiv 2010.11924, "In
// search of robust measures of generalization") environments: two grid
// points that differ in exactly one hyperparameter (the seed aside), and how
// well a measure orders their generalization gaps.
type Environment struct {
	// Axis is the hyperparameter that differs; From and To its two values.
	Axis string  `json:"axis"`
	From float64 `json:"from"`
	To   float64 `json:"to"`
	// At names the values of the other axes ("lr=0.1, n=1000").
	At string `json:"at"`
	// Pairs is the number of (trial, trial) pairs compared, one trial of
	// each grid point.
	Pairs int `json:"pairs"`
	// Score is the mean over the pairs of sign(Δmeasure)·sign(Δgap): +1
	// when the measure orders every pair as the gap does, −1 when it orders
	// every pair the other way (a tie in either counts 0).
	Score float64 `json:"score"`
}

// RobustScore summarizes a measure over the environments of a sweep: its
// average and, above all, its worst case. A measure that predicts the gap
// on average but fails in one environment has Worst < 0: it cannot be
// trusted to rank the effect of that hyperparameter.
type RobustScore struct {
	// Environments is the number of environments scored; TooClose the
	// number left out because the two grid points' mean gaps differ by less
	// than their noise (their order is noise; no measure can be asked to
	// predict it). Where every trial of both recorded its per-image test
	// results on one test set, the noise is the half-width of the gaps'
	// difference's 95 % interval: Welch's over the seeds combined with the
	// test images' paired error (PairedDifference.TestHalf), √(h_seed² +
	// h_test²). Otherwise it is twice the test sets' binomial standard error
	// of that difference, 2·sqrt(p_a(1−p_a)/n_a + p_b(1−p_b)/n_b) with p the
	// mean test accuracy.
	Environments int `json:"environments"`
	TooClose     int `json:"too_close"`
	// Mean is the average Score; Worst the smallest, in WorstEnv; Failing
	// the number of environments with Score < 0. NaN/nil without any.
	Mean     float64      `json:"mean"`
	Worst    float64      `json:"worst"`
	WorstEnv *Environment `json:"worst_env,omitempty"`
	Failing  int          `json:"failing"`
}

// MarshalJSON encodes r with null for undefined numbers.
func (r RobustScore) MarshalJSON() ([]byte, error) { return marshalFinite(r) }

// Robust scores measure against target (usually MetricGap) over every
// environment of the StatusOK points: every pair of grid points (seeds
// pooled) that differ in exactly one axis other than the seed (see
// Environment and RobustScore).
func Robust(points []Point, measure, target string) RobustScore {
	out := RobustScore{Mean: math.NaN(), Worst: math.NaN()}
	type cell struct {
		axes  map[string]float64
		m, t  []float64
		p     float64
		nTest int
		ps    []Point
	}
	var cs []cell
	for _, c := range cells(okPoints(points)) {
		cl := cell{axes: axesExcept(c[0], AxisSeed)}
		var acc []float64
		for _, p := range c {
			m, t := p.Metric(measure), p.Metric(target)
			if finite(m) && finite(t) {
				cl.m, cl.t = append(cl.m, m), append(cl.t, t)
				cl.ps = append(cl.ps, p)
				acc = append(acc, p.Metric(MetricTestAcc))
				cl.nTest = p.TestExamples
			}
		}
		if len(cl.m) == 0 {
			continue
		}
		cl.p = Describe(acc).Mean
		cs = append(cs, cl)
	}
	varying := varyingAxes(okPoints(points))
	labels := axisLabels(points)
	var sum float64
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			axis, ok := differInOne(cs[i].axes, cs[j].axes)
			if !ok {
				continue
			}
			a, b := cs[i], cs[j]
			if a.axes[axis] > b.axes[axis] {
				a, b = b, a
			}
			if target == MetricGap && a.nTest > 0 && b.nTest > 0 && finite(a.p) && finite(b.p) {
				noise := 2 * math.Sqrt(a.p*(1-a.p)/float64(a.nTest)+b.p*(1-b.p)/float64(b.nTest))
				if pairable(a.ps, b.ps) {
					// Image by image: the gaps' 95 % half-width, seeds
					// (Welch) and the paired test images together.
					d := pairedDifference(a.ps, b.ps)
					noise = math.Hypot(welchHalf(a.t, b.t), d.TestHalf)
				}
				if math.Abs(Describe(a.t).Mean-Describe(b.t).Mean) <= noise {
					out.TooClose++
					continue
				}
			}
			e := Environment{Axis: axis, From: a.axes[axis], To: b.axes[axis], At: describeAxes(a.axes, labels, axis, varying)}
			var s float64
			for x := range a.m {
				for y := range b.m {
					s += float64(sign(b.m[y]-a.m[x]) * sign(b.t[y]-a.t[x]))
					e.Pairs++
				}
			}
			e.Score = s / float64(e.Pairs)
			out.Environments++
			sum += e.Score
			if e.Score < 0 {
				out.Failing++
			}
			if out.WorstEnv == nil || e.Score < out.Worst {
				out.Worst, out.WorstEnv = e.Score, &e
			}
		}
	}
	if out.Environments > 0 {
		out.Mean = sum / float64(out.Environments)
	}
	return out
}

// differInOne returns the one axis on which a and b differ, if exactly one.
func differInOne(a, b map[string]float64) (string, bool) {
	axis, n := "", 0
	for k, v := range a {
		w, ok := b[k]
		if !ok {
			return "", false
		}
		if v != w {
			axis, n = k, n+1
		}
	}
	return axis, n == 1 && len(a) == len(b)
}

// describeAxes names the values of the axes other than skip, in name order
// (only those in only, when only is given), labelled by labels.
func describeAxes(axes map[string]float64, labels AxisLabels, skip string, only ...[]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(axes)) {
		if k != skip && (len(only) == 0 || slices.Contains(only[0], k)) {
			parts = append(parts, k+"="+labels.Label(k, axes[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// tauInterval is the bootstrap interval of Kendall's τ-b between two
// metrics over trials resampled with replacement (the trials as the unit).
func tauInterval(x, y []float64) Interval {
	var xs, ys []float64
	for i := range x {
		if finite(x[i]) && finite(y[i]) {
			xs, ys = append(xs, x[i]), append(ys, y[i])
		}
	}
	if len(xs) < 3 {
		return undefinedInterval("bootstrap")
	}
	bx, by := make([]float64, len(xs)), make([]float64, len(xs))
	return bootstrap(BootstrapResamples, BootstrapSeed, func(r *rand.Rand) float64 {
		for i := range bx {
			k := r.IntN(len(xs))
			bx[i], by[i] = xs[k], ys[k]
		}
		tau, _, err := KendallTauB(bx, by)
		if err != nil {
			return math.NaN()
		}
		return tau
	})
}

// MinPsiGroups is the fewest groups (over all axes) from which psiInterval
// gives a bootstrap interval of Ψ.
const MinPsiGroups = 5

// psiInterval is the 95 % bootstrap interval of Ψ of measure against target
// over the StatusOK points: Ψ is the mean over axes of ψ_i, each the mean of
// τ over the groups of axis i, so the groups are the units resampled — in
// every axis its groups with replacement, ψ*_i and Ψ* recomputed. Undefined
// with fewer than MinPsiGroups groups, or an axis with a single group (whose
// ψ cannot vary).
func psiInterval(points []Point, measure, target string, axes []string) Interval {
	if len(axes) == 0 {
		axes = varyingAxes(points)
	}
	var used [][]float64
	total := 0
	for _, at := range groupTaus(points, measure, target, axes) {
		if len(at.defined) > 0 {
			used = append(used, at.defined)
			total += len(at.defined)
		}
	}
	if total < MinPsiGroups || slices.ContainsFunc(used, func(t []float64) bool { return len(t) < 2 }) {
		return undefinedInterval("bootstrap")
	}
	return bootstrap(BootstrapResamples, BootstrapSeed, func(r *rand.Rand) float64 {
		var sum float64
		for _, taus := range used {
			var s float64
			for range taus {
				s += taus[r.IntN(len(taus))]
			}
			sum += s / float64(len(taus))
		}
		return sum / float64(len(used))
	})
}
