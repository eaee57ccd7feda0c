package results

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// ConfidenceLevel is the coverage of every interval the engine reports: 95 %.
const ConfidenceLevel = 0.95

// Summary describes the finite values x₁…x_n of a metric over the trials of
// a group:
//
//	Mean = x̄ = (1/n) Σ xᵢ,   Std = s = sqrt( Σ (xᵢ − x̄)² / (n − 1) ),
//	[Lo, Hi] = x̄ ∓ t_{(1+c)/2, n−1} · s/√n,
//
// the Student-t confidence interval of level c = ConfidenceLevel for the
// mean. Std is 0 and Lo, Hi are NaN when n = 1 (one value bounds nothing);
// everything but Count is NaN when n = 0. The mean and variance are
// accumulated with Welford's update, in the order the values arrive.
type Summary struct {
	// Count is the number n of finite values.
	Count int `json:"count"`
	// Mean is the sample mean x̄.
	Mean float64 `json:"mean"`
	// Std is the sample standard deviation s (n − 1 denominator).
	Std float64 `json:"std"`
	// Min and Max are the extreme values.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
	// Lo and Hi bound the confidence interval of the mean (JSON ci95_low and
	// ci95_high).
	Lo float64 `json:"ci95_low"`
	Hi float64 `json:"ci95_high"`
}

// welford accumulates the finite values of one metric of one group.
type welford struct {
	n        int
	mean, m2 float64
	min, max float64
}

// add adds x unless it is NaN or ±Inf.
func (w *welford) add(x float64) {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return
	}
	w.n++
	if w.n == 1 {
		w.mean, w.min, w.max = x, x, x
		return
	}
	d := x - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (x - w.mean)
	w.min, w.max = min(w.min, x), max(w.max, x)
}

// summary returns the summary of the accumulated values; q memoizes the t
// quantiles.
func (w *welford) summary(q tQuantiles) Summary {
	nan := math.NaN()
	switch w.n {
	case 0:
		return Summary{Mean: nan, Std: nan, Min: nan, Max: nan, Lo: nan, Hi: nan}
	case 1:
		return Summary{Count: 1, Mean: w.mean, Min: w.min, Max: w.max, Lo: nan, Hi: nan}
	}
	s := Summary{Count: w.n, Mean: w.mean, Std: math.Sqrt(w.m2 / float64(w.n-1)), Min: w.min, Max: w.max}
	half := q.at(w.n-1) * s.Std / math.Sqrt(float64(w.n))
	s.Lo, s.Hi = s.Mean-half, s.Mean+half
	return s
}

// tQuantiles memoizes the (1 + ConfidenceLevel)/2 quantile of Student's t
// by degrees of freedom.
type tQuantiles map[int]float64

func (q tQuantiles) at(nu int) float64 {
	if t, ok := q[nu]; ok {
		return t
	}
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(nu)}.Quantile((1 + ConfidenceLevel) / 2)
	q[nu] = t
	return t
}

// Describe summarizes the finite values of xs (see Summary).
func Describe(xs []float64) Summary {
	var w welford
	for _, x := range xs {
		w.add(x)
	}
	return w.summary(tQuantiles{})
}

// Counts tallies trials by status.
type Counts struct {
	// Trials is the number of trials, in every status.
	Trials int `json:"trials"`
	// OK trials succeeded without diverging: the ones summarized.
	OK int `json:"ok"`
	// Diverged trials recorded a NaN or infinite training loss.
	Diverged int `json:"diverged"`
	// NotFitted trials finished with a finite result that did not fit their
	// training set (see Fit): left out of the summaries like diverged ones.
	NotFitted int `json:"not_fitted"`
	// Failed trials ended without a result (failed, discarded, cancelled).
	Failed int `json:"failed"`
	// Unfinished trials are pending or running.
	Unfinished int `json:"unfinished"`
}

// Add counts one trial of status s.
func (c *Counts) Add(s Status) {
	c.Trials++
	switch s {
	case StatusOK:
		c.OK++
	case StatusDiverged:
		c.Diverged++
	case StatusNotFitted:
		c.NotFitted++
	case StatusFailed:
		c.Failed++
	default:
		c.Unfinished++
	}
}

// Group is the trials that share their values on the grouping axes.
type Group struct {
	// Key holds the group's value on each grouping axis (canonical JSON,
	// aligned with Groups.By).
	Key []string `json:"key"`
	// Counts tallies the group's trials by status.
	Counts Counts `json:"counts"`
	// Metrics summarizes each metric (aligned with Groups.Metrics) over the
	// group's StatusOK trials that have a finite value of it.
	Metrics []Summary `json:"metrics"`
	// NoiseScale is the SGD noise scale g = ε(N/B − 1)/(1 − m) shared by the
	// group's trials, NaN when it does not apply (Adam) or when the trials of
	// the group do not share ε, N, B and m.
	NoiseScale float64 `json:"g"`
}

// Metric returns the summary of the named metric, and whether the engine
// computed it.
func (g Groups) Metric(group int, name string) (Summary, bool) {
	i := slices.Index(g.Metrics, name)
	if i < 0 {
		return Summary{}, false
	}
	return g.Groups[group].Metrics[i], true
}

