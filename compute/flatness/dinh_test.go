package flatness_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/flatness"
	"github.com/flatsweep/flatsweep/compute/nn"
	"gonum.org/v1/gonum/mat"
)

// TestAlphaScaleFunction: T_α and a product-one layer scaling leave the
// outputs unchanged to 1e-12 relative.
func TestAlphaScaleFunction(t *testing.T) {
	net, theta, o := tinyNet(t, 4, []int{6, 5}, 3, 40, 1)
	x, _ := o.Data()
	for _, alpha := range []float64{5, 0.1, 37} {
		for _, pair := range [][2]int{{0, 2}, {2, 4}} {
			ta, err := flatness.AlphaScale(nil, theta, net, pair[0], pair[1], alpha)
			if err != nil {
				t.Fatal(err)
			}
			abs, rel, err := flatness.OutputChange(net, theta, ta, x)
			if err != nil || rel > 1e-12 {
				t.Errorf("α = %v layers %v: output change %.2g (relative %.2g), %v", alpha, pair, abs, rel, err)
			}
		}
	}
	tl, err := flatness.LayerScale(nil, theta, net, []float64{2, 0.125, 4})
	if err != nil {
		t.Fatal(err)
	}
	if _, rel, err := flatness.OutputChange(net, theta, tl, x); err != nil || rel > 1e-12 {
		t.Errorf("layer scaling: relative change %.2g, %v", rel, err)
	}
	// Errors.
	for name, f := range map[string]func() error{
		"not consecutive": func() error { _, err := flatness.AlphaScale(nil, theta, net, 0, 4, 2); return err },
		"relu not dense":  func() error { _, err := flatness.AlphaScale(nil, theta, net, 1, 3, 2); return err },
		"alpha":           func() error { _, err := flatness.AlphaScale(nil, theta, net, 0, 2, -1); return err },
		"product":         func() error { _, err := flatness.LayerScale(nil, theta, net, []float64{2, 2, 2}); return err },
		"count":           func() error { _, err := flatness.LayerScale(nil, theta, net, []float64{2, 0.5}); return err },
	} {
		if err := f(); !errors.Is(err, flatness.ErrInvalid) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	tanh, _ := nn.NewMLP(4, []int{6}, 3, nn.ActTanh)
	th := make([]float64, tanh.NumParams())
	if _, err := flatness.AlphaScale(nil, th, tanh, 0, 2, 2); !errors.Is(err, flatness.ErrInvalid) {
		t.Errorf("tanh: err = %v", err)
	}
	t.Log(errorsText(flatness.AlphaScale(nil, th, tanh, 0, 2, 2)))
}

func errorsText(_ []float64, err error) string { return err.Error() }

// TestAlphaScaleHessian: ∇²L(T_α θ) = D⁻¹ ∇²L(θ) D⁻¹ entrywise (dense
// Hessians from HVPs, 1e-10 relative to max|H|): the (W₁,b₁) block is
// multiplied by α⁻², the W₂ block by α²; λ₁ and the trace change.
func TestAlphaScaleHessian(t *testing.T) {
	net, theta, o := tinyNet(t, 3, []int{4}, 3, 30, 2)
	alpha := 3.0
	d, err := flatness.AlphaScaleFactors(net, 0, 2, alpha)
	if err != nil {
		t.Fatal(err)
	}
	ta, _ := flatness.Rescale(nil, d, theta)
	h, ha := denseHessian(o, theta), denseHessian(o, ta)
	var hmax, worst float64
	for i := range h {
		for j := range h {
			hmax = max(hmax, math.Abs(h[i][j]))
		}
	}
	for i := range h {
		for j := range h {
			worst = max(worst, math.Abs(ha[i][j]-h[i][j]/(d[i]*d[j])))
		}
	}
	t.Logf("max |H'(i,j) − H(i,j)/(d_i d_j)| / max|H| = %.2g", worst/hmax)
	if worst > 1e-10*hmax {
		t.Errorf("Hessian transformation error %.3g", worst/hmax)
	}
	// Spot-check block factors: W₁ entry 0 (factor α⁻²), W₂ first entry (α²).
	w2 := net.Offset(2)
	if r := ha[0][0] / h[0][0]; math.Abs(r-1/(alpha*alpha)) > 1e-10 {
		t.Errorf("θ₁ block factor %v, want %v", r, 1/(alpha*alpha))
	}
	if r := ha[w2][w2] / h[w2][w2]; math.Abs(r-alpha*alpha) > 1e-9*alpha*alpha {
		t.Errorf("θ₂ block factor %v, want %v", r, alpha*alpha)
	}
	l1, tr := spectrum(h)
	l1a, tra := spectrum(ha)
	t.Logf("λ₁ %.4g → %.4g, trace %.4g → %.4g under α = %v", l1, l1a, tr, tra, alpha)
	if relDiff(l1, l1a) < 0.1 || relDiff(tr, tra) < 0.1 {
		t.Errorf("λ₁ or trace unchanged")
	}
}

func spectrum(h [][]float64) (top, trace float64) {
	n := len(h)
	s := mat.NewSymDense(n, nil)
	for i := range h {
		trace += h[i][i]
		for j := i; j < n; j++ {
			s.SetSym(i, j, (h[i][j]+h[j][i])/2)
		}
	}
	var es mat.EigenSym
	es.Factorize(s, false)
	v := es.Values(nil)
	return v[n-1], trace
}

// TestReparametrizationAware: adaptive sharpness (c = |θ|, worst case for
// p = 2 and ∞, and average case with the same seed), relative flatness of
// both layers (exact and Hutchinson) and the Fisher–Rao norm are unchanged
// by T_α (1e-8 relative), while plain sharpness (c = 1) changes by > 10 %.
func TestReparametrizationAware(t *testing.T) {
	net, theta, o := tinyNet(t, 3, []int{5}, 3, 30, 3)
	ta, err := flatness.AlphaScale(nil, theta, net, 0, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rng := func() *rand.Rand { return rand.New(rand.NewPCG(5, 5)) }
	for _, p := range []float64{2, math.Inf(1)} {
		for _, adaptive := range []bool{true, false} {
			rho := 0.05
			if !adaptive {
				rho = 0.02
			}
			s := flatness.SharpnessSettings{Rho: rho, Norm: p, Adaptive: adaptive, Iterations: 10, Samples: 50}
			a, err := flatness.AdaptiveSharpness(ctx, o, theta, rng(), s)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := flatness.AdaptiveSharpness(ctx, o, ta, rng(), s)
			av, err := flatness.AverageSharpness(ctx, o, theta, rng(), s)
			if err != nil {
				t.Fatal(err)
			}
			bv, _ := flatness.AverageSharpness(ctx, o, ta, rng(), s)
			t.Logf("p = %v adaptive %v: worst %.6g → %.6g (%d iterations); average %.6g ± %.2g → %.6g ± %.2g",
				p, adaptive, a.Sharpness, b.Sharpness, a.Iterations, av.Sharpness, av.StdErr, bv.Sharpness, bv.StdErr)
			if adaptive {
				if relDiff(a.Sharpness, b.Sharpness) > 1e-8 || relDiff(av.Sharpness, bv.Sharpness) > 1e-8 {
					t.Errorf("adaptive sharpness changed under T_α")
				}
			} else if relDiff(a.Sharpness, b.Sharpness) < 0.1 {
				t.Errorf("plain worst-case sharpness unchanged: %v vs %v", a.Sharpness, b.Sharpness)
			}
		}
	}
	for _, layer := range []int{0, 2} {
		ex, err := flatness.RelativeFlatness(ctx, o, net, theta, layer, nil, flatness.RelativeSettings{Exact: true})
		if err != nil {
			t.Fatal(err)
		}
		exa, _ := flatness.RelativeFlatness(ctx, o, net, ta, layer, nil, flatness.RelativeSettings{Exact: true})
		hs := flatness.RelativeSettings{Trace: curvature.TraceSettings{Budget: 200}}
		hu, err := flatness.RelativeFlatness(ctx, o, net, theta, layer, rng(), hs)
		if err != nil {
			t.Fatal(err)
		}
		hua, _ := flatness.RelativeFlatness(ctx, o, net, ta, layer, rng(), hs)
		t.Logf("layer %d: κ exact %.6g → %.6g (%d products); Hutchinson %.6g ± %.2g → %.6g",
			layer, ex.Kappa, exa.Kappa, ex.Products, hu.Kappa, hu.StdErr, hua.Kappa)
		if relDiff(ex.Kappa, exa.Kappa) > 1e-8 || relDiff(hu.Kappa, hua.Kappa) > 1e-8 {
			t.Errorf("relative flatness changed under T_α")
		}
		if math.Abs(hu.Kappa-ex.Kappa) > 4*hu.StdErr {
			t.Errorf("Hutchinson κ %v ± %v vs exact %v", hu.Kappa, hu.StdErr, ex.Kappa)
		}
	}
	x, y := o.Data()
	for _, bias := range []bool{false, true} {
		fr, err := flatness.FisherRao(ctx, net, theta, x, y, nil, flatness.FisherRaoSettings{IncludeBiases: bias})
		if err != nil {
			t.Fatal(err)
		}
		fra, _ := flatness.FisherRao(ctx, net, ta, x, y, nil, flatness.FisherRaoSettings{IncludeBiases: bias})
		t.Logf("Fisher–Rao (biases %v): %.6g → %.6g", bias, fr.Norm2, fra.Norm2)
		if relDiff(fr.Norm2, fra.Norm2) > 1e-8 {
			t.Errorf("Fisher–Rao changed under T_α")
		}
	}
}

// TestFisherRaoHomogeneity: with zero biases a ReLU net with L Dense layers is
// positively homogeneous of degree L in θ, so ⟨θ, ∇ℓ⟩ = L⟨f, ∂ℓ/∂f⟩ and
// ‖θ‖²_fr = L² mean ⟨f, softmax(f) − e_y⟩² (1e-10 relative).
func TestFisherRaoHomogeneity(t *testing.T) {
	net, theta, o := tinyNet(t, 3, []int{5, 4}, 3, 25, 4)
	for l, ly := range net.Layers() {
		if d, ok := ly.(*nn.Dense); ok {
			off := net.Offset(l) + d.Out*d.In
			clear(theta[off : off+d.Out])
		}
	}
	x, y := o.Data()
	fr, err := flatness.FisherRao(context.Background(), net, theta, x, y, nil, flatness.FisherRaoSettings{})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := flatness.Outputs(nil, net, theta, x)
	k := net.OutSize()
	var want float64
	for i := range y {
		row := out[i*k : (i+1)*k]
		m := row[0]
		for _, v := range row {
			m = max(m, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(v - m)
		}
		var ip float64
		for c, v := range row {
			g := math.Exp(v-m) / s
			if c == y[i] {
				g--
			}
			ip += g * v
		}
		want += 9 * ip * ip
	}
	want /= float64(len(y))
	t.Logf("Fisher–Rao %.10g, homogeneity formula %.10g", fr.Norm2, want)
	if relDiff(fr.Norm2, want) > 1e-10 {
		t.Errorf("Fisher–Rao %v, want %v", fr.Norm2, want)
	}
}
