package analysis

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/stat/distuv"
)

// PairedDifference compares the test accuracy of two grid points that
// differ in one hyperparameter, scored on the same test images, image by
// image (a paired comparison). With c_{s,i} = 1 when seed s's model
// classifies test image i correctly, the per-image difference of the seed
// means is
//
//	d_i = (1/S_to) Σ_s c^to_{s,i} − (1/S_from) Σ_s c^from_{s,i},
//
// and Diff = (1/n) Σ_i d_i is exactly the difference of the mean test
// accuracies. Two errors enter its 95 % interval, as in AccInterval:
//
//   - the test set's sampling error, paired: TestHalf = z·√(V/n), where V
//     estimates the variance over images of the expected per-image
//     difference: the sample variance of d_i less the seeds' share of it,
//     (1/n) Σ_i (v^to_i/S_to + v^from_i/S_from) with v_i the across-seed
//     sample variance of image i's correctness (which the seed term below
//     counts), floored at 0. Images both grid points classify alike
//     contribute d_i = 0, so this is far smaller than the error of two
//     independent test sets, UnpairedTestHalf = z·√(p_from(1−p_from)/n +
//     p_to(1−p_to)/n), which an interval that ignores the pairing would use;
//   - the seeds' error: SeedHalf = t_ν·√(s²_from/S_from + s²_to/S_to),
//     Welch's interval of the difference of two means with ν the
//     Welch–Satterthwaite degrees of freedom (fractional); NaN with fewer
//     than two seeds on either side, whose interval then covers the test
//     images only (SeedsKnown false).
//
// Lo and Hi are Diff ∓ √(SeedHalf² + TestHalf²). With a single seed on a
// side the seeds' share cannot be told apart, and TestHalf uses the whole
// sample variance of d_i.
type PairedDifference struct {
	// Axis is the hyperparameter that differs, From and To its values (To
	// the larger), At the values of the other varying axes.
	Axis string  `json:"axis"`
	From float64 `json:"from"`
	To   float64 `json:"to"`
	At   string  `json:"at"`
	// SeedsFrom and SeedsTo count the successful trials with per-image
	// results on each side; TestExamples is n.
	SeedsFrom    int `json:"seeds_from"`
	SeedsTo      int `json:"seeds_to"`
	TestExamples int `json:"test_examples"`
	// Diff is the mean test accuracy at To minus that at From.
	Diff float64 `json:"diff"`
	// Lo and Hi bound the 95 % interval of Diff.
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
	// SeedHalf, TestHalf and UnpairedTestHalf are the half-widths above.
	SeedHalf         float64 `json:"seed_half"`
	TestHalf         float64 `json:"test_half"`
	UnpairedTestHalf float64 `json:"unpaired_test_half"`
	// SeedsKnown is false when a side has a single seed, so that the
	// interval leaves the seeds' error out.
	SeedsKnown bool `json:"seeds_known"`
	// Disagree is the fraction of test images on which the two sides'
	// seed-mean correctness differs (d_i ≠ 0).
	Disagree float64 `json:"disagree"`
}

// MarshalJSON encodes d with null for undefined numbers.
func (d PairedDifference) MarshalJSON() ([]byte, error) { return marshalFinite(d) }

// Resolved reports whether the interval excludes 0: the two grid points'
// test accuracies differ beyond both errors.
func (d PairedDifference) Resolved() bool { return d.Lo > 0 || d.Hi < 0 }

// PairedAccuracy compares, image by image, the test accuracy of every two
// grid points that differ in exactly one axis other than the seed and are
// neighbours along it (no grid point between them at the same values of
// the other axes), over the StatusOK trials that recorded which test images
// they classify correctly (spec.Result.TestCorrect) on the same test set.
// Pairs without such trials on both sides are left out.
func PairedAccuracy(points []Point) []PairedDifference {
	type cell struct {
		axes map[string]float64
		ps   []Point
	}
	var cs []cell
	for _, c := range cells(okPoints(points)) {
		var ps []Point
		for _, p := range c {
			if p.hasTestBits() {
				ps = append(ps, p)
			}
		}
		if len(ps) > 0 && sameTestSet(ps) {
			cs = append(cs, cell{axes: axesExcept(ps[0], AxisSeed), ps: ps})
		}
	}
	varying := varyingAxes(okPoints(points))
	labels := axisLabels(points)
	var out []PairedDifference
	for _, axis := range varying {
		lines := map[string][]int{}
		var keys []string
		for i, c := range cs {
			if _, ok := c.axes[axis]; !ok {
				continue
			}
			k := axesKey(c.ps[0], AxisSeed, axis)
			if _, ok := lines[k]; !ok {
				keys = append(keys, k)
			}
			lines[k] = append(lines[k], i)
		}
		for _, k := range keys {
			line := lines[k]
			slices.SortFunc(line, func(a, b int) int {
				if cs[a].axes[axis] < cs[b].axes[axis] {
					return -1
				}
				if cs[a].axes[axis] > cs[b].axes[axis] {
					return 1
				}
				return 0
			})
			for j := 1; j < len(line); j++ {
				a, b := cs[line[j-1]], cs[line[j]]
				if a.ps[0].TestSet != b.ps[0].TestSet || a.ps[0].TestExamples != b.ps[0].TestExamples {
					continue
				}
				d := pairedDifference(a.ps, b.ps)
				d.Axis, d.From, d.To = axis, a.axes[axis], b.axes[axis]
				d.At = describeAxes(a.axes, labels, axis, varying)
				out = append(out, d)
			}
		}
	}
	return out
}

