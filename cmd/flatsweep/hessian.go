package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/weights"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// defaultHessianMeasures are computed when neither --measures nor the spec
// selects any: PyHessian's top eigenvalues, trace and density.
var defaultHessianMeasures = []string{"top_k", "trace", "density"}

// hessianFlags are the flags of `flatsweep hessian` that are not measure
// settings (those come from the registry, see addSettingFlags).
type hessianFlags struct {
	weights, trial, measures, format, alphaScale string
	examples                                     int
	examplesFile                                 string
}

func newHessianCmd() *cobra.Command {
	f := &hessianFlags{}
	cmd := &cobra.Command{
		Use:   "hessian --weights FILE [--spec trial.json] [--measures LIST] [--format table|json]",
		Short: "Measure the curvature and flatness of one saved model",
		Long: `hessian computes λ₁ and curvature and flatness measures of one saved model,
as every trial of a sweep does after training (the role PyHessian plays for
PyTorch users).

The model, its data and the measure settings come from a trial spec: --spec
names the trial.json that "flatsweep train" writes next to weights.safetensors
(or a file holding a bare trial spec as JSON). Without --spec the spec stored
in the weights' metadata by "flatsweep train" is used. The measures are taken
over the spec's curvature examples (curvature.examples, or --examples), or
over the training examples --examples-file names by index: a result.json
(the curvature_indices every trial records, so that a saved model is
measured on exactly the examples its trial was), a JSON array or plain
integers.

--measures selects the measures (comma-separated: ` + strings.Join(spec.MeasureNames(), ", ") + `,
"all", or "none" for λ₁ alone), replacing the spec's list (when neither
selects any: top_k, trace and density, as PyHessian computes). λ₁ is top_k's
first value when top_k is selected and its own Lanczos run otherwise, as in a
trial: a trial's λ₁ is reproduced bit for bit with the trial's measures
(--measures none for a trial that took none). Their settings are the spec's curvature
section, overridden by the flags below (one per setting of each measure; a
flag of a measure that is not selected is an error). docs/MEASURES.md defines
every measure and setting.

--alpha-scale P:ALPHA applies Dinh et al.'s α-scaling T_α to the
Dense–ReLU–Dense pair P, counted from 0 at the input as curvature.dinh.layer
counts them: W₁ ← α W₁, b₁ ← α b₁, W₂ ← W₂/α. The network computes the same
function; the largest output change over the curvature examples is reported,
and the measures are taken at T_α θ.

With top_k selected, λ₁ is its first value: one Lanczos run gives λ₁, the
top K and the most negative eigenvalues. The output ends with the cost of
each piece of work (the Hessian's set-up, that run and every other measure):
Hessian-vector products, full-batch gradients and loss evaluations, seconds
and the largest relative residual ‖Hy − θy‖/|θ| of its solves ("costs" in
--format json).

Bad input (missing or mismatched files, invalid settings) exits with status 2.`,
		Args: exactArgs(0, "no arguments (give --weights)"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runHessian(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.weights, "weights", "", "safetensors file of the model (required)")
	fl.StringVar(&f.trial, "spec", "", "trial.json written by train, or a trial spec as JSON (default: the spec in the weights' metadata)")
	fl.StringVar(&f.trial, "trial", "", "the former name of --spec")
	_ = fl.MarkDeprecated("trial", "use --spec (--trial names a trial of a sweep in train)")
	fl.StringVar(&f.measures, "measures", "", `measures to compute, comma-separated, "all", or "none" for λ₁ alone (default: the spec's curvature.measures)`)
	fl.StringVar(&f.format, "format", "table", "output format: table or json")
	fl.StringVar(&f.alphaScale, "alpha-scale", "", "P:ALPHA applies Dinh's α-scaling to Dense–ReLU–Dense pair P (from 0, as curvature.dinh.layer) before measuring")
	fl.IntVar(&f.examples, "examples", 0, "number of curvature examples M (curvature.examples; 0: whole training set)")
	fl.StringVar(&f.examplesFile, "examples-file", "", "file naming the curvature examples by their indices into the training set: a result.json (its curvature_indices), a JSON array or whitespace-separated integers")
	addSettingFlags(fl)
	return cmd
}

// addSettingFlags adds one flag per setting of every measure of the
// registry, named and documented by it. The flags are read back by
// applySettingFlags, which parses them as the sweep file would.
func addSettingFlags(fl *pflag.FlagSet) {
	for _, m := range spec.Registry() {
		for _, s := range m.Fields() {
			usage := fmt.Sprintf("%s (curvature.%s.%s", s.Doc, m.Name, s.Name)
			if s.Default != "" {
				usage += "; default " + s.Default
			}
			usage += ")"
			switch s.Kind {
			case reflect.Bool:
				fl.Bool(s.Flag, false, usage)
			case reflect.Slice:
				fl.String(s.Flag, "", usage+", comma-separated")
			default:
				fl.String(s.Flag, "", usage)
			}
		}
	}
}

// applySettingFlags overrides the settings of the selected measures with the
// setting flags that were given. A value is parsed by the field's type and
// validated with the spec; a flag of a measure that is not selected, or a 0
// where 0 means "default", is a usage error.
func applySettingFlags(fl *pflag.FlagSet, c *spec.Curvature) error {
	for _, m := range spec.Registry() {
		for i, s := range m.Fields() {
			if !fl.Changed(s.Flag) {
				continue
			}
			settings, ok := c.Measures.Settings(m.Name)
			if !ok {
				return usagef("--%s: %s is not among the measures (add it to --measures)", s.Flag, m.Name)
			}
			v := reflect.New(reflect.TypeOf(settings)).Elem()
			v.Set(reflect.ValueOf(settings))
			raw := fl.Lookup(s.Flag).Value.String()
			if err := setField(v.Field(i), raw); err != nil {
				return usagef("--%s: %q: %v", s.Flag, raw, err)
			}
			if s.Default != "" && (v.Field(i).IsZero() || (s.Kind == reflect.Slice && v.Field(i).Len() == 0)) {
				if s.Kind == reflect.Int || s.Kind == reflect.Float64 {
					return usagef("--%s: %q: must be > 0 (omit the flag for the default %s)", s.Flag, raw, s.Default)
				}
				return usagef("--%s: empty (omit the flag for the default %s)", s.Flag, s.Default)
			}
			c.Measures = c.Measures.With(m, v.Interface())
		}
	}
	return nil
}

// flagged names the flag of a measure setting that an error is about, when
// that flag was given: "--tol: curvature.top_k.tol = -1: …".
func flagged(fl *pflag.FlagSet, err error) error {
	var fe *spec.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	for _, m := range spec.Registry() {
		for _, s := range m.Fields() {
			if fe.Field == "curvature."+m.Name+"."+s.Name && fl.Changed(s.Flag) {
				return fmt.Errorf("--%s: %w", s.Flag, err)
			}
		}
	}
	return err
}

// setField parses raw into a settings field.
func setField(f reflect.Value, raw string) error {
	switch f.Kind() {
	case reflect.Int:
		x, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return errors.New("want an integer")
		}
		f.SetInt(int64(x))
	case reflect.Float64:
		x, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return errors.New("want a finite number")
		}
		f.SetFloat(x)
	case reflect.String:
		f.SetString(raw)
	case reflect.Bool:
		f.SetBool(raw == "true")
	case reflect.Slice:
		var xs []float64
		for _, p := range strings.Split(raw, ",") {
			x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return fmt.Errorf("%q is not a finite number", p)
			}
			xs = append(xs, x)
		}
		f.Set(reflect.ValueOf(xs))
	}
	return nil
}

