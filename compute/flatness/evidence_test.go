package flatness_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/flatness"
)

// TestEvidenceDiagonal: for a diagonal curvature K = diag(a) the normalized
// Rademacher probes give vᵀ f(K) v = tr f(K)/P exactly, so SLQ with P steps
// reproduces log P = −C − ½ Σ ln((M a_i + λ)/λ) to 1e-10 relative.
func TestEvidenceDiagonal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	p, m, lam := 25, 100, 0.01
	a, theta := make([]float64, p), make([]float64, p)
	for i := range a {
		a[i] = math.Exp(2 * rng.NormFloat64())
		theta[i] = rng.NormFloat64()
	}
	o := quad{a}
	meanLoss := 0.3
	res, err := flatness.Evidence(context.Background(), meanLoss, theta, flatness.HessianOperator(o, theta),
		rand.New(rand.NewPCG(2, 2)), flatness.EvidenceSettings{Lambda: lam, Examples: m,
			SLQ: curvature.SLQSettings{Runs: 2, Steps: p}})
	if err != nil {
		t.Fatal(err)
	}
	var sq, occam float64
	for i := range a {
		sq += theta[i] * theta[i]
		occam -= math.Log((float64(m)*a[i]+lam)/lam) / 2
	}
	want := -(float64(m)*meanLoss + lam/2*sq) + occam
	t.Logf("log evidence %.12g, exact %.12g; Occam %.8g, exact %.8g; clipped %d",
		res.LogEvidence, want, res.LogOccam, occam, res.Clipped)
	if relDiff(res.LogEvidence, want) > 1e-10 || relDiff(res.LogOccam, occam) > 1e-10 || res.Clipped != 0 {
		t.Errorf("got %+v", res)
	}
}

// TestEvidenceClipping: negative curvature directions are clipped at λ and
// reported; the Gauss–Newton-like PSD alternative (here |a|) needs none.
func TestEvidenceClipping(t *testing.T) {
	a := []float64{-2, -1, 0.5, 1, 3, 4}
	theta := make([]float64, len(a))
	s := flatness.EvidenceSettings{Lambda: 0.1, Examples: 10, SLQ: curvature.SLQSettings{Runs: 3, Steps: 6}}
	res, err := flatness.Evidence(context.Background(), 1, theta, flatness.HessianOperator(quad{a}, theta), rand.New(rand.NewPCG(1, 1)), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("clipped %d nodes, mass %.3g (×P = %.3g), min node %.3g", res.Clipped, res.ClippedMass, res.ClippedMass*6, res.MinNode)
	if res.Clipped != 6 || math.Abs(res.ClippedMass*6-2) > 1e-9 {
		t.Errorf("clipped %d, mass %v", res.Clipped, res.ClippedMass)
	}
	psd := []float64{2, 1, 0.5, 1, 3, 4}
	res2, _ := flatness.Evidence(context.Background(), 1, theta, flatness.HessianOperator(quad{psd}, theta), rand.New(rand.NewPCG(1, 1)), s)
	if res2.Clipped != 0 {
		t.Errorf("PSD operator clipped %d", res2.Clipped)
	}
	for name, bad := range map[string]flatness.EvidenceSettings{
		"lambda":   {Lambda: 0, Examples: 1, SLQ: s.SLQ},
		"examples": {Lambda: 1, Examples: 0, SLQ: s.SLQ},
	} {
		if _, err := flatness.Evidence(context.Background(), 1, theta, flatness.HessianOperator(quad{a}, theta), rand.New(rand.NewPCG(1, 1)), bad); !errors.Is(err, flatness.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := flatness.Evidence(context.Background(), 1, theta, flatness.HessianOperator(quad{a}, theta), rand.New(rand.NewPCG(1, 1)),
		flatness.EvidenceSettings{Lambda: 1, Examples: 1}); !errors.Is(err, curvature.ErrInvalid) {
		t.Errorf("zero SLQ budget: %v", err)
	}
}

// TestPACBayes: on a tiny network σ' is bracketed, the drop at σ' is ≤ 0.1,
// slightly larger σ' exceeds it, and the result is deterministic in the seed.
func TestPACBayes(t *testing.T) {
	_, theta, o := trainedNet(t, 3, 8, 3, 60, 7)
	s := flatness.DefaultPACBayesSettings()
	s.Steps = 12
	run := func() flatness.PACBayesResult {
		r, err := flatness.PACBayesFlatness(context.Background(), o, theta, rand.New(rand.NewPCG(3, 3)), s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	r := run()
	t.Logf("σ' = %.4g, 1/σ'² = %.4g, accuracy %.3f, drop %.3f, %d evaluations", r.Sigma, r.Flatness, r.Accuracy, r.Drop, r.Evaluations)
	if r.AtHi || r.AtLo || r.Drop > s.Target {
		t.Errorf("got %+v", r)
	}
	if r2 := run(); r2 != r {
		t.Errorf("not deterministic: %+v vs %+v", r2, r)
	}
	bad := s
	bad.Samples = 0
	if _, err := flatness.PACBayesFlatness(context.Background(), o, theta, rand.New(rand.NewPCG(3, 3)), bad); !errors.Is(err, flatness.ErrInvalid) {
		t.Errorf("samples 0: %v", err)
	}
	bad = s
	bad.Lo, bad.Hi = 1, 0.5
	if _, err := flatness.PACBayesFlatness(context.Background(), o, theta, rand.New(rand.NewPCG(3, 3)), bad); !errors.Is(err, flatness.ErrInvalid) {
		t.Errorf("lo > hi: %v", err)
	}
}
