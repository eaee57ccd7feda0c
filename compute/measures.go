package compute

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/flatness"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/weights"
)

// Defaults of the measure settings, applied to zero fields of a selected
// measure's block (see CurvatureSpec.WithDefaults).
const (
	DefaultTopK           = 5
	DefaultTopKTol        = 1e-3
	DefaultTopKSteps      = 100
	DefaultTraceMethod    = TraceHutchPP
	DefaultTraceBudget    = 99
	DefaultDensityRuns    = 5
	DefaultDensitySteps   = 30
	DefaultEvidenceLambda = 1.0
	DefaultEvidenceOp     = OperatorGaussNewton
	DefaultKeskarSpace    = SpaceBoth
	DefaultKeskarSubspace = 100
	DefaultAscentIters    = 10
	DefaultRho            = 0.05
	DefaultNorm           = NormL2
	DefaultAverageSamples = 20
	DefaultRelativeBudget = 50
	DefaultPACTarget      = 0.1
	DefaultPACSamples     = 5
	DefaultPACSteps       = 20
)

// DefaultEpsilons are Keskar et al.'s box sizes, 1e-3 and 5e-4.
func DefaultEpsilons() Epsilons { return Epsilons{1e-3, 5e-4} }

// Limits on measure budgets.
const (
	maxBudget     = 1 << 20 // products, samples, runs, iterations
	maxSubspaceFl = 1 << 27 // P·p floats of Keskar's random matrix (1 GiB)
	maxPACSteps   = 200
)

// WithDefaults returns c with every zero setting of a selected measure
// replaced by its default: top_k {k 5, tol 1e-3, steps 100}, trace {method
// hutchpp, budget 99}, density {runs 5, steps 30}, evidence {lambda 1,
// operator gauss_newton, runs 5, steps 30}, keskar {epsilons [1e-3, 5e-4],
// space both, subspace 100, iterations 10}, adaptive {rho 0.05, norm l2,
// iterations 10, samples 20}, relative {budget 50 unless exact}, pac_bayes
// {target 0.1, samples 5, steps 20}. Zero values that are meaningful stay
// zero: top_k.negative (none), trace.rel_err (spend the budget),
// relative.layer (the last Dense layer). K and p are capped at P by the
// trial, not here.
func (c CurvatureSpec) WithDefaults() CurvatureSpec {
	m := c.Measures
	if m.Has(MeasureTopK) {
		c.TopK.K = cmp0(c.TopK.K, DefaultTopK)
		c.TopK.Tol = cmpf0(c.TopK.Tol, DefaultTopKTol)
		c.TopK.Steps = cmp0(c.TopK.Steps, DefaultTopKSteps)
	}
	if m.Has(MeasureTrace) {
		c.Trace.Method = cmps0(c.Trace.Method, DefaultTraceMethod)
		c.Trace.Budget = cmp0(c.Trace.Budget, DefaultTraceBudget)
	}
	if m.Has(MeasureDensity) {
		c.Density.Runs = cmp0(c.Density.Runs, DefaultDensityRuns)
		c.Density.Steps = cmp0(c.Density.Steps, DefaultDensitySteps)
	}
	if m.Has(MeasureEvidence) {
		c.Evidence.Lambda = cmpf0(c.Evidence.Lambda, DefaultEvidenceLambda)
		c.Evidence.Operator = cmps0(c.Evidence.Operator, DefaultEvidenceOp)
		c.Evidence.Runs = cmp0(c.Evidence.Runs, DefaultDensityRuns)
		c.Evidence.Steps = cmp0(c.Evidence.Steps, DefaultDensitySteps)
	}
	if m.Has(MeasureKeskar) {
		if c.Keskar.Epsilons == (Epsilons{}) {
			c.Keskar.Epsilons = DefaultEpsilons()
		}
		c.Keskar.Space = cmps0(c.Keskar.Space, DefaultKeskarSpace)
		c.Keskar.Subspace = cmp0(c.Keskar.Subspace, DefaultKeskarSubspace)
		c.Keskar.Iterations = cmp0(c.Keskar.Iterations, DefaultAscentIters)
	}
	if m.Has(MeasureAdaptive) {
		c.Adaptive.Rho = cmpf0(c.Adaptive.Rho, DefaultRho)
		c.Adaptive.Norm = cmps0(c.Adaptive.Norm, DefaultNorm)
		c.Adaptive.Iterations = cmp0(c.Adaptive.Iterations, DefaultAscentIters)
		c.Adaptive.Samples = cmp0(c.Adaptive.Samples, DefaultAverageSamples)
	}
	if m.Has(MeasureRelative) && !c.Relative.Exact {
		c.Relative.Budget = cmp0(c.Relative.Budget, DefaultRelativeBudget)
	}
	if m.Has(MeasurePACBayes) {
		c.PACBayes.Target = cmpf0(c.PACBayes.Target, DefaultPACTarget)
		c.PACBayes.Samples = cmp0(c.PACBayes.Samples, DefaultPACSamples)
		c.PACBayes.Steps = cmp0(c.PACBayes.Steps, DefaultPACSteps)
	}
	return c
}

