package analysis

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"

	"github.com/flatsweep/flatsweep/spec"
)

// MeasureClass says what a recorded metric measures: the registry measure
// that records it (spec.Registry; "lambda_max" for the λ₁ every trial
// records), its behaviour under Dinh et al.'s (2017) α-scaling T_α, and its
// direction — which sign of Kendall's τ against the generalization gap a
// measure of sharpness or complexity should have. The question a study of
// measures asks (Jiang et al. 2020, arXiv 1912.02178; docs/SCIENCE.md §13) is
// whether the raw measures, which T_α changes, predict the gap worse than the
// reparametrization-aware ones, which it leaves (nearly) unchanged.
type MeasureClass struct {
	// Metric is the recorded name ("keskar_full_1e-3", "pac_bayes_sigma").
	Metric string `json:"metric"`
	// Measure is the registry measure that records it, or "lambda_max".
	Measure string `json:"measure"`
	// Invariance is the record's behaviour under T_α, resolved for the
	// record where the measure's invariance depends on its settings: adaptive
	// sharpness (c = |θ|) is invariant, plain sharpness (c = 1) not.
	Invariance spec.Invariance `json:"-"`
	// InvarianceName is Invariance as text ("not invariant", "invariant",
	// "nearly invariant").
	InvarianceName string `json:"invariance"`
	// Aware is true for a reparametrization-aware record (invariant or
	// nearly invariant), false for a raw one.
	Aware bool `json:"aware"`
	// Direction is +1 when a larger value means a sharper minimum or a more
	// complex network (λ₁, the trace, ε-sharpness, 1/σ'², …), so that the
	// measure predicts the gap when τ(measure, gap) > 0, and −1 when a
	// larger value means a flatter one (σ', the log evidence, the log
	// Occam factor).
	Direction int `json:"direction"`
}

// classRule maps the records matching pattern to a measure and direction.
type classRule struct {
	pattern   *regexp.Regexp
	measure   string
	direction int
	// invariance overrides the registry's class for records of a measure
	// whose invariance depends on its settings.
	invariance *spec.Invariance
}

// auxiliary matches records that qualify a measure rather than measure
// flatness: standard errors, convergence flags, the clipped spectral
// weight of the evidence, and the most negative eigenvalues (evidence that
// training did not end at a minimum, not a sharpness of it).
var auxiliary = regexp.MustCompile(`(_se|_converged)$|^occam_clipped$|^lambda_min_[0-9]+$`)

// classRules lists every record of every registry measure; the tests check
// that each record of the registry matches one rule of its own measure.
var classRules = func() []classRule {
	invariant, raw := spec.Invariant, spec.NotInvariant
	r := func(pattern, measure string, direction int, inv *spec.Invariance) classRule {
		return classRule{regexp.MustCompile("^(" + pattern + ")$"), measure, direction, inv}
	}
	return []classRule{
		r(MetricLambdaMax, "lambda_max", 1, &raw),
		r(`lambda_[0-9]+`, "top_k", 1, nil),
		r(`trace`, "trace", 1, nil),
		r(`log_evidence|log_occam`, "evidence", -1, nil),
		r(`log_det`, "evidence", 1, nil),
		r(`keskar_(full|sub)_.+`, "keskar", 1, nil),
		r(`adaptive_sharpness(_avg)?`, "adaptive", 1, &invariant),
		r(`plain_sharpness(_avg)?`, "adaptive", 1, &raw),
		r(`relative_flatness`, "relative", 1, nil),
		r(`fisher_rao`, "fisher_rao", 1, nil),
		r(`pac_bayes_flatness`, "pac_bayes", 1, nil),
		r(`pac_bayes_sigma`, "pac_bayes", -1, nil),
	}
}()

// ClassifyMetric returns the class of the recorded metric name, and false
// for an auxiliary record (a standard error, a convergence flag; see
// auxiliary) or a name no registry measure records (a command trial's own
// metric).
func ClassifyMetric(name string) (MeasureClass, bool) {
	if auxiliary.MatchString(name) {
		return MeasureClass{}, false
	}
	for _, r := range classRules {
		if !r.pattern.MatchString(name) {
			continue
		}
		c := MeasureClass{Metric: name, Measure: r.measure, Direction: r.direction}
		if r.invariance != nil {
			c.Invariance = *r.invariance
		} else if m, err := spec.LookupMeasure(r.measure); err == nil {
			c.Invariance = m.Invariance
		}
		c.InvarianceName = c.Invariance.String()
		c.Aware = c.Invariance == spec.Invariant || c.Invariance == spec.NearlyInvariant
		return c, true
	}
	return MeasureClass{}, false
}

