package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/flatsweep/flatsweep/spec"
)

// measuredTrial is oneTrial with measures computed in the trial.
const measuredTrial = `
name: measured
dataset: {name: synthetic, n: 256, n_test: 128, seed: 2}
model: {arch: mlp, hidden: [12]}
train:
  epochs: 3
  optimizer: {momentum: 0.9}
curvature:
  examples: 128
  lanczos_steps: 5
  measures: [top_k, trace, density, evidence, keskar, adaptive, relative, fisher_rao, pac_bayes]
  top_k: {k: 3, negative: 1, tol: 1e-8}
  trace: {budget: 30}
  density: {runs: 2, steps: 10}
  evidence: {runs: 2, steps: 10}
  keskar: {subspace: 20, iterations: 3}
  adaptive: {iterations: 3, samples: 4}
  pac_bayes: {samples: 2, steps: 5}
grid: {batch_size: [32], lr: [0.05], seed: [1]}
`

// runHessian runs `flatsweep hessian args...` in process.
func runHessianCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"hessian"}, args...))
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// trainOut trains the sweep text with `flatsweep train` and returns --out.
func trainOut(t *testing.T, text string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out")
	if _, err := runTrain(t, writeTrainSweep(t, text), "--out", out); err != nil {
		t.Fatal(err)
	}
	return out
}

