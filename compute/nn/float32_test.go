package nn_test

import (
	"errors"
	"math"
	"runtime"
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
	"gonum.org/v1/gonum/blas/blas32"
)

// problem32 returns p with θ and x rounded to float32 (so that the float64
// network evaluates exactly the float32 inputs), and their float32 copies.
func problem32(p problem) (problem, []float32, []float32) {
	th32, x32 := make([]float32, len(p.theta)), make([]float32, len(p.x))
	nn.To32(th32, p.theta)
	nn.To32(x32, p.x)
	nn.To64(p.theta, th32)
	nn.To64(p.x, x32)
	return p, th32, x32
}

func widen(v []float32) []float64 {
	w := make([]float64, len(v))
	nn.To64(w, v)
	return w
}

// TestFloat32GradMatchesFloat64 checks the float32 loss and gradient
// against the float64 ones of the same network at the same (float32)
// parameters and data: relu and tanh, cross-entropy and squared error,
// with and without weight decay, in one chunk and in several. The
// tolerance, 2e-5 of ‖∇L‖∞ (about 300 float32 ulps) and 2e-6 relative for
// the loss, is that of a few layers of float32 products of length ≤ 40.
// float32Nets calls f with the 5-7-6-3 MLP of every activation of acts,
// with cross-entropy and with squared error, without weight decay and with
// λ = 0.01: the networks Net32 supports.
func float32Nets(t *testing.T, f func(act string, loss nn.LossFunc, lambda float64, net *nn.Network)) {
	t.Helper()
	for _, a := range acts {
		for _, loss := range []nn.LossFunc{nn.SoftmaxCrossEntropy{}, nn.MeanSquaredError{}} {
			for _, lambda := range []float64{0, 0.01} {
				base, err := nn.NewMLP(5, []int{7, 6}, 3, a.act)
				if err != nil {
					t.Fatal(err)
				}
				net, err := base.WithLoss(loss)
				if err == nil {
					net, err = net.WithWeightDecay(lambda, false)
				}
				if err != nil {
					t.Fatal(err)
				}
				f(a.name, loss, lambda, net)
			}
		}
	}
}

func TestFloat32GradMatchesFloat64(t *testing.T) {
	float32Nets(t, func(name string, loss nn.LossFunc, lambda float64, net *nn.Network) {
		for _, rows := range []int{40, 16} {
			p, th32, x32 := problem32(netProblem(t, net, 40, 7))
			g64 := make([]float64, len(p.theta))
			l64, acc64 := net.NewWorkspace(40).LossGrad(g64, p.theta, p.x, p.y)
			n32, err := net.Float32()
			if err != nil {
				t.Fatal(err)
			}
			g32 := make([]float32, len(th32))
			l32, acc32 := n32.NewWorkspace(rows).LossGrad(g32, th32, x32, p.y)
			if e := relErr(widen(g32), g64); e > 2e-5 {
				t.Errorf("%s %T λ=%g rows=%d: gradient relative error %.2e > 2e-5", name, loss, lambda, rows, e)
			}
			if e := math.Abs(l32-l64) / l64; e > 2e-6 {
				t.Errorf("%s %T λ=%g rows=%d: loss %v vs %v (relative %.2e)", name, loss, lambda, rows, l32, l64, e)
			}
			if acc32 != acc64 {
				t.Errorf("%s %T λ=%g rows=%d: accuracy %v vs %v", name, loss, lambda, rows, acc32, acc64)
			}
		}
	})
}

