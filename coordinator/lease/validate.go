package lease

import (
	"fmt"
	"math"
	"math/bits"
	"unicode/utf8"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// Limits bound what a worker may report, so that no report — honest or
// hostile — stores a value a summary would misread or a record too large to
// query. A report beyond them fails with ErrInvalid and nothing is stored.
type Limits struct {
	// MaxCurveEpochs bounds a trial's training curve: the epochs its
	// heartbeats stream and its result carries (default 10,000; about 70
	// bytes per stored epoch).
	MaxCurveEpochs int
	// MaxMeasures bounds the number of measures of a result (default 256).
	MaxMeasures int
	// MaxDensityNodes bounds the Ritz values of a result's spectral density,
	// summed over its Lanczos runs (default 100,000).
	MaxDensityNodes int
	// MaxErrorBytes truncates a failure message (default 4,096 bytes).
	MaxErrorBytes int
	// MaxLogBytes bounds each of the standard output and standard error
	// tails of a command trial's attempt log (default 1 MiB).
	MaxLogBytes int
}

// Default limits (see Limits).
const (
	DefaultMaxCurveEpochs  = 10_000
	DefaultMaxMeasures     = 256
	DefaultMaxDensityNodes = 100_000
	DefaultMaxErrorBytes   = 4096
	DefaultMaxLogBytes     = 1 << 20
)

func (l *Limits) setDefaults() {
	if l.MaxCurveEpochs <= 0 {
		l.MaxCurveEpochs = DefaultMaxCurveEpochs
	}
	if l.MaxMeasures <= 0 {
		l.MaxMeasures = DefaultMaxMeasures
	}
	if l.MaxDensityNodes <= 0 {
		l.MaxDensityNodes = DefaultMaxDensityNodes
	}
	if l.MaxErrorBytes <= 0 {
		l.MaxErrorBytes = DefaultMaxErrorBytes
	}
	if l.MaxLogBytes <= 0 {
		l.MaxLogBytes = DefaultMaxLogBytes
	}
}

// maxMeasureName bounds the length of a measure's name.
const maxMeasureName = 128

// ValidateResult checks a reported result against what a trial can produce
// and the limits: every loss, λ₁, residual, duration, measure and density
// value finite (spec.Result is finite by construction, diverged or not);
// the costs as validateCosts checks them;
// accuracies in [0, 1]; losses, residual, duration and counts ≥ 0; the curve
// with at most MaxCurveEpochs epochs numbered 1, 2, … in order, each valid as
// for ValidateEpochs; measures and density within their limits, each density
// run with as many weights as nodes. The error (wrapping ErrInvalid) names
// the first field that fails.
func (l Limits) ValidateResult(r *pb.TrialResult) error {
	if r == nil {
		return fmt.Errorf("%w: result: required", ErrInvalid)
	}
	inf := math.Inf(1)
	checks := []struct {
		name   string
		v      float64
		lo, hi float64
	}{
		{"train_loss", r.TrainLoss, 0, inf}, {"test_loss", r.TestLoss, 0, inf},
		{"train_acc", r.TrainAcc, 0, 1}, {"test_acc", r.TestAcc, 0, 1},
		{"lambda_max", r.LambdaMax, -inf, inf}, {"lambda_residual", r.LambdaResidual, 0, inf},
		{"duration_seconds", r.DurationSeconds, 0, inf},
		{"train_seconds", r.TrainSeconds, 0, inf}, {"curvature_seconds", r.CurvatureSeconds, 0, inf},
	}
	for _, c := range checks {
		if err := checkValue("result."+c.name, c.v, c.lo, c.hi); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		name string
		v    int64
	}{{"hvps", r.Hvps}, {"params", r.Params}, {"steps", r.Steps}, {"gradients", r.Gradients}, {"curvature_examples", r.CurvatureExamples}} {
		if c.v < 0 {
			return fmt.Errorf("%w: result.%s: must be ≥ 0, got %d", ErrInvalid, c.name, c.v)
		}
	}
	if len(r.Curve) > l.MaxCurveEpochs {
		return fmt.Errorf("%w: result.curve: %d epochs exceed the coordinator's limit of %d (--max-curve-epochs)", ErrInvalid, len(r.Curve), l.MaxCurveEpochs)
	}
	if err := validateEpochs("result.curve", r.Curve); err != nil {
		return err
	}
	if len(r.Measures) > l.MaxMeasures {
		return fmt.Errorf("%w: result.measures: %d measures exceed the limit of %d", ErrInvalid, len(r.Measures), l.MaxMeasures)
	}
	for name, v := range r.Measures {
		if name == "" || len(name) > maxMeasureName || !utf8.ValidString(name) {
			return fmt.Errorf("%w: result.measures: name %.40q: must be 1 to %d bytes of UTF-8", ErrInvalid, name, maxMeasureName)
		}
		if err := checkValue("result.measures["+name+"]", v, math.Inf(-1), math.Inf(1)); err != nil {
			return err
		}
	}
	if d := r.Density; d != nil {
		if d.Params < 0 {
			return fmt.Errorf("%w: result.density.params: must be ≥ 0, got %d", ErrInvalid, d.Params)
		}
		nodes := 0
		for i, run := range d.Runs {
			if len(run.Weights) != len(run.Nodes) {
				return fmt.Errorf("%w: result.density.runs[%d]: %d weights for %d nodes", ErrInvalid, i, len(run.Weights), len(run.Nodes))
			}
			nodes += len(run.Nodes)
			if nodes > l.MaxDensityNodes {
				return fmt.Errorf("%w: result.density: more than %d nodes", ErrInvalid, l.MaxDensityNodes)
			}
			for j := range run.Nodes {
				if err := checkValue(fmt.Sprintf("result.density.runs[%d].nodes[%d]", i, j), run.Nodes[j], math.Inf(-1), math.Inf(1)); err != nil {
					return err
				}
				if err := checkValue(fmt.Sprintf("result.density.runs[%d].weights[%d]", i, j), run.Weights[j], 0, math.Inf(1)); err != nil {
					return err
				}
			}
		}
	}
	if err := validateIndices(r.CurvatureIndices, r.CurvatureExamples); err != nil {
		return err
	}
	if err := validateCosts(r.Costs, l.MaxMeasures, l.MaxDensityNodes); err != nil {
		return err
	}
	if err := validateSharpness(r.Sharpness, l.MaxCurveEpochs); err != nil {
		return err
	}
	if err := validateLandscape(r.Landscape, l.MaxDensityNodes); err != nil {
		return err
	}
	if len(r.WarmStartSha256) > 64 {
		return fmt.Errorf("%w: result.warm_start_sha256: %d characters, want a hex SHA-256 (64)", ErrInvalid, len(r.WarmStartSha256))
	}
	return validateTestCorrect(r)
}

// maxTestExamples bounds the test examples a result's test_correct covers
// (2 MiB of bits).
const maxTestExamples = 1 << 24

// validateTestCorrect checks a result's per-example test correctness: none,
// or test_examples in 1…maxTestExamples bits in ⌈n/8⌉ bytes with the
// unused bits of the last byte zero, whose count of correct examples gives
// test_acc exactly, so that a paired comparison cannot rest on bits that
// contradict the accuracy.
func validateTestCorrect(r *pb.TrialResult) error {
	n, b := r.TestExamples, r.TestCorrect
	if n == 0 && len(b) == 0 {
		return nil
	}
	if n < 1 || n > maxTestExamples {
		return fmt.Errorf("%w: result.test_examples: must be 1 to %d with test_correct, got %d", ErrInvalid, maxTestExamples, n)
	}
	if int64(len(b)) != (n+7)/8 {
		return fmt.Errorf("%w: result.test_correct: %d bytes for %d test examples, want %d", ErrInvalid, len(b), n, (n+7)/8)
	}
	if rem := n % 8; rem != 0 && b[len(b)-1]>>rem != 0 {
		return fmt.Errorf("%w: result.test_correct: bits set beyond the %d test examples", ErrInvalid, n)
	}
	correct := 0
	for _, x := range b {
		correct += bits.OnesCount8(x)
	}
	if acc := float64(correct) / float64(n); acc != r.TestAcc {
		return fmt.Errorf("%w: result.test_correct: %d of %d examples correct (%v) contradicts test_acc %v", ErrInvalid, correct, n, acc, r.TestAcc)
	}
	return nil
}

// ValidateEpochs checks the epochs a heartbeat streams onto a curve of
// stored epochs: each valid (finite losses ≥ 0, accuracies in [0, 1], epochs
// numbered from 1 in increasing order) and the curve they extend to at most
// MaxCurveEpochs epochs. Epochs already stored (a heartbeat repeated after a
// lost reply) are counted but otherwise ignored by the store.
func (l Limits) ValidateEpochs(epochs []*pb.EpochMetrics, stored int) error {
	if stored+len(epochs) > l.MaxCurveEpochs {
		return fmt.Errorf("%w: new_metrics: the curve would have %d epochs, more than the coordinator's limit of %d (--max-curve-epochs)",
			ErrInvalid, stored+len(epochs), l.MaxCurveEpochs)
	}
	return validateEpochs("new_metrics", epochs)
}

// validateEpochs checks the metrics of each epoch — losses finite and ≥ 0,
// accuracies and the learning rate finite, accuracies in [0, 1], epochs ≥ 1
// in increasing order. Gaps are allowed: with train.eval_every k a curve
// holds every k-th epoch (and the last).
func validateEpochs(field string, epochs []*pb.EpochMetrics) error {
	last := int32(0)
	for i, m := range epochs {
		if m == nil {
			return fmt.Errorf("%w: %s[%d]: empty", ErrInvalid, field, i)
		}
		at := fmt.Sprintf("%s[%d]", field, i)
		if m.Epoch < 1 || (i > 0 && m.Epoch <= last) {
			return fmt.Errorf("%w: %s.epoch: %d, want epochs numbered from 1 in increasing order", ErrInvalid, at, m.Epoch)
		}
		last = m.Epoch
		for _, c := range []struct {
			name   string
			v      float64
			lo, hi float64
		}{
			{"train_loss", m.TrainLoss, 0, math.Inf(1)}, {"test_loss", m.TestLoss, 0, math.Inf(1)},
			{"train_acc", m.TrainAcc, 0, 1}, {"test_acc", m.TestAcc, 0, 1},
			{"lr", m.Lr, math.Inf(-1), math.Inf(1)},
		} {
			if err := checkValue(at+"."+c.name, c.v, c.lo, c.hi); err != nil {
				return err
			}
		}
		if m.Step < 0 || m.BatchSize < 0 {
			return fmt.Errorf("%w: %s: step and batch_size must be ≥ 0", ErrInvalid, at)
		}
	}
	return nil
}

// checkValue checks that v is finite and in [lo, hi].
func checkValue(field string, v, lo, hi float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("%w: %s: must be finite, got %v", ErrInvalid, field, v)
	case v < lo || v > hi:
		return fmt.Errorf("%w: %s: %v is outside [%v, %v]", ErrInvalid, field, v, lo, hi)
	}
	return nil
}