// OrientedScore is a measure's MeasureScore against the gap turned by its
// Direction, so that for every measure a positive τ, Ψ and environment
// score mean that it predicts the gap (sharper, or more complex, with a
// larger gap): τ, Ψ and their intervals are multiplied by Direction, and
// the environments are scored again on Direction × the measure.
type OrientedScore struct {
	// MeasureClass is the measure's class (JSON "class").
	MeasureClass `json:"class"`
	// N is the number of successful trials with a finite value.
	N int `json:"n"`
	// Tau and TauCI are the oriented τ-b against the gap and its interval;
	// Psi and PsiCI the oriented granulated Ψ.
	Tau   float64  `json:"tau"`
	TauCI Interval `json:"tau_ci"`
	Psi   float64  `json:"psi"`
	PsiCI Interval `json:"psi_ci"`
	// Robust is the worst case over environments of the oriented measure.
	Robust RobustScore `json:"robust"`
}

// MarshalJSON encodes s with null for undefined numbers.
func (s OrientedScore) MarshalJSON() ([]byte, error) { return marshalFinite(s) }

// ClassSummary sums up the oriented scores of one class, raw or
// reparametrization-aware.
type ClassSummary struct {
	// Aware says which class.
	Aware bool `json:"aware"`
	// Measures counts the class's scored records; Predictive those whose
	// τ interval lies above 0, Reversed those whose interval lies below 0.
	Measures   int `json:"measures"`
	Predictive int `json:"predictive"`
	Reversed   int `json:"reversed"`
	// MedianTau is the median oriented τ of the class (NaN without one).
	MedianTau float64 `json:"median_tau"`
	// Best is the record of the largest oriented τ, with its τ.
	Best    string  `json:"best"`
	BestTau float64 `json:"best_tau"`
	// Robust counts the records scored in at least one environment whose
	// worst environment score is > 0 (they order the gap of every
	// single-hyperparameter change that can be called the right way more
	// often than the wrong way); Scored counts the records with at least
	// one environment.
	Robust int `json:"robust"`
	Scored int `json:"scored"`
}

// MarshalJSON encodes s with null for undefined numbers.
func (s ClassSummary) MarshalJSON() ([]byte, error) { return marshalFinite(s) }

// OrientScores returns the oriented score of every classified measure of
// scores (ClassifyMetric; auxiliary records are left out), sorted by
// oriented τ, largest first (undefined last), and the summary of the raw
// and of the reparametrization-aware class, in that order. points are the
// points scores were computed from.
func OrientScores(points []Point, scores []MeasureScore) ([]OrientedScore, []ClassSummary) {
	ok := okPoints(points)
	out := []OrientedScore{}
	for _, s := range scores {
		c, known := ClassifyMetric(s.Measure)
		if !known {
			continue
		}
		d := float64(c.Direction)
		o := OrientedScore{MeasureClass: c, N: s.N, Tau: d * s.TauGap, TauCI: orient(s.TauGapCI, d),
			Psi: d * s.Granulated.Psi, PsiCI: orient(s.PsiCI, d), Robust: s.Robust}
		if c.Direction < 0 {
			o.Robust = Robust(negated(ok, s.Measure), s.Measure, MetricGap)
		}
		out = append(out, o)
	}
	slices.SortStableFunc(out, func(a, b OrientedScore) int {
		if fa, fb := finite(a.Tau), finite(b.Tau); !fa || !fb {
			return cmp.Compare(boolInt(fb), boolInt(fa)) // undefined last
		}
		return cmp.Compare(b.Tau, a.Tau)
	})
	sums := []ClassSummary{{Aware: false, MedianTau: math.NaN(), BestTau: math.NaN()}, {Aware: true, MedianTau: math.NaN(), BestTau: math.NaN()}}
	taus := [2][]float64{}
	for _, o := range out {
		k := boolInt(o.Aware)
		s := &sums[k]
		s.Measures++
		if finite(o.Tau) {
			taus[k] = append(taus[k], o.Tau)
			if s.Best == "" || o.Tau > s.BestTau {
				s.Best, s.BestTau = o.Metric, o.Tau
			}
		}
		if finite(o.TauCI.Lo) && o.TauCI.Lo > 0 {
			s.Predictive++
		}
		if finite(o.TauCI.Hi) && o.TauCI.Hi < 0 {
			s.Reversed++
		}
		if o.Robust.Environments > 0 {
			s.Scored++
			if o.Robust.Worst > 0 {
				s.Robust++
			}
		}
	}
	for k := range sums {
		if len(taus[k]) > 0 {
			sums[k].MedianTau = median(taus[k])
		}
	}
	return out, sums
}

