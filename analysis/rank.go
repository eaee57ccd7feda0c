package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// ErrUndefined is returned when a rank correlation is undefined: fewer than two
// complete pairs, or every value of one variable tied.
var ErrUndefined = errors.New("analysis: rank correlation undefined")

// KendallTauB returns Kendall's τ-b of the pairs (xᵢ, yᵢ) in which both values
// are finite (others are skipped), and the number n of such pairs:
//
//	τ_b = (n_c − n_d) / sqrt( (n₀ − n₁)(n₀ − n₂) ),
//	n₀ = n(n − 1)/2,  n₁ = Σ_i t_i(t_i − 1)/2,  n₂ = Σ_j u_j(u_j − 1)/2,
//
// with n_c and n_d the numbers of concordant and discordant pairs, t_i the
// sizes of the groups of tied x values and u_j of tied y values. A pair tied in
// x or y is neither concordant nor discordant. τ_b = 1 for a strictly
// increasing relation and −1 for a strictly decreasing one, and it equals
// Pearson's correlation of the sign matrices, so ties shrink the denominator
// rather than bias τ towards 0 (as τ-a would). O(n log n) time (Knight's
// algorithm, see kendallCounts), so that its bootstrap stays cheap.
//
// It returns NaN and ErrUndefined when n < 2 or one variable is constant, and
// ErrLengthMismatch when len(x) ≠ len(y).
func KendallTauB(x, y []float64) (float64, int, error) {
	if len(x) != len(y) {
		return math.NaN(), 0, fmt.Errorf("kendall τ-b: %d and %d values: %w", len(x), len(y), ErrLengthMismatch)
	}
	var xs, ys []float64
	for i := range x {
		if finite(x[i]) && finite(y[i]) {
			xs, ys = append(xs, x[i]), append(ys, y[i])
		}
	}
	n := len(xs)
	if n < 2 {
		return math.NaN(), n, fmt.Errorf("kendall τ-b over %d pairs: %w", n, ErrUndefined)
	}
	num, n0, n1, n2 := kendallCounts(xs, ys)
	den := math.Sqrt(float64(n0-n1) * float64(n0-n2))
	if den == 0 {
		return math.NaN(), n, fmt.Errorf("kendall τ-b over %d pairs: %w", n, ErrUndefined)
	}
	return float64(num) / den, n, nil
}

// kendallCounts returns, for finite pairs (xᵢ, yᵢ), n_c − n_d, n₀ and the
// pairs tied in x (n₁) and in y (n₂), by Knight's (1966) O(n log n)
// algorithm: sort by (x, y); count n₁ and the pairs tied in both (n₃); a
// merge sort of y then counts the swaps S it makes, the discordant pairs;
// after it count n₂. Then n_c − n_d = n₀ − n₁ − n₂ + n₃ − 2S.
func kendallCounts(xs, ys []float64) (num, n0, n1, n2 int64) {
	n := len(xs)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmpFloat(xs[a], xs[b]); c != 0 {
			return c
		}
		return cmpFloat(ys[a], ys[b])
	})
	y := make([]float64, n)
	for i, k := range idx {
		y[i] = ys[k]
	}
	n0 = int64(n) * int64(n-1) / 2
	var n3 int64
	for i := 0; i < n; {
		j, k := i, i
		for j < n && xs[idx[j]] == xs[idx[i]] {
			j++
		}
		n1 += int64(j-i) * int64(j-i-1) / 2
		for k = i; k < j; {
			l := k
			for l < j && y[l] == y[k] {
				l++
			}
			n3 += int64(l-k) * int64(l-k-1) / 2
			k = l
		}
		i = j
	}
	swaps := mergeCount(y, make([]float64, n))
	for i := 0; i < n; {
		j := i
		for j < n && y[j] == y[i] {
			j++
		}
		n2 += int64(j-i) * int64(j-i-1) / 2
		i = j
	}
	return n0 - n1 - n2 + n3 - 2*swaps, n0, n1, n2
}

