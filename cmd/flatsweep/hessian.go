package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/flatness"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/weights"
	"github.com/flatsweep/flatsweep/sweeps"
)

// defaultHessianMeasures are computed when neither --measures nor the spec
// selects any: PyHessian's top eigenvalues, trace and density.
const defaultHessianMeasures = compute.MeasureTopK | compute.MeasureTrace | compute.MeasureDensity

// hessianFlags are the flags of `flatsweep hessian`.
type hessianFlags struct {
	weights, trial, measures, format, alphaScale string
	trace, operator, epsilons                    string
	examples, k, negative, budget, runs, steps   int
	layer                                        int
	tol, lambda, rho                             float64
}

func newHessianCmd() *cobra.Command {
	f := &hessianFlags{}
	cmd := &cobra.Command{
		Use:   "hessian --weights FILE [--trial trial.json] [--measures LIST] [--format table|json]",
		Short: "Measure the curvature and flatness of one saved model",
		Long: `hessian computes λ₁ and curvature and flatness measures of one saved model,
as every trial of a sweep does after training (the role PyHessian plays for
PyTorch users).

The model, its data and the measure settings come from a trial spec: --trial
names the trial.json that "flatsweep train" writes next to weights.safetensors
(or a file holding a bare trial spec as JSON). Without --trial the spec stored
in the weights' metadata by "flatsweep train" is used. The measures are taken
over the spec's curvature examples (curvature.examples, or --examples).

--measures selects the measures (comma-separated: top_k, trace, density,
evidence, keskar, adaptive, relative, fisher_rao, pac_bayes, or "all"),
replacing the spec's list (when neither selects any: top_k, trace and
density, as PyHessian computes); their settings are the spec's curvature section
with the defaults of compute.CurvatureSpec, overridden by the flags below.

--alpha-scale K:ALPHA applies Dinh et al.'s α-scaling T_α to Dense layers K
and K+1 (counted from 1 at the input; they must be joined by one ReLU):
W_K ← α W_K, b_K ← α b_K, W_{K+1} ← W_{K+1}/α. The network computes the same
function; the largest output change over the curvature examples is reported,
and the measures are taken at T_α θ.

Bad input (missing or mismatched files, invalid settings) exits with status 2.`,
		Args: exactArgs(0, "no arguments (give --weights)"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runHessian(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.weights, "weights", "", "safetensors file of the model (required)")
	fl.StringVar(&f.trial, "trial", "", "trial.json written by train, or a trial spec as JSON (default: the spec in the weights' metadata)")
	fl.StringVar(&f.measures, "measures", "", `measures to compute, comma-separated, or "all" (default: the spec's curvature.measures)`)
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	fl.StringVar(&f.alphaScale, "alpha-scale", "", "K:ALPHA applies Dinh's α-scaling to Dense layers K and K+1 before measuring")
	fl.IntVar(&f.examples, "examples", 0, "number of curvature examples M (curvature.examples; 0: whole training set)")
	fl.IntVar(&f.k, "k", 0, "number of top eigenvalues (curvature.top_k.k)")
	fl.IntVar(&f.negative, "negative", 0, "number of most negative eigenvalues (curvature.top_k.negative)")
	fl.Float64Var(&f.tol, "tol", 0, "relative residual tolerance of the top-k eigenvalues (curvature.top_k.tol)")
	fl.StringVar(&f.trace, "trace-method", "", "trace estimator: hutchpp or hutchinson (curvature.trace.method)")
	fl.IntVar(&f.budget, "trace-budget", 0, "Hessian-vector products of the trace estimate (curvature.trace.budget)")
	fl.IntVar(&f.runs, "density-runs", 0, "SLQ runs of the spectral density (curvature.density.runs)")
	fl.IntVar(&f.steps, "density-steps", 0, "Lanczos steps per SLQ run (curvature.density.steps)")
	fl.Float64Var(&f.lambda, "lambda", 0, "prior precision λ of the evidence (curvature.evidence.lambda)")
	fl.StringVar(&f.operator, "operator", "", "curvature of the evidence: gauss_newton or hessian (curvature.evidence.operator)")
	fl.StringVar(&f.epsilons, "epsilons", "", "Keskar box sizes, comma-separated (curvature.keskar.epsilons)")
	fl.Float64Var(&f.rho, "rho", 0, "adaptive sharpness radius ρ (curvature.adaptive.rho)")
	fl.IntVar(&f.layer, "relative-layer", 0, "Dense layer of the relative flatness, from 1 at the input; 0: the last (curvature.relative.layer)")
	return cmd
}

// hessianReport is the JSON output of `flatsweep hessian`.
type hessianReport struct {
	TrialID         string             `json:"trial_id,omitempty"`
	Weights         string             `json:"weights"`
	Params          int                `json:"params"`
	Examples        int                `json:"examples"`
	Loss            float64            `json:"loss"`
	Accuracy        float64            `json:"accuracy"`
	AlphaScale      *alphaReport       `json:"alpha_scale,omitempty"`
	LambdaMax       float64            `json:"lambda_max"`
	LambdaResidual  float64            `json:"lambda_residual"`
	LambdaConverged bool               `json:"lambda_converged"`
	HVPs            int                `json:"hvps"`
	Measures        map[string]float64 `json:"measures,omitempty"`
	Density         *densityReport     `json:"density,omitempty"`
}

// alphaReport describes the α-scaling applied before measuring.
type alphaReport struct {
	Layer        int     `json:"layer"`
	Alpha        float64 `json:"alpha"`
	MaxAbsChange float64 `json:"max_abs_change"`
	MaxRelChange float64 `json:"max_rel_change"`
}

// densityReport is the SLQ quadrature with a histogram of the estimated
// eigenvalue counts P·mean_r Σ τ² over equal bins of the node range.
type densityReport struct {
	compute.SpectralDensity
	Histogram []densityBin `json:"histogram"`
}

// densityBin is one histogram bin [Lo, Hi) with its estimated eigenvalue count.
type densityBin struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Count float64 `json:"count"`
}

func runHessian(cmd *cobra.Command, f *hessianFlags) error {
	if f.format != "table" && f.format != "json" {
		return usagef("--format: want table or json, got %q", f.format)
	}
	if f.weights == "" {
		return usagef("--weights: the model's safetensors file is required")
	}
	wb, err := os.ReadFile(f.weights)
	if err != nil {
		return usageError{fmt.Errorf("--weights: %w", err)}
	}
	spec, id, err := hessianSpec(f, wb)
	if err != nil {
		return err
	}
	if err := applyHessianFlags(cmd, f, &spec.Curvature); err != nil {
		return err
	}
	model, err := compute.LoadModel(spec, bytes.NewReader(wb))
	if errors.Is(err, compute.ErrInvalidSpec) || errors.Is(err, weights.ErrMismatch) || errors.Is(err, weights.ErrUnsupported) {
		return usageError{fmt.Errorf("%s: %w", f.weights, err)}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.weights, err)
	}
	rep := hessianReport{TrialID: id, Weights: f.weights, Params: model.Net.NumParams(), Examples: model.Examples.Len()}
	if f.alphaScale != "" {
		if rep.AlphaScale, err = alphaScale(f.alphaScale, &model); err != nil {
			return err
		}
	}
	x, y := model.Examples.X, model.Examples.Y
	rep.Loss, rep.Accuracy = model.Net.NewWorkspace(min(len(y), compute.ChunkRows)).Loss(model.Theta, x, y)
	res, err := compute.Measure(cmd.Context(), spec, model)
	if errors.Is(err, compute.ErrInvalidSpec) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	rep.LambdaMax, rep.LambdaResidual, rep.LambdaConverged, rep.HVPs = res.LambdaMax, res.LambdaResidual, res.LambdaConverged, res.HVPs
	rep.Measures = res.Measures
	if res.Density != nil {
		rep.Density = &densityReport{SpectralDensity: *res.Density, Histogram: histogram(res.Density, 12)}
	}
	if f.format == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printHessian(cmd.OutOrStdout(), rep)
}