// hessianReport is the JSON output of `flatsweep hessian`.
type hessianReport struct {
	TrialID         string             `json:"trial_id,omitempty"`
	Weights         string             `json:"weights"`
	Params          int                `json:"params"`
	Examples        int                `json:"examples"`
	ExamplesFile    string             `json:"examples_file,omitempty"`
	Loss            float64            `json:"loss"`
	Accuracy        float64            `json:"accuracy"`
	AlphaScale      *alphaReport       `json:"alpha_scale,omitempty"`
	LambdaMax       float64            `json:"lambda_max"`
	LambdaResidual  float64            `json:"lambda_residual"`
	LambdaConverged bool               `json:"lambda_converged"`
	HVPs            int                `json:"hvps"`
	Measures        map[string]float64 `json:"measures,omitempty"`
	Density         *densityReport     `json:"density,omitempty"`
	// Costs are the work of each piece of the measurement (spec.MeasureCost)
	// and Seconds the wall-clock seconds of all of it.
	Costs   []spec.MeasureCost `json:"costs,omitempty"`
	Seconds float64            `json:"seconds"`
}

// alphaReport describes the α-scaling applied before measuring.
type alphaReport struct {
	// Layer is the pair, counted from 0 as curvature.dinh.layer.
	Layer int `json:"layer"`
	// Dense are the pair's Dense layers, counted from 1 at the input.
	Dense        [2]int  `json:"dense_layers"`
	Alpha        float64 `json:"alpha"`
	MaxAbsChange float64 `json:"max_abs_change"`
	MaxRelChange float64 `json:"max_rel_change"`
}