// Normalized returns c with every measure setting that equals its default
// set to zero (the inverse of WithDefaults on the settings), so that a spec
// that writes a default out and one that omits it have the same canonical
// form and trial ID. Blocks of unselected measures are left as they are (and
// rejected by Validate).
func (c CurvatureSpec) Normalized() CurvatureSpec {
	d := CurvatureSpec{Measures: c.Measures}.WithDefaults()
	zero := func(v *int, def int) {
		if *v == def {
			*v = 0
		}
	}
	zerof := func(v *float64, def float64) {
		if *v == def {
			*v = 0
		}
	}
	zeros := func(v *string, def string) {
		if *v == def {
			*v = ""
		}
	}
	m := c.Measures
	if m.Has(MeasureTopK) {
		zero(&c.TopK.K, d.TopK.K)
		zerof(&c.TopK.Tol, d.TopK.Tol)
		zero(&c.TopK.Steps, d.TopK.Steps)
	}
	if m.Has(MeasureTrace) {
		zeros(&c.Trace.Method, d.Trace.Method)
		zero(&c.Trace.Budget, d.Trace.Budget)
	}
	if m.Has(MeasureDensity) {
		zero(&c.Density.Runs, d.Density.Runs)
		zero(&c.Density.Steps, d.Density.Steps)
	}
	if m.Has(MeasureEvidence) {
		zerof(&c.Evidence.Lambda, d.Evidence.Lambda)
		zeros(&c.Evidence.Operator, d.Evidence.Operator)
		zero(&c.Evidence.Runs, d.Evidence.Runs)
		zero(&c.Evidence.Steps, d.Evidence.Steps)
	}
	if m.Has(MeasureKeskar) {
		if c.Keskar.Epsilons == d.Keskar.Epsilons {
			c.Keskar.Epsilons = Epsilons{}
		}
		zeros(&c.Keskar.Space, d.Keskar.Space)
		zero(&c.Keskar.Subspace, d.Keskar.Subspace)
		zero(&c.Keskar.Iterations, d.Keskar.Iterations)
	}
	if m.Has(MeasureAdaptive) {
		zerof(&c.Adaptive.Rho, d.Adaptive.Rho)
		zeros(&c.Adaptive.Norm, d.Adaptive.Norm)
		zero(&c.Adaptive.Iterations, d.Adaptive.Iterations)
		zero(&c.Adaptive.Samples, d.Adaptive.Samples)
	}
	if m.Has(MeasureRelative) && !c.Relative.Exact {
		zero(&c.Relative.Budget, d.Relative.Budget)
	}
	if m.Has(MeasurePACBayes) {
		zerof(&c.PACBayes.Target, d.PACBayes.Target)
		zero(&c.PACBayes.Samples, d.PACBayes.Samples)
		zero(&c.PACBayes.Steps, d.PACBayes.Steps)
	}
	return c
}