// hessianSpec returns the trial spec (and ID, if known) from --trial or the
// weights' metadata.
func hessianSpec(f *hessianFlags, wb []byte) (compute.TrialSpec, string, error) {
	if f.trial == "" {
		_, meta, err := weights.Read(bytes.NewReader(wb))
		if err != nil {
			return compute.TrialSpec{}, "", usageError{fmt.Errorf("--weights %s: %w", f.weights, err)}
		}
		js, ok := meta["flatsweep.spec"]
		if !ok {
			return compute.TrialSpec{}, "", usagef("--weights %s: no trial spec in the metadata; give --trial (the trial.json written by train)", f.weights)
		}
		spec, err := decodeSpec([]byte(js))
		if err != nil {
			return compute.TrialSpec{}, "", usageError{fmt.Errorf("--weights %s: metadata: %w", f.weights, err)}
		}
		return spec, meta["flatsweep.trial_id"], nil
	}
	b, err := os.ReadFile(f.trial)
	if err != nil {
		return compute.TrialSpec{}, "", usageError{fmt.Errorf("--trial: %w", err)}
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return compute.TrialSpec{}, "", usageError{fmt.Errorf("--trial %s: %w", f.trial, err)}
	}
	if raw, ok := probe["spec"]; ok { // a sweeps.Trial
		spec, err := decodeSpec(raw)
		if err != nil {
			return compute.TrialSpec{}, "", usageError{fmt.Errorf("--trial %s: spec: %w", f.trial, err)}
		}
		var tr sweeps.Trial
		_ = json.Unmarshal(b, &tr) // only the ID is wanted; the spec decoded strictly above
		return spec, tr.ID, nil
	}
	spec, err := decodeSpec(b)
	if err != nil {
		return compute.TrialSpec{}, "", usageError{fmt.Errorf("--trial %s: %w", f.trial, err)}
	}
	return spec, sweeps.TrialID(spec), nil
}