// mergeCount sorts a by a stable merge sort (buf of the same length as
// scratch) and returns the number of inversions, pairs i < j with
// a[i] > a[j].
func mergeCount(a, buf []float64) int64 {
	n := len(a)
	if n < 2 {
		return 0
	}
	m := n / 2
	s := mergeCount(a[:m], buf[:m]) + mergeCount(a[m:], buf[m:])
	i, j, k := 0, m, 0
	for i < m && j < n {
		if a[j] < a[i] {
			buf[k] = a[j]
			s += int64(m - i)
			j++
		} else {
			buf[k] = a[i]
			i++
		}
		k++
	}
	k += copy(buf[k:], a[i:m])
	copy(buf[k:], a[j:n])
	copy(a, buf[:n])
	return s
}

// cmpFloat orders finite floats.
func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// AxisTau is the granulated rank correlation along one axis: the mean τ-b over
// the groups of trials in which only that axis varies.
type AxisTau struct {
	// Axis is the varied axis i.
	Axis string `json:"axis"`
	// Psi is ψ_i, the mean τ-b over the groups with a defined τ (NaN if none).
	Psi float64 `json:"psi"`
	// Groups is the number of groups averaged.
	Groups int `json:"groups"`
	// Undefined counts groups of at least two trials whose τ was undefined
	// (e.g. the measure tied within the group); they are left out of the mean.
	Undefined int `json:"undefined"`
}

// Granulated is Jiang et al.'s (2020, arXiv 1912.02178) granulated Kendall
// coefficient: for each axis i,
//
//	ψ_i = (1/m_i) Σ_{groups} τ_b(measure, target within the group),
//
// over the m_i groups of trials that share every axis value except axis i
// (all other axes, the seed included, fixed; groups of one trial carry no
// pair and are skipped), and
//
//	Ψ = (1/|A|) Σ_{i ∈ A} ψ_i
//
// over the axes A with at least one defined group.
type Granulated struct {
	// Psi is Ψ (NaN when no axis has a defined group).
	Psi float64 `json:"psi"`
	// Axes holds ψ_i for every requested axis, in the order requested.
	Axes []AxisTau `json:"axes"`
}

// GranulatedTau computes Granulated for measure against target (usually
// MetricGap) over the StatusOK points. axes lists the axes to vary; when it is
// empty, every axis except AxisSeed that takes at least two values among the
// points is used. It returns ErrUndefined when no axis has a defined group.
func GranulatedTau(points []Point, measure, target string, axes []string) (Granulated, error) {
	ok := okPoints(points)
	if len(axes) == 0 {
		axes = varyingAxes(ok)
	}
	out := Granulated{Psi: math.NaN()}
	var sum float64
	var used int
	for k, taus := range groupTaus(ok, measure, target, axes) {
		at := AxisTau{Axis: axes[k], Psi: math.NaN(), Groups: len(taus.defined), Undefined: taus.undefined}
		if at.Groups > 0 {
			var s float64
			for _, tau := range taus.defined {
				s += tau
			}
			at.Psi = s / float64(at.Groups)
			sum += at.Psi
			used++
		}
		out.Axes = append(out.Axes, at)
	}
	if used == 0 {
		return out, fmt.Errorf("granulated τ of %s against %s over axes %v: %w", measure, target, axes, ErrUndefined)
	}
	out.Psi = sum / float64(used)
	return out, nil
}

// axisTaus are the τ-b of the groups of one axis of Ψ: the defined ones, and
// the number of groups of two or more trials whose τ is undefined.
type axisTaus struct {
	defined   []float64
	undefined int
}

// groupTaus returns, per axis, the τ-b(measure, target) of every group of
// the points that share every axis value but that axis (see Granulated).
func groupTaus(ok []Point, measure, target string, axes []string) []axisTaus {
	out := make([]axisTaus, len(axes))
	for k, axis := range axes {
		index := map[string]int{}
		var groups [][]Point
		for _, p := range ok {
			if _, has := p.Axes[axis]; !has {
				continue
			}
			key := axesKey(p, axis)
			i, seen := index[key]
			if !seen {
				i = len(groups)
				index[key] = i
				groups = append(groups, nil)
			}
			groups[i] = append(groups[i], p)
		}
		for _, g := range groups {
			if len(g) < 2 {
				continue
			}
			tau, _, err := KendallTauB(metricValues(g, measure), metricValues(g, target))
			if err != nil {
				out[k].undefined++
				continue
			}
			out[k].defined = append(out[k].defined, tau)
		}
	}
	return out
}