func cmps0(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// EpsilonName formats a box size for a measure name: the shortest decimal
// mantissa and an exponent without leading zeros, e.g. 1e-3, 5e-4, 2.5e-3.
func EpsilonName(eps float64) string {
	s := strconv.FormatFloat(eps, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	sign := ""
	if exp != "" && (exp[0] == '-' || exp[0] == '+') {
		if exp[0] == '-' {
			sign = "-"
		}
		exp = exp[1:]
	}
	exp = strings.TrimLeft(exp, "0")
	if exp == "" {
		return mant
	}
	return mant + "e" + sign + exp
}

// denseLayers returns the indices into net.Layers() of the top-level Dense
// layers.
func denseLayers(net *nn.Network) []int {
	var idx []int
	for l, ly := range net.Layers() {
		if _, ok := ly.(*nn.Dense); ok {
			idx = append(idx, l)
		}
	}
	return idx
}

// validateMeasures checks the measure settings against the network (P, its
// Dense layers).
func (s TrialSpec) validateMeasures() error {
	c := s.Curvature
	if c.Measures >= measureEnd {
		return invalid("curvature.measures", literal(fmt.Sprintf("%#x", uint32(c.Measures))), "unknown measure bits")
	}
	blocks := []struct {
		m     MeasureSet
		field string
		zero  bool
	}{
		{MeasureTopK, "curvature.top_k", c.TopK == TopKSpec{}},
		{MeasureTrace, "curvature.trace", c.Trace == TraceSpec{}},
		{MeasureDensity, "curvature.density", c.Density == DensitySpec{}},
		{MeasureEvidence, "curvature.evidence", c.Evidence == EvidenceSpec{}},
		{MeasureKeskar, "curvature.keskar", c.Keskar == KeskarSpec{}},
		{MeasureAdaptive, "curvature.adaptive", c.Adaptive == AdaptiveSpec{}},
		{MeasureRelative, "curvature.relative", c.Relative == RelativeSpec{}},
		{MeasureFisherRao, "curvature.fisher_rao", c.FisherRao == FisherRaoSpec{}},
		{MeasurePACBayes, "curvature.pac_bayes", c.PACBayes == PACBayesSpec{}},
	}
	for _, b := range blocks {
		if !b.zero && !c.Measures.Has(b.m) {
			return invalid(b.field, literal("{…}"), fmt.Sprintf("settings given but %q is not in curvature.measures", b.m.String()))
		}
	}
	if c.Measures == 0 {
		return nil
	}
	p := s.paramBound()
	for _, check := range []func(float64) error{s.validateTopK, s.validateTraceDensity, s.validateEvidence,
		s.validateKeskar, s.validateAdaptive, s.validateRelativeFR, s.validatePACBayes} {
		if err := check(p); err != nil {
			return err
		}
	}
	return nil
}

// count checks an optional count: 0 (default) or in [lo, hi].
func count(field string, v, lo, hi int, def string) error {
	if v != 0 && (v < lo || v > hi) {
		return invalid(field, v, fmt.Sprintf("must be in [%d, %d] (0 or omitted: %s)", lo, hi, def))
	}
	return nil
}

// upTo checks that a count does not exceed P.
func upTo(field string, v int, p float64) error {
	if float64(v) > p {
		return invalid(field, v, fmt.Sprintf("must be ≤ P = %.0f, the number of parameters", p))
	}
	return nil
}

func (s TrialSpec) validateTopK(p float64) error {
	t := s.Curvature.TopK
	if err := count("curvature.top_k.k", t.K, 1, maxBudget, fmt.Sprintf("default %d", DefaultTopK)); err != nil {
		return err
	}
	if err := upTo("curvature.top_k.k", t.K, p); err != nil {
		return err
	}
	switch {
	case t.Negative < 0:
		return invalid("curvature.top_k.negative", t.Negative, "must be ≥ 0 (the number of most negative eigenvalues)")
	case !finite(t.Tol) || t.Tol < 0:
		return invalid("curvature.top_k.tol", t.Tol, fmt.Sprintf("must be finite and > 0 (0 or omitted: default %g)", DefaultTopKTol))
	}
	if err := upTo("curvature.top_k.negative", t.Negative, p); err != nil {
		return err
	}
	return count("curvature.top_k.steps", t.Steps, 1, maxLanczosSteps, fmt.Sprintf("default %d", DefaultTopKSteps))
}

func (s TrialSpec) validateTraceDensity(float64) error {
	t, d := s.Curvature.Trace, s.Curvature.Density
	switch t.Method {
	case "", TraceHutchinson, TraceHutchPP:
	default:
		return invalid("curvature.trace.method", t.Method, `unknown trace estimator (want "hutchpp" or "hutchinson")`)
	}
	if err := count("curvature.trace.budget", t.Budget, 1, maxBudget, fmt.Sprintf("default %d", DefaultTraceBudget)); err != nil {
		return err
	}
	if t.Budget != 0 && t.Budget < 3 && cmps0(t.Method, DefaultTraceMethod) == TraceHutchPP {
		return invalid("curvature.trace.budget", t.Budget, "Hutch++ needs at least 3 products (a sketch column, its projection and a probe)")
	}
	if !finite(t.RelErr) || t.RelErr < 0 {
		return invalid("curvature.trace.rel_err", t.RelErr, "must be finite and ≥ 0 (0: spend the whole budget)")
	}
	if err := count("curvature.density.runs", d.Runs, 1, maxBudget, fmt.Sprintf("default %d", DefaultDensityRuns)); err != nil {
		return err
	}
	return count("curvature.density.steps", d.Steps, 1, maxLanczosSteps, fmt.Sprintf("default %d", DefaultDensitySteps))
}

func (s TrialSpec) validateEvidence(float64) error {
	e := s.Curvature.Evidence
	switch {
	case !finite(e.Lambda) || e.Lambda < 0:
		return invalid("curvature.evidence.lambda", e.Lambda, fmt.Sprintf("must be finite and > 0 (0 or omitted: default %g)", DefaultEvidenceLambda))
	case e.Operator != "" && e.Operator != OperatorHessian && e.Operator != OperatorGaussNewton:
		return invalid("curvature.evidence.operator", e.Operator, `unknown operator (want "gauss_newton" or "hessian")`)
	}
	if err := count("curvature.evidence.runs", e.Runs, 1, maxBudget, fmt.Sprintf("default %d", DefaultDensityRuns)); err != nil {
		return err
	}
	return count("curvature.evidence.steps", e.Steps, 1, maxLanczosSteps, fmt.Sprintf("default %d", DefaultDensitySteps))
}

func (s TrialSpec) validateKeskar(p float64) error {
	k := s.Curvature.Keskar
	list := k.Epsilons.List()
	for i, e := range k.Epsilons {
		f := fmt.Sprintf("curvature.keskar.epsilons[%d]", i)
		switch {
		case i >= len(list) && e != 0:
			return invalid(f, e, "follows a zero entry; give the box sizes as a list of positive values")
		case i >= len(list):
		case !finite(e) || e <= 0:
			return invalid(f, e, "must be finite and > 0 (the relative box size ε)")
		case slices.Index(list, e) < i:
			return invalid(f, e, fmt.Sprintf("duplicate of curvature.keskar.epsilons[%d]", slices.Index(list, e)))
		}
	}
	switch k.Space {
	case "", SpaceFull, SpaceSubspace, SpaceBoth:
	default:
		return invalid("curvature.keskar.space", k.Space, `unknown space (want "both", "full" or "subspace")`)
	}
	if err := count("curvature.keskar.subspace", k.Subspace, 1, maxBudget, fmt.Sprintf("default %d, capped at P", DefaultKeskarSubspace)); err != nil {
		return err
	}
	if err := upTo("curvature.keskar.subspace", k.Subspace, p); err != nil {
		return err
	}
	if k.Space == SpaceFull && k.Subspace != 0 {
		return invalid("curvature.keskar.subspace", k.Subspace, `only with space "subspace" or "both"`)
	}
	if k.Space != SpaceFull && min(p, float64(cmp0(k.Subspace, DefaultKeskarSubspace)))*p > maxSubspaceFl {
		return invalid("curvature.keskar.subspace", k.Subspace, fmt.Sprintf("the random P×p matrix would hold more than %d values (P = %.0f); use space \"full\" or a smaller p", maxSubspaceFl, p))
	}
	return count("curvature.keskar.iterations", k.Iterations, 1, maxBudget, fmt.Sprintf("default %d", DefaultAscentIters))
}

func (s TrialSpec) validateAdaptive(float64) error {
	a := s.Curvature.Adaptive
	switch {
	case !finite(a.Rho) || a.Rho < 0:
		return invalid("curvature.adaptive.rho", a.Rho, fmt.Sprintf("must be finite and > 0 (0 or omitted: default %g)", DefaultRho))
	case a.Norm != "" && a.Norm != NormL2 && a.Norm != NormLInf:
		return invalid("curvature.adaptive.norm", a.Norm, `unknown norm (want "l2" or "linf")`)
	}
	if err := count("curvature.adaptive.iterations", a.Iterations, 1, maxBudget, fmt.Sprintf("default %d", DefaultAscentIters)); err != nil {
		return err
	}
	return count("curvature.adaptive.samples", a.Samples, 2, maxBudget, fmt.Sprintf("default %d", DefaultAverageSamples))
}

func (s TrialSpec) validateRelativeFR(float64) error {
	r, f := s.Curvature.Relative, s.Curvature.FisherRao
	if s.Curvature.Measures.Has(MeasureRelative) {
		features, classes, shape := s.inputDims()
		net, err := buildNetwork(s.Model, features, classes, shape)
		if err != nil {
			return invalid("model.arch", s.Model.Arch, err.Error())
		}
		if n := len(denseLayers(net)); r.Layer < 0 || r.Layer > n {
			return invalid("curvature.relative.layer", r.Layer, fmt.Sprintf("must be in [0, %d] (Dense layers counted from 1 at the input; 0: the last)", n))
		}
	}
	switch {
	case r.Exact && r.Budget != 0:
		return invalid("curvature.relative.budget", r.Budget, "only without exact (the exact value takes one product per weight)")
	case f.ModelLabels && (s.Model.Arch != ArchMLP || (s.Model.Loss != "" && s.Model.Loss != "ce")):
		return invalid("curvature.fisher_rao.model_labels", true, "needs an mlp with cross-entropy loss")
	}
	return count("curvature.relative.budget", r.Budget, 2, maxBudget, fmt.Sprintf("default %d", DefaultRelativeBudget))
}

func (s TrialSpec) validatePACBayes(float64) error {
	b := s.Curvature.PACBayes
	if !finite(b.Target) || b.Target < 0 || b.Target > 1 {
		return invalid("curvature.pac_bayes.target", b.Target, fmt.Sprintf("must be in (0, 1], an accuracy drop (0 or omitted: default %g)", DefaultPACTarget))
	}
	if err := count("curvature.pac_bayes.samples", b.Samples, 1, maxBudget, fmt.Sprintf("default %d", DefaultPACSamples)); err != nil {
		return err
	}
	return count("curvature.pac_bayes.steps", b.Steps, 1, maxPACSteps, fmt.Sprintf("default %d", DefaultPACSteps))
}

// dinhPairs returns the indices l₁ into net.Layers() of the top-level
// Dense–ReLU–Dense triples (l₁, l₁+1, l₁+2), in order from the input.
func dinhPairs(net *nn.Network) []int {
	layers := net.Layers()
	var out []int
	for l := 0; l+2 < len(layers); l++ {
		_, d1 := layers[l].(*nn.Dense)
		_, r := layers[l+1].(*nn.ReLU)
		_, d2 := layers[l+2].(*nn.Dense)
		if d1 && r && d2 {
			out = append(out, l)
		}
	}
	return out
}

// dinhValue formats a DinhSpec for an error message.
func dinhValue(d DinhSpec) literal {
	return literal(fmt.Sprintf("{alpha: %g, layer: %d}", d.Alpha, d.Layer))
}

// validateDinh checks CurvatureSpec.Dinh: α finite, > 0 and ≠ 1, and a
// Dense–ReLU–Dense pair number Layer in the spec's network.
func (s TrialSpec) validateDinh() error {
	d := s.Curvature.Dinh
	switch {
	case d == DinhSpec{}:
		return nil
	case d.Alpha == 0:
		return invalid("curvature.dinh.alpha", d.Alpha, "required with curvature.dinh: the scale α (finite, > 0 and ≠ 1)")
	case !finite(d.Alpha) || d.Alpha < 0:
		return invalid("curvature.dinh.alpha", d.Alpha, "must be finite and > 0 (the scale α of T_α)")
	case d.Alpha == 1:
		return invalid("curvature.dinh.alpha", d.Alpha, "must differ from 1 (T_1 is the identity)")
	case d.Layer < 0:
		return invalid("curvature.dinh.layer", d.Layer, "must be ≥ 0 (the Dense–ReLU–Dense pair, counted from 0 at the input)")
	}
	features, classes, shape := s.inputDims()
	net, err := buildNetwork(s.Model, features, classes, shape)
	if err != nil {
		return invalid("model.arch", s.Model.Arch, err.Error())
	}
	return checkDinhLayer(d, net)
}

// checkDinhLayer returns a *SpecError when net has no Dense–ReLU–Dense pair
// number d.Layer (see dinhPairs), nil otherwise.
func checkDinhLayer(d DinhSpec, net *nn.Network) error {
	pairs := dinhPairs(net)
	switch {
	case len(pairs) == 0:
		return invalid("curvature.dinh", dinhValue(d),
			"the model has no Dense–ReLU–Dense pair of consecutive layers to α-scale (it needs relu activations and, for resmlp, no residual blocks)")
	case d.Layer >= len(pairs):
		return invalid("curvature.dinh.layer", d.Layer, fmt.Sprintf("must be in [0, %d]: the model has %d Dense–ReLU–Dense pairs", len(pairs)-1, len(pairs)))
	}
	return nil
}

// Model is a network and its parameters with the examples its curvature is
// measured on.
type Model struct {
	// Net is the network with its loss and without weight decay.
	Net *nn.Network
	// Theta holds the parameters θ.
	Theta []float64
	// Examples are the M curvature examples (the training set, or the seeded
	// subset of CurvatureSpec.Examples).
	Examples data.Set
}

// curvatureSet returns the curvature examples of spec drawn from trainSet:
// all of it, or Curvature.Examples examples drawn without replacement from
// spec.Seed (in their original order).
func curvatureSet(spec TrialSpec, trainSet data.Set) data.Set {
	if m := spec.Curvature.Examples; m > 0 && m < trainSet.Len() {
		idx := pcg(spec.Seed, streamCurvatureSubset).Perm(trainSet.Len())[:m]
		slices.Sort(idx)
		return trainSet.Subset(idx)
	}
	return trainSet
}

// LoadModel validates spec, loads its data and builds its network as
// RunTrial does, and reads θ from r, a safetensors file written by
// WriteWeights (or a PyTorch state_dict of the same network: mlp, resmlp or cnn). The model's
// examples are the spec's curvature examples. A file that does not fit the
// network gives an error wrapping weights.ErrMismatch.
func LoadModel(spec TrialSpec, r io.Reader) (Model, error) {
	if err := spec.Validate(); err != nil {
		return Model{}, err
	}
	trainSet, _, shape, err := loadData(spec.Dataset)
	if err != nil {
		return Model{}, err
	}
	net, err := buildNetwork(spec.Model, trainSet.Features, trainSet.Classes, shape)
	if err != nil {
		return Model{}, fmt.Errorf("model: %w", err)
	}
	theta, _, err := ReadWeights(r, net)
	if err != nil {
		return Model{}, fmt.Errorf("reading θ: %w", err)
	}
	for i, t := range theta {
		if !finite(t) {
			return Model{}, fmt.Errorf("reading θ: %w: θ[%d] = %v is not finite", weights.ErrMismatch, i, t)
		}
	}
	return Model{Net: net, Theta: theta, Examples: curvatureSet(spec, trainSet)}, nil
}

// Measure computes at m.Theta what RunTrial computes after training: λ₁
// (LambdaMax, LambdaResidual, LambdaConverged, HVPs) and the measures of
// spec.Curvature (Measures, Density), over m.Examples. It fills only those
// fields and Params. Every random draw comes from a generator seeded with
// spec.Seed and a stream constant of its own measure, so a measure's value
// does not depend on which other measures are selected, and the result is a
// deterministic function of spec and m. A cancelled ctx stops it between
// products with an error wrapping ctx.Err(). Invalid settings (including K or
// p larger than P, found only now for a cnn) give a *SpecError.
//
// With spec.Curvature.Dinh set it then runs Dinh's check (see DinhSpec):
// it adds "dinh_output_change", "lambda_max@dinh" and m@dinh for every
// scalar m of Measures, computed at T_α θ with the same seeds; LambdaMax,
// HVPs and the other fields stay those at θ.
func Measure(ctx context.Context, spec TrialSpec, m Model) (Result, error) {
	res, err := measureAt(ctx, spec, m)
	if err != nil || spec.Curvature.Dinh == (DinhSpec{}) {
		return res, err
	}
	if err := dinhCheck(ctx, spec, m, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// dinhCheck applies T_α of spec.Curvature.Dinh to m.Theta and adds to
// res.Measures the relative output change and λ₁ and every measure at T_α θ
// under their names with DinhSuffix (see DinhSpec). The spectral density is
// not recomputed.
func dinhCheck(ctx context.Context, spec TrialSpec, m Model, res *Result) error {
	d := spec.Curvature.Dinh
	if err := checkDinhLayer(d, m.Net); err != nil {
		return err
	}
	l1 := dinhPairs(m.Net)[d.Layer]
	scaled, err := flatness.AlphaScale(nil, m.Theta, m.Net, l1, l1+2, d.Alpha)
	if err != nil {
		return fmt.Errorf("curvature.dinh: %w", err)
	}
	_, change, err := flatness.OutputChange(m.Net, m.Theta, scaled, m.Examples.X)
	if err != nil {
		return err
	}
	at := spec
	at.Curvature.Measures &^= MeasureDensity
	r, err := measureAt(ctx, at, Model{Net: m.Net, Theta: scaled, Examples: m.Examples})
	if err != nil {
		return fmt.Errorf("curvature.dinh: at T_α θ: %w", err)
	}
	if res.Measures == nil {
		res.Measures = map[string]float64{}
	}
	e := measurer{out: res.Measures}
	e.put(MeasureDinhOutputChange, change)
	e.put(metricLambdaMax+DinhSuffix, r.LambdaMax)
	for name, v := range r.Measures {
		e.put(name+DinhSuffix, v)
	}
	return nil
}

// metricLambdaMax is the name under which analyses know Result.LambdaMax;
// its value at T_α θ is stored as "lambda_max@dinh".
const metricLambdaMax = "lambda_max"

// measureAt is Measure without Dinh's check.
func measureAt(ctx context.Context, spec TrialSpec, m Model) (Result, error) {
	net, theta, set := m.Net, m.Theta, m.Examples
	rows := chunkRows(net)
	res := Result{Params: net.NumParams()}
	h := nn.NewHessian(net, theta, set.X, set.Y, rows)
	c := spec.Curvature
	start := make([]float64, net.NumParams())
	curvature.RandomUnit(start, pcg(spec.Seed, streamLanczos))
	eig, err := curvature.Lanczos(ctx, h.Dim(), h.Apply, start, curvature.Settings{
		Steps:  cmp0(c.LanczosSteps, DefaultLanczosSteps),
		Tol:    cmpf0(c.Tol, DefaultTol),
		Which:  curvature.LargestAlgebraic,
		Verify: true,
	})
	if err != nil {
		return Result{}, fmt.Errorf("curvature: %w", err)
	}
	res.LambdaMax, res.LambdaResidual, res.LambdaConverged = eig.Value, eig.Residual, eig.Converged
	res.HVPs = h.Products()
	if c.Measures == 0 {
		return res, nil
	}
	oracle, err := flatness.NewNetOracle(net, set.X, set.Y, rows)
	if err != nil {
		return Result{}, fmt.Errorf("curvature: %w", err)
	}
	e := &measurer{spec: spec, c: c.WithDefaults(), m: m, h: h, o: oracle, rows: rows, res: &res,
		out: map[string]float64{}}
	steps := []struct {
		m   MeasureSet
		run func(context.Context) error
	}{
		{MeasureTopK, e.topK}, {MeasureTrace, e.trace}, {MeasureDensity, e.density},
		{MeasureEvidence, e.evidence}, {MeasureKeskar, e.keskar}, {MeasureAdaptive, e.adaptive},
		{MeasureRelative, e.relative}, {MeasureFisherRao, e.fisherRao}, {MeasurePACBayes, e.pacBayes},
	}
	for _, st := range steps {
		if !c.Measures.Has(st.m) {
			continue
		}
		if err := st.run(ctx); err != nil {
			return Result{}, fmt.Errorf("curvature.%s: %w", st.m, err)
		}
	}
	res.Measures = e.out
	return res, nil
}

// measurer computes the measures of one model.
type measurer struct {
	spec TrialSpec
	c    CurvatureSpec // with defaults
	m    Model
	h    *nn.Hessian
	o    *flatness.NetOracle
	rows int
	res  *Result
	out  map[string]float64
}

// put stores a finite value under name and drops a NaN or infinite one.
func (e *measurer) put(name string, v float64) {
	if finite(v) {
		e.out[name] = v
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (e *measurer) topK(ctx context.Context) error {
	t := e.c.TopK
	p := e.h.Dim()
	run := func(k int, which curvature.Which, stream uint64, field, prefix, conv string) error {
		if k > p {
			if field == "curvature.top_k.k" && e.spec.Curvature.TopK.K == 0 {
				k = p // the default is capped at P
			} else {
				return invalid(field, k, fmt.Sprintf("must be ≤ P = %d, the number of parameters", p))
			}
		}
		rng := pcg(e.spec.Seed, stream)
		start := make([]float64, p)
		curvature.RandomUnit(start, rng)
		r, err := curvature.LanczosTopK(ctx, p, e.h.Apply, start, curvature.TopKSettings{
			K: k, Steps: t.Steps, Tol: t.Tol, Which: which, Verify: true, Restart: rng,
		})
		if err != nil {
			return err
		}
		for i, eg := range r.Eigen {
			e.put(prefix+strconv.Itoa(i+1), eg.Value)
		}
		e.put(conv, b2f(r.Converged))
		return nil
	}
	if err := run(t.K, curvature.LargestAlgebraic, streamTopK, "curvature.top_k.k", "lambda_", "top_k_converged"); err != nil {
		return err
	}
	if t.Negative == 0 {
		return nil
	}
	return run(t.Negative, curvature.SmallestAlgebraic, streamTopKNegative, "curvature.top_k.negative", "lambda_min_", "lambda_min_converged")
}

func (e *measurer) trace(ctx context.Context) error {
	t := e.c.Trace
	est := curvature.HutchPP
	if t.Method == TraceHutchinson {
		est = curvature.Hutchinson
	}
	r, err := est(ctx, e.h.Dim(), e.h.Apply, pcg(e.spec.Seed, streamTrace),
		curvature.TraceSettings{Budget: t.Budget, RelErr: t.RelErr})
	if err != nil {
		return err
	}
	e.put("trace", r.Trace)
	e.put("trace_se", r.StdErr)
	return nil
}

func (e *measurer) density(ctx context.Context) error {
	d := e.c.Density
	q, err := curvature.StochasticLanczosQuadrature(ctx, e.h.Dim(), e.h.Apply, pcg(e.spec.Seed, streamDensity),
		curvature.SLQSettings{Runs: d.Runs, Steps: d.Steps})
	if err != nil {
		return err
	}
	e.res.Density = &SpectralDensity{Params: q.Dim, Nodes: q.Nodes, Weights: q.Weights}
	return nil
}

func (e *measurer) evidence(ctx context.Context) error {
	ev := e.c.Evidence
	op := curvature.Operator(e.h.Apply)
	if ev.Operator == OperatorGaussNewton {
		set := e.m.Examples
		op = nn.NewGaussNewton(e.m.Net, e.m.Theta, set.X, set.Y, e.rows).Apply
	}
	r, err := flatness.Evidence(ctx, e.o.Loss(e.m.Theta), e.m.Theta, op, pcg(e.spec.Seed, streamEvidence),
		flatness.EvidenceSettings{Lambda: ev.Lambda, Examples: e.m.Examples.Len(),
			SLQ: curvature.SLQSettings{Runs: ev.Runs, Steps: ev.Steps}})
	if err != nil {
		return err
	}
	e.put("log_evidence", r.LogEvidence)
	e.put("log_occam", r.LogOccam)
	e.put("log_occam_se", r.StdErr)
	e.put("log_det", float64(len(e.m.Theta))*math.Log(ev.Lambda)-2*r.LogOccam)
	e.put("occam_clipped", r.ClippedMass)
	return nil
}

func (e *measurer) keskar(ctx context.Context) error {
	k := e.c.Keskar
	p := len(e.m.Theta)
	type space struct {
		name string
		dim  int
	}
	var spaces []space
	if k.Space != SpaceSubspace {
		spaces = append(spaces, space{"full", 0})
	}
	if k.Space != SpaceFull {
		sub := k.Subspace
		if sub > p {
			if e.spec.Curvature.Keskar.Subspace != 0 {
				return invalid("curvature.keskar.subspace", sub, fmt.Sprintf("must be ≤ P = %d, the number of parameters", p))
			}
			sub = p
		}
		spaces = append(spaces, space{"sub", sub})
	}
	for _, sp := range spaces {
		for _, eps := range k.Epsilons.List() {
			// A fresh generator per ε: every ε uses the same random subspace.
			r, err := flatness.KeskarSharpness(ctx, e.o, e.m.Theta, pcg(e.spec.Seed, streamKeskar),
				flatness.KeskarSettings{Epsilon: eps, Subspace: sp.dim, Iterations: k.Iterations})
			if err != nil {
				return err
			}
			e.put("keskar_"+sp.name+"_"+EpsilonName(eps), r.Sharpness)
		}
	}
	return nil
}

func (e *measurer) adaptive(ctx context.Context) error {
	a := e.c.Adaptive
	s := flatness.SharpnessSettings{Rho: a.Rho, Norm: 2, Adaptive: !a.Plain, Iterations: a.Iterations, Samples: a.Samples}
	if a.Norm == NormLInf {
		s.Norm = math.Inf(1)
	}
	name := "adaptive_sharpness"
	if a.Plain {
		name = "plain_sharpness"
	}
	w, err := flatness.AdaptiveSharpness(ctx, e.o, e.m.Theta, pcg(e.spec.Seed, streamAdaptive), s)
	if err != nil {
		return err
	}
	avg, err := flatness.AverageSharpness(ctx, e.o, e.m.Theta, pcg(e.spec.Seed, streamAdaptiveAvg), s)
	if err != nil {
		return err
	}
	e.put(name, w.Sharpness)
	e.put(name+"_avg", avg.Sharpness)
	e.put(name+"_avg_se", avg.StdErr)
	return nil
}

func (e *measurer) relative(ctx context.Context) error {
	r := e.c.Relative
	dense := denseLayers(e.m.Net)
	if r.Layer > len(dense) || len(dense) == 0 {
		return invalid("curvature.relative.layer", r.Layer, fmt.Sprintf("must be in [0, %d]", len(dense)))
	}
	layer := dense[len(dense)-1]
	if r.Layer > 0 {
		layer = dense[r.Layer-1]
	}
	v, err := flatness.RelativeFlatness(ctx, e.o, e.m.Net, e.m.Theta, layer, pcg(e.spec.Seed, streamRelative),
		flatness.RelativeSettings{Exact: r.Exact, Trace: curvature.TraceSettings{Budget: r.Budget}})
	if err != nil {
		return err
	}
	e.put("relative_flatness", v.Kappa)
	if !r.Exact {
		e.put("relative_flatness_se", v.StdErr)
	}
	return nil
}

func (e *measurer) fisherRao(ctx context.Context) error {
	f := e.c.FisherRao
	set := e.m.Examples
	r, err := flatness.FisherRao(ctx, e.m.Net, e.m.Theta, set.X, set.Y, pcg(e.spec.Seed, streamFisherRao),
		flatness.FisherRaoSettings{IncludeBiases: f.IncludeBiases, ModelLabels: f.ModelLabels})
	if err != nil {
		return err
	}
	e.put("fisher_rao", r.Norm2)
	return nil
}

func (e *measurer) pacBayes(ctx context.Context) error {
	b := e.c.PACBayes
	s := flatness.DefaultPACBayesSettings()
	s.Target, s.Samples, s.Steps = b.Target, b.Samples, b.Steps
	r, err := flatness.PACBayesFlatness(ctx, e.o, e.m.Theta, pcg(e.spec.Seed, streamPACBayes), s)
	if err != nil {
		return err
	}
	e.put("pac_bayes_sigma", r.Sigma)
	e.put("pac_bayes_flatness", r.Flatness)
	return nil
}
