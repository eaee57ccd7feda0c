package curvature_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
)

// TestTraceUnbiased: over 200 seeded repetitions the mean estimate is within
// 4 standard errors of the exact trace (the standard error of the mean being
// the root-mean-square reported SE over √200), and the reported SE agrees with
// the spread of the estimates to within a factor 1.5.
func TestTraceUnbiased(t *testing.T) {
	n := 60
	lambda := make([]float64, n)
	for i := range lambda {
		lambda[i] = 10 / float64(i+1) // PSD, decaying
	}
	op, _ := spectral(t, lambda, 8)
	var exact float64
	for _, l := range lambda {
		exact += l
	}
	for _, c := range []struct {
		name string
		f    func(context.Context, int, curvature.Operator, *rand.Rand, curvature.TraceSettings) (curvature.TraceEstimate, error)
	}{{"hutchinson", curvature.Hutchinson}, {"hutch++", curvature.HutchPP}} {
		t.Run(c.name, func(t *testing.T) {
			const reps = 200
			var sum, sum2, se2 float64
			for r := 0; r < reps; r++ {
				est, err := c.f(context.Background(), n, op, rand.New(rand.NewPCG(uint64(r), 77)),
					curvature.TraceSettings{Budget: 30})
				if err != nil {
					t.Fatal(err)
				}
				if est.Products != 30 {
					t.Fatalf("products %d", est.Products)
				}
				sum += est.Trace
				sum2 += est.Trace * est.Trace
				se2 += est.StdErr * est.StdErr
			}
			mean := sum / reps
			spread := math.Sqrt(sum2/reps - mean*mean)
			rmsSE := math.Sqrt(se2 / reps)
			seMean := rmsSE / math.Sqrt(reps)
			t.Logf("%s: exact %.6g, mean %.6g (%.2f SE of mean), rms reported SE %.3g, spread %.3g",
				c.name, exact, mean, (mean-exact)/seMean, rmsSE, spread)
			if math.Abs(mean-exact) > 4*seMean {
				t.Errorf("biased: mean %v vs exact %v (SE of mean %v)", mean, exact, seMean)
			}
			if r := rmsSE / spread; r < 1/1.5 || r > 1.5 {
				t.Errorf("reported SE %v vs spread %v", rmsSE, spread)
			}
		})
	}
}

// TestTraceTarget: with a relative-error target both estimators stop early
// and report SE ≤ target·|estimate|; Hutch++ needs fewer products on a PSD
// matrix with decaying spectrum, and is exact when the sketch spans R^n.
func TestTraceTarget(t *testing.T) {
	n := 200
	lambda := make([]float64, n)
	for i := range lambda {
		lambda[i] = 1 / float64(i+1) / float64(i+1) * 100
	}
	op, _ := spectral(t, lambda, 9)
	var exact float64
	for _, l := range lambda {
		exact += l
	}
	s := curvature.TraceSettings{Budget: 5000, RelErr: 0.03, Sketch: 20}
	h, err := curvature.Hutchinson(context.Background(), n, op, rand.New(rand.NewPCG(1, 1)), s)
	if err != nil {
		t.Fatal(err)
	}
	hp, err := curvature.HutchPP(context.Background(), n, op, rand.New(rand.NewPCG(1, 1)), s)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("exact %.5g; Hutchinson %.5g ± %.2g in %d products; Hutch++ %.5g ± %.2g in %d products",
		exact, h.Trace, h.StdErr, h.Products, hp.Trace, hp.StdErr, hp.Products)
	for _, e := range []curvature.TraceEstimate{h, hp} {
		if !e.Converged || e.StdErr > 0.03*math.Abs(e.Trace) {
			t.Errorf("target not met: %+v", e)
		}
	}
	if hp.Products >= h.Products {
		t.Errorf("Hutch++ used %d products, Hutchinson %d", hp.Products, h.Products)
	}
	full, err := curvature.HutchPP(context.Background(), 5, func(dst, v []float64) {
		for i := range v {
			dst[i] = float64(i+1) * v[i]
		}
	}, rand.New(rand.NewPCG(1, 1)), curvature.TraceSettings{Budget: 10, Sketch: 5})
	if err != nil || math.Abs(full.Trace-15) > 1e-12 || full.StdErr != 0 {
		t.Errorf("full sketch: %+v, %v", full, err)
	}
}

func TestTraceInvalid(t *testing.T) {
	ctx := context.Background()
	op := func(dst, v []float64) { copy(dst, v) }
	rng := rand.New(rand.NewPCG(1, 1))
	for name, s := range map[string]curvature.TraceSettings{
		"budget": {Budget: 0},
		"relerr": {Budget: 10, RelErr: -1},
		"sketch": {Budget: 10, Sketch: -1},
	} {
		if _, err := curvature.Hutchinson(ctx, 3, op, rng, s); !errors.Is(err, curvature.ErrInvalid) {
			t.Errorf("hutchinson %s: %v", name, err)
		}
		if _, err := curvature.HutchPP(ctx, 3, op, rng, s); !errors.Is(err, curvature.ErrInvalid) {
			t.Errorf("hutch++ %s: %v", name, err)
		}
	}
	if _, err := curvature.HutchPP(ctx, 30, op, rng, curvature.TraceSettings{Budget: 1}); !errors.Is(err, curvature.ErrInvalid) {
		t.Errorf("hutch++ tiny budget: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := curvature.Hutchinson(cctx, 3, op, rng, curvature.TraceSettings{Budget: 3}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancel: %v", err)
	}
}
