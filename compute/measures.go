package compute

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/flatness"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/weights"
	"github.com/flatsweep/flatsweep/spec"
)

// Model is a network and its parameters with the examples its curvature is
// measured on.
type Model struct {
	// Net is the network with its loss and without weight decay.
	Net *nn.Network
	// Theta holds the parameters θ.
	Theta []float64
	// Examples are the M curvature examples (the training set, or the seeded
	// subset of Curvature.Examples).
	Examples data.Set
}

// CurvatureIndices returns the indices into a training set of n examples of
// the curvature examples of t, in increasing order: nil for the whole set
// (Curvature.Examples 0 or ≥ n), else Curvature.Examples indices drawn
// without replacement from t.Seed.
func CurvatureIndices(t spec.Trial, n int) []int {
	if m := t.Curvature.Examples; m > 0 && m < n {
		return sampleIndices(pcg(t.Seed, streamCurvatureSubset), n, m)
	}
	return nil
}

// sampleIndices draws m of n indices without replacement from r and
// returns them in increasing order, or nil (all n) when m ≥ n. It draws one
// permutation of n either way, so the draws that follow depend only on n.
func sampleIndices(r *rand.Rand, n, m int) []int {
	perm := r.Perm(n)
	if m >= n {
		return nil
	}
	idx := perm[:m]
	slices.Sort(idx)
	return idx
}

// subset returns the examples of s that idx names (in their original
// order), or s itself for nil.
func subset(s data.Set, idx []int) data.Set {
	if idx == nil {
		return s
	}
	return s.Subset(idx)
}

// curvatureSet returns the curvature examples of t drawn from trainSet: all
// of it, or the subset CurvatureIndices names.
func curvatureSet(t spec.Trial, trainSet data.Set) data.Set {
	return subset(trainSet, CurvatureIndices(t, trainSet.Len()))
}

// LoadModel validates t, loads its data and builds its network as RunTrial
// does, and reads θ from r, a safetensors file written by WriteWeights (or a
// PyTorch state_dict of the same network: mlp, resmlp or cnn). The model's
// examples are the spec's curvature examples. A file that does not fit the
// network gives an error wrapping weights.ErrMismatch.
func LoadModel(t spec.Trial, r io.Reader) (Model, error) {
	m, _, _, err := LoadModelSets(t, r)
	return m, err
}

// LoadModelSets is LoadModel that also returns the trial's training and
// test sets (a landscape is evaluated on subsets of both; see Landscape).
func LoadModelSets(t spec.Trial, r io.Reader) (m Model, trainSet, testSet data.Set, err error) {
	fail := func(err error) (Model, data.Set, data.Set, error) { return Model{}, data.Set{}, data.Set{}, err }
	if err := t.Validate(); err != nil {
		return fail(err)
	}
	trainSet, testSet, shape, err := loadData(t.Dataset)
	if err != nil {
		return fail(err)
	}
	net, err := buildNetwork(t.Model, trainSet.Features, trainSet.Classes, shape)
	if err != nil {
		return fail(fmt.Errorf("model: %w", err))
	}
	theta, buffers, err := readThetaState(r, net)
	if err != nil {
		return fail(err)
	}
	if net.NumBuffers() > 0 { // evaluation mode with the saved running statistics
		if net, err = net.WithBuffers(buffers); err != nil {
			return fail(err)
		}
	}
	return Model{Net: net, Theta: theta, Examples: curvatureSet(t, trainSet)}, trainSet, testSet, nil
}

// ReadTheta reads θ for net from a safetensors file as ReadWeights does and
// checks that every entry is finite. A file that does not fit net, or holds
// a value that is not finite, gives an error wrapping weights.ErrMismatch.
func ReadTheta(r io.Reader, net *nn.Network) ([]float64, error) {
	theta, _, err := readThetaState(r, net)
	return theta, err
}

// readThetaState is ReadTheta that also returns the file's buffers (see
// ReadState), checked finite too.
func readThetaState(r io.Reader, net *nn.Network) (theta, buffers []float64, err error) {
	theta, buffers, _, err = ReadState(r, net)
	if err != nil {
		return nil, nil, fmt.Errorf("reading θ: %w", err)
	}
	for i, x := range theta {
		if !finite(x) {
			return nil, nil, fmt.Errorf("reading θ: %w: θ[%d] = %v is not finite", weights.ErrMismatch, i, x)
		}
	}
	for i, x := range buffers {
		if !finite(x) {
			return nil, nil, fmt.Errorf("reading θ: %w: buffer %d = %v is not finite", weights.ErrMismatch, i, x)
		}
	}
	return theta, buffers, nil
}

