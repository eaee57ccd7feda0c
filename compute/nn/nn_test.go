package nn_test

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/nn"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// problem is a small network with random parameters and a random batch.
type problem struct {
	net   *nn.Network
	theta []float64
	x     []float64
	y     []int
}

// newProblem builds the 5-7-6-3 MLP with n random examples; θ gets random
// (nonzero) biases so every parameter matters.
func newProblem(t testing.TB, act nn.Activation, n int) problem {
	t.Helper()
	net, err := nn.NewMLP(5, []int{7, 6}, 3, act)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	theta := make([]float64, net.NumParams())
	net.Init(theta, rng)
	for i := range theta {
		theta[i] += 0.3 * rng.NormFloat64()
	}
	x := make([]float64, n*5)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(3)
	}
	return problem{net, theta, x, y}
}

func randVec(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 99))
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

// relErr is ‖a − b‖∞ / ‖b‖∞.
func relErr(a, b []float64) float64 {
	return floats.Distance(a, b, math.Inf(1)) / floats.Norm(b, math.Inf(1))
}

var acts = []struct {
	name string
	act  nn.Activation
}{{"relu", nn.ActReLU}, {"tanh", nn.ActTanh}}

func TestLayout(t *testing.T) {
	p := newProblem(t, nn.ActReLU, 1)
	// 5-7-6-3: W1 7×5, b1 7, W2 6×7, b2 6, W3 3×6, b3 3.
	if got, want := p.net.NumParams(), 7*5+7+6*7+6+3*6+3; got != want {
		t.Fatalf("NumParams = %d, want %d", got, want)
	}
	wantOffs := []int{0, 42, 42, 90, 90, 111}
	for l, w := range wantOffs {
		if got := p.net.Offset(l); got != w {
			t.Errorf("Offset(%d) = %d, want %d", l, got, w)
		}
	}
}