// sameTestSet reports whether the points were scored on one test set.
func sameTestSet(ps []Point) bool {
	for _, p := range ps[1:] {
		if p.TestSet != ps[0].TestSet || p.TestExamples != ps[0].TestExamples {
			return false
		}
	}
	return true
}

// pairedDifference computes the PairedDifference of to against from (its
// numbers; the caller names the axis).
func pairedDifference(from, to []Point) PairedDifference {
	n := from[0].TestExamples
	d := PairedDifference{SeedsFrom: len(from), SeedsTo: len(to), TestExamples: n, SeedHalf: math.NaN()}
	countFrom, countTo := make([]int, n), make([]int, n)
	accFrom, accTo := make([]float64, len(from)), make([]float64, len(to))
	tally := func(ps []Point, count []int, acc []float64) {
		for s, p := range ps {
			c := 0
			for i := range n {
				if p.TestCorrect[i/8]&(1<<(i%8)) != 0 {
					count[i]++
					c++
				}
			}
			acc[s] = float64(c) / float64(n)
		}
	}
	tally(from, countFrom, accFrom)
	tally(to, countTo, accTo)
	sf, st := float64(len(from)), float64(len(to))
	// noise returns the across-seed sample variance of one image's
	// correctness (k of s seeds correct) over s: the seeds' share of
	// Var(d_i), which the seed term counts already.
	noise := func(k int, s float64) float64 {
		if s < 2 {
			return 0
		}
		m := float64(k) / s
		return m * (1 - m) * s / (s - 1) / s
	}
	var sum, sumSq, seedShare float64
	disagree := 0
	for i := range n {
		di := float64(countTo[i])/st - float64(countFrom[i])/sf
		sum += di
		sumSq += di * di
		seedShare += noise(countTo[i], st) + noise(countFrom[i], sf)
		if di != 0 {
			disagree++
		}
	}
	nf := float64(n)
	d.Diff = sum / nf
	d.Disagree = float64(disagree) / nf
	if n > 1 {
		v := (sumSq - sum*sum/nf) / (nf - 1)
		if len(from) >= 2 && len(to) >= 2 {
			v -= seedShare / nf
		}
		d.TestHalf = zQuantile * math.Sqrt(max(v, 0)/nf)
	}
	pf, pt := Describe(accFrom).Mean, Describe(accTo).Mean
	d.UnpairedTestHalf = zQuantile * math.Sqrt(pf*(1-pf)/nf+pt*(1-pt)/nf)
	half := d.TestHalf
	if len(from) >= 2 && len(to) >= 2 {
		d.SeedHalf, d.SeedsKnown = welchHalf(accFrom, accTo), true
		half = math.Hypot(d.SeedHalf, d.TestHalf)
	}
	d.Lo, d.Hi = d.Diff-half, d.Diff+half
	return d
}

// welchHalf is the half-width of Welch's 95 % interval of the difference of
// the means of x and y, t_ν·√(s²_x/n_x + s²_y/n_y) with ν the
// Welch–Satterthwaite degrees of freedom (fractional): 0 when both samples
// are constant or either has fewer than two values.
func welchHalf(x, y []float64) float64 {
	nx, ny := float64(len(x)), float64(len(y))
	if nx < 2 || ny < 2 {
		return 0
	}
	sx, sy := Describe(x).Std, Describe(y).Std
	a, b := sx*sx/nx, sy*sy/ny
	se2 := a + b
	if !(se2 > 0) {
		return 0
	}
	nu := se2 * se2 / (a*a/(nx-1) + b*b/(ny-1))
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}.Quantile((1+ConfidenceLevel)/2) * math.Sqrt(se2)
}

// pairable reports whether two groups of points can be compared image by
// image: every point recorded its per-image results, all on one test set.
func pairable(a, b []Point) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	all := append(append([]Point{}, a...), b...)
	for _, p := range all {
		if !p.hasTestBits() {
			return false
		}
	}
	return sameTestSet(all)
}

// hasTestBits reports whether the point recorded, for each of its test
// examples, whether it classified it correctly (Point.TestCorrect).
func (p Point) hasTestBits() bool {
	return p.TestExamples > 0 && len(p.TestCorrect) == (p.TestExamples+7)/8
}