// okPoints returns the StatusOK points.
func okPoints(points []Point) []Point {
	var out []Point
	for _, p := range points {
		if p.Status == StatusOK {
			out = append(out, p)
		}
	}
	return out
}

// varyingAxes returns, sorted, the axes other than AxisSeed that take at least
// two values among points.
func varyingAxes(points []Point) []string {
	var out []string
	for _, name := range AxisNames(points) {
		if name == AxisSeed {
			continue
		}
		var vals []float64
		for _, p := range points {
			if v, ok := p.Axes[name]; ok {
				vals = append(vals, v)
			}
		}
		if distinct(vals) > 1 {
			out = append(out, name)
		}
	}
	return out
}

// metricValues returns metric name of each point (NaN when missing).
func metricValues(points []Point, name string) []float64 {
	out := make([]float64, len(points))
	for i, p := range points {
		out[i] = p.Metric(name)
	}
	return out
}

// MinRankTrials is the fewest trials from which ScoreMeasures gives
// Kendall's τ over all trials: with n trials τ moves in steps of
// 2/(n(n − 1)), and τ = ±1 from two trials or from four (p ≈ 0.08) is no
// evidence; from five on a perfect τ is significant at 5 %.
const MinRankTrials = 5

// MeasureScore judges a flatness measure as a predictor of generalization
// (Jiang et al. 2020): its rank correlations with the generalization gap and
// with test accuracy over all StatusOK trials, and its granulated Ψ against
// the gap. A good measure has τ and Ψ against the gap near +1 (flatter ⇒
// smaller gap when the measure is a sharpness) and τ against test accuracy
// near −1. Undefined correlations are NaN.
type MeasureScore struct {
	// Measure is the metric name of the measure.
	Measure string `json:"measure"`
	// N is the number of StatusOK trials with a finite measure.
	N int `json:"n"`
	// TauGap is τ-b(measure, MetricGap) over all trials (NaN with fewer
	// than MinRankTrials).
	TauGap float64 `json:"tau_gap"`
	// TauTestAcc is τ-b(measure, MetricTestAcc) over all trials.
	TauTestAcc float64 `json:"tau_test_acc"`
	// TauTestLoss is τ-b(measure, MetricTestLoss) over all trials: the
	// target of measures that predict the test cross-entropy, such as the
	// Bayesian evidence (Smith & Le 2018).
	TauTestLoss float64 `json:"tau_test_loss"`
	// Granulated is Ψ of the measure against MetricGap.
	Granulated Granulated `json:"granulated"`
	// TauGapCI, TauTestAccCI and TauTestLossCI are bootstrap intervals of
	// the three τ (trials resampled with replacement); PsiCI of Ψ (the groups
	// of each axis resampled; see psiInterval).
	TauGapCI      Interval `json:"tau_gap_ci"`
	TauTestAccCI  Interval `json:"tau_test_acc_ci"`
	TauTestLossCI Interval `json:"tau_test_loss_ci"`
	PsiCI         Interval `json:"psi_ci"`
	// Robust is the measure's score over Dziugaite et al.'s environments
	// against the gap: its average and its worst case.
	Robust RobustScore `json:"robust"`
}