// truncate cuts a message to at most n bytes on a UTF-8 boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const more = " …(truncated)"
	cut := max(n-len(more), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + more
}

// validateCosts checks the costs of a result: at most maxEntries entries
// (the measure limit), each named by 1 to maxMeasureName bytes of UTF-8,
// with counts ≥ 0, finite seconds ≥ 0 and finite residuals ≥ 0, at most
// maxResiduals residuals in all (the density-node limit).
func validateCosts(cs []*pb.MeasureCost, maxEntries, maxResiduals int) error {
	if len(cs) > maxEntries {
		return fmt.Errorf("%w: result.costs: %d entries exceed the limit of %d", ErrInvalid, len(cs), maxEntries)
	}
	residuals := 0
	for i, c := range cs {
		f := fmt.Sprintf("result.costs[%d]", i)
		switch {
		case c == nil:
			return fmt.Errorf("%w: %s: empty", ErrInvalid, f)
		case c.Measure == "" || len(c.Measure) > maxMeasureName || !utf8.ValidString(c.Measure):
			return fmt.Errorf("%w: %s.measure: %.40q: must be 1 to %d bytes of UTF-8", ErrInvalid, f, c.Measure, maxMeasureName)
		case c.Hvps < 0 || c.Gradients < 0 || c.Losses < 0:
			return fmt.Errorf("%w: %s: hvps %d, gradients %d and losses %d must be ≥ 0", ErrInvalid, f, c.Hvps, c.Gradients, c.Losses)
		}
		if err := checkValue(f+".seconds", c.Seconds, 0, math.Inf(1)); err != nil {
			return err
		}
		if residuals += len(c.Residuals); residuals > maxResiduals {
			return fmt.Errorf("%w: result.costs: more than %d residuals", ErrInvalid, maxResiduals)
		}
		for j, v := range c.Residuals {
			if err := checkValue(fmt.Sprintf("%s.residuals[%d]", f, j), v, 0, math.Inf(1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateSharpness checks λ₁ along training: at most max points (the curve
// limit), in training order, with finite values and counts ≥ 0.
func validateSharpness(ps []*pb.SharpnessPoint, max int) error {
	if len(ps) > max {
		return fmt.Errorf("%w: result.sharpness: %d points exceed the coordinator's limit of %d (--max-curve-epochs)", ErrInvalid, len(ps), max)
	}
	var last int64 = -1
	for i, p := range ps {
		f := fmt.Sprintf("result.sharpness[%d]", i)
		switch {
		case p.Step < last:
			return fmt.Errorf("%w: %s.step: %d after step %d; points must be in training order", ErrInvalid, f, p.Step, last)
		case p.Epoch < 0 || p.Hvps < 0:
			return fmt.Errorf("%w: %s: epoch %d and hvps %d must be ≥ 0", ErrInvalid, f, p.Epoch, p.Hvps)
		case len(p.TopK) > spec.MaxLanczosSteps:
			return fmt.Errorf("%w: %s.top_k: %d values, at most %d", ErrInvalid, f, len(p.TopK), spec.MaxLanczosSteps)
		}
		last = p.Step
		for _, c := range []struct {
			name   string
			v, min float64
		}{{"lr", p.Lr, 0}, {"lambda_max", p.LambdaMax, math.Inf(-1)}, {"lambda_residual", p.LambdaResidual, 0},
			{"trace", p.Trace, math.Inf(-1)}, {"stability_limit", p.StabilityLimit, 0}} {
			if err := checkValue(f+"."+c.name, c.v, c.min, math.Inf(1)); err != nil {
				return err
			}
		}
		for j, v := range p.TopK {
			if err := checkValue(fmt.Sprintf("%s.top_k[%d]", f, j), v, math.Inf(-1), math.Inf(1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// validateLandscape checks a loss landscape: a known kind, at most max grid
// points, one value of each metric per point, finite losses ≥ 0 (a
// diverging point's loss is stored as its finite evaluation or not at all)
// and accuracies in [0, 1].
func validateLandscape(l *pb.Landscape, max int) error {
	if l == nil {
		return nil
	}
	if l.Kind != spec.Landscape1D && l.Kind != spec.Landscape2D && l.Kind != spec.LandscapeLine {
		return fmt.Errorf("%w: result.landscape.kind: %.20q, want 1d, 2d or line", ErrInvalid, l.Kind)
	}
	n := len(l.A) * max1(len(l.B))
	if len(l.A) > max || n > max {
		return fmt.Errorf("%w: result.landscape: %d×%d points exceed the limit of %d", ErrInvalid, len(l.A), len(l.B), max)
	}
	if l.Examples < 0 || l.TestExamples < 0 || l.Evaluations < 0 {
		return fmt.Errorf("%w: result.landscape: counts must be ≥ 0", ErrInvalid)
	}
	for _, c := range []struct {
		name     string
		vs       []float64
		min, max float64
	}{{"a", l.A, math.Inf(-1), math.Inf(1)}, {"b", l.B, math.Inf(-1), math.Inf(1)}} {
		for j, v := range c.vs {
			if err := checkValue(fmt.Sprintf("result.landscape.%s[%d]", c.name, j), v, c.min, c.max); err != nil {
				return err
			}
		}
	}
	for _, c := range []struct {
		name     string
		vs       []float64
		min, max float64
	}{{"train_loss", l.TrainLoss, 0, math.Inf(1)}, {"train_acc", l.TrainAcc, 0, 1},
		{"test_loss", l.TestLoss, 0, math.Inf(1)}, {"test_acc", l.TestAcc, 0, 1}} {
		if len(c.vs) != n {
			return fmt.Errorf("%w: result.landscape.%s: %d values for %d grid points", ErrInvalid, c.name, len(c.vs), n)
		}
		for j, v := range c.vs {
			if err := checkValue(fmt.Sprintf("result.landscape.%s[%d]", c.name, j), v, c.min, c.max); err != nil {
				return err
			}
		}
	}
	return nil
}

func max1(n int) int { return max(n, 1) }

// maxCurvatureIndices bounds the curvature example indices of a result (a
// training set of a million examples).
const maxCurvatureIndices = 1_000_000

// validateIndices checks the curvature example indices: at most
// maxCurvatureIndices and the recorded count, non-negative and strictly
// increasing.
func validateIndices(idx []int64, count int64) error {
	if len(idx) > maxCurvatureIndices || int64(len(idx)) > count {
		return fmt.Errorf("%w: result.curvature_indices: %d indices for %d curvature examples (at most %d)", ErrInvalid, len(idx), count, maxCurvatureIndices)
	}
	last := int64(-1)
	for i, x := range idx {
		if x <= last {
			return fmt.Errorf("%w: result.curvature_indices[%d] = %d: indices must be ≥ 0 and increasing", ErrInvalid, i, x)
		}
		last = x
	}
	return nil
}
