package compute

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// measureSpec is a small synthetic trial (P = 4·6 + 6 + 6·3 + 3 = 51) with
// every measure selected.
func measureSpec() TrialSpec {
	return TrialSpec{
		Dataset:   DatasetSpec{Name: "synthetic", N: 96, NTest: 32, Features: 4, Classes: 3, Seed: 5},
		Model:     ModelSpec{Arch: "mlp", Hidden: []int{6}, Activation: "relu"},
		BatchSize: 16, LR: 0.1, Epochs: 4, Seed: 7,
		Curvature: CurvatureSpec{
			LanczosSteps: 10,
			Measures:     AllMeasures,
			TopK:         TopKSpec{K: 4, Negative: 2, Tol: 1e-10, Steps: 60},
			Trace:        TraceSpec{Budget: 30},
			Density:      DensitySpec{Runs: 3, Steps: 12},
			Evidence:     EvidenceSpec{Lambda: 0.1, Runs: 3, Steps: 12},
			Keskar:       KeskarSpec{Subspace: 10, Iterations: 3},
			Adaptive:     AdaptiveSpec{Iterations: 3, Samples: 4},
			PACBayes:     PACBayesSpec{Samples: 2, Steps: 6},
		},
	}
}

// denseHessian returns ∇²L of net at θ over set, built column by column from
// exact products.
func denseHessian(net *nn.Network, theta []float64, x []float64, y []int) *mat.SymDense {
	p := len(theta)
	h := nn.NewHessian(net, theta, x, y, 64)
	a := mat.NewDense(p, p, nil)
	e, col := make([]float64, p), make([]float64, p)
	for j := range p {
		e[j] = 1
		h.Apply(col, e)
		e[j] = 0
		a.SetCol(j, col)
	}
	s := mat.NewSymDense(p, nil)
	for i := range p {
		for j := i; j < p; j++ {
			s.SetSym(i, j, (a.At(i, j)+a.At(j, i))/2)
		}
	}
	return s
}

