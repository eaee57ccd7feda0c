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
	"github.com/flatsweep/flatsweep/spec"
)

// measureSpec is a small synthetic trial (P = 4·6 + 6 + 6·3 + 3 = 51) with
// every measure selected.
func measureSpec() spec.Trial {
	return spec.Trial{
		Dataset:   spec.Dataset{Name: "synthetic", N: 96, NTest: 32, Features: 4, Classes: 3, Seed: 5},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{6}, Activation: "relu"},
		BatchSize: 16, LR: 0.1, Epochs: 4, Seed: 7,
		Curvature: spec.Curvature{
			LanczosSteps: 10,
			Measures: spec.MeasuresOf(
				spec.TopKSettings{K: 4, Negative: 2, Tol: 1e-10, Steps: 60},
				spec.TraceSettings{Budget: 30},
				spec.DensitySettings{Runs: 3, Steps: 12},
				spec.EvidenceSettings{Lambda: 0.1, Runs: 3, Steps: 12},
				spec.KeskarSettings{Subspace: 10, Iterations: 3},
				spec.AdaptiveSettings{Iterations: 3, Samples: 4},
				spec.RelativeSettings{},
				spec.FisherRaoSettings{},
				spec.PACBayesSettings{Samples: 2, Steps: 6},
			),
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
	ts := measureSpec()
	ctx := context.Background()
	res, tr, err := Run(ctx, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := RunTrial(ctx, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.WithoutTimes(), again.WithoutTimes()) {
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

	trainSet, _, _, err := loadData(ts.Dataset)
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
	ts := measureSpec()
	all, err := RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	trace, _ := ts.Curvature.Measures.Settings("trace")
	ts.Curvature = spec.Curvature{LanczosSteps: 10, Measures: spec.MeasuresOf(trace)}
	one, err := RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if one.Measures["trace"] != all.Measures["trace"] || len(one.Measures) != 2 || one.Density != nil {
		t.Errorf("trace alone %v, with all %v", one.Measures, all.Measures["trace"])
	}
}

// TestMeasuresCancel: a cancelled context stops the measures.
func TestMeasuresCancel(t *testing.T) {
	ts := measureSpec()
	_, tr, err := Run(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	trainSet, _, _, _ := loadData(ts.Dataset)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Measure(ctx, ts, Model{Net: tr.Net, Theta: tr.Theta, Examples: trainSet}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

// expandRecords expands the "…" of Measure.Records: between prefix+"i" and
// prefix+"n" it stands for prefix+"i+1", …, prefix+"n−1".
func expandRecords(t *testing.T, names []string) []string {
	t.Helper()
	var out []string
	for i, n := range names {
		if n != "…" {
			out = append(out, n)
			continue
		}
		if i == 0 || i == len(names)-1 {
			t.Fatalf("… at an end of %q", names)
		}
		prefix, from := splitNumber(t, names[i-1])
		p2, to := splitNumber(t, names[i+1])
		if prefix != p2 || to <= from+1 {
			t.Fatalf("… between %q and %q", names[i-1], names[i+1])
		}
		for k := from + 1; k < to; k++ {
			out = append(out, prefix+strconv.Itoa(k))
		}
	}
	return out
}

// splitNumber splits "lambda_12" into "lambda_" and 12.
func splitNumber(t *testing.T, name string) (string, int) {
	t.Helper()
	i := strings.LastIndexFunc(name, func(r rune) bool { return r < '0' || r > '9' }) + 1
	k, err := strconv.Atoi(name[i:])
	if err != nil {
		t.Fatalf("%q does not end in a number", name)
	}
	return name[:i], k
}

// TestEveryMeasureRuns: every measure of the registry has a runner and every
// runner a measure, and a trial with every measure records exactly the
// scalars that each measure's Records lists for its settings (and the
// density), for two sets of settings that change those names.
func TestEveryMeasureRuns(t *testing.T) {
	for _, m := range spec.Registry() {
		if runners[m.Name] == nil {
			t.Errorf("measure %s has no runner", m.Name)
		}
	}
	for name := range runners {
		if _, err := spec.LookupMeasure(name); err != nil {
			t.Errorf("runner %s: %v", name, err)
		}
	}
	if got := expandRecords(t, []string{"a_1", "a_2", "…", "a_6", "b"}); !slices.Equal(got, []string{"a_1", "a_2", "a_3", "a_4", "a_5", "a_6", "b"}) {
		t.Fatalf("expandRecords: %q", got)
	}

	base := measureSpec()
	base.Epochs = 2
	variants := map[string]spec.Measures{
		"defaults and more": spec.MeasuresOf(
			spec.TopKSettings{K: 6, Negative: 5, Steps: 40},
			spec.TraceSettings{Budget: 9},
			spec.DensitySettings{Runs: 2, Steps: 6},
			spec.EvidenceSettings{Runs: 2, Steps: 6},
			spec.KeskarSettings{Subspace: 5, Iterations: 2, Epsilons: []float64{1e-3, 2.5e-3, 1e-2}},
			spec.AdaptiveSettings{Iterations: 2, Samples: 3},
			spec.RelativeSettings{Budget: 4},
			spec.FisherRaoSettings{},
			spec.PACBayesSettings{Samples: 1, Steps: 3},
		),
		"other names": spec.MeasuresOf(
			spec.TopKSettings{K: 1, Steps: 30},
			spec.TraceSettings{Method: spec.TraceHutchinson, Budget: 4},
			spec.DensitySettings{Runs: 1, Steps: 4},
			spec.EvidenceSettings{Operator: spec.OperatorHessian, Lambda: 2, Runs: 2, Steps: 4},
			spec.KeskarSettings{Space: spec.SpaceSubspace, Subspace: 3, Iterations: 1},
			spec.AdaptiveSettings{Plain: true, Norm: spec.NormLInf, Iterations: 1, Samples: 2},
			spec.RelativeSettings{Exact: true, Layer: 1},
			spec.FisherRaoSettings{ModelLabels: true, IncludeBiases: true},
			spec.PACBayesSettings{Target: 0.2, Samples: 1, Steps: 2},
		),
	}
	for name, ms := range variants {
		t.Run(name, func(t *testing.T) {
			if ms.Len() != len(spec.Registry()) {
				t.Fatalf("%d of %d measures selected", ms.Len(), len(spec.Registry()))
			}
			ts := base
			ts.Curvature.Measures = ms
			res, err := RunTrial(context.Background(), ts, nil)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{} // scalar → measure
			for _, sel := range ms.List() {
				for _, r := range expandRecords(t, sel.Measure.Records(sel.Measure.WithDefaults(sel.Settings))) {
					if other, dup := want[r]; dup {
						t.Errorf("%s is recorded by %s and %s", r, other, sel.Measure.Name)
					}
					want[r] = sel.Measure.Name
				}
			}
			for r, m := range want {
				if _, ok := res.Measures[r]; !ok {
					t.Errorf("%s: %s missing from the result", m, r)
				}
			}
			for r := range res.Measures {
				if _, ok := want[r]; !ok {
					t.Errorf("%s recorded but listed by no measure's Records", r)
				}
			}
			d, _ := spec.SettingsOf[spec.DensitySettings](ms)
			if res.Density == nil || len(res.Density.Nodes) != d.Runs || res.Density.Params != res.Params {
				t.Errorf("density %+v, want %d runs", res.Density, d.Runs)
			}
			t.Logf("%d scalars: %v", len(res.Measures), res.Measures)
		})
	}
}