// Measure computes at m.Theta what RunTrial computes after training: λ₁
// (LambdaMax, LambdaResidual, LambdaConverged, HVPs) and the measures of
// t.Curvature (Measures, Density), over m.Examples, with the cost of each
// piece of work (Costs). It fills only those fields and Params. With top_k
// selected, λ₁ is the first value of top_k's Lanczos run, which also gives
// the most negative eigenvalues (see measureWith). Every random draw comes from a generator seeded with
// t.Seed and a stream constant of its own measure, so a measure's value does
// not depend on which other measures are selected (λ₁ excepted, which with
// top_k is top_k's first value, equal to λ₁ alone to the tolerances), and
// the result but its seconds is a deterministic function of t and m. A
// cancelled ctx stops it between products with an error wrapping ctx.Err(). Invalid settings (including K or
// p larger than P, found only now for file datasets of other image sizes)
// give a *spec.FieldError.
//
// With t.Curvature.Dinh set it then runs Dinh's check (see spec.Dinh): it
// adds "dinh_output_change", "lambda_max@dinh" and m@dinh for every scalar m
// of Measures, computed at T_α θ with the same seeds, and the costs of that
// work under the same names with "@dinh"; LambdaMax, HVPs and the other
// fields stay those at θ.
func Measure(ctx context.Context, t spec.Trial, m Model) (spec.Result, error) {
	res, err := measureAt(ctx, t, m)
	if err != nil || t.Curvature.Dinh == (spec.Dinh{}) {
		return res, err
	}
	if err := dinhCheck(ctx, t, m, &res); err != nil {
		return spec.Result{}, err
	}
	return res, nil
}

// DinhPair returns the indices (l₁, l₂) into net.Layers() of the
// Dense–ReLU–Dense pair number pair of the network (counted from 0 at the
// input; see spec.Architecture.DinhPairs), which T_α scales.
func DinhPair(net *nn.Network, pair int) (l1, l2 int, err error) {
	d := spec.Dinh{Alpha: 2, Layer: pair}
	a := architectureOf(net)
	if err := d.CheckPair(a); err != nil {
		return 0, 0, err
	}
	l1 = a.DinhPairs()[pair]
	return l1, l1 + 2, nil
}

// dinhCheck applies T_α of t.Curvature.Dinh to m.Theta and adds to
// res.Measures the relative output change and λ₁ and every measure at T_α θ
// under their names with spec.DinhSuffix. The spectral density is not
// recomputed.
func dinhCheck(ctx context.Context, t spec.Trial, m Model, res *spec.Result) error {
	d := t.Curvature.Dinh
	l1, l2, err := DinhPair(m.Net, d.Layer)
	if err != nil {
		return err
	}
	scaled, err := flatness.AlphaScale(nil, m.Theta, m.Net, l1, l2, d.Alpha)
	if err != nil {
		return fmt.Errorf("curvature.dinh: %w", err)
	}
	_, change, err := flatness.OutputChange(m.Net, m.Theta, scaled, m.Examples.X)
	if err != nil {
		return err
	}
	at := t
	at.Curvature.Measures = at.Curvature.Measures.Without(densityName)
	r, err := measureAt(ctx, at, Model{Net: m.Net, Theta: scaled, Examples: m.Examples})
	if err != nil {
		return fmt.Errorf("curvature.dinh: at T_α θ: %w", err)
	}
	if res.Measures == nil {
		res.Measures = map[string]float64{}
	}
	e := measurer{out: res.Measures}
	e.put(spec.MeasureDinhOutputChange, change)
	e.put(metricLambdaMax+spec.DinhSuffix, r.LambdaMax)
	for name, v := range r.Measures {
		e.put(name+spec.DinhSuffix, v)
	}
	for _, c := range r.Costs {
		c.Measure += spec.DinhSuffix
		res.Costs = append(res.Costs, c)
	}
	return nil
}

// metricLambdaMax is the name under which analyses know Result.LambdaMax;
// its value at T_α θ is stored as "lambda_max@dinh".
const metricLambdaMax = "lambda_max"

// densityName is the name of the spectral density measure, which Dinh's
// check does not redo.
const densityName = "density"