// decodeSpec decodes a trial spec strictly (unknown fields are errors).
func decodeSpec(b []byte) (compute.TrialSpec, error) {
	var s compute.TrialSpec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return compute.TrialSpec{}, err
	}
	return s, nil
}

// applyHessianFlags overrides the curvature settings with the flags that
// were given. A flag given as 0 where 0 means "default" is a usage error.
func applyHessianFlags(cmd *cobra.Command, f *hessianFlags, c *compute.CurvatureSpec) error {
	fl := cmd.Flags()
	if fl.Changed("measures") {
		set, err := parseMeasures(f.measures)
		if err != nil {
			return err
		}
		keep := *c
		*c = compute.CurvatureSpec{Examples: keep.Examples, LanczosSteps: keep.LanczosSteps, Tol: keep.Tol, Measures: set}
		// Keep the spec's settings of the measures still selected.
		if set.Has(compute.MeasureTopK) {
			c.TopK = keep.TopK
		}
		if set.Has(compute.MeasureTrace) {
			c.Trace = keep.Trace
		}
		if set.Has(compute.MeasureDensity) {
			c.Density = keep.Density
		}
		if set.Has(compute.MeasureEvidence) {
			c.Evidence = keep.Evidence
		}
		if set.Has(compute.MeasureKeskar) {
			c.Keskar = keep.Keskar
		}
		if set.Has(compute.MeasureAdaptive) {
			c.Adaptive = keep.Adaptive
		}
		if set.Has(compute.MeasureRelative) {
			c.Relative = keep.Relative
		}
		if set.Has(compute.MeasureFisherRao) {
			c.FisherRao = keep.FisherRao
		}
		if set.Has(compute.MeasurePACBayes) {
			c.PACBayes = keep.PACBayes
		}
	}
	if c.Measures == 0 {
		c.Measures = defaultHessianMeasures
	}
	if fl.Changed("examples") {
		if f.examples < 0 {
			return usagef("--examples: %d, want ≥ 0 (0: the whole training set)", f.examples)
		}
		c.Examples = f.examples
	}
	ints := []struct {
		name string
		v    int
		dst  *int
	}{
		{"k", f.k, &c.TopK.K}, {"trace-budget", f.budget, &c.Trace.Budget},
		{"density-runs", f.runs, &c.Density.Runs}, {"density-steps", f.steps, &c.Density.Steps},
	}
	for _, it := range ints {
		if fl.Changed(it.name) {
			if it.v <= 0 {
				return usagef("--%s: %d, want > 0", it.name, it.v)
			}
			*it.dst = it.v
		}
	}
	if fl.Changed("negative") {
		c.TopK.Negative = f.negative // negative values are rejected by validation
	}
	if fl.Changed("relative-layer") {
		c.Relative.Layer = f.layer
	}
	floats := []struct {
		name string
		v    float64
		dst  *float64
	}{{"tol", f.tol, &c.TopK.Tol}, {"lambda", f.lambda, &c.Evidence.Lambda}, {"rho", f.rho, &c.Adaptive.Rho}}
	for _, it := range floats {
		if fl.Changed(it.name) {
			if !(it.v > 0) || math.IsInf(it.v, 0) {
				return usagef("--%s: %v, want finite and > 0", it.name, it.v)
			}
			*it.dst = it.v
		}
	}
	strs := []struct {
		name, v string
		dst     *string
	}{{"trace-method", f.trace, &c.Trace.Method}, {"operator", f.operator, &c.Evidence.Operator}}
	for _, it := range strs {
		if fl.Changed(it.name) {
			if it.v == "" {
				return usagef("--%s: empty", it.name)
			}
			*it.dst = it.v
		}
	}
	if fl.Changed("epsilons") {
		var eps compute.Epsilons
		parts := strings.Split(f.epsilons, ",")
		if len(parts) > compute.MaxEpsilons {
			return usagef("--epsilons: %d values, at most %d", len(parts), compute.MaxEpsilons)
		}
		for i, p := range parts {
			v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || !(v > 0) || math.IsInf(v, 0) {
				return usagef("--epsilons: %q is not a finite positive number", p)
			}
			eps[i] = v
		}
		c.Keskar.Epsilons = eps
	}
	return nil
}

