package curvature_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
)

// TestSLQ: on a PSD matrix with known spectrum the SLQ log-determinant is
// within 10% (relative) and 4 reported SE (100 runs × 30 steps) of the exact value, the trace within
// 4 SE, and the density integrates to P (trapezoid rule, 1e-6 relative).
func TestSLQ(t *testing.T) {
	n := 120
	rng := rand.New(rand.NewPCG(5, 5))
	lambda := make([]float64, n)
	for i := range lambda {
		lambda[i] = 0.5 + 3*rng.Float64()*rng.Float64()
	}
	lambda[0], lambda[1] = 30, 12
	op, _ := spectral(t, lambda, 6)
	var exactLD, exactTr float64
	for _, l := range lambda {
		exactLD += math.Log(l + 0.1)
		exactTr += l
	}
	q, err := curvature.StochasticLanczosQuadrature(context.Background(), n, op, rand.New(rand.NewPCG(2, 2)),
		curvature.SLQSettings{Runs: 100, Steps: 30})
	if err != nil {
		t.Fatal(err)
	}
	if q.Products != 100*30 {
		t.Errorf("products %d", q.Products)
	}
	ld, se, err := q.LogDet(0.1)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("log det: exact %.6g, SLQ %.6g ± %.2g (relative error %.2g)", exactLD, ld, se, math.Abs(ld-exactLD)/math.Abs(exactLD))
	if math.Abs(ld-exactLD) > 0.1*math.Abs(exactLD) || math.Abs(ld-exactLD) > 4*se {
		t.Errorf("log det %v ± %v, exact %v", ld, se, exactLD)
	}
	tr, trSE := q.Trace()
	if math.Abs(tr-exactTr) > 4*trSE {
		t.Errorf("trace %v ± %v, exact %v", tr, trSE, exactTr)
	}
	lo, hi := q.Range()
	if math.Abs(hi-30) > 1e-8 || lo < 0.5-1e-9 {
		t.Errorf("range [%v, %v]", lo, hi)
	}
	// ∫ density = P.
	sigma2 := q.DefaultVariance()
	sd := math.Sqrt(sigma2)
	a, b := lo-10*sd, hi+10*sd
	const m = 8000
	grid := make([]float64, m+1)
	for i := range grid {
		grid[i] = a + (b-a)*float64(i)/m
	}
	d := q.Density(nil, grid, 0)
	var integral float64
	for i := 1; i <= m; i++ {
		integral += (d[i] + d[i-1]) / 2 * (b - a) / m
	}
	t.Logf("σ² = %.3g, ∫density = %.8g (P = %d)", sigma2, integral, n)
	if math.Abs(integral-float64(n)) > 1e-6*float64(n) {
		t.Errorf("∫density = %v, want %d", integral, n)
	}
	if _, _, err := q.LogDet(-1); !errors.Is(err, curvature.ErrDomain) {
		t.Errorf("log det below spectrum: %v", err)
	}
}

// TestSLQExact: with m = n steps the quadrature is exact for every run.
func TestSLQExact(t *testing.T) {
	lambda := []float64{0.5, 1, 2, 4, 8, 16}
	op, _ := spectral(t, lambda, 1)
	q, err := curvature.StochasticLanczosQuadrature(context.Background(), 6, op, rand.New(rand.NewPCG(1, 1)),
		curvature.SLQSettings{Runs: 3, Steps: 6})
	if err != nil {
		t.Fatal(err)
	}
	ld, _, err := q.LogDet(0)
	// Per run Σ τ² ln θ = vᵀ ln(H) v, whose mean is tr ln H only in
	// expectation; with full Krylov spaces each node set is the spectrum.
	for r := range q.Nodes {
		if len(q.Nodes[r]) != 6 || math.Abs(q.Nodes[r][5]-16) > 1e-12 {
			t.Errorf("run %d nodes %v", r, q.Nodes[r])
		}
	}
	if err != nil || math.IsNaN(ld) {
		t.Errorf("log det %v, %v", ld, err)
	}
	for name, s := range map[string]curvature.SLQSettings{"runs": {Runs: 0, Steps: 3}, "steps": {Runs: 1, Steps: 0}} {
		if _, err := curvature.StochasticLanczosQuadrature(context.Background(), 6, op, rand.New(rand.NewPCG(1, 1)), s); !errors.Is(err, curvature.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