// Groups is the engine's output: the groups, ordered by key.
type Groups struct {
	// By names the grouping axes, in key order.
	By []string `json:"by"`
	// Metrics names the summarized metrics, in the order of Group.Metrics.
	Metrics []string `json:"metrics"`
	// Groups are ordered by their keys, each axis in numeric order where
	// its values are numbers.
	Groups []Group `json:"groups"`
	// Fixed holds the value of every candidate axis that is the same in
	// every trial (canonical JSON), so that a table can say what it holds
	// constant.
	Fixed map[string]string `json:"fixed,omitempty"`
	// Failures says why the trials counted failed have no result, most
	// frequent reason first.
	Failures []Failure `json:"failures,omitempty"`
	// External counts the summarized trials whose result came from an
	// external program (command trials; see spec.Result.External).
	External int `json:"external,omitempty"`
}

// Grouper is the engine: it takes trials one at a time, as a key, a status,
// metric values and a noise scale, and accumulates their groups. The
// coordinator feeds it from its row cache, the commands from records
// (Summarize), so every summary flatsweep prints comes from it.
type Grouper struct {
	metrics []string
	index   map[string]int
	groups  []*acc
	buf     []byte // the key being looked up
}

// acc is one group being accumulated.
type acc struct {
	key    []string
	counts Counts
	vals   []welford
	g      float64
	gSet   bool
}

// NewGrouper returns a Grouper over the named metrics.
func NewGrouper(metrics []string) *Grouper {
	return &Grouper{metrics: metrics, index: map[string]int{}}
}

// Add adds one trial: its key (its value on each grouping axis), its
// status, its metric values (aligned with the Grouper's metrics, NaN where
// absent; only StatusOK values are summarized) and its noise scale (NaN
// where it does not apply).
func (gr *Grouper) Add(key []string, s Status, values []float64, g float64) {
	gr.buf = gr.buf[:0]
	for j, v := range key {
		if j > 0 {
			gr.buf = append(gr.buf, 0) // JSON values hold no NUL
		}
		gr.buf = append(gr.buf, v...)
	}
	i, ok := gr.index[string(gr.buf)] // no allocation for a lookup
	if !ok {
		i = len(gr.groups)
		gr.index[string(gr.buf)] = i
		gr.groups = append(gr.groups, &acc{key: slices.Clone(key), vals: make([]welford, len(gr.metrics)), g: g, gSet: true})
	}
	a := gr.groups[i]
	a.counts.Add(s)
	if a.g != g && !(math.IsNaN(a.g) && math.IsNaN(g)) {
		a.g = math.NaN()
	}
	if s != StatusOK {
		return
	}
	for j, v := range values {
		a.vals[j].add(v)
	}
}

// Groups returns the accumulated groups, ordered by key, grouped by the
// named axes.
func (gr *Grouper) Groups(by []string) Groups {
	q := tQuantiles{}
	out := Groups{By: by, Metrics: gr.metrics, Groups: make([]Group, len(gr.groups))}
	for i, a := range gr.groups {
		g := Group{Key: a.key, Counts: a.counts, Metrics: make([]Summary, len(a.vals)), NoiseScale: a.g}
		for j := range a.vals {
			g.Metrics[j] = a.vals[j].summary(q)
		}
		out.Groups[i] = g
	}
	slices.SortStableFunc(out.Groups, func(a, b Group) int { return CompareKeys(a.Key, b.Key) })
	return out
}

// CompareKeys orders two keys axis by axis: numbers by value, anything else
// (and a number against a non-number) as text.
func CompareKeys(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if c := compareValue(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func compareValue(a, b string) int {
	if i, errA := strconv.ParseInt(a, 10, 64); errA == nil {
		if j, errB := strconv.ParseInt(b, 10, 64); errB == nil {
			return cmp.Compare(i, j)
		}
	}
	x, errA := strconv.ParseFloat(a, 64)
	y, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil && x != y {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// MarshalJSON encodes s with null for an undefined (NaN or infinite) value.
func (s Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(jsonSummary{s.Count, jsonNumber(s.Mean), jsonNumber(s.Std), jsonNumber(s.Min), jsonNumber(s.Max), jsonNumber(s.Lo), jsonNumber(s.Hi)})
}

// UnmarshalJSON decodes what MarshalJSON writes, null as NaN.
func (s *Summary) UnmarshalJSON(b []byte) error {
	var v struct {
		Count                       int
		Mean, Std, Min, Max, Lo, Hi *float64
		CI95Low                     *float64 `json:"ci95_low"`
		CI95High                    *float64 `json:"ci95_high"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	f := func(p *float64) float64 {
		if p == nil {
			return math.NaN()
		}
		return *p
	}
	*s = Summary{Count: v.Count, Mean: f(v.Mean), Std: f(v.Std), Min: f(v.Min), Max: f(v.Max), Lo: f(v.CI95Low), Hi: f(v.CI95High)}
	return nil
}

// String returns a sentence such as "12 trials: 9 ok, 2 diverged, 1 failed,
// 0 unfinished" (with "k not fitted" after the diverged ones when k > 0).
func (c Counts) String() string {
	nf := ""
	if c.NotFitted > 0 {
		nf = fmt.Sprintf(", %d not fitted", c.NotFitted)
	}
	return fmt.Sprintf("%d trials: %d ok, %d diverged%s, %d failed, %d unfinished",
		c.Trials, c.OK, c.Diverged, nf, c.Failed, c.Unfinished)
}