// parseMeasures parses a comma-separated list of measure names or "all".
func parseMeasures(s string) (compute.MeasureSet, error) {
	if strings.TrimSpace(s) == "all" {
		return compute.AllMeasures, nil
	}
	var set compute.MeasureSet
	for _, name := range strings.Split(s, ",") {
		m, err := compute.ParseMeasure(strings.TrimSpace(name))
		if err != nil {
			return 0, usagef("--measures: %w", err)
		}
		set |= m
	}
	return set, nil
}

// alphaScale parses K:ALPHA, applies T_α to the model's θ and reports the
// largest change of the outputs over the curvature examples.
func alphaScale(arg string, m *compute.Model) (*alphaReport, error) {
	ks, as, ok := strings.Cut(arg, ":")
	k, err1 := strconv.Atoi(ks)
	alpha, err2 := strconv.ParseFloat(as, 64)
	if !ok || err1 != nil || err2 != nil {
		return nil, usagef("--alpha-scale: want K:ALPHA (Dense layer K ≥ 1 and a finite α > 0), got %q", arg)
	}
	if !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, usagef("--alpha-scale: α = %v, want finite and > 0", alpha)
	}
	var dense []int
	for l, ly := range m.Net.Layers() {
		if _, ok := ly.(*nn.Dense); ok {
			dense = append(dense, l)
		}
	}
	if k < 1 || k >= len(dense) {
		return nil, usagef("--alpha-scale: layer %d: want a Dense layer 1…%d followed by another Dense layer (the network has %d)", k, len(dense)-1, len(dense))
	}
	l1, l2 := dense[k-1], dense[k]
	scaled, err := flatness.AlphaScale(nil, m.Theta, m.Net, l1, l2, alpha)
	if err != nil {
		return nil, usageError{fmt.Errorf("--alpha-scale %s: Dense layers %d and %d are not consecutive layers joined by a ReLU: %w", arg, k, k+1, err)}
	}
	abs, rel, err := flatness.OutputChange(m.Net, m.Theta, scaled, m.Examples.X)
	if err != nil {
		return nil, usageError{fmt.Errorf("--alpha-scale %s: %w", arg, err)}
	}
	m.Theta = scaled
	return &alphaReport{Layer: k, Alpha: alpha, MaxAbsChange: abs, MaxRelChange: rel}, nil
}