// TestMeasuresInTrial runs a trial with every measure: each is present and
// finite, two runs are bit-identical, the top and bottom eigenvalues match a
// dense eigendecomposition of the Hessian, and the trace lies within a few
// standard errors of the exact trace.
func TestMeasuresInTrial(t *testing.T) {
	spec := measureSpec()
	ctx := context.Background()
	res, tr, err := Run(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := RunTrial(ctx, spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res, again) {
		t.Error("two runs of the same spec differ")
	}
	want := []string{"lambda_1", "lambda_2", "lambda_3", "lambda_4", "top_k_converged", "lambda_min_1", "lambda_min_2",
		"lambda_min_converged", "trace", "trace_se", "log_evidence", "log_occam", "log_occam_se", "log_det", "occam_clipped",
		"keskar_full_1e-3", "keskar_full_5e-4", "keskar_sub_1e-3", "keskar_sub_5e-4",
		"adaptive_sharpness", "adaptive_sharpness_avg", "adaptive_sharpness_avg_se",
		"relative_flatness", "relative_flatness_se", "fisher_rao", "pac_bayes_sigma", "pac_bayes_flatness"}
	for _, name := range want {
		v, ok := res.Measures[name]
		if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
			t.Errorf("measure %s = %v, %v", name, v, ok)
		}
	}
	if extra := len(res.Measures) - len(want); extra != 0 {
		t.Errorf("%d unexpected measures in %v", extra, res.Measures)
	}
	if d := res.Density; d == nil || len(d.Nodes) != 3 || len(d.Weights[0]) != len(d.Nodes[0]) || d.Params != res.Params {
		t.Errorf("density %+v", d)
	}
	if _, err := json.Marshal(res); err != nil {
		t.Error(err)
	}
	t.Logf("measures: %v", res.Measures)

	trainSet, _, _, err := loadData(spec.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	h := denseHessian(tr.Net, tr.Theta, trainSet.X, trainSet.Y)
	var eig mat.EigenSym
	if !eig.Factorize(h, false) {
		t.Fatal("eigendecomposition failed")
	}
	vals := eig.Values(nil) // ascending
	p := len(vals)
	if res.Measures["top_k_converged"] != 1 || res.Measures["lambda_min_converged"] != 1 {
		t.Errorf("top-k not converged: %v", res.Measures)
	}
	worst := 0.0
	for i := range 4 {
		got, exact := res.Measures["lambda_"+strconv.Itoa(i+1)], vals[p-1-i]
		rel := math.Abs(got-exact) / math.Abs(exact)
		worst = max(worst, rel)
		if rel > 1e-8 {
			t.Errorf("λ_%d = %.15g, dense %.15g (rel %.2g)", i+1, got, exact, rel)
		}
	}
	for i := range 2 {
		got, exact := res.Measures["lambda_min_"+strconv.Itoa(i+1)], vals[i]
		rel := math.Abs(got-exact) / math.Abs(exact)
		worst = max(worst, rel)
		if rel > 1e-8 {
			t.Errorf("λ_min_%d = %.15g, dense %.15g (rel %.2g)", i+1, got, exact, rel)
		}
	}
	if rel := math.Abs(res.LambdaMax-vals[p-1]) / vals[p-1]; rel > 1e-3 {
		t.Errorf("λ₁ (LambdaMax) = %v, dense %v", res.LambdaMax, vals[p-1])
	}
	var exactTrace float64
	for _, v := range vals {
		exactTrace += v
	}
	tr0, se := res.Measures["trace"], res.Measures["trace_se"]
	t.Logf("P = %d; top-k worst relative error %.2g; trace %.6g ± %.2g, exact %.6g (%.2f SE)",
		p, worst, tr0, se, exactTrace, math.Abs(tr0-exactTrace)/se)
	if math.Abs(tr0-exactTrace) > 3*se {
		t.Errorf("trace %v ± %v, exact %v", tr0, se, exactTrace)
	}
}

// TestMeasuresIndependent: a measure's value does not depend on which other
// measures are selected.
func TestMeasuresIndependent(t *testing.T) {
	spec := measureSpec()
	all, err := RunTrial(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec.Curvature = CurvatureSpec{LanczosSteps: 10, Measures: MeasureTrace, Trace: spec.Curvature.Trace}
	one, err := RunTrial(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if one.Measures["trace"] != all.Measures["trace"] || len(one.Measures) != 2 || one.Density != nil {
		t.Errorf("trace alone %v, with all %v", one.Measures, all.Measures["trace"])
	}
}

// TestMeasuresCancel: a cancelled context stops the measures.
func TestMeasuresCancel(t *testing.T) {
	spec := measureSpec()
	_, tr, err := Run(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	trainSet, _, _, _ := loadData(spec.Dataset)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Measure(ctx, spec, Model{Net: tr.Net, Theta: tr.Theta, Examples: trainSet}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func TestMeasureSpecJSON(t *testing.T) {
	c := CurvatureSpec{Measures: MeasureTrace | MeasureTopK, Keskar: KeskarSpec{Epsilons: Epsilons{1e-3, 2e-3}}}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"lanczos_steps":0,"tol":0,"measures":["top_k","trace"],"keskar":{"epsilons":[0.001,0.002]}}`
	if string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var back CurvatureSpec
	if err := json.Unmarshal(b, &back); err != nil || back != c {
		t.Errorf("round trip %+v, %v", back, err)
	}
	b, _ = json.Marshal(CurvatureSpec{Examples: 3})
	if strings.Contains(string(b), "measures") || strings.Contains(string(b), "top_k") {
		t.Errorf("zero measures not omitted: %s", b)
	}
	for _, bad := range []string{`{"measures":["trace","trace"]}`, `{"measures":["hessian"]}`, `{"keskar":{"epsilons":[1,2,3,4,5]}}`} {
		if err := json.Unmarshal([]byte(bad), &back); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	for eps, name := range map[float64]string{1e-3: "1e-3", 5e-4: "5e-4", 2.5e-3: "2.5e-3", 1: "1", 10: "1e1"} {
		if got := EpsilonName(eps); got != name {
			t.Errorf("EpsilonName(%g) = %q, want %q", eps, got, name)
		}
	}
	d := CurvatureSpec{Measures: AllMeasures}.WithDefaults()
	if n := d.Normalized(); n != (CurvatureSpec{Measures: AllMeasures}) {
		t.Errorf("Normalized(WithDefaults) = %+v", n)
	}
	if !slices.Equal(d.Keskar.Epsilons.List(), []float64{1e-3, 5e-4}) || d.TopK.K != DefaultTopK {
		t.Errorf("defaults %+v", d)
	}
}

func TestMeasureValidation(t *testing.T) {
	cases := []struct {
		field string
		mut   func(c *CurvatureSpec)
	}{
		{"curvature.top_k.k", func(c *CurvatureSpec) { c.TopK.K = 52 }},
		{"curvature.top_k.k", func(c *CurvatureSpec) { c.TopK.K = -1 }},
		{"curvature.top_k.negative", func(c *CurvatureSpec) { c.TopK.Negative = 60 }},
		{"curvature.top_k.tol", func(c *CurvatureSpec) { c.TopK.Tol = -1e-3 }},
		{"curvature.top_k.tol", func(c *CurvatureSpec) { c.TopK.Tol = math.Inf(1) }},
		{"curvature.top_k.steps", func(c *CurvatureSpec) { c.TopK.Steps = -2 }},
		{"curvature.trace.method", func(c *CurvatureSpec) { c.Trace.Method = "exact" }},
		{"curvature.trace.budget", func(c *CurvatureSpec) { c.Trace.Budget = 2 }},
		{"curvature.trace.budget", func(c *CurvatureSpec) { c.Trace.Budget = -1 }},
		{"curvature.trace.rel_err", func(c *CurvatureSpec) { c.Trace.RelErr = math.NaN() }},
		{"curvature.density.runs", func(c *CurvatureSpec) { c.Density.Runs = -1 }},
		{"curvature.density.steps", func(c *CurvatureSpec) { c.Density.Steps = maxLanczosSteps + 1 }},
		{"curvature.evidence.lambda", func(c *CurvatureSpec) { c.Evidence.Lambda = -1 }},
		{"curvature.evidence.operator", func(c *CurvatureSpec) { c.Evidence.Operator = "fisher" }},
		{"curvature.keskar.epsilons[1]", func(c *CurvatureSpec) { c.Keskar.Epsilons = Epsilons{1e-3, -1} }},
		{"curvature.keskar.epsilons[1]", func(c *CurvatureSpec) { c.Keskar.Epsilons = Epsilons{1e-3, 1e-3} }},
		{"curvature.keskar.epsilons[2]", func(c *CurvatureSpec) { c.Keskar.Epsilons = Epsilons{1e-3, 0, 1e-2} }},
		{"curvature.keskar.space", func(c *CurvatureSpec) { c.Keskar.Space = "half" }},
		{"curvature.keskar.subspace", func(c *CurvatureSpec) { c.Keskar.Subspace = 52 }},
		{"curvature.keskar.subspace", func(c *CurvatureSpec) { c.Keskar.Space, c.Keskar.Subspace = "full", 5 }},
		{"curvature.adaptive.rho", func(c *CurvatureSpec) { c.Adaptive.Rho = -0.1 }},
		{"curvature.adaptive.norm", func(c *CurvatureSpec) { c.Adaptive.Norm = "l1" }},
		{"curvature.adaptive.samples", func(c *CurvatureSpec) { c.Adaptive.Samples = 1 }},
		{"curvature.relative.layer", func(c *CurvatureSpec) { c.Relative.Layer = 3 }},
		{"curvature.relative.budget", func(c *CurvatureSpec) { c.Relative.Exact, c.Relative.Budget = true, 10 }},
		{"curvature.relative.budget", func(c *CurvatureSpec) { c.Relative.Budget = 1 }},
		{"curvature.pac_bayes.target", func(c *CurvatureSpec) { c.PACBayes.Target = 1.5 }},
		{"curvature.pac_bayes.steps", func(c *CurvatureSpec) { c.PACBayes.Steps = 1000 }},
		{"curvature.top_k", func(c *CurvatureSpec) { c.Measures &^= MeasureTopK }},
		{"curvature.measures", func(c *CurvatureSpec) { c.Measures = 1 << 20 }},
	}
	if err := measureSpec().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		spec := measureSpec()
		tc.mut(&spec.Curvature)
		err := spec.Validate()
		var se *SpecError
		if !errors.As(err, &se) || se.Field != tc.field {
			t.Errorf("%s: %v", tc.field, err)
		}
	}
	spec := measureSpec()
	spec.Curvature.FisherRao.ModelLabels = true
	spec.Model = ModelSpec{Arch: "resmlp", Width: 4, Blocks: 1, Activation: "relu"}
	var se *SpecError
	if err := spec.Validate(); !errors.As(err, &se) || se.Field != "curvature.fisher_rao.model_labels" {
		t.Errorf("model labels on resmlp: %v", err)
	}
}
