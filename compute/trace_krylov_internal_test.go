package compute

import (
	"context"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/flatsweep/flatsweep/spec"
)

// TestTraceKrylov: trace method krylov on a small trained network, against
// the exact trace of its dense Hessian. Over 60 trial seeds (each drawing
// λ₁'s Lanczos start and the probes) its mean lies within 3 standard errors
// of the exact trace, as does the mean of today's separate Hutch++ at its
// budget, and the two means agree within 3 combined standard errors; its
// spread over the seeds is no larger than Hutch++'s at the same budget; it
// reuses the basis of top_k's run when top_k is selected (rank = that run's
// products) and of λ₁'s own run otherwise, spending only its budget, and
// continues it to krylov_rank = 18 vectors from that budget, still within 4 SE
// of the exact trace; and two
// runs of the same spec are bit-identical.
func TestTraceKrylov(t *testing.T) {
	ts := measureSpec()
	ts.Curvature = spec.Curvature{LanczosSteps: 20, Tol: 1e-3}
	m := trainedModel(t, ts)
	h := denseHessian(m.Net, m.Theta, m.Examples.X, m.Examples.Y)
	var eig mat.EigenSym
	if !eig.Factorize(h, false) {
		t.Fatal("eigendecomposition failed")
	}
	exact := 0.0
	for _, v := range eig.Values(nil) {
		exact += v
	}
	const budget, seeds = 12, 60
	topk := spec.TopKSettings{K: 3, Tol: 1e-3}
	krylov := spec.TraceSettings{Method: spec.TraceKrylov, Budget: budget}
	run := func(seed int64, ms ...any) spec.Result {
		t.Helper()
		s := ts
		s.Seed = seed
		s.Curvature.Measures = spec.MeasuresOf(ms...)
		r, err := Measure(context.Background(), s, m)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	type stats struct{ sum, sum2 float64 }
	var kry, hpp, hppSame stats
	add := func(s *stats, v float64) { s.sum += v; s.sum2 += v * v }
	for seed := int64(1); seed <= seeds; seed++ {
		r := run(seed, topk, krylov)
		tk := r.Costs[1]
		tr := r.Costs[2]
		if tk.Measure != "top_k" || tr.Measure != "trace" || tr.HVPs != budget {
			t.Fatalf("seed %d: costs %+v", seed, r.Costs)
		}
		if rank := r.Measures["trace_krylov_rank"]; rank != float64(tk.HVPs) {
			t.Fatalf("seed %d: krylov rank %v, top_k run of %d products", seed, rank, tk.HVPs)
		}
		add(&kry, r.Measures["trace"])
		add(&hpp, run(seed, topk, spec.TraceSettings{}).Measures["trace"])
		add(&hppSame, run(seed, spec.TraceSettings{Budget: budget}).Measures["trace"])
	}
	moments := func(s stats) (mean, sd float64) {
		mean = s.sum / seeds
		return mean, math.Sqrt((s.sum2/seeds - mean*mean) * seeds / (seeds - 1))
	}
	mk, sk := moments(kry)
	mh, sh := moments(hpp)
	_, ss := moments(hppSame)
	ek, eh := sk/math.Sqrt(seeds), sh/math.Sqrt(seeds)
	t.Logf("P = %d, exact trace %.6g; krylov (budget %d) mean %.6g ± %.2g (spread %.3g); hutch++ (budget 99) mean %.6g ± %.2g (spread %.3g); hutch++ at budget %d spread %.3g",
		len(m.Theta), exact, budget, mk, ek, sk, mh, eh, sh, budget, ss)
	if math.Abs(mk-exact) > 3*ek {
		t.Errorf("krylov mean %v, exact %v (SE of mean %v)", mk, exact, ek)
	}
	if math.Abs(mh-exact) > 3*eh {
		t.Errorf("hutch++ mean %v, exact %v (SE of mean %v)", mh, exact, eh)
	}
	if math.Abs(mk-mh) > 3*math.Hypot(ek, eh) {
		t.Errorf("krylov mean %v, hutch++ mean %v (SEs %v, %v)", mk, mh, ek, eh)
	}
	if sk > ss {
		t.Errorf("krylov spread %v above hutch++'s %v at the same budget %d", sk, ss, budget)
	}

	alone := run(3, krylov)
	if alone.Costs[1].Measure != spec.CostLambdaMax || alone.Measures["trace_krylov_rank"] != float64(alone.Costs[1].HVPs-1) ||
		alone.Costs[2].HVPs != budget {
		t.Errorf("without top_k: rank %v, costs %+v", alone.Measures["trace_krylov_rank"], alone.Costs)
	}
	ext := run(4, topk, spec.TraceSettings{Method: spec.TraceKrylov, Budget: budget, KrylovRank: 18})
	if ext.Measures["trace_krylov_rank"] != 18 || ext.Costs[2].HVPs != budget {
		t.Errorf("krylov_rank 18: rank %v, costs %+v", ext.Measures["trace_krylov_rank"], ext.Costs)
	}
	if d := ext.Measures["trace"] - exact; math.Abs(d) > 4*ext.Measures["trace_se"] {
		t.Errorf("krylov_rank 18: trace %v ± %v, exact %v", ext.Measures["trace"], ext.Measures["trace_se"], exact)
	}
	a, b := run(5, topk, krylov), run(5, topk, krylov)
	if !reflect.DeepEqual(a.WithoutTimes(), b.WithoutTimes()) {
		t.Error("two runs of the same spec differ")
	}
}

// TestTraceFloat32: trace.precision float32 on the small trained network of
// TestTraceKrylov, for every method. With the same seed the probes are the
// same, so the float32 and float64 traces differ only by the products'
// rounding: within 1e-4 of the trace (measured about 1e-6) and far below
// trace_se. The exact trace lies within 4 SE, the cost entry counts the
// budget's products and the float32 operator's set-up as one gradient, two
// runs are bit-identical, and a network the float32 products do not
// support is refused naming the field.
func TestTraceFloat32(t *testing.T) {
	ts := measureSpec()
	ts.Curvature = spec.Curvature{LanczosSteps: 20, Tol: 1e-3}
	m := trainedModel(t, ts)
	h := denseHessian(m.Net, m.Theta, m.Examples.X, m.Examples.Y)
	exact := mat.Trace(h)
	topk := spec.TopKSettings{K: 3, Tol: 1e-3}
	run := func(ms ...any) spec.Result {
		t.Helper()
		s := ts
		s.Seed = 3
		s.Curvature.Measures = spec.MeasuresOf(ms...)
		r, err := Measure(context.Background(), s, m)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, method := range []string{spec.TraceHutchPP, spec.TraceHutchinson, spec.TraceKrylov} {
		s64 := spec.TraceSettings{Method: method, Budget: 24}
		s32 := s64
		s32.Precision = spec.PrecisionFloat32
		r64, r32 := run(topk, s64), run(topk, s32)
		tr64, tr32, se := r64.Measures["trace"], r32.Measures["trace"], r32.Measures["trace_se"]
		d := math.Abs(tr32-tr64) / math.Abs(tr64)
		t.Logf("%s: exact %.8g, float64 %.8g, float32 %.8g ± %.2g (relative difference %.1e)", method, exact, tr64, tr32, se, d)
		if d > 1e-4 || math.Abs(tr32-tr64) > se/100 {
			t.Errorf("%s: float32 trace %v, float64 %v (SE %v)", method, tr32, tr64, se)
		}
		if math.Abs(tr32-exact) > 4*se {
			t.Errorf("%s: float32 trace %v ± %v, exact %v", method, tr32, se, exact)
		}
		c := r32.Costs[2]
		if c.Measure != "trace" || c.HVPs != 24 || c.Gradients != 1 || r64.Costs[2].Gradients != 0 {
			t.Errorf("%s: costs %+v (float64: %+v)", method, r32.Costs, r64.Costs)
		}
		if again := run(topk, s32); !reflect.DeepEqual(again.WithoutTimes(), r32.WithoutTimes()) {
			t.Errorf("%s: two float32 runs differ", method)
		}
	}
	bn := ts
	bn.Model.BatchNorm = true
	bn.Curvature.Measures = spec.MeasuresOf(spec.TraceSettings{Precision: spec.PrecisionFloat32})
	err := bn.Validate()
	var fe *spec.FieldError
	if !errors.As(err, &fe) || !strings.Contains(fe.Field, "trace.precision") {
		t.Errorf("batchnorm with float32 trace products: %v, want an error naming curvature.trace.precision", err)
	}
}