// histogram bins the SLQ nodes into n equal bins of their range, weighting
// each by P·τ²/runs: each bin's count estimates the number of eigenvalues in
// it.
func histogram(d *compute.SpectralDensity, n int) []densityBin {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, nodes := range d.Nodes {
		for _, t := range nodes {
			lo, hi = min(lo, t), max(hi, t)
		}
	}
	if !(hi >= lo) {
		return nil
	}
	if hi == lo {
		n = 1
	}
	bins := make([]densityBin, n)
	w := (hi - lo) / float64(n)
	for i := range bins {
		bins[i].Lo, bins[i].Hi = lo+float64(i)*w, lo+float64(i+1)*w
	}
	bins[n-1].Hi = hi
	scale := float64(d.Params) / float64(len(d.Nodes))
	for r, nodes := range d.Nodes {
		for j, t := range nodes {
			i := n - 1
			if w > 0 {
				i = min(int((t-lo)/w), n-1)
			}
			bins[i].Count += scale * d.Weights[r][j]
		}
	}
	return bins
}

// printHessian writes the report as a table.
func printHessian(w io.Writer, r hessianReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "weights\t%s\n", r.Weights)
	if r.TrialID != "" {
		fmt.Fprintf(tw, "trial\t%s\n", r.TrialID)
	}
	fmt.Fprintf(tw, "parameters\t%d\n", r.Params)
	fmt.Fprintf(tw, "curvature examples\t%d\n", r.Examples)
	fmt.Fprintf(tw, "loss\t%.6g\n", r.Loss)
	fmt.Fprintf(tw, "accuracy\t%.4f\n", r.Accuracy)
	if a := r.AlphaScale; a != nil {
		fmt.Fprintf(tw, "alpha-scale\tDense layers %d, %d by α = %g: max |Δf| = %.3g (relative %.3g)\n",
			a.Layer, a.Layer+1, a.Alpha, a.MaxAbsChange, a.MaxRelChange)
	}
	conv := "not converged"
	if r.LambdaConverged {
		conv = "converged"
	}
	fmt.Fprintf(tw, "lambda_max\t%.6g\t(%s, residual %.3g, %d products)\n", r.LambdaMax, conv, r.LambdaResidual, r.HVPs)
	names := make([]string, 0, len(r.Measures))
	for name := range r.Measures {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(tw, "%s\t%.6g\n", name, r.Measures[name])
	}
	if d := r.Density; d != nil {
		fmt.Fprintf(tw, "density\t%d runs × %d nodes; eigenvalue counts per bin:\n", len(d.Nodes), len(d.Nodes[0]))
		for _, b := range d.Histogram {
			fmt.Fprintf(tw, "  [%.4g, %.4g)\t%.4g\n", b.Lo, b.Hi, b.Count)
		}
	}
	return tw.Flush()
}