// TestFloat32GradFiniteDifferences checks the float32 gradient against
// central differences of the float64 loss along random directions, to the
// float32 tolerance 1e-4 relative to ‖∇L‖₂‖v‖₂.
func TestFloat32GradFiniteDifferences(t *testing.T) {
	for _, a := range acts {
		net, err := nn.NewMLP(5, []int{7, 6}, 3, a.act)
		if err != nil {
			t.Fatal(err)
		}
		p, th32, x32 := problem32(netProblem(t, net, 30, 11))
		n32, err := net.Float32()
		if err != nil {
			t.Fatal(err)
		}
		g32 := make([]float32, len(th32))
		n32.NewWorkspace(30).LossGrad(g32, th32, x32, p.y)
		g := widen(g32)
		ws := net.NewWorkspace(30)
		var gn float64
		for _, x := range g {
			gn += x * x
		}
		gn = math.Sqrt(gn)
		for k := range 4 {
			v := randVec(len(g), uint64(20+k))
			var dot, vn float64
			for i := range v {
				dot += g[i] * v[i]
				vn += v[i] * v[i]
			}
			const h = 1e-5
			plus, minus := make([]float64, len(v)), make([]float64, len(v))
			for i := range v {
				plus[i], minus[i] = p.theta[i]+h*v[i], p.theta[i]-h*v[i]
			}
			lp, _ := ws.Loss(plus, p.x, p.y)
			lm, _ := ws.Loss(minus, p.x, p.y)
			fd := (lp - lm) / (2 * h)
			if e := math.Abs(dot-fd) / (gn * math.Sqrt(vn)); e > 1e-4 {
				t.Errorf("%s direction %d: ∇L·v = %v, central difference %v (relative %.2e > 1e-4)", a.name, k, dot, fd, e)
			}
		}
	}
}