// ScoreMeasures returns a MeasureScore for every flatness measure present in
// the points (FlatnessMeasures), with Ψ over axes (see GranulatedTau), the
// bootstrap intervals of τ and Ψ, the worst case over environments
// (Robust), and the
// counts of the points given: diverged, failed and unfinished trials take no
// part in the correlations but are reported.
func ScoreMeasures(points []Point, axes []string) ([]MeasureScore, Counts) {
	ok := okPoints(points)
	var out []MeasureScore
	for _, m := range FlatnessMeasures(points) {
		vals := metricValues(ok, m)
		s := MeasureScore{Measure: m}
		for _, v := range vals {
			if finite(v) {
				s.N++
			}
		}
		s.TauGap, _, _ = KendallTauB(vals, metricValues(ok, MetricGap))
		s.TauTestAcc, _, _ = KendallTauB(vals, metricValues(ok, MetricTestAcc))
		s.TauTestLoss, _, _ = KendallTauB(vals, metricValues(ok, MetricTestLoss))
		s.TauGapCI, s.TauTestAccCI, s.TauTestLossCI = undefinedInterval("bootstrap"), undefinedInterval("bootstrap"), undefinedInterval("bootstrap")
		if s.N < MinRankTrials {
			s.TauGap, s.TauTestAcc, s.TauTestLoss = math.NaN(), math.NaN(), math.NaN()
		} else {
			s.TauGapCI = tauInterval(vals, metricValues(ok, MetricGap))
			s.TauTestAccCI = tauInterval(vals, metricValues(ok, MetricTestAcc))
			s.TauTestLossCI = tauInterval(vals, metricValues(ok, MetricTestLoss))
		}
		s.Granulated, _ = GranulatedTau(ok, m, MetricGap, axes)
		s.PsiCI = undefinedInterval("bootstrap")
		if finite(s.Granulated.Psi) {
			s.PsiCI = psiInterval(ok, m, MetricGap, axes)
		}
		s.Robust = Robust(ok, m, MetricGap)
		out = append(out, s)
	}
	return out, CountPoints(points)
}

// DinhResult compares a measure before and after a function-preserving
// reparametrization such as Dinh et al.'s (2017) α-scaling
// T_α(θ₁, θ₂) = (αθ₁, θ₂/α). A reparametrization-aware measure has Tau = 1 and
// MaxRelChange ≈ 0; a raw one (λ₁, trace, ε-sharpness) can change arbitrarily.
type DinhResult struct {
	// N is the number of trials with both values finite.
	N int `json:"n"`
	// Tau is τ-b(before, after): whether the ranking of trials survives.
	Tau float64 `json:"tau"`
	// MaxRelChange is max_i |afterᵢ − beforeᵢ| / |beforeᵢ| (0/0 counts as 0,
	// x/0 as +Inf).
	MaxRelChange float64 `json:"max_rel_change"`
	// MedianRatio is the median of afterᵢ / beforeᵢ (NaN when some beforeᵢ = 0).
	MedianRatio float64 `json:"median_ratio"`
}

// DinhCheck compares per-trial measure values before and after α-scaling (see
// DinhResult); pairs with a non-finite value are skipped. Tau is NaN (and the
// error wraps ErrUndefined) when fewer than two pairs remain or one side is
// constant — MaxRelChange is still reported then. It returns ErrLengthMismatch
// when the slices differ in length and ErrNoData when no pair is finite.
func DinhCheck(before, after []float64) (DinhResult, error) {
	res := DinhResult{Tau: math.NaN(), MaxRelChange: math.NaN(), MedianRatio: math.NaN()}
	if len(before) != len(after) {
		return res, fmt.Errorf("dinh check: %d and %d values: %w", len(before), len(after), ErrLengthMismatch)
	}
	var ratios []float64
	zeroDen := false
	for i := range before {
		b, a := before[i], after[i]
		if !finite(b) || !finite(a) {
			continue
		}
		res.N++
		var rel float64
		switch {
		case b == 0 && a == 0:
			rel = 0
			zeroDen = true
		case b == 0:
			rel = math.Inf(1)
			zeroDen = true
		default:
			rel = math.Abs(a-b) / math.Abs(b)
			ratios = append(ratios, a/b)
		}
		if res.N == 1 || rel > res.MaxRelChange {
			res.MaxRelChange = rel
		}
	}
	if res.N == 0 {
		return res, fmt.Errorf("dinh check over %d pairs: %w", len(before), ErrNoData)
	}
	if !zeroDen {
		slices.Sort(ratios)
		if k := len(ratios); k%2 == 1 {
			res.MedianRatio = ratios[k/2]
		} else {
			res.MedianRatio = (ratios[k/2-1] + ratios[k/2]) / 2
		}
	}
	tau, _, err := KendallTauB(before, after)
	res.Tau = tau
	if err != nil {
		return res, fmt.Errorf("dinh check: %w", err)
	}
	return res, nil
}