// measureAt is Measure without Dinh's check.
func measureAt(ctx context.Context, t spec.Trial, m Model) (spec.Result, error) {
	return measureWith(ctx, t, m, nil)
}

// measureWith is measureAt with every Hessian-vector product passed through
// wrap (when non-nil), which tests use to count the operator's applications
// independently of the costs reported.
//
// λ₁ comes from one Lanczos run: with top_k selected, the run of top_k (see
// runExtremes), which also gives its most negative eigenvalues; else a run
// of its own. Every piece of work is recorded in Result.Costs in the order it
// ran: the Hessian's set-up, that run, then every other measure.
func measureWith(ctx context.Context, t spec.Trial, m Model, wrap func(curvature.Operator) curvature.Operator) (spec.Result, error) {
	net, theta, set := m.Net, m.Theta, m.Examples
	rows := chunkRows(net)
	res := spec.Result{Params: net.NumParams()}
	clock := time.Now()
	h := nn.NewHessian(net, theta, set.X, set.Y, rows)
	e := &measurer{trial: t, m: m, h: h, wrap: wrap, rows: rows, res: &res, out: map[string]float64{}}
	e.hv = e.counted(h.Apply)
	e.costs = []spec.MeasureCost{{Measure: spec.CostHessian, Gradients: 1, Seconds: time.Since(clock).Seconds()}}
	c := t.Resolved().Curvature // with the defaults of lanczos_steps and tol
	start := make([]float64, net.NumParams())
	curvature.RandomUnit(start, pcg(t.Seed, streamLanczos))
	if sel, ok := selection(c.Measures, traceName); ok {
		if sel.Measure.WithDefaults(sel.Settings).(spec.TraceSettings).Method == spec.TraceKrylov {
			e.basis = &curvature.KrylovBasis{}
		}
	}
	var err error
	if sel, ok := selection(c.Measures, topKName); ok {
		err = e.runExtremes(ctx, c, start, sel.Measure.WithDefaults(sel.Settings).(spec.TopKSettings), sel.Settings.(spec.TopKSettings))
	} else {
		err = e.runLambdaMax(ctx, c, start)
	}
	if err != nil {
		return spec.Result{}, err
	}
	if c.Measures.Len() == 0 {
		res.Costs = e.costs
		return res, nil
	}
	oracle, err := flatness.NewNetOracle(net, set.X, set.Y, rows)
	if err != nil {
		return spec.Result{}, fmt.Errorf("curvature: %w", err)
	}
	e.o = &countingOracle{NetOracle: oracle}
	for _, sel := range c.Measures.List() {
		run, ok := runners[sel.Measure.Name]
		if !ok {
			return spec.Result{}, fmt.Errorf("curvature.%s: this binary cannot take the measure", sel.Measure.Name)
		}
		before, clock := e.counts(), time.Now()
		e.residuals = nil
		if err := run(ctx, e, sel.Measure.WithDefaults(sel.Settings), sel.Settings); err != nil {
			return spec.Result{}, fmt.Errorf("curvature.%s: %w", sel.Measure.Name, err)
		}
		if sel.Measure.Name == topKName { // its run was made, and costed, with λ₁
			continue
		}
		cost := e.since(before)
		cost.Measure, cost.Seconds, cost.Residuals = sel.Measure.Name, time.Since(clock).Seconds(), e.residuals
		e.costs = append(e.costs, cost)
	}
	res.Measures = e.out
	res.Costs = e.costs
	return res, nil
}

// topKName is the name of the top_k measure, whose Lanczos run gives λ₁.
const topKName = "top_k"

// traceName is the name of the trace measure, whose method krylov reuses
// the Krylov basis of λ₁'s Lanczos run.
const traceName = "trace"

// selection returns the selection of the named measure in ms.
func selection(ms spec.Measures, name string) (spec.Selection, bool) {
	for _, sel := range ms.List() {
		if sel.Measure.Name == name {
			return sel, true
		}
	}
	return spec.Selection{}, false
}