// densityReport is the SLQ quadrature with a histogram of the estimated
// eigenvalue counts P·mean_r Σ τ² over equal bins of the node range.
type densityReport struct {
	spec.SpectralDensity
	Histogram []spec.Bin `json:"histogram"`
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
	t, id, err := hessianSpec(f.weights, f.trial, wb)
	if err != nil {
		return err
	}
	if err := selectMeasures(cmd.Flags(), f, &t.Curvature); err != nil {
		return err
	}
	if err := t.Validate(); err != nil {
		return usageError{flagged(cmd.Flags(), err)}
	}
	if f.examplesFile != "" && cmd.Flags().Changed("examples") {
		return usagef("--examples-file: give the examples by count (--examples) or by index (--examples-file), not both")
	}
	model, trainSet, _, err := compute.LoadModelSets(t, bytes.NewReader(wb))
	if errors.Is(err, spec.ErrInvalid) || errors.Is(err, weights.ErrMismatch) || errors.Is(err, weights.ErrUnsupported) {
		return usageError{fmt.Errorf("%s: %w", f.weights, flagged(cmd.Flags(), err))}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", f.weights, err)
	}
	if f.examplesFile != "" {
		idx, err := readIndices(f.examplesFile, trainSet.Len())
		if err != nil {
			return usageError{fmt.Errorf("--examples-file %s: %w", f.examplesFile, err)}
		}
		model.Examples = trainSet.Subset(idx)
	}
	rep := hessianReport{TrialID: id, Weights: f.weights, Params: model.Net.NumParams(), Examples: model.Examples.Len(), ExamplesFile: f.examplesFile}
	if f.alphaScale != "" {
		if rep.AlphaScale, err = alphaScale(f.alphaScale, &model); err != nil {
			return err
		}
	}
	x, y := model.Examples.X, model.Examples.Y
	rep.Loss, rep.Accuracy = model.Net.NewWorkspace(min(len(y), compute.ChunkRows)).Loss(model.Theta, x, y)
	clock := time.Now()
	res, err := compute.Measure(cmd.Context(), t, model)
	rep.Seconds = time.Since(clock).Seconds()
	if errors.Is(err, spec.ErrInvalid) {
		return usageError{err}
	}
	if err != nil {
		return err
	}
	rep.LambdaMax, rep.LambdaResidual, rep.LambdaConverged, rep.HVPs = res.LambdaMax, res.LambdaResidual, res.LambdaConverged, res.HVPs
	rep.Measures, rep.Costs = res.Measures, res.Costs
	if res.Density != nil {
		rep.Density = &densityReport{SpectralDensity: *res.Density, Histogram: res.Density.Histogram(12)}
	}
	if f.format == "json" {
		enc := json.NewEncoder(cmd.OutOrStdout())
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	return printHessian(cmd.OutOrStdout(), rep)
}

// selectMeasures applies --measures, --examples and the setting flags to c.
func selectMeasures(fl *pflag.FlagSet, f *hessianFlags, c *spec.Curvature) error {
	none := fl.Changed("measures") && strings.TrimSpace(f.measures) == "none"
	if fl.Changed("measures") && !none {
		names := spec.MeasureNames()
		if strings.TrimSpace(f.measures) != "all" {
			names = strings.Split(f.measures, ",")
		}
		var ms spec.Measures
		for _, n := range names {
			n = strings.TrimSpace(n)
			m, err := spec.LookupMeasure(n)
			if err != nil {
				return usagef("--measures: %v", err)
			}
			if ms.Has(n) {
				return usagef("--measures: %q given twice", n)
			}
			settings, ok := c.Measures.Settings(n) // keep the spec's settings of a measure still selected
			if !ok {
				settings = m.Settings
			}
			ms = ms.With(m, settings)
		}
		c.Measures = ms
	}
	switch {
	case none:
		c.Measures = spec.Measures{}
	case c.Measures.Len() == 0:
		ms, _ := spec.SelectMeasures(defaultHessianMeasures...)
		c.Measures = ms
	}
	if fl.Changed("examples") {
		if f.examples < 0 {
			return usagef("--examples: %d, want ≥ 0 (0: the whole training set)", f.examples)
		}
		c.Examples = f.examples
	}
	return applySettingFlags(fl, c)
}

// specFromMetadata returns the trial spec that "flatsweep train" stores in
// the metadata of the safetensors file b (read from path, given by flag),
// and whether there is one; a file or spec that cannot be read is a usage
// error naming the flag.
func specFromMetadata(flag, path string, b []byte) (spec.Trial, bool, error) {
	_, meta, err := weights.Read(bytes.NewReader(b))
	if err != nil {
		return spec.Trial{}, false, usageError{fmt.Errorf("%s %s: %w", flag, path, err)}
	}
	js, ok := meta["flatsweep.spec"]
	if !ok {
		return spec.Trial{}, false, nil
	}
	t, err := spec.DecodeTrial([]byte(js))
	if err != nil {
		return spec.Trial{}, false, usageError{fmt.Errorf("%s %s: metadata: %w", flag, path, err)}
	}
	return t, true, nil
}

// hessianSpec returns the trial spec (and ID, if known) from --trial or the
// weights' metadata.
func hessianSpec(weightsPath, specPath string, wb []byte) (spec.Trial, string, error) {
	if specPath == "" {
		t, ok, err := specFromMetadata("--weights", weightsPath, wb)
		switch {
		case err != nil:
			return spec.Trial{}, "", err
		case !ok:
			return spec.Trial{}, "", usagef("--weights %s: no trial spec in the metadata; give --spec (the trial.json written by train)", weightsPath)
		}
		return t, spec.ID(t), nil
	}
	b, err := os.ReadFile(specPath)
	if err != nil {
		return spec.Trial{}, "", usageError{fmt.Errorf("--spec: %w", err)}
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil {
		return spec.Trial{}, "", usageError{fmt.Errorf("--spec %s: %w", specPath, err)}
	}
	if raw, ok := probe["spec"]; ok { // a sweeps.Trial, as train writes it
		t, err := spec.DecodeTrial(raw)
		if err != nil {
			return spec.Trial{}, "", usageError{fmt.Errorf("--spec %s: spec: %w", specPath, err)}
		}
		var tr sweeps.Trial
		_ = json.Unmarshal(b, &tr) // only the ID is wanted; the spec decoded strictly above
		if id := spec.ID(t); tr.ID != id {
			slog.Warn("trial.json names another ID than its spec has (written by an older flatsweep?); reporting the spec's", "file", specPath, "written", tr.ID, "id", id)
		}
		return t, spec.ID(t), nil
	}
	t, err := spec.DecodeTrial(b)
	if err != nil {
		return spec.Trial{}, "", usageError{fmt.Errorf("--spec %s: %w", specPath, err)}
	}
	return t, spec.ID(t), nil
}

// alphaScale parses P:ALPHA and applies T_α to the model's θ (see
// compute.AlphaScalePair).
func alphaScale(arg string, m *compute.Model) (*alphaReport, error) {
	ps, as, ok := strings.Cut(arg, ":")
	pair, err1 := strconv.Atoi(ps)
	alpha, err2 := strconv.ParseFloat(as, 64)
	if !ok || err1 != nil || err2 != nil {
		return nil, usagef("--alpha-scale: want P:ALPHA (Dense–ReLU–Dense pair P ≥ 0, counted from 0 as curvature.dinh.layer, and a finite α > 0), got %q", arg)
	}
	scaled, dense, abs, rel, err := compute.AlphaScalePair(*m, pair, alpha, "--alpha-scale")
	if err != nil {
		return nil, usageError{err}
	}
	*m = scaled
	return &alphaReport{Layer: pair, Dense: dense, Alpha: alpha, MaxAbsChange: abs, MaxRelChange: rel}, nil
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
		fmt.Fprintf(tw, "alpha-scale\tpair %d (Dense layers %d and %d of the network) by α = %g: max |Δf| = %.3g (relative %.3g)\n",
			a.Layer, a.Dense[0], a.Dense[1], a.Alpha, a.MaxAbsChange, a.MaxRelChange)
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
	if err := tw.Flush(); err != nil {
		return err
	}
	return printCosts(w, r.Costs, r.Seconds)
}

// printCosts writes the cost of each piece of a measurement: its products,
// gradients and loss evaluations, seconds and largest relative residual,
// then the total seconds.
func printCosts(w io.Writer, costs []spec.MeasureCost, seconds float64) error {
	if len(costs) == 0 {
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "cost\tHVPs\tgradients\tlosses\tseconds\tmax residual\t\n")
	for _, c := range costs {
		res := "–"
		if len(c.Residuals) > 0 {
			res = fmt.Sprintf("%.2g", slices.Max(c.Residuals))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.3f\t%s\t\n", c.Measure, c.HVPs, c.Gradients, c.Losses, c.Seconds, res)
	}
	fmt.Fprintf(tw, "total\t\t\t\t%.3f\t\t\n", seconds)
	return tw.Flush()
}

// readIndices reads the indices of curvature examples from path — a
// result.json (its "curvature_indices", or the whole set when it has none
// and names its "curvature_examples"), a JSON array, or integers separated by
// white space or commas — and checks them against a training set of n
// examples: each in 0…n−1, none twice. They are returned in increasing
// order, the order the curvature examples take.
func readIndices(path string, n int) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var idx []int
	text := strings.TrimSpace(string(b))
	switch {
	case strings.HasPrefix(text, "{"):
		var res spec.Result
		if err := json.Unmarshal(b, &res); err != nil {
			return nil, fmt.Errorf("not a result: %w", err)
		}
		idx = res.CurvatureIndices
		if idx == nil && res.CurvatureExamples > 0 { // the whole training set
			idx = make([]int, res.CurvatureExamples)
			for i := range idx {
				idx[i] = i
			}
		}
	case strings.HasPrefix(text, "["):
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, fmt.Errorf("not a JSON array of indices: %w", err)
		}
	default:
		for _, f := range strings.FieldsFunc(text, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			i, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an index", f)
			}
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil, errors.New("no indices (want a result.json with curvature_indices, a JSON array or integers)")
	}
	slices.Sort(idx)
	for j, i := range idx {
		switch {
		case i < 0 || i >= n:
			return nil, fmt.Errorf("index %d outside the training set (0…%d)", i, n-1)
		case j > 0 && idx[j-1] == i:
			return nil, fmt.Errorf("index %d given twice", i)
		}
	}
	return idx, nil
}