// TestLossReference checks the forward pass of a 1-layer net (softmax
// regression) against a direct computation, including huge logits.
func TestLossReference(t *testing.T) {
	net, err := nn.NewMLP(2, nil, 3, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	// W = [[1,2],[3,4],[5,6]], b = [0.1, 0.2, 0.3]
	theta := []float64{1, 2, 3, 4, 5, 6, 0.1, 0.2, 0.3}
	x := []float64{1, -1, 0.5, 0.25, 300, 400}
	y := []int{0, 2, 1}
	var want float64
	correct := 0
	for i := range y {
		z := make([]float64, 3)
		for c := range z {
			z[c] = theta[c*2]*x[i*2] + theta[c*2+1]*x[i*2+1] + theta[6+c]
		}
		m := slices.Max(z)
		lse := m + math.Log(math.Exp(z[0]-m)+math.Exp(z[1]-m)+math.Exp(z[2]-m))
		want += (lse - z[y[i]]) / 3
		if slices.Index(z, m) == y[i] {
			correct++
		}
	}
	loss, acc := net.NewWorkspace(2).Loss(theta, x, y)
	if math.Abs(loss-want) > 1e-12*math.Abs(want) || acc != float64(correct)/3 {
		t.Fatalf("loss, acc = %v, %v; want %v, %v", loss, acc, want, float64(correct)/3)
	}
}

// TestGradientFD compares backprop with central differences, h = 1e-6:
// relative error ≤ 1e-6.
func TestGradientFD(t *testing.T) {
	for _, a := range acts {
		t.Run(a.name, func(t *testing.T) {
			p := newProblem(t, a.act, 11)
			ws := p.net.NewWorkspace(4) // 3 chunks
			grad := make([]float64, len(p.theta))
			ws.LossGrad(grad, p.theta, p.x, p.y)
			const h = 1e-6
			fd := make([]float64, len(p.theta))
			th := slices.Clone(p.theta)
			for i := range th {
				th[i] = p.theta[i] + h
				lp, _ := ws.Loss(th, p.x, p.y)
				th[i] = p.theta[i] - h
				lm, _ := ws.Loss(th, p.x, p.y)
				th[i] = p.theta[i]
				fd[i] = (lp - lm) / (2 * h)
			}
			t.Logf("gradient relative error %.3g", relErr(grad, fd))
			if e := relErr(grad, fd); e > 1e-6 {
				t.Errorf("gradient relative error %.3g > 1e-6", e)
			}
		})
	}
}

// fdHVP is the central difference (∇L(θ+hv) − ∇L(θ−hv)) / 2h.
func fdHVP(p problem, ws *nn.Workspace, v []float64, h float64) []float64 {
	gp, gm := make([]float64, len(v)), make([]float64, len(v))
	th := slices.Clone(p.theta)
	floats.AddScaled(th, h, v)
	ws.LossGrad(gp, th, p.x, p.y)
	copy(th, p.theta)
	floats.AddScaled(th, -h, v)
	ws.LossGrad(gm, th, p.x, p.y)
	floats.Sub(gp, gm)
	floats.Scale(1/(2*h), gp)
	return gp
}

// TestHVPFD compares the R-operator product with central differences of the
// gradient, h = 1e-6: relative error ≤ 1e-6.
func TestHVPFD(t *testing.T) {
	for _, a := range acts {
		t.Run(a.name, func(t *testing.T) {
			p := newProblem(t, a.act, 11)
			ws := p.net.NewWorkspace(4)
			for s := uint64(0); s < 3; s++ {
				v := randVec(len(p.theta), s)
				hv := make([]float64, len(v))
				ws.HVP(hv, p.theta, v, p.x, p.y)
				t.Logf("v%d: Hv relative error %.3g", s, relErr(hv, fdHVP(p, ws, v, 1e-6)))
				if e := relErr(hv, fdHVP(p, ws, v, 1e-6)); e > 1e-6 {
					t.Errorf("v%d: Hv relative error %.3g > 1e-6", s, e)
				}
			}
		})
	}
}

// denseHessian builds H column by column from Hv with unit vectors.
func denseHessian(h *nn.Hessian) *mat.Dense {
	n := h.Dim()
	H := mat.NewDense(n, n, nil)
	e, col := make([]float64, n), make([]float64, n)
	for j := 0; j < n; j++ {
		e[j] = 1
		h.Apply(col, e)
		e[j] = 0
		H.SetCol(j, col)
	}
	return H
}

// TestDenseHessian checks the Hessian assembled from Hv: symmetric to 1e-10,
// equal to the finite-difference Hessian to 1e-6 (relative, max norm), and
// Lanczos λ₁ equal to the largest eigenvalue of mat.EigenSym to 1e-8.
func TestDenseHessian(t *testing.T) {
	for _, a := range acts {
		t.Run(a.name, func(t *testing.T) {
			p := newProblem(t, a.act, 11)
			P := len(p.theta)
			hess := nn.NewHessian(p.net, p.theta, p.x, p.y, 4)
			H := denseHessian(hess)
			hmax := mat.Norm(H, math.Inf(1))
			var T mat.Dense
			T.CloneFrom(H.T())
			T.Sub(&T, H)
			if asym := mat.Norm(&T, math.Inf(1)) / hmax; asym > 1e-10 {
				t.Errorf("asymmetry %.3g > 1e-10", asym)
			}
			ws := p.net.NewWorkspace(4)
			e := make([]float64, P)
			var maxDiff, maxAbs float64
			for j := 0; j < P; j++ {
				e[j] = 1
				col := fdHVP(p, ws, e, 1e-6)
				e[j] = 0
				for i, c := range col {
					maxDiff = max(maxDiff, math.Abs(c-H.At(i, j)))
					maxAbs = max(maxAbs, math.Abs(c))
				}
			}
			t.Logf("asymmetry %.3g, vs FD %.3g", mat.Norm(&T, math.Inf(1))/hmax, maxDiff/maxAbs)
			if r := maxDiff / maxAbs; r > 1e-6 {
				t.Errorf("Hv Hessian vs finite differences: relative %.3g > 1e-6", r)
			}
			sym := mat.NewSymDense(P, nil)
			for i := 0; i < P; i++ {
				for j := i; j < P; j++ {
					sym.SetSym(i, j, (H.At(i, j)+H.At(j, i))/2)
				}
			}
			var es mat.EigenSym
			if !es.Factorize(sym, false) {
				t.Fatal("EigenSym failed")
			}
			vals := es.Values(nil)
			want := vals[P-1]
			start := make([]float64, P)
			curvature.RandomUnit(start, rand.New(rand.NewPCG(5, 6)))
			eig, err := curvature.Lanczos(context.Background(), P, hess.Apply, start,
				curvature.Settings{Steps: P, Tol: 1e-10, Verify: true})
			if err != nil {
				t.Fatal(err)
			}
			if r := math.Abs(eig.Value-want) / math.Abs(want); r > 1e-8 || !eig.Converged {
				t.Errorf("Lanczos λ₁ = %v (converged %v, %d steps), EigenSym %v: relative %.3g > 1e-8",
					eig.Value, eig.Converged, eig.Steps, want, r)
			}
			t.Logf("P=%d λ₁=%.6g λ_min=%.6g Lanczos steps %d residual %.2g", P, want, vals[0], eig.Steps, eig.Residual)
		})
	}
}

// TestHessianMatchesHVP checks that the cached operator is bitwise equal to
// Workspace.HVP with the same chunking.
func TestHessianMatchesHVP(t *testing.T) {
	p := newProblem(t, nn.ActReLU, 11)
	hess := nn.NewHessian(p.net, p.theta, p.x, p.y, 4)
	ws := p.net.NewWorkspace(4)
	v := randVec(len(p.theta), 7)
	a, b := make([]float64, len(v)), make([]float64, len(v))
	for k := 0; k < 2; k++ {
		hess.Apply(a, v)
		ws.HVP(b, p.theta, v, p.x, p.y)
		if !slices.Equal(a, b) {
			t.Fatalf("product %d: cached Hessian differs from HVP", k)
		}
	}
	if hess.Products() != 2 {
		t.Errorf("Products = %d, want 2", hess.Products())
	}
}

// TestChunking checks that results do not depend on the chunk size beyond
// rounding (1e-13 relative).
func TestChunking(t *testing.T) {
	p := newProblem(t, nn.ActTanh, 23)
	v := randVec(len(p.theta), 3)
	var ref []float64
	var refLoss float64
	for _, rows := range []int{23, 1, 5, 100} {
		ws := p.net.NewWorkspace(rows)
		g := make([]float64, len(p.theta))
		hv := make([]float64, len(p.theta))
		loss, _ := ws.LossGrad(g, p.theta, p.x, p.y)
		ws.HVP(hv, p.theta, v, p.x, p.y)
		all := append(g, hv...)
		if ref == nil {
			ref, refLoss = all, loss
			continue
		}
		if e := relErr(all, ref); e > 1e-13 || math.Abs(loss-refLoss) > 1e-13*refLoss {
			t.Errorf("rows=%d: relative difference %.3g, loss %v vs %v", rows, e, loss, refLoss)
		}
	}
}

// TestNoAllocs checks that repeated evaluations do not allocate.
func TestNoAllocs(t *testing.T) {
	p := newProblem(t, nn.ActReLU, 11)
	ws := p.net.NewWorkspace(4)
	g := make([]float64, len(p.theta))
	v := randVec(len(p.theta), 1)
	hess := nn.NewHessian(p.net, p.theta, p.x, p.y, 4)
	for name, f := range map[string]func(){
		"Loss":     func() { ws.Loss(p.theta, p.x, p.y) },
		"LossGrad": func() { ws.LossGrad(g, p.theta, p.x, p.y) },
		"HVP":      func() { ws.HVP(g, p.theta, v, p.x, p.y) },
		"Hessian":  func() { hess.Apply(g, v) },
	} {
		if n := testing.AllocsPerRun(10, f); n != 0 {
			t.Errorf("%s: %v allocations per call", name, n)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := nn.New(nn.SoftmaxCrossEntropy{}, &nn.Dense{In: 3, Out: 4}, &nn.ReLU{Size: 5}); err == nil {
		t.Error("mismatched layers accepted")
	}
	if _, err := nn.New(nn.SoftmaxCrossEntropy{}); err == nil {
		t.Error("empty network accepted")
	}
	if _, err := nn.ParseActivation("gelu"); err == nil {
		t.Error("unknown activation accepted")
	}
}

// benchNet is a modest 64-256-256-10 ReLU MLP with a batch of rows examples.
func benchNet(b *testing.B, rows int) problem {
	net, err := nn.NewMLP(64, []int{256, 256}, 10, nn.ActReLU)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	theta := make([]float64, net.NumParams())
	net.Init(theta, rng)
	x := make([]float64, rows*64)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	y := make([]int, rows)
	for i := range y {
		y[i] = rng.IntN(10)
	}
	return problem{net, theta, x, y}
}

// BenchmarkHVP: one exact Hessian-vector product (full forward, backward,
// R-forward, R-backward) over 512 examples of the 64-256-256-10 net.
func BenchmarkHVP(b *testing.B) {
	p := benchNet(b, 512)
	ws := p.net.NewWorkspace(512)
	v := randVec(len(p.theta), 1)
	hv := make([]float64, len(v))
	b.ReportAllocs()
	for b.Loop() {
		ws.HVP(hv, p.theta, v, p.x, p.y)
	}
}

// BenchmarkHessianCached: one product of the cached operator (R passes only)
// over the same 512 examples.
func BenchmarkHessianCached(b *testing.B) {
	p := benchNet(b, 512)
	h := nn.NewHessian(p.net, p.theta, p.x, p.y, 512)
	v := randVec(len(p.theta), 1)
	hv := make([]float64, len(v))
	b.ReportAllocs()
	for b.Loop() {
		h.Apply(hv, v)
	}
}

// BenchmarkGrad: loss and gradient over a batch of 128 examples.
func BenchmarkGrad(b *testing.B) {
	p := benchNet(b, 128)
	ws := p.net.NewWorkspace(128)
	g := make([]float64, len(p.theta))
	b.ReportAllocs()
	for b.Loop() {
		ws.LossGrad(g, p.theta, p.x, p.y)
	}
}