func hessianJSON(t *testing.T, args ...string) hessianReport {
	t.Helper()
	stdout, err := runHessianCmd(t, append(args, "--format", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var rep hessianReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	return rep
}

// TestHessianCommand measures weights written by `flatsweep train`: the
// measures equal those the trial computed (same spec, seed and θ), as JSON and
// as a table, from trial.json or from the weights' metadata.
func TestHessianCommand(t *testing.T) {
	out := trainOut(t, measuredTrial)
	var res spec.Result
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil || json.Unmarshal(b, &res) != nil {
		t.Fatalf("result.json: %v", err)
	}
	weightsPath := filepath.Join(out, "weights.safetensors")
	rep := hessianJSON(t, "--spec", filepath.Join(out, "trial.json"), "--weights", weightsPath)
	if len(rep.Measures) != len(res.Measures) || len(res.Measures) < 20 {
		t.Errorf("hessian measures %v\ntrial measures %v", rep.Measures, res.Measures)
	}
	for name, v := range res.Measures {
		if rep.Measures[name] != v {
			t.Errorf("%s: hessian %v, trial %v", name, rep.Measures[name], v)
		}
	}
	if rep.LambdaMax != res.LambdaMax || rep.Params != 16*12+12+12*4+4 || rep.Examples != 128 || !strings.HasPrefix(rep.TrialID, "t-") {
		t.Errorf("report %+v", rep)
	}
	if rep.Density == nil || len(rep.Density.Histogram) != 12 {
		t.Fatalf("density %+v", rep.Density)
	}
	// One λ₁, top_k's first value, whose run's products are the λ₁ products;
	// a cost entry per piece of work, as the trial recorded them.
	if rep.LambdaMax != rep.Measures["lambda_1"] || len(rep.Costs) != 10 || rep.Costs[1].Measure != "top_k" ||
		rep.Costs[1].HVPs != rep.HVPs || !(rep.Seconds > 0) || len(res.Costs) != len(rep.Costs) {
		t.Errorf("λ₁ %v, lambda_1 %v, %d products; costs %+v (trial: %d entries)", rep.LambdaMax, rep.Measures["lambda_1"], rep.HVPs, rep.Costs, len(res.Costs))
	}
	for i, c := range rep.Costs {
		if r := res.Costs[i]; c.Measure != r.Measure || c.HVPs != r.HVPs || c.Gradients != r.Gradients || c.Losses != r.Losses {
			t.Errorf("cost %d: hessian %+v, trial %+v", i, c, r)
		}
	}
	if !(res.TrainSeconds > 0) || !(res.CurvatureSeconds > 0) {
		t.Errorf("trial seconds: training %v, curvature %v", res.TrainSeconds, res.CurvatureSeconds)
	}
	var count float64
	for _, bin := range rep.Density.Histogram {
		count += bin.Count
	}
	if math.Abs(count-float64(rep.Params)) > 1e-9*float64(rep.Params) {
		t.Errorf("histogram counts sum to %v, want P = %d", count, rep.Params)
	}
	// The spec in the weights' metadata gives the same result.
	meta := hessianJSON(t, "--weights", weightsPath)
	if meta.Measures["trace"] != res.Measures["trace"] || meta.TrialID != rep.TrialID {
		t.Errorf("from metadata: %+v", meta)
	}
	// --measures and setting flags override the spec.
	sub := hessianJSON(t, "--weights", weightsPath, "--measures", "top_k,trace", "--k", "2", "--trace-method", "hutchinson", "--trace-budget", "7")
	// lambda_1, lambda_2, top_k_converged, lambda_min_1 (negative: 1 from the spec), lambda_min_converged, trace, trace_se
	if len(sub.Measures) != 7 || sub.Density != nil || sub.Measures["trace"] == res.Measures["trace"] {
		t.Errorf("--measures top_k,trace: %v", sub.Measures)
	}
	table, err := runHessianCmd(t, "--spec", filepath.Join(out, "trial.json"), "--weights", weightsPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"lambda_max", "lambda_1 ", "trace ", "keskar_full_1e-3", "fisher_rao", "density", "eigenvalue counts",
		"max residual", "hessian", "top_k", "total"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	t.Logf("table:\n%s", table)
}

// TestHessianAlphaScale checks Dinh et al.'s property through the command:
// T_α leaves the outputs unchanged, changes λ₁ and the trace, and leaves the
// reparametrization-aware measures unchanged.
func TestHessianAlphaScale(t *testing.T) {
	out := trainOut(t, oneTrial)
	args := []string{"--weights", filepath.Join(out, "weights.safetensors"), "--spec", filepath.Join(out, "trial.json"),
		"--measures", "top_k,trace,adaptive,relative,fisher_rao", "--k", "1", "--tol", "1e-8", "--trace-budget", "60"}
	base := hessianJSON(t, args...)
	scaled := hessianJSON(t, append(args, "--alpha-scale", "0:10")...) // pair 0, as curvature.dinh.layer 0
	a := scaled.AlphaScale
	if a == nil || a.Layer != 0 || a.Dense != [2]int{1, 2} || a.Alpha != 10 || a.MaxRelChange > 1e-12 {
		t.Fatalf("alpha scale %+v", a)
	}
	t.Logf("T_α, α = 10: max |Δf| = %.3g (relative %.3g)", a.MaxAbsChange, a.MaxRelChange)
	rel := func(x, y float64) float64 { return math.Abs(x-y) / math.Max(math.Abs(x), math.Abs(y)) }
	for _, name := range []string{"lambda_1", "trace"} {
		r := rel(base.Measures[name], scaled.Measures[name])
		t.Logf("%s: %.6g → %.6g (changed by %.3g relative)", name, base.Measures[name], scaled.Measures[name], r)
		if r < 0.1 {
			t.Errorf("%s barely changed: %v → %v", name, base.Measures[name], scaled.Measures[name])
		}
	}
	if rel(base.LambdaMax, scaled.LambdaMax) < 0.1 {
		t.Errorf("λ₁ barely changed: %v → %v", base.LambdaMax, scaled.LambdaMax)
	}
	for _, name := range []string{"adaptive_sharpness", "adaptive_sharpness_avg", "relative_flatness", "fisher_rao"} {
		r := rel(base.Measures[name], scaled.Measures[name])
		t.Logf("%s: %.10g → %.10g (relative change %.2g)", name, base.Measures[name], scaled.Measures[name], r)
		tol := 1e-9 // the same probes and ascent path, so equal up to rounding
		if r > tol {
			t.Errorf("%s changed under T_α: %v → %v", name, base.Measures[name], scaled.Measures[name])
		}
	}
}

// TestHessianExamplesFile: the curvature examples a trial records in its
// result.json, given back to hessian by --examples-file, reproduce the
// trial's λ₁ bit for bit; a list of indices selects those examples.
func TestHessianExamplesFile(t *testing.T) {
	out := trainOut(t, strings.Replace(oneTrial, "curvature: {lanczos_steps: 5}", "curvature: {lanczos_steps: 5, examples: 100}", 1))
	var r spec.Result
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if r.CurvatureExamples != 100 || len(r.CurvatureIndices) != 100 || !slices.IsSorted(r.CurvatureIndices) {
		t.Fatalf("result records %d curvature examples, %d indices", r.CurvatureExamples, len(r.CurvatureIndices))
	}
	w := filepath.Join(out, "weights.safetensors")
	rep := hessianJSON(t, "--weights", w, "--examples-file", filepath.Join(out, "result.json"), "--measures", "trace")
	if rep.LambdaMax != r.LambdaMax || rep.Examples != 100 {
		t.Errorf("λ₁ over the recorded examples %v (%d examples), the trial's %v", rep.LambdaMax, rep.Examples, r.LambdaMax)
	}
	list := filepath.Join(t.TempDir(), "idx.txt")
	if err := os.WriteFile(list, []byte("5\n1\n9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if rep := hessianJSON(t, "--weights", w, "--examples-file", list, "--measures", "trace"); rep.Examples != 3 || rep.LambdaMax == r.LambdaMax {
		t.Errorf("three listed examples: %d examples, λ₁ %v", rep.Examples, rep.LambdaMax)
	}
}

// TestHessianBadInput: bad input is a usage error with exit status 2.
func TestHessianBadInput(t *testing.T) {
	out := trainOut(t, oneTrial)
	w, tr := filepath.Join(out, "weights.safetensors"), filepath.Join(out, "trial.json")
	other := trainOut(t, strings.Replace(oneTrial, "hidden: [12]", "hidden: [13]", 1))
	tanh := trainOut(t, strings.Replace(oneTrial, "hidden: [12]", "hidden: [12], activation: tanh", 1))
	idxFile := func(text string) string {
		p := filepath.Join(t.TempDir(), "idx.txt")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badSpec := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(badSpec, []byte(`{"dataset": {"name": "synthetic"}, "bogus": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		args []string
		msg  string
	}{
		"no weights":         {[]string{"--spec", tr}, "--weights"},
		"missing weights":    {[]string{"--weights", filepath.Join(out, "nope.safetensors")}, "no such file"},
		"missing trial":      {[]string{"--weights", w, "--spec", filepath.Join(out, "nope.json")}, "no such file"},
		"bad trial json":     {[]string{"--weights", w, "--spec", badSpec}, "bogus"},
		"shape mismatch":     {[]string{"--weights", filepath.Join(other, "weights.safetensors"), "--spec", tr}, "do not match the network"},
		"k zero":             {[]string{"--weights", w, "--k", "0"}, "--k"},
		"k > P":              {[]string{"--weights", w, "--k", "1000"}, "curvature.top_k.k = 1000"},
		"tol zero":           {[]string{"--weights", w, "--tol", "0"}, "--tol"},
		"tol negative":       {[]string{"--weights", w, "--tol", "-1e-3"}, "curvature.top_k.tol = -0.001"},
		"zero budget":        {[]string{"--weights", w, "--trace-budget", "0"}, "--trace-budget"},
		"small hutchpp":      {[]string{"--weights", w, "--trace-budget", "2"}, "curvature.trace.budget = 2"},
		"unknown measure":    {[]string{"--weights", w, "--measures", "trace,hessian"}, `unknown measure "hessian"`},
		"format":             {[]string{"--weights", w, "--format", "xml"}, "--format"},
		"alpha syntax":       {[]string{"--weights", w, "--alpha-scale", "0=10"}, "P:ALPHA"},
		"alpha zero":         {[]string{"--weights", w, "--alpha-scale", "0:0"}, "--alpha-scale = 0: α must be finite and > 0"},
		"alpha last layer":   {[]string{"--weights", w, "--alpha-scale", "1:10"}, "--alpha-scale = 1: want a Dense–ReLU–Dense pair 0…0, counted from 0 at the input as curvature.dinh.layer counts them"},
		"alpha without relu": {[]string{"--weights", filepath.Join(tanh, "weights.safetensors"), "--alpha-scale", "0:10"}, "ReLU"},
		"argument":           {[]string{"--weights", w, "extra"}, "no arguments"},
		"index out of range": {[]string{"--weights", w, "--examples-file", idxFile("1 2 256")}, "index 256 outside the training set (0…255)"},
		"index twice":        {[]string{"--weights", w, "--examples-file", idxFile("[3, 1, 3]")}, "index 3 given twice"},
		"not an index":       {[]string{"--weights", w, "--examples-file", idxFile("1, two")}, `"two" is not an index`},
		"no indices":         {[]string{"--weights", w, "--examples-file", idxFile("[]")}, "--examples-file"},
		"count and indices":  {[]string{"--weights", w, "--examples", "10", "--examples-file", idxFile("1")}, "not both"},
	} {
		_, err := runHessianCmd(t, c.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err %v (exit %d), want a usage error mentioning %q", name, err, exitCode(err), c.msg)
		}
	}
	cmd := exec.Command(binary, "hessian", "--weights", w, "--k", "1000")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("exit status: %v (%s)", err, stderr.String())
	}
}

// settingValue returns a valid value of setting s, other than its default,
// as a flag argument and as the Go value it sets.
func settingValue(t *testing.T, m *spec.Measure, s spec.Setting) (string, any) {
	t.Helper()
	switch s.Kind {
	case reflect.Int:
		n := 1
		if s.Default != "" {
			d, err := strconv.Atoi(s.Default)
			if err != nil {
				t.Fatalf("%s.%s: default %q", m.Name, s.Name, s.Default)
			}
			n = d + 1
		}
		return strconv.Itoa(n), n
	case reflect.Float64:
		x := 0.5
		if s.Default != "" {
			d, err := strconv.ParseFloat(s.Default, 64)
			if err != nil {
				t.Fatalf("%s.%s: default %q", m.Name, s.Name, s.Default)
			}
			x = d * 2
			if s.Range != "" && strings.HasSuffix(s.Range, "1]") { // a fraction: stay inside (0, 1]
				x = d / 2
			}
		}
		return strconv.FormatFloat(x, 'g', -1, 64), x
	case reflect.String:
		for _, e := range s.Enum {
			if e != s.Default {
				return e, e
			}
		}
		t.Fatalf("%s.%s: no value other than the default %q in %v", m.Name, s.Name, s.Default, s.Enum)
	case reflect.Bool:
		return "true", true
	case reflect.Slice:
		xs := []float64{2e-3, 1e-4}
		return "2e-3,1e-4", xs
	}
	t.Fatalf("%s.%s: setting of kind %s", m.Name, s.Name, s.Kind)
	return "", nil
}

// settingsOf returns the settings of the named measure in ms with defaults
// applied, through spec.SettingsOf.
func settingsOf(t *testing.T, ms spec.Measures, name string) any {
	t.Helper()
	get := map[string]func() (any, bool){
		"top_k":      func() (any, bool) { return spec.SettingsOf[spec.TopKSettings](ms) },
		"trace":      func() (any, bool) { return spec.SettingsOf[spec.TraceSettings](ms) },
		"density":    func() (any, bool) { return spec.SettingsOf[spec.DensitySettings](ms) },
		"evidence":   func() (any, bool) { return spec.SettingsOf[spec.EvidenceSettings](ms) },
		"keskar":     func() (any, bool) { return spec.SettingsOf[spec.KeskarSettings](ms) },
		"adaptive":   func() (any, bool) { return spec.SettingsOf[spec.AdaptiveSettings](ms) },
		"relative":   func() (any, bool) { return spec.SettingsOf[spec.RelativeSettings](ms) },
		"fisher_rao": func() (any, bool) { return spec.SettingsOf[spec.FisherRaoSettings](ms) },
		"pac_bayes":  func() (any, bool) { return spec.SettingsOf[spec.PACBayesSettings](ms) },
	}[name]
	if get == nil {
		t.Fatalf("measure %s: add its settings type to settingsOf", name)
	}
	v, ok := get()
	if !ok {
		t.Fatalf("measure %s is not selected (%s)", name, ms)
	}
	return v
}

// TestHessianFlagsFromRegistry: every setting of every measure of the
// registry has a flag on the hessian command, named by the registry; setting
// it (with the measure selected) changes that setting and no other; and a
// flag of a measure that is not selected is a usage error.
func TestHessianFlagsFromRegistry(t *testing.T) {
	seen := map[string]string{}
	names := spec.MeasureNames()
	for mi, m := range spec.Registry() {
		other := names[(mi+1)%len(names)]
		for i, s := range m.Fields() {
			what := fmt.Sprintf("curvature.%s.%s (--%s)", m.Name, s.Name, s.Flag)
			if prev, dup := seen[s.Flag]; dup {
				t.Errorf("%s: flag also used by %s", what, prev)
			}
			seen[s.Flag] = what
			fl := newHessianCmd().Flags()
			flag := fl.Lookup(s.Flag)
			if flag == nil {
				t.Errorf("%s: the hessian command has no such flag", what)
				continue
			}
			if !strings.Contains(flag.Usage, "curvature."+m.Name+"."+s.Name) {
				t.Errorf("%s: usage %q does not name the setting", what, flag.Usage)
			}
			if (s.Kind == reflect.Bool) != (flag.Value.Type() == "bool") {
				t.Errorf("%s: a %s setting with a flag of type %s", what, s.Kind, flag.Value.Type())
			}
			raw, want := settingValue(t, m, s)
			if err := fl.Parse([]string{"--measures", m.Name, "--" + s.Flag + "=" + raw}); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			var c spec.Curvature
			if err := selectMeasures(fl, &hessianFlags{measures: m.Name}, &c); err != nil {
				t.Errorf("%s = %s: %v", what, raw, err)
				continue
			}
			if got := c.Measures.Names(); len(got) != 1 || got[0] != m.Name {
				t.Errorf("%s: measures %v, want [%s]", what, got, m.Name)
				continue
			}
			// As given: the zero settings with this one field set.
			given, _ := c.Measures.Settings(m.Name)
			exp := reflect.New(reflect.TypeOf(m.Settings)).Elem()
			exp.Field(i).Set(reflect.ValueOf(want))
			if !reflect.DeepEqual(given, exp.Interface()) {
				t.Errorf("%s = %s: settings %+v, want %+v", what, raw, given, exp.Interface())
			}
			// With defaults applied, the field holds the flag's value, which
			// is not the default.
			full := reflect.ValueOf(settingsOf(t, c.Measures, m.Name))
			if got := full.Field(i).Interface(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s = %s: spec.SettingsOf gives %v", what, raw, got)
			}
			if def := reflect.ValueOf(m.WithDefaults(m.Settings)).Field(i).Interface(); reflect.DeepEqual(def, want) {
				t.Errorf("%s: test value %v is the default", what, want)
			}
			// The spec's curvature section reads the same.
			tr := specOf(32, 0.1, 1000, 1)
			tr.Curvature.Measures = c.Measures
			js, err := spec.Canonical(tr)
			if err != nil {
				t.Fatal(err)
			}
			back, err := spec.DecodeTrial(js)
			if err != nil || !reflect.DeepEqual(back.Curvature.Measures.List(), c.Measures.List()) {
				t.Errorf("%s: curvature %s does not round-trip (%v)", what, js, err)
			}

			// The same flag with another measure selected is a usage error.
			fl = newHessianCmd().Flags()
			if err := fl.Parse([]string{"--measures", other, "--" + s.Flag + "=" + raw}); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			c = spec.Curvature{}
			err = selectMeasures(fl, &hessianFlags{measures: other}, &c)
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--"+s.Flag) || !strings.Contains(err.Error(), m.Name) {
				t.Errorf("%s with --measures %s: err %v (exit %d), want a usage error naming the flag and %s", what, other, err, exitCode(err), m.Name)
			}
		}
	}
	// Every flag of a measure setting comes from the registry: the command
	// has no other flags than these and its own.
	own := map[string]bool{"weights": true, "spec": true, "trial": true, "measures": true, "format": true, "alpha-scale": true, "examples": true, "examples-file": true, "help": true}
	newHessianCmd().Flags().VisitAll(func(f *pflag.Flag) {
		if !own[f.Name] && seen[f.Name] == "" {
			t.Errorf("flag --%s is neither the command's own nor a registry setting", f.Name)
		}
	})
	// Through the command: a flag of a measure the spec does not select.
	out := trainOut(t, oneTrial)
	_, err := runHessianCmd(t, "--weights", filepath.Join(out, "weights.safetensors"), "--measures", "trace", "--k", "2")
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--k") || !strings.Contains(err.Error(), "top_k") {
		t.Errorf("--k without top_k: err %v (exit %d), want a usage error", err, exitCode(err))
	}
}
