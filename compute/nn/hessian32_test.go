package nn_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/compute/nn"
	"gonum.org/v1/gonum/floats"
)

// TestHessian32MatchesFloat64 checks the single-precision Hessian product
// against the float64 Hessian of the same network at the same (float32)
// parameters and data: relu and tanh, cross-entropy and squared error, with
// and without weight decay, in one chunk, in several cached chunks and in
// several recomputed ones. The tolerance, 3e-5 of ‖Hv‖∞ (about 500 float32
// ulps), is that of the four passes of float32 products of length ≤ 40 that
// a product makes. It also checks that the cached and recomputed chunks give
// the same bits, that a product repeated gives the same bits, and the count.
func TestHessian32MatchesFloat64(t *testing.T) {
	float32Nets(t, func(name string, loss nn.LossFunc, lambda float64, net *nn.Network) {
		p, _, _ := problem32(netProblem(t, net, 40, 7))
		n32, err := net.Float32()
		if err != nil {
			t.Fatal(err)
		}
		h64 := nn.NewHessian(net, p.theta, p.x, p.y, 40)
		one := n32.NewHessian(p.theta, p.x, p.y, 40)
		cached := n32.NewHessian(p.theta, p.x, p.y, 16)
		uncached := n32.NewHessianUncached(p.theta, p.x, p.y, 16)
		want, got := make([]float64, len(p.theta)), make([]float64, len(p.theta))
		again, other := make([]float64, len(p.theta)), make([]float64, len(p.theta))
		for k := range 3 {
			v := rounded32(randVec(len(p.theta), uint64(k+1)))
			h64.Apply(want, v)
			for _, c := range []struct {
				name string
				h    *nn.Hessian32
			}{{"one chunk", one}, {"cached chunks", cached}, {"recomputed chunks", uncached}} {
				c.h.Apply(got, v)
				if e := relErr(got, want); e > 3e-5 || math.IsNaN(e) {
					t.Errorf("%s %T λ=%g %s, v %d: relative error %.2e > 3e-5", name, loss, lambda, c.name, k, e)
				}
			}
			cached.Apply(again, v)
			uncached.Apply(other, v)
			if !slices.Equal(again, other) {
				t.Errorf("%s %T λ=%g v %d: cached and recomputed chunks differ", name, loss, lambda, k)
			}
			one.Apply(again, v)
			one.Apply(other, v)
			if !slices.Equal(again, other) {
				t.Errorf("%s %T λ=%g v %d: a repeated product differs", name, loss, lambda, k)
			}
		}
		if one.Products() != 9 || one.Dim() != len(p.theta) {
			t.Errorf("Products = %d, Dim = %d, want 9 and %d", one.Products(), one.Dim(), len(p.theta))
		}
	})
}

// TestHessian32Accuracy measures the float32 product on a network of the
// width of MNIST's (784-256-256-10, P = 269,322, 500 examples in one chunk
// and in chunks of 128) against the float64 one, for random directions and
// for a direction near the top eigenvector (the Lanczos vectors a trace
// estimate deflates). On these random weights and Gaussian inputs the sums
// of 784 and 256 terms cancel heavily, and the relative error in the 2-norm
// is 1.6e-5–2.7e-5 (about 784 float32 ulps); it must stay below 1e-4, and
// the quadratic form vᵀHv, the quantity a Hutchinson probe contributes,
// (measured 2.5e-7–1.0e-5) within 5e-5 relative.
func TestHessian32Accuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("P = 269,322: skipped with -short")
	}
	net, err := nn.NewMLP(784, []int{256, 256}, 10, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _ := problem32(netProblem(t, net, 500, 3))
	n32, err := net.Float32()
	if err != nil {
		t.Fatal(err)
	}
	h64 := nn.NewHessian(net, p.theta, p.x, p.y, 500)
	hv, want := make([]float64, len(p.theta)), make([]float64, len(p.theta))
	top := randVec(len(p.theta), 11)
	for range 8 { // power iteration: a direction dominated by the top of the spectrum
		h64.Apply(hv, top)
		floats.ScaleTo(top, 1/floats.Norm(hv, 2), hv)
	}
	for _, rows := range []int{500, 128} {
		h32 := n32.NewHessian(p.theta, p.x, p.y, rows)
		for k, v := range [][]float64{rounded32(randVec(len(p.theta), 1)), rounded32(randVec(len(p.theta), 2)), rounded32(top)} {
			h64.Apply(want, v)
			h32.Apply(hv, v)
			e := floats.Distance(hv, want, 2) / floats.Norm(want, 2)
			q64, q32 := floats.Dot(v, want), floats.Dot(v, hv)
			eq := math.Abs(q32-q64) / math.Abs(q64)
			t.Logf("rows %d, v %d: ‖Hv₃₂ − Hv₆₄‖/‖Hv₆₄‖ = %.2e, vᵀHv relative %.2e", rows, k, e, eq)
			if e > 1e-4 || math.IsNaN(e) {
				t.Errorf("rows %d, v %d: relative error %.2e > 1e-4", rows, k, e)
			}
			if eq > 5e-5 || math.IsNaN(eq) {
				t.Errorf("rows %d, v %d: vᵀHv %v against %v, relative %.2e > 5e-5", rows, k, q32, q64, eq)
			}
		}
	}
}

// rounded32 returns v rounded to float32 (and widened back), the vector a
// float32 product sees.
func rounded32(v []float64) []float64 {
	v32 := make([]float32, len(v))
	nn.To32(v32, v)
	return widen(v32)
}

// BenchmarkHessianPrecision times, alternating within every iteration, one
// cached product of the float64 Hessian and of the float32 one on the
// keskar-f1 network (784-512-512-10, ReLU, cross-entropy, P = 669,706) over
// 2,000 random examples: float64 in the trial's chunks of 512 rows, float32
// in the same chunks and in one chunk of 2,000. It reports the seconds per
// product of each (s64, s32, s32one) and the median over iterations of the
// per-iteration speed-ups (x32 = s64/s32, x32one = s64/s32one).
func BenchmarkHessianPrecision(b *testing.B) {
	net, err := nn.NewMLP(784, []int{512, 512}, 10, nn.ActReLU)
	if err != nil {
		b.Fatal(err)
	}
	p, _, _ := problem32(netProblem(b, net, 2000, 1))
	n32, err := net.Float32()
	if err != nil {
		b.Fatal(err)
	}
	h64 := nn.NewHessian(net, p.theta, p.x, p.y, 512)
	h32 := n32.NewHessian(p.theta, p.x, p.y, 512)
	one := n32.NewHessian(p.theta, p.x, p.y, 2000)
	v := randVec(len(p.theta), 1)
	hv := make([]float64, len(v))
	var t64, t32, tone, r32, rone []float64
	timeIt := func(f func()) float64 {
		start := time.Now()
		f()
		return time.Since(start).Seconds()
	}
	for b.Loop() {
		a := timeIt(func() { h64.Apply(hv, v) })
		c := timeIt(func() { h32.Apply(hv, v) })
		d := timeIt(func() { one.Apply(hv, v) })
		t64, t32, tone = append(t64, a), append(t32, c), append(tone, d)
		r32, rone = append(r32, a/c), append(rone, a/d)
	}
	med := func(x []float64) float64 {
		x = slices.Clone(x)
		slices.Sort(x)
		return x[len(x)/2]
	}
	b.ReportMetric(med(t64), "s64")
	b.ReportMetric(med(t32), "s32")
	b.ReportMetric(med(tone), "s32one")
	b.ReportMetric(med(r32), "x32")
	b.ReportMetric(med(rone), "x32one")
}
