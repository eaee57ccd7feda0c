package analysis

import (
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// tQuantile returns the (1 + ConfidenceLevel)/2 quantile of Student's t
// with df degrees of freedom (NaN for df < 1).
func tQuantile(df int) float64 {
	if df < 1 {
		return math.NaN()
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile((1 + ConfidenceLevel) / 2)
}

// zQuantile is the (1 + ConfidenceLevel)/2 quantile of the standard normal
// distribution (1.95996… for 95 %).
var zQuantile = distuv.UnitNormal.Quantile((1 + ConfidenceLevel) / 2)

// AccuracyInterval is the 95 % interval of a seed-mean accuracy that
// counts both sources of its error: the spread over seeds and the sampling
// error of the test set, which every seed shares (see AccInterval).
type AccuracyInterval struct {
	// Mean is the seed mean p̄ of the accuracy.
	Mean float64 `json:"mean"`
	// Lo and Hi bound the interval, clipped to [0, 1].
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// Seeds is the number k of seeds averaged; TestExamples the size n of
	// the test set (0 when unknown: then only the seed term enters).
	Seeds        int `json:"seeds"`
	TestExamples int `json:"test_examples"`
	// SeedHalf and TestHalf are the two half-widths combined.
	SeedHalf float64 `json:"seed_half"`
	TestHalf float64 `json:"test_half"`
}

// MarshalJSON encodes a with null for undefined numbers.
func (a AccuracyInterval) MarshalJSON() ([]byte, error) { return marshalFinite(a) }

// AccInterval returns the 95 % interval of a seed-mean test accuracy p̄ over
// k seeds with sample standard deviation s, evaluated on a test set of n
// examples shared by every seed:
//
//	h_seed = t_{0.975, k−1} · s/√k          (0 when k = 1: no spread is known)
//	h_test = z_{0.975} · sqrt(p̄(1 − p̄)/n)  (the test set's binomial error)
//	[lo, hi] = p̄ ∓ sqrt(h_seed² + h_test²), clipped to [0, 1].
//
// The seed term alone misses the test set's own sampling error, which no
// number of seeds averages away; the two are independent, so their
// variances add. With k = 1 the interval is the binomial one only (and says
// nothing about seed-to-seed spread); n = 0 leaves the seed term alone.
// The bounds are NaN when neither term is defined.
func AccInterval(s Summary, nTest int) AccuracyInterval {
	a := AccuracyInterval{Mean: s.Mean, Lo: math.NaN(), Hi: math.NaN(), Seeds: s.Count, TestExamples: nTest, SeedHalf: math.NaN(), TestHalf: math.NaN()}
	if s.Count == 0 || !finite(s.Mean) {
		return a
	}
	var v float64
	defined := false
	switch {
	case s.Count >= 2 && finite(s.Std):
		a.SeedHalf = tQuantile(s.Count-1) * s.Std / math.Sqrt(float64(s.Count))
		v += a.SeedHalf * a.SeedHalf
		defined = true
	case s.Count == 1:
		a.SeedHalf = 0
	}
	if nTest > 0 {
		p := min(max(s.Mean, 0), 1)
		a.TestHalf = zQuantile * math.Sqrt(p*(1-p)/float64(nTest))
		v += a.TestHalf * a.TestHalf
		defined = true
	}
	if !defined {
		return a
	}
	h := math.Sqrt(v)
	a.Lo, a.Hi = max(s.Mean-h, 0), min(s.Mean+h, 1)
	return a
}

// Bootstrap settings: BootstrapResamples resamples drawn from a generator
// seeded with BootstrapSeed, so that every interval is reproducible.
const (
	BootstrapResamples = 1000
	BootstrapSeed      = 1
)

// Interval is a 95 % confidence interval (NaN bounds when undefined).
type Interval struct {
	// Lo and Hi bound the interval.
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// Method is "t" (Student-t on the fit's residual degrees of freedom) or
	// "bootstrap" (percentile interval of Resamples resamples, of which
	// Defined gave a value).
	Method    string `json:"method"`
	Resamples int    `json:"resamples,omitempty"`
	Defined   int    `json:"defined,omitempty"`
}

// MarshalJSON encodes iv with null for undefined bounds.
func (iv Interval) MarshalJSON() ([]byte, error) { return marshalFinite(iv) }

// undefinedInterval returns an interval of method m with NaN bounds.
func undefinedInterval(m string) Interval {
	return Interval{Lo: math.NaN(), Hi: math.NaN(), Method: m}
}

// Finite reports whether both bounds are finite.
func (iv Interval) Finite() bool { return finite(iv.Lo) && finite(iv.Hi) }

// minDefinedShare is the share of resamples that must give a value for a
// bootstrap interval to be reported: below it the statistic is undefined
// too often for its percentiles to mean anything.
const minDefinedShare = 0.9

// bootstrap returns the percentile interval of stat over resamples drawn
// by draw from a generator seeded with seed:
//
//	[lo, hi] = [q_{0.025}, q_{0.975}] of the resampled values θ*_1…θ*_R,
//
// the empirical quantiles (linear interpolation between order statistics).
// Resamples for which stat is not finite are left out and counted; the
// interval is undefined when fewer than minDefinedShare of them remain.
func bootstrap(resamples int, seed uint64, stat func(r *rand.Rand) float64) Interval {
	iv := undefinedInterval("bootstrap")
	iv.Resamples = resamples
	r := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	vals := make([]float64, 0, resamples)
	for range resamples {
		if v := stat(r); finite(v) {
			vals = append(vals, v)
		}
	}
	iv.Defined = len(vals)
	if len(vals) < 2 || float64(len(vals)) < minDefinedShare*float64(resamples) {
		return iv
	}
	slices.Sort(vals)
	alpha := (1 - ConfidenceLevel) / 2
	iv.Lo, iv.Hi = quantileSorted(vals, alpha), quantileSorted(vals, 1-alpha)
	return iv
}

// quantileSorted returns the q-quantile of sorted xs by linear
// interpolation between the order statistics at positions q(n − 1).
func quantileSorted(xs []float64, q float64) float64 {
	pos := q * float64(len(xs)-1)
	i := int(math.Floor(pos))
	if i >= len(xs)-1 {
		return xs[len(xs)-1]
	}
	f := pos - float64(i)
	return xs[i]*(1-f) + xs[i+1]*f
}

// cells groups points by their axes other than the seed (the grid points),
// in order of first appearance.
func cells(points []Point) [][]Point {
	index := map[string]int{}
	var out [][]Point
	for _, p := range points {
		k := axesKey(p, AxisSeed)
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], p)
	}
	return out
}

// maxSeeds returns the largest number of points in a cell.
func maxSeeds(cs [][]Point) int {
	m := 0
	for _, c := range cs {
		m = max(m, len(c))
	}
	return m
}
