package curvature_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
)

// counting wraps op and counts its applications in *n.
func counting(op curvature.Operator, n *int) curvature.Operator {
	return func(dst, v []float64) { *n++; op(dst, v) }
}

// TestExtremes: one run gives λ₁, the top 5 and the 3 most negative
// eigenvalues to 1e-8 relative of the dense oracle; λ₁ meets its own tighter
// tolerance; the run costs no more products than the larger of the separate
// top and bottom runs from the same start (plus the verification), far less
// than their sum, and their values agree to the tolerance; the reported
// products are the operator's actual applications.
func TestExtremes(t *testing.T) {
	n := 150
	op, a := spectral(t, testSpectrum(n, 1), 21)
	want := oracleEigen(t, a)
	ctx := context.Background()
	tol, lead := 1e-9, 1e-11
	var applied int
	res, err := curvature.LanczosExtremes(ctx, n, counting(op, &applied), start(n, 5),
		curvature.ExtremesSettings{Top: 5, Bottom: 3, Steps: n, Tol: tol, LeadTol: lead, VerifyLead: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.TopConverged || !res.BottomConverged || len(res.Top) != 5 || len(res.Bottom) != 3 {
		t.Fatalf("converged %v/%v with %d + %d values", res.TopConverged, res.BottomConverged, len(res.Top), len(res.Bottom))
	}
	if applied != res.Products || res.Products != res.Steps+1 {
		t.Errorf("operator applied %d times; reported %d products, %d steps", applied, res.Products, res.Steps)
	}
	for i, e := range res.Top {
		if rel := math.Abs(e.Value-want[n-1-i]) / math.Abs(want[n-1-i]); rel > 1e-8 {
			t.Errorf("top λ_%d = %v, dense %v (relative %.2g)", i+1, e.Value, want[n-1-i], rel)
		}
		if e.Products != res.Products || !e.Converged {
			t.Errorf("top λ_%d: %+v", i+1, e)
		}
	}
	if r := res.Top[0]; r.Residual > lead*math.Abs(r.Value) {
		t.Errorf("λ₁ residual %.3g > %.3g·|λ₁|", r.Residual, lead)
	}
	for i, e := range res.Bottom {
		if rel := math.Abs(e.Value-want[i]) / math.Abs(want[i]); rel > 1e-8 {
			t.Errorf("bottom λ_%d = %v, dense %v (relative %.2g)", i+1, e.Value, want[i], rel)
		}
	}
	// Separate runs from the same start, as the measures made before.
	top, err := curvature.LanczosTopK(ctx, n, op, start(n, 5), curvature.TopKSettings{K: 5, Steps: n, Tol: tol, Which: curvature.LargestAlgebraic})
	if err != nil {
		t.Fatal(err)
	}
	bot, err := curvature.LanczosTopK(ctx, n, op, start(n, 5), curvature.TopKSettings{K: 3, Steps: n, Tol: tol, Which: curvature.SmallestAlgebraic})
	if err != nil {
		t.Fatal(err)
	}
	one, err := curvature.Lanczos(ctx, n, op, start(n, 5), curvature.Settings{Steps: n, Tol: lead, Which: curvature.LargestAlgebraic, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	if most := max(top.Steps, bot.Steps, one.Steps); res.Steps > most {
		t.Errorf("shared run took %d steps; separate runs %d, %d and %d", res.Steps, top.Steps, bot.Steps, one.Steps)
	}
	for i := range 5 {
		if d := math.Abs(res.Top[i].Value - top.Eigen[i].Value); d > tol*math.Abs(top.Eigen[i].Value) {
			t.Errorf("top λ_%d: shared %v, separate %v", i+1, res.Top[i].Value, top.Eigen[i].Value)
		}
	}
	for i := range 3 {
		if d := math.Abs(res.Bottom[i].Value - bot.Eigen[i].Value); d > tol*math.Abs(bot.Eigen[i].Value) {
			t.Errorf("bottom λ_%d: shared %v, separate %v", i+1, res.Bottom[i].Value, bot.Eigen[i].Value)
		}
	}
	if d := math.Abs(res.Top[0].Value - one.Value); d > lead*math.Abs(one.Value) {
		t.Errorf("λ₁: shared %v, alone %v", res.Top[0].Value, one.Value)
	}
	t.Logf("shared: %d products; separate: λ₁ %d, top-5 %d, bottom-3 %d (sum %d)",
		res.Products, one.Products, top.Products, bot.Products, one.Products+top.Products+bot.Products)
}

// TestExtremesResidualEstimate: the Lanczos residual |β_j e_jᵀ s| reported
// for an unverified pair equals the explicit ‖Hy − θy‖ to rounding, at both
// ends, so that verifying λ₁ alone loses nothing.
func TestExtremesResidualEstimate(t *testing.T) {
	n := 120
	op, _ := spectral(t, testSpectrum(n, 4), 8)
	ctx := context.Background()
	for _, c := range []struct {
		name        string
		top, bottom int
	}{{"top", 1, 0}, {"bottom", 0, 1}} {
		for _, steps := range []int{6, 12, 20} {
			s := curvature.ExtremesSettings{Top: c.top, Bottom: c.bottom, Steps: steps, Tol: 1e-14}
			est, err := curvature.LanczosExtremes(ctx, n, op, start(n, 3), s)
			if err != nil {
				t.Fatal(err)
			}
			s.VerifyLead = true
			exp, err := curvature.LanczosExtremes(ctx, n, op, start(n, 3), s)
			if err != nil {
				t.Fatal(err)
			}
			e, x := append(est.Top, est.Bottom...)[0], append(exp.Top, exp.Bottom...)[0]
			if e.Value != x.Value || math.Abs(e.Residual-x.Residual) > 1e-12*40+1e-9*x.Residual {
				t.Errorf("%s, %d steps: estimate %.6g, explicit %.6g", c.name, steps, e.Residual, x.Residual)
			}
		}
	}
}

func TestExtremesInvalid(t *testing.T) {
	ctx := context.Background()
	op := func(dst, v []float64) { copy(dst, v) }
	s := []float64{1, 2, 3}
	for name, c := range map[string]curvature.ExtremesSettings{
		"none":       {Steps: 3, Tol: 1e-3},
		"top > n":    {Top: 4, Steps: 3, Tol: 1e-3},
		"bottom < 0": {Top: 1, Bottom: -1, Steps: 3, Tol: 1e-3},
		"steps zero": {Top: 1, Steps: 0, Tol: 1e-3},
		"tol zero":   {Top: 1, Steps: 3, Tol: 0},
		"lead NaN":   {Top: 1, Steps: 3, Tol: 1e-3, LeadTol: math.NaN()},
	} {
		if _, err := curvature.LanczosExtremes(ctx, 3, op, s, c); !errors.Is(err, curvature.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := curvature.LanczosExtremes(cctx, 3, op, s, curvature.ExtremesSettings{Top: 1, Steps: 3, Tol: 1e-3}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}