// TestFloat32ReferenceSize compares float32 and float64 gradients of a
// network with MNIST-sized layers (784-256-256-10, a batch of 128) at its
// initialization, where the products have hundreds of terms: 1e-4 of
// ‖∇L‖∞.
func TestFloat32ReferenceSize(t *testing.T) {
	net, err := nn.NewMLP(784, []int{256, 256}, 10, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	p, th32, x32 := problem32(netProblem(t, net, 128, 3))
	g64 := make([]float64, len(p.theta))
	l64, _ := net.NewWorkspace(128).LossGrad(g64, p.theta, p.x, p.y)
	n32, err := net.Float32()
	if err != nil {
		t.Fatal(err)
	}
	g32 := make([]float32, len(th32))
	l32, _ := n32.NewWorkspace(128).LossGrad(g32, th32, x32, p.y)
	if e := relErr(widen(g32), g64); e > 1e-4 {
		t.Errorf("gradient relative error %.2e > 1e-4", e)
	}
	if e := math.Abs(l32-l64) / l64; e > 1e-5 {
		t.Errorf("loss %v vs %v (relative %.2e > 1e-5)", l32, l64, e)
	}
}

// TestFloat32Deterministic checks bit-identical float32 gradients across
// repeated calls, fresh workspaces and GOMAXPROCS settings.
func TestFloat32Deterministic(t *testing.T) {
	net, err := nn.NewMLP(96, []int{160, 160}, 10, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	_, th32, x32 := problem32(netProblem(t, net, 300, 3))
	y := netProblem(t, net, 300, 3).y
	n32, err := net.Float32()
	if err != nil {
		t.Fatal(err)
	}
	eval := func() ([]float32, float64) {
		g := make([]float32, len(th32))
		l, _ := n32.NewWorkspace(128).LossGrad(g, th32, x32, y)
		return g, l
	}
	g0, l0 := eval()
	for _, procs := range []int{1, 2, 4} {
		old := runtime.GOMAXPROCS(procs)
		g, l := eval()
		runtime.GOMAXPROCS(old)
		same := l == l0
		for i := range g {
			same = same && math.Float32bits(g[i]) == math.Float32bits(g0[i])
		}
		if !same {
			t.Errorf("GOMAXPROCS=%d: results differ from the first evaluation", procs)
		}
	}
}

// TestFloat32Unsupported checks that Float32 refuses every network it does
// not implement, naming the layer.
func TestFloat32Unsupported(t *testing.T) {
	cnn, err := nn.NewCNN(1, 8, 8, []int{2}, nil, 3, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	res, err := nn.NewResMLP(5, 6, 1, 3, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	bn, err := nn.NewMLPWith(5, []int{6}, 3, nn.ActReLU, nn.Options{BatchNorm: true})
	if err != nil {
		t.Fatal(err)
	}
	drop, err := nn.NewMLPWith(5, []int{6}, 3, nn.ActReLU, nn.Options{Dropout: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	for name, net := range map[string]*nn.Network{"cnn": cnn, "resmlp": res, "batchnorm": bn, "dropout": drop} {
		if _, err := net.Float32(); !errors.Is(err, nn.ErrFloat32) {
			t.Errorf("%s: Float32 error %v, want ErrFloat32", name, err)
		}
	}
}

// TestSGDStep checks the fused SGD step against LossGrad followed by
// θ ← θ − ε∇L (blas32 Saxpy): to 1e-6 of ‖θ‖∞ when fused (one chunk, no weight decay:
// the update is rounded differently), bit for bit when not (several chunks,
// weight decay); and that a non-finite loss leaves θ unchanged.
func TestSGDStep(t *testing.T) {
	const lr = 0.05
	for _, c := range []struct {
		name   string
		rows   int
		lambda float64
		exact  bool
	}{{"fused", 40, 0, false}, {"chunks", 16, 0, true}, {"weight decay", 40, 0.01, true}} {
		for _, a := range acts {
			base, err := nn.NewMLP(5, []int{7, 6}, 3, a.act)
			if err != nil {
				t.Fatal(err)
			}
			net, err := base.WithWeightDecay(c.lambda, true)
			if err != nil {
				t.Fatal(err)
			}
			p, th32, x32 := problem32(netProblem(t, net, 40, 5))
			n32, err := net.Float32()
			if err != nil {
				t.Fatal(err)
			}
			ws := n32.NewWorkspace(c.rows)
			want := append([]float32(nil), th32...)
			g := make([]float32, len(th32))
			lw, _ := ws.LossGrad(g, want, x32, p.y)
			blas32.Implementation().Saxpy(len(want), -float32(lr), g, 1, want, 1)
			got := append([]float32(nil), th32...)
			lg := ws.SGDStep(got, make([]float32, len(th32)), x32, p.y, lr)
			if lg != lw {
				t.Errorf("%s %s: loss %v, LossGrad %v", c.name, a.name, lg, lw)
			}
			var diff, norm float64
			same := true
			for i := range got {
				diff = max(diff, math.Abs(float64(got[i]-want[i])))
				norm = max(norm, math.Abs(float64(want[i])))
				same = same && got[i] == want[i]
			}
			if c.exact && !same || diff > 1e-6*norm {
				t.Errorf("%s %s: θ after the step differs by %.2e (‖θ‖∞ %.2e, exact %v)", c.name, a.name, diff, norm, c.exact)
			}
			x32[0] = float32(math.NaN())
			before := append([]float32(nil), got...)
			if l := ws.SGDStep(got, make([]float32, len(th32)), x32, p.y, lr); !math.IsNaN(l) {
				t.Errorf("%s %s: loss %v with a NaN input", c.name, a.name, l)
			}
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(before[i]) {
					t.Fatalf("%s %s: θ[%d] changed by a step with a NaN loss", c.name, a.name, i)
				}
			}
		}
	}
}

// TestSGDStepTinyRate: a learning rate that rounds to float32 zero leaves θ
// unchanged (the fused step must not mistake it for a gradient pass).
func TestSGDStepTinyRate(t *testing.T) {
	net, err := nn.NewMLP(5, []int{7}, 3, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	p, th32, x32 := problem32(netProblem(t, net, 20, 9))
	n32, err := net.Float32()
	if err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), th32...)
	n32.NewWorkspace(20).SGDStep(th32, make([]float32, len(th32)), x32, p.y, 1e-50)
	for i := range th32 {
		if th32[i] != before[i] {
			t.Fatalf("θ[%d] changed from %v to %v with ε = 1e-50", i, before[i], th32[i])
		}
	}
}