// runLambdaMax estimates λ₁ alone, by Lanczos from start with the λ₁
// settings of c and one verifying product, into e.res and e.costs.
func (e *measurer) runLambdaMax(ctx context.Context, c spec.Curvature, start []float64) error {
	before, clock := e.counts(), time.Now()
	eig, err := curvature.Lanczos(ctx, e.h.Dim(), e.hv, start, curvature.Settings{
		Steps:  c.LanczosSteps,
		Tol:    c.Tol,
		Which:  curvature.LargestAlgebraic,
		Verify: true,
		Basis:  e.basis,
	})
	if err != nil {
		return fmt.Errorf("curvature: %w", err)
	}
	e.res.LambdaMax, e.res.LambdaResidual, e.res.LambdaConverged = eig.Value, eig.Residual, eig.Converged
	e.res.HVPs = eig.Products
	cost := e.since(before)
	cost.Measure, cost.Seconds = spec.CostLambdaMax, time.Since(clock).Seconds()
	cost.Residuals = []float64{relative(eig.Residual, eig.Value)}
	e.costs = append(e.costs, cost)
	return nil
}

// runExtremes makes the one Lanczos run of λ₁ and top_k
// (curvature.LanczosExtremes from start): the K largest and the Negative
// most negative eigenvalues, at most max(lanczos_steps, top_k.steps) steps,
// every wanted pair to top_k.tol and λ₁ to min(tol, top_k.tol), λ₁'s
// residual being the Lanczos residual |β_j e_jᵀ s| (equal to ‖Hy − θy‖ to
// rounding under full reorthogonalization, so no product verifies it). λ₁
// is the run's first Ritz value; the top_k values are kept in e.topk for
// runTopK, and the run's basis in e.basis when the trace asks for it.
// Restarts at an invariant subspace draw from the top_k stream.
func (e *measurer) runExtremes(ctx context.Context, c spec.Curvature, start []float64, t, given spec.TopKSettings) error {
	p := e.h.Dim()
	k, err := capAtP("curvature.top_k.k", t.K, given.K, p)
	if err != nil {
		return fmt.Errorf("curvature.top_k: %w", err)
	}
	neg, err := capAtP("curvature.top_k.negative", t.Negative, t.Negative, p)
	if err != nil {
		return fmt.Errorf("curvature.top_k: %w", err)
	}
	before, clock := e.counts(), time.Now()
	r, err := curvature.LanczosExtremes(ctx, p, e.hv, start, curvature.ExtremesSettings{
		Top: k, Bottom: neg, Steps: max(c.LanczosSteps, t.Steps), Tol: t.Tol, LeadTol: min(c.Tol, t.Tol),
		Restart: e.rng(streamTopK), Basis: e.basis,
	})
	if err != nil {
		return fmt.Errorf("curvature.top_k: %w", err)
	}
	lead := r.Top[0]
	e.res.LambdaMax, e.res.LambdaResidual = lead.Value, lead.Residual
	e.res.LambdaConverged = lead.Residual <= c.Tol*math.Abs(lead.Value)
	e.res.HVPs = r.Products
	e.topk = &r
	cost := e.since(before)
	cost.Measure, cost.Seconds = topKName, time.Since(clock).Seconds()
	for _, eg := range append(slices.Clip(r.Top), r.Bottom...) {
		cost.Residuals = append(cost.Residuals, relative(eg.Residual, eg.Value))
	}
	e.costs = append(e.costs, cost)
	return nil
}

// relative returns r/|v|, or r when v is 0.
func relative(r, v float64) float64 {
	if v == 0 {
		return r
	}
	return r / math.Abs(v)
}

// runner takes one measure with its settings (defaults applied) and, for
// the caps of defaults at P, the settings as given.
type runner func(ctx context.Context, e *measurer, settings, given any) error

// runners holds the code of every measure of the registry (spec.Registry),
// keyed by name; TestEveryMeasureRuns holds the two together.
var runners = map[string]runner{
	"top_k": runTopK, "trace": runTrace, "density": runDensity, "evidence": runEvidence, "keskar": runKeskar,
	"adaptive": runAdaptive, "relative": runRelative, "fisher_rao": runFisherRao, "pac_bayes": runPACBayes,
}

// measurer holds what the measures of one model share.
type measurer struct {
	trial spec.Trial
	m     Model
	h     *nn.Hessian
	// hv is the Hessian's product, counted in hvps (and passed through
	// wrap, when set).
	hv   curvature.Operator
	wrap func(curvature.Operator) curvature.Operator
	hvps int
	// passes counts the forward and backward passes over the examples that
	// the measures make outside the oracle (a float32 operator's set-up),
	// reported as gradients.
	passes int
	o      *countingOracle
	rows   int
	res    *spec.Result
	out    map[string]float64
	// topk is the run of λ₁ and top_k, when top_k is selected.
	topk *curvature.ExtremesResult
	// basis, non-nil when the trace's method is krylov, receives the Krylov
	// basis of λ₁'s run (of top_k's run when top_k is selected).
	basis *curvature.KrylovBasis
	// costs are the costs so far; residuals those the running measure
	// reports for its entry.
	costs     []spec.MeasureCost
	residuals []float64
}

