package compute

import (
	"context"
	"math"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/spec"
)

// trainedModel trains ts and returns the model Measure takes.
func trainedModel(t *testing.T, ts spec.Trial) Model {
	t.Helper()
	_, tr, err := Run(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	trainSet, _, _, err := loadData(ts.Dataset)
	if err != nil {
		t.Fatal(err)
	}
	return Model{Net: tr.Net, Theta: tr.Theta, Examples: trainSet}
}

// TestSharedLambdaMax: with top_k selected, λ₁ is the top_k run's first
// Ritz value (bit for bit), its explicit residual meets curvature.tol, and
// λ₁, the top k and the most negative eigenvalues of the one run match the
// dense eigendecomposition of the Hessian and the separate λ₁ run of a trial
// without top_k to the solvers' tolerances; the λ₁ products are the run's.
func TestSharedLambdaMax(t *testing.T) {
	ts := measureSpec()
	topk := spec.TopKSettings{K: 4, Negative: 2, Tol: 1e-6, Steps: 60}
	ts.Curvature = spec.Curvature{LanczosSteps: 40, Tol: 1e-8, Measures: spec.MeasuresOf(topk)}
	m := trainedModel(t, ts)
	res, err := Measure(context.Background(), ts, m)
	if err != nil {
		t.Fatal(err)
	}
	if res.LambdaMax != res.Measures["lambda_1"] {
		t.Errorf("λ₁ %v, top-k first value %v", res.LambdaMax, res.Measures["lambda_1"])
	}
	if !res.LambdaConverged || res.LambdaResidual > 1e-8*res.LambdaMax {
		t.Errorf("λ₁ residual %.3g (converged %v), want ≤ 1e-8·λ₁", res.LambdaResidual, res.LambdaConverged)
	}
	if len(res.Costs) != 2 || res.Costs[1].Measure != "top_k" || res.Costs[1].HVPs != res.HVPs {
		t.Errorf("costs %+v, λ₁ products %d", res.Costs, res.HVPs)
	}

	h := denseHessian(m.Net, m.Theta, m.Examples.X, m.Examples.Y)
	var eig mat.EigenSym
	if !eig.Factorize(h, false) {
		t.Fatal("eigendecomposition failed")
	}
	vals := eig.Values(nil)
	p := len(vals)
	// A residual r gives an eigenvalue error ≤ r²/gap; 1e-8 relative is
	// ample for tol 1e-6 on this spectrum.
	for i, name := range []string{"lambda_1", "lambda_2", "lambda_3", "lambda_4"} {
		if rel := math.Abs(res.Measures[name]-vals[p-1-i]) / math.Abs(vals[p-1-i]); rel > 1e-8 {
			t.Errorf("%s = %v, dense %v (rel %.2g)", name, res.Measures[name], vals[p-1-i], rel)
		}
	}
	for i, name := range []string{"lambda_min_1", "lambda_min_2"} {
		if rel := math.Abs(res.Measures[name]-vals[i]) / math.Abs(vals[i]); rel > 1e-8 {
			t.Errorf("%s = %v, dense %v (rel %.2g)", name, res.Measures[name], vals[i], rel)
		}
	}

	alone := ts
	alone.Curvature.Measures = spec.Measures{}
	sep, err := Measure(context.Background(), alone, m)
	if err != nil {
		t.Fatal(err)
	}
	if rel := math.Abs(sep.LambdaMax-res.LambdaMax) / res.LambdaMax; rel > 1e-8 {
		t.Errorf("λ₁ alone %v, with top_k %v (rel %.2g)", sep.LambdaMax, res.LambdaMax, rel)
	}
	if len(sep.Costs) != 2 || sep.Costs[1].Measure != spec.CostLambdaMax || sep.Costs[1].HVPs != sep.HVPs {
		t.Errorf("costs alone %+v", sep.Costs)
	}
	t.Logf("λ₁ %.15g with top_k (%d products for λ₁, top 4 and bottom 2), %.15g alone (%d products)",
		res.LambdaMax, res.HVPs, sep.LambdaMax, sep.HVPs)
}

// TestCostsAddUp: with every measure selected, the Hessian-vector products
// of the costs add up to the operator's applications counted by a wrapper
// of its own (plus the products of the oracle the flatness measures use),
// every measure has one entry, in order, with finite non-negative seconds,
// and the entries of Dinh's check repeat them with the suffix.
func TestCostsAddUp(t *testing.T) {
	ts := measureSpec()
	m := trainedModel(t, ts)
	var applied int
	count := func(op curvature.Operator) curvature.Operator {
		return func(dst, v []float64) { applied++; op(dst, v) }
	}
	res, err := measureWith(context.Background(), ts, m, count)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	hvps := 0
	for _, c := range res.Costs {
		names = append(names, c.Measure)
		hvps += c.HVPs
		if !(c.Seconds >= 0) || math.IsInf(c.Seconds, 0) || c.HVPs < 0 || c.Gradients < 0 || c.Losses < 0 {
			t.Errorf("cost %+v", c)
		}
		for _, r := range c.Residuals {
			if !(r >= 0) || math.IsInf(r, 0) {
				t.Errorf("%s: residual %v", c.Measure, r)
			}
		}
	}
	want := append([]string{spec.CostHessian}, ts.Curvature.Measures.Names()...)
	if !slices.Equal(names, want) {
		t.Errorf("cost entries %v, want %v", names, want)
	}
	e := res.Costs
	oracleHVPs := 0
	for _, c := range e {
		switch c.Measure {
		case "keskar", "adaptive", "relative", "pac_bayes": // through the oracle, which recomputes θ's state
			oracleHVPs += c.HVPs
		}
	}
	if hvps-oracleHVPs != applied {
		t.Errorf("costs count %d Hessian products (+%d through the oracle); the operator was applied %d times", hvps-oracleHVPs, oracleHVPs, applied)
	}
	top := e[slices.Index(names, "top_k")]
	if top.HVPs != res.HVPs || len(top.Residuals) != 4+2 {
		t.Errorf("top_k cost %+v, λ₁ products %d", top, res.HVPs)
	}
	for _, c := range e {
		switch c.Measure {
		case "trace", "density", "evidence", "top_k":
			if c.HVPs == 0 {
				t.Errorf("%s: no products", c.Measure)
			}
		case "keskar", "adaptive", "pac_bayes":
			if c.Gradients+c.Losses == 0 {
				t.Errorf("%s: no gradients or losses", c.Measure)
			}
		}
	}
	t.Logf("costs: %+v", res.Costs)

	ts.Curvature.Dinh = spec.Dinh{Alpha: 2, Layer: 0}
	dinh, err := Measure(context.Background(), ts, m)
	if err != nil {
		t.Fatal(err)
	}
	var withDinh []string
	for _, c := range dinh.Costs {
		withDinh = append(withDinh, c.Measure)
	}
	for _, n := range want {
		if n != "density" && !slices.Contains(withDinh, n+spec.DinhSuffix) {
			t.Errorf("no cost %s in %v", n+spec.DinhSuffix, withDinh)
		}
	}
}