// orient multiplies an interval by d = ±1.
func orient(iv Interval, d float64) Interval {
	if d < 0 {
		iv.Lo, iv.Hi = -iv.Hi, -iv.Lo
	}
	return iv
}

// negated returns copies of points with metric name negated.
func negated(points []Point, name string) []Point {
	out := make([]Point, len(points))
	for i, p := range points {
		p.Metrics = maps.Clone(p.Metrics)
		if v, has := p.Metrics[name]; has {
			p.Metrics[name] = -v
		}
		out[i] = p
	}
	return out
}

// median returns the median of xs (which it sorts; NaN when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	if k := len(xs); k%2 == 1 {
		return xs[k/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// boolInt is 1 for true, 0 for false.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// MeasureClasses is the comparison of raw and reparametrization-aware
// measures of a sweep (OrientScores).
type MeasureClasses struct {
	// Scores holds the oriented score of every classified measure, largest
	// oriented τ first.
	Scores []OrientedScore `json:"scores"`
	// Summaries sums up the raw class, then the reparametrization-aware one.
	Summaries []ClassSummary `json:"summaries"`
}

// classesTable renders a.Classes: every classified measure with its class,
// oriented τ and Ψ with their intervals and its worst environment, and a
// note per class.
func (a SweepAnalysis) classesTable() table {
	t := table{id: "measure-classes", title: "Raw against reparametrization-aware measures",
		intro: "Every measure of the table above except standard errors and convergence flags, with its class under Dinh's α-scaling " +
			"(docs/MEASURES.md: raw = not invariant; aware = invariant or nearly invariant; adaptive sharpness with c = |θ| is aware, plain sharpness raw) " +
			"and its direction (+1: larger = sharper or more complex; −1: larger = flatter, as σ', the log evidence and the log Occam factor), " +
			"with τ, Ψ, their 95 % bootstrap intervals and the environment scores multiplied by the direction: " +
			"positive = the measure predicts the gap. Sorted by oriented τ.",
		head: []string{"record", "measure", "class", "direction", "τ gap (oriented)", "95% CI", "Ψ (oriented)", "95% CI", "environments", "mean score", "worst score", "failing"}}
	oriented, sums := a.Classes.Scores, a.Classes.Summaries
	for _, o := range oriented {
		class := "raw"
		if o.Aware {
			class = "aware"
		}
		tau := num(o.Tau)
		if o.N < MinRankTrials {
			tau = fmt.Sprintf("not enough data (%d trials)", o.N)
		}
		t.rows = append(t.rows, []string{o.Metric, o.Measure, class + " (" + o.InvarianceName + ")", fmt.Sprintf("%+d", o.Direction),
			tau, intervalCell(o.TauCI), num(o.Psi), intervalCell(o.PsiCI),
			fmt.Sprint(o.Robust.Environments), num(o.Robust.Mean), num(o.Robust.Worst), fmt.Sprint(o.Robust.Failing)})
	}
	for _, s := range sums {
		if s.Measures == 0 {
			continue
		}
		name := "Raw measures"
		if s.Aware {
			name = "Reparametrization-aware measures"
		}
		best := "none with a defined τ"
		if s.Best != "" {
			best = fmt.Sprintf("%s (τ %s)", s.Best, num(s.BestTau))
		}
		t.notes = append(t.notes, fmt.Sprintf("%s: %d; median oriented τ %s; %d with a τ interval above 0, %d below; best %s; %d of %d scored in environments score above 0 in every one.",
			name, s.Measures, num(s.MedianTau), s.Predictive, s.Reversed, best, s.Robust, s.Scored))
	}
	if len(oriented) == 0 {
		t.notes = append(t.notes, "No measure of the registry was recorded.")
	}
	return t
}