// counted returns op counting its applications in e.hvps, passed through
// e.wrap when set.
func (e *measurer) counted(op curvature.Operator) curvature.Operator {
	if e.wrap != nil {
		op = e.wrap(op)
	}
	return func(dst, v []float64) {
		e.hvps++
		op(dst, v)
	}
}

// counts returns the products, gradients and losses so far.
func (e *measurer) counts() spec.MeasureCost {
	c := spec.MeasureCost{HVPs: e.hvps, Gradients: e.passes}
	if e.o != nil {
		c.HVPs += e.o.hvps
		c.Gradients += e.o.grads
		c.Losses = e.o.losses
	}
	return c
}

// since returns the counts since before (a value of counts).
func (e *measurer) since(before spec.MeasureCost) spec.MeasureCost {
	now := e.counts()
	return spec.MeasureCost{HVPs: now.HVPs - before.HVPs, Gradients: now.Gradients - before.Gradients, Losses: now.Losses - before.Losses}
}

// countingOracle is a flatness.NetOracle that counts its evaluations: Loss
// and Accuracy as losses, Grad as gradients, HVP as products. Its HVP
// recomputes the network's state at θ, unlike the cached Hessian.
type countingOracle struct {
	*flatness.NetOracle
	losses, grads, hvps int
}

// Loss implements flatness.Oracle.
func (o *countingOracle) Loss(theta []float64) float64 { o.losses++; return o.NetOracle.Loss(theta) }

// Grad implements flatness.Oracle.
func (o *countingOracle) Grad(dst, theta []float64) float64 {
	o.grads++
	return o.NetOracle.Grad(dst, theta)
}

// HVP implements flatness.Oracle.
func (o *countingOracle) HVP(dst, theta, v []float64) { o.hvps++; o.NetOracle.HVP(dst, theta, v) }

// Accuracy implements flatness.Classifier.
func (o *countingOracle) Accuracy(theta []float64) float64 {
	o.losses++
	return o.NetOracle.Accuracy(theta)
}

// put stores a finite value under name and drops a NaN or infinite one.
func (e *measurer) put(name string, v float64) {
	if finite(v) {
		e.out[name] = v
	}
}

// rng returns the generator of one measure's stream.
func (e *measurer) rng(stream uint64) *rand.Rand { return pcg(e.trial.Seed, stream) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// capAtP returns v, or P when v > P and v is a default (given is 0); a given
// v > P is an error at field.
func capAtP(field string, v, given, p int) (int, error) {
	switch {
	case v <= p:
		return v, nil
	case given == 0:
		return p, nil
	}
	return 0, &spec.FieldError{Field: field, Value: strconv.Itoa(v), Problem: fmt.Sprintf("must be ≤ P = %d, the number of parameters", p)}
}

// runTopK records the values of the run that runExtremes made with λ₁:
// "lambda_i" and "top_k_converged" (every top pair within tol), and with
// negative > 0 "lambda_min_i" and "lambda_min_converged".
func runTopK(_ context.Context, e *measurer, s, _ any) error {
	t, r := s.(spec.TopKSettings), e.topk
	if r == nil {
		return errors.New("the run of λ₁ and top_k was not made")
	}
	put := func(es []curvature.Eigen, prefix, conv string) {
		ok := true
		for i, eg := range es {
			e.put(prefix+strconv.Itoa(i+1), eg.Value)
			ok = ok && eg.Residual <= t.Tol*math.Abs(eg.Value)
		}
		e.put(conv, b2f(ok))
	}
	put(r.Top, "lambda_", "top_k_converged")
	if t.Negative > 0 {
		put(r.Bottom, "lambda_min_", "lambda_min_converged")
	}
	return nil
}

func runTrace(ctx context.Context, e *measurer, s, _ any) error {
	t := s.(spec.TraceSettings)
	ts := curvature.TraceSettings{Budget: t.Budget, RelErr: t.RelErr}
	var (
		r   curvature.TraceEstimate
		err error
	)
	hv := e.hv
	if t.Precision == spec.PrecisionFloat32 {
		n32, err := e.m.Net.Float32()
		if err != nil {
			return &spec.FieldError{Field: "curvature.trace.precision", Value: `"float32"`, Problem: err.Error()}
		}
		e.passes++ // the float32 operator's forward and backward pass over the examples
		hv = e.counted(n32.NewHessian(e.m.Theta, e.m.Examples.X, e.m.Examples.Y, e.rows).Apply)
	}
	switch t.Method {
	case spec.TraceHutchinson:
		r, err = curvature.Hutchinson(ctx, e.h.Dim(), hv, e.rng(streamTrace), ts)
	case spec.TraceKrylov:
		if e.basis == nil {
			return errors.New("the Krylov basis of λ₁'s Lanczos run was not kept")
		}
		ts.Sketch = min(t.KrylovRank, len(e.basis.Q)+t.Budget-2) // extend the basis, leaving two probes for the SE
		r, err = curvature.DeflatedHutchinson(ctx, e.h.Dim(), hv, e.rng(streamTrace), *e.basis, ts)
		e.basis = nil // the basis's m·P floats are not needed any more
	default:
		r, err = curvature.HutchPP(ctx, e.h.Dim(), hv, e.rng(streamTrace), ts)
	}
	if err != nil {
		return err
	}
	e.put("trace", r.Trace)
	e.put("trace_se", r.StdErr)
	if t.Method == spec.TraceKrylov {
		e.put("trace_krylov_rank", float64(r.SketchRank))
	}
	e.residuals = []float64{relative(r.StdErr, r.Trace)}
	return nil
}

func runDensity(ctx context.Context, e *measurer, s, _ any) error {
	d := s.(spec.DensitySettings)
	q, err := curvature.StochasticLanczosQuadrature(ctx, e.h.Dim(), e.hv, e.rng(streamDensity),
		curvature.SLQSettings{Runs: d.Runs, Steps: d.Steps})
	if err != nil {
		return err
	}
	e.res.Density = &spec.SpectralDensity{Params: q.Dim, Nodes: q.Nodes, Weights: q.Weights}
	return nil
}

func runEvidence(ctx context.Context, e *measurer, s, _ any) error {
	ev := s.(spec.EvidenceSettings)
	op := e.hv
	if ev.Operator == spec.OperatorGaussNewton {
		set := e.m.Examples
		op = e.counted(nn.NewGaussNewton(e.m.Net, e.m.Theta, set.X, set.Y, e.rows).Apply)
	}
	r, err := flatness.Evidence(ctx, e.o.Loss(e.m.Theta), e.m.Theta, op, e.rng(streamEvidence),
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

func runKeskar(ctx context.Context, e *measurer, s, given any) error {
	k, g := s.(spec.KeskarSettings), given.(spec.KeskarSettings)
	type space struct {
		name string
		dim  int
	}
	var spaces []space
	if k.Space != spec.SpaceSubspace {
		spaces = append(spaces, space{"full", 0})
	}
	if k.Space != spec.SpaceFull {
		sub, err := capAtP("curvature.keskar.subspace", k.Subspace, g.Subspace, len(e.m.Theta))
		if err != nil {
			return err
		}
		spaces = append(spaces, space{"sub", sub})
	}
	for _, sp := range spaces {
		// One space for every ε: the subspace's A (drawn from the trial
		// seed) and A⁺θ are computed once.
		ks, err := flatness.NewKeskarSpace(e.m.Theta, e.rng(streamKeskar), sp.dim)
		if err != nil {
			return err
		}
		for _, eps := range k.Epsilons {
			r, err := ks.Sharpness(ctx, e.o, nil, flatness.KeskarSettings{Epsilon: eps, Subspace: sp.dim, Iterations: k.Iterations})
			if err != nil {
				return err
			}
			e.put("keskar_"+sp.name+"_"+spec.EpsilonName(eps), r.Sharpness)
		}
	}
	return nil
}

func runAdaptive(ctx context.Context, e *measurer, s, _ any) error {
	a := s.(spec.AdaptiveSettings)
	fs := flatness.SharpnessSettings{Rho: a.Rho, Norm: 2, Adaptive: !a.Plain, Iterations: a.Iterations, Samples: a.Samples}
	if a.Norm == spec.NormLInf {
		fs.Norm = math.Inf(1)
	}
	name := "adaptive_sharpness"
	if a.Plain {
		name = "plain_sharpness"
	}
	w, err := flatness.AdaptiveSharpness(ctx, e.o, e.m.Theta, e.rng(streamAdaptive), fs)
	if err != nil {
		return err
	}
	avg, err := flatness.AverageSharpness(ctx, e.o, e.m.Theta, e.rng(streamAdaptiveAvg), fs)
	if err != nil {
		return err
	}
	e.put(name, w.Sharpness)
	e.put(name+"_avg", avg.Sharpness)
	e.put(name+"_avg_se", avg.StdErr)
	return nil
}

func runRelative(ctx context.Context, e *measurer, s, _ any) error {
	r := s.(spec.RelativeSettings)
	dense := architectureOf(e.m.Net).DenseLayers()
	if r.Layer > len(dense) || len(dense) == 0 {
		return &spec.FieldError{Field: "curvature.relative.layer", Value: strconv.Itoa(r.Layer), Problem: fmt.Sprintf("must be in [0, %d]", len(dense))}
	}
	layer := dense[len(dense)-1]
	if r.Layer > 0 {
		layer = dense[r.Layer-1]
	}
	v, err := flatness.RelativeFlatness(ctx, e.o, e.m.Net, e.m.Theta, layer, e.rng(streamRelative),
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

func runFisherRao(ctx context.Context, e *measurer, s, _ any) error {
	f := s.(spec.FisherRaoSettings)
	set := e.m.Examples
	r, err := flatness.FisherRao(ctx, e.m.Net, e.m.Theta, set.X, set.Y, e.rng(streamFisherRao),
		flatness.FisherRaoSettings{IncludeBiases: f.IncludeBiases, ModelLabels: f.ModelLabels})
	if err != nil {
		return err
	}
	e.put("fisher_rao", r.Norm2)
	e.o.grads++ // its M per-example gradients: one pass over the examples
	return nil
}

func runPACBayes(ctx context.Context, e *measurer, s, _ any) error {
	b := s.(spec.PACBayesSettings)
	fs := flatness.DefaultPACBayesSettings()
	fs.Target, fs.Samples, fs.Steps = b.Target, b.Samples, b.Steps
	r, err := flatness.PACBayesFlatness(ctx, e.o, e.m.Theta, e.rng(streamPACBayes), fs)
	if err != nil {
		return err
	}
	e.put("pac_bayes_sigma", r.Sigma)
	e.put("pac_bayes_flatness", r.Flatness)
	return nil
}

// AlphaScalePair applies Dinh et al.'s α-scaling T_α to the Dense–ReLU–Dense
// pair number pair of m's network, counted from 0 at the input as
// curvature.dinh.layer counts it (spec.Architecture.DinhPairs): with the
// pair's Dense layers W₁, W₂, W₁ ← α W₁, b₁ ← α b₁, W₂ ← W₂/α. It returns
// the model at T_α θ, the 1-based numbers of the pair's two Dense layers
// among the network's Dense layers, and the largest absolute and relative
// changes of the outputs over the model's examples (0 up to rounding, since
// T_α leaves the function unchanged). Errors are *spec.FieldError values
// naming field.
func AlphaScalePair(m Model, pair int, alpha float64, field string) (_ Model, dense [2]int, abs, rel float64, err error) {
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return Model{}, dense, 0, 0, invalid(field, alpha, "α must be finite and > 0")
	}
	a := architectureOf(m.Net)
	pairs := a.DinhPairs()
	switch {
	case len(pairs) == 0:
		return Model{}, dense, 0, 0, invalid(field, pair, "the network has no two Dense layers joined by one ReLU")
	case pair < 0 || pair >= len(pairs):
		return Model{}, dense, 0, 0, invalid(field, pair, fmt.Sprintf("want a Dense–ReLU–Dense pair 0…%d, counted from 0 at the input as curvature.dinh.layer counts them (the network has %d)", len(pairs)-1, len(pairs)))
	}
	l1 := pairs[pair]
	k := slices.Index(a.DenseLayers(), l1) + 1
	dense = [2]int{k, k + 1}
	scaled, err := flatness.AlphaScale(nil, m.Theta, m.Net, l1, l1+2, alpha)
	if err != nil {
		return Model{}, dense, 0, 0, err
	}
	abs, rel, err = flatness.OutputChange(m.Net, m.Theta, scaled, m.Examples.X)
	if err != nil {
		return Model{}, dense, 0, 0, err
	}
	m.Theta = scaled
	return m, dense, abs, rel, nil
}
