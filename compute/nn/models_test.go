package nn_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// netProblem draws θ (Init plus N(0, 0.3²) noise, so every parameter,
// including biases, matters), n standard-normal inputs and uniform labels.
func netProblem(t testing.TB, net *nn.Network, n int, seed uint64) problem {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	theta := make([]float64, net.NumParams())
	net.Init(theta, rng)
	for i := range theta {
		theta[i] += 0.3 * rng.NormFloat64()
	}
	x := make([]float64, n*net.InSize())
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(net.OutSize())
	}
	return problem{net, theta, x, y}
}

func must(t testing.TB, net *nn.Network, err error) *nn.Network {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// withRandomBuffers returns net whose evaluation mode uses buffers drawn
// from U(0.5, 1.5) (running means and variances away from 0 and 1).
func withRandomBuffers(t testing.TB, net *nn.Network) *nn.Network {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 6))
	b := make([]float64, net.NumBuffers())
	for i := range b {
		b[i] = 0.5 + rng.Float64()
	}
	net, err := net.WithBuffers(b)
	return must(t, net, err)
}

// modelCase is a small network of one of the new kinds.
type modelCase struct {
	name string
	net  func(t testing.TB) *nn.Network
}

func modelCases() []modelCase {
	var cs []modelCase
	for _, a := range acts {
		cs = append(cs,
			modelCase{"resmlp/" + a.name, func(t testing.TB) *nn.Network {
				net, err := nn.NewResMLP(5, 6, 2, 3, a.act)
				return must(t, net, err)
			}},
			modelCase{"cnn/" + a.name, func(t testing.TB) *nn.Network {
				net, err := nn.NewCNN(2, 8, 8, []int{3, 4}, []int{5}, 3, a.act)
				return must(t, net, err)
			}},
			modelCase{"mlp-mse/" + a.name, func(t testing.TB) *nn.Network {
				net, err := nn.NewMLP(5, []int{7, 6}, 3, a.act)
				net = must(t, net, err)
				net, err = net.WithLoss(nn.MeanSquaredError{})
				return must(t, net, err)
			}},
		)
	}
	cs = append(cs,
		// Valid padding, a 3×3 kernel, odd sizes (pooling drops a row), tanh,
		// a residual block around a convolution, MSE.
		modelCase{"conv-valid-res/tanh-mse", func(t testing.TB) *nn.Network {
			res, err := nn.NewResidual(
				&nn.Conv2D{C: 3, H: 5, W: 4, F: 3, K: 3, Pad: 1, Gain: 1}, &nn.Tanh{Size: 60})
			if err != nil {
				t.Fatal(err)
			}
			net, err := nn.New(nn.MeanSquaredError{},
				&nn.Conv2D{C: 2, H: 7, W: 6, F: 3, K: 3, Gain: 1}, &nn.Tanh{Size: 60}, res,
				&nn.MaxPool2D{C: 3, H: 5, W: 4, Size: 2}, &nn.Dense{In: 12, Out: 3, Gain: 1})
			return must(t, net, err)
		}},
		// Batch norm in evaluation mode with running statistics away from
		// the initial ones, and dropout (the identity in evaluation mode).
		modelCase{"mlp-bn-dropout/relu", func(t testing.TB) *nn.Network {
			net, err := nn.NewMLPWith(5, []int{7, 6}, 3, nn.ActReLU, nn.Options{BatchNorm: true, Dropout: 0.3})
			return withRandomBuffers(t, must(t, net, err))
		}},
		modelCase{"mlp-bn/tanh-mse", func(t testing.TB) *nn.Network {
			net, err := nn.NewMLPWith(5, []int{7, 6}, 3, nn.ActTanh, nn.Options{BatchNorm: true})
			net = must(t, net, err)
			net, err = net.WithLoss(nn.MeanSquaredError{})
			return withRandomBuffers(t, must(t, net, err))
		}},
		modelCase{"cnn-bn-dropout/tanh", func(t testing.TB) *nn.Network {
			net, err := nn.NewCNNWith(2, 8, 8, []int{3, 4}, []int{5}, 3, nn.ActTanh, nn.Options{BatchNorm: true, Dropout: 0.5})
			return withRandomBuffers(t, must(t, net, err))
		}},
		modelCase{"cnn-bn/relu", func(t testing.TB) *nn.Network {
			net, err := nn.NewCNNWith(2, 8, 8, []int{3}, []int{5}, 3, nn.ActReLU, nn.Options{BatchNorm: true})
			return withRandomBuffers(t, must(t, net, err))
		}},
		modelCase{"resmlp-bn-dropout/relu", func(t testing.TB) *nn.Network {
			net, err := nn.NewResMLPWith(5, 6, 2, 3, nn.ActReLU, nn.Options{BatchNorm: true, Dropout: 0.3})
			return withRandomBuffers(t, must(t, net, err))
		}},
		modelCase{"resmlp-decay/tanh", func(t testing.TB) *nn.Network {
			net, err := nn.NewResMLP(5, 6, 1, 3, nn.ActTanh)
			net = must(t, net, err)
			net, err = net.WithWeightDecay(0.05, false)
			return must(t, net, err)
		}},
	)
	return cs
}

// TestModelsGradientFD: backprop vs central differences (h = 1e-6),
// relative error (max norm) ≤ 1e-6.
func TestModelsGradientFD(t *testing.T) {
	for _, c := range modelCases() {
		t.Run(c.name, func(t *testing.T) {
			p := netProblem(t, c.net(t), 11, 1)
			ws := p.net.NewWorkspace(4)
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
			e := relErr(grad, fd)
			t.Logf("P=%d gradient relative error %.3g", len(p.theta), e)
			if e > 1e-6 {
				t.Errorf("gradient relative error %.3g > 1e-6", e)
			}
		})
	}
}

// TestModelsHVPFD: R-operator Hv vs central differences of the gradient
// (h = 1e-6), relative error ≤ 1e-6 for three random directions.
func TestModelsHVPFD(t *testing.T) {
	for _, c := range modelCases() {
		t.Run(c.name, func(t *testing.T) {
			p := netProblem(t, c.net(t), 11, 1)
			ws := p.net.NewWorkspace(4)
			var worst float64
			for s := uint64(0); s < 3; s++ {
				v := randVec(len(p.theta), s)
				hv := make([]float64, len(v))
				ws.HVP(hv, p.theta, v, p.x, p.y)
				worst = max(worst, relErr(hv, fdHVP(p, ws, v, 1e-6)))
			}
			t.Logf("Hv relative error %.3g", worst)
			if worst > 1e-6 {
				t.Errorf("Hv relative error %.3g > 1e-6", worst)
			}
		})
	}
}

// denseOp assembles the matrix of a linear operator column by column.
func denseOp(dim int, apply func(dst, v []float64)) *mat.Dense {
	M := mat.NewDense(dim, dim, nil)
	e, col := make([]float64, dim), make([]float64, dim)
	for j := 0; j < dim; j++ {
		e[j] = 1
		apply(col, e)
		e[j] = 0
		M.SetCol(j, col)
	}
	return M
}

// asymmetry is ‖M − Mᵀ‖∞ / ‖M‖∞.
func asymmetry(M *mat.Dense) float64 {
	var T mat.Dense
	T.CloneFrom(M.T())
	T.Sub(&T, M)
	return mat.Norm(&T, math.Inf(1)) / mat.Norm(M, math.Inf(1))
}

// eigenvalues returns the ascending eigenvalues of (M + Mᵀ)/2.
func eigenvalues(t *testing.T, M *mat.Dense) []float64 {
	n, _ := M.Dims()
	sym := mat.NewSymDense(n, nil)
	for i := 0; i < n; i++ {
		for j := i; j < n; j++ {
			sym.SetSym(i, j, (M.At(i, j)+M.At(j, i))/2)
		}
	}
	var es mat.EigenSym
	if !es.Factorize(sym, false) {
		t.Fatal("EigenSym failed")
	}
	return es.Values(nil)
}

// maxRelDiff is max|A − B| / max|B|.
func maxRelDiff(A, B *mat.Dense) float64 {
	var D mat.Dense
	D.Sub(A, B)
	return mat.Norm(&D, math.Inf(1)) / mat.Norm(B, math.Inf(1)) // induced ∞-norms
}

// TestModelsDenseHessian: the Hessian assembled from Hv is symmetric to 1e-10
// and equals the finite-difference Hessian (columns fdHVP(e_j), h = 1e-6) to
// 1e-6 relative (max entry); the Gauss–Newton matrix assembled from Gv is
// symmetric to 1e-10 and PSD: λ_min ≥ −1e-10·‖G‖₂.
func TestModelsDenseHessian(t *testing.T) {
	for _, c := range modelCases() {
		t.Run(c.name, func(t *testing.T) {
			p := netProblem(t, c.net(t), 11, 1)
			P := len(p.theta)
			H := denseOp(P, nn.NewHessian(p.net, p.theta, p.x, p.y, 4).Apply)
			ws := p.net.NewWorkspace(4)
			var maxDiff, maxAbs float64
			e := make([]float64, P)
			for j := 0; j < P; j++ {
				e[j] = 1
				col := fdHVP(p, ws, e, 1e-6)
				e[j] = 0
				for i, c := range col {
					maxDiff = max(maxDiff, math.Abs(c-H.At(i, j)))
					maxAbs = max(maxAbs, math.Abs(c))
				}
			}
			G := denseOp(P, nn.NewGaussNewton(p.net, p.theta, p.x, p.y, 4).Apply)
			gv := eigenvalues(t, G)
			gnorm := max(math.Abs(gv[0]), math.Abs(gv[P-1]))
			t.Logf("P=%d: H asymmetry %.3g, H vs FD %.3g; G asymmetry %.3g, λ_min(G)/‖G‖ = %.3g, ‖H−G‖/‖H‖ = %.3g",
				P, asymmetry(H), maxDiff/maxAbs, asymmetry(G), gv[0]/gnorm, maxRelDiff(G, H))
			if a := asymmetry(H); a > 1e-10 {
				t.Errorf("H asymmetry %.3g > 1e-10", a)
			}
			if r := maxDiff / maxAbs; r > 1e-6 {
				t.Errorf("H vs finite differences: %.3g > 1e-6", r)
			}
			if a := asymmetry(G); a > 1e-10 {
				t.Errorf("G asymmetry %.3g > 1e-10", a)
			}
			if gv[0] < -1e-10*gnorm {
				t.Errorf("G not PSD: λ_min = %.3g, ‖G‖ = %.3g", gv[0], gnorm)
			}
		})
	}
}

// cotangentLoss is ℓᵢ = u_{yᵢ}·zᵢ: with labels yᵢ = i its gradient is
// (1/n) Σᵢ J_iᵀ u_i, a backward pass of given output cotangents.
type cotangentLoss struct {
	u []float64
	k int
}

func (c cotangentLoss) Eval(n, k int, z []float64, y []int, s float64, dz []float64) (float64, int) {
	var sum float64
	for i := 0; i < n; i++ {
		u := c.u[y[i]*k : (y[i]+1)*k]
		sum += floats.Dot(u, z[i*k:(i+1)*k])
		if dz != nil {
			floats.ScaleTo(dz[i*k:(i+1)*k], s, u)
		}
	}
	return sum, 0
}

func (c cotangentLoss) HessVec(n, k int, _ []float64, _ []int, _ float64, _, rdz []float64) {
	clear(rdz[:n*k])
}

// TestGNVPOracle checks Gv against an independent construction:
// J v by central differences of the outputs (h = 1e-6), u_i = ∇²_z ℓ(z_i) J_i v,
// then (1/n) Σ J_iᵀ u_i by backprop of a linear loss. Relative error ≤ 1e-6.
func TestGNVPOracle(t *testing.T) {
	for _, c := range modelCases() {
		t.Run(c.name, func(t *testing.T) {
			net := c.net(t)
			if l, _ := net.WeightDecay(); l != 0 {
				t.Skip("oracle without weight decay")
			}
			p := netProblem(t, net, 11, 1)
			n, k := len(p.y), net.OutSize()
			ws := net.NewWorkspace(4)
			for s := uint64(0); s < 2; s++ {
				v := randVec(len(p.theta), s)
				zp, zm, z := make([]float64, n*k), make([]float64, n*k), make([]float64, n*k)
				th := slices.Clone(p.theta)
				floats.AddScaled(th, 1e-6, v)
				ws.Outputs(zp, th, p.x)
				copy(th, p.theta)
				floats.AddScaled(th, -1e-6, v)
				ws.Outputs(zm, th, p.x)
				ws.Outputs(z, p.theta, p.x)
				jv := make([]float64, n*k)
				floats.SubTo(jv, zp, zm)
				floats.Scale(1/2e-6, jv)
				u := make([]float64, n*k)
				net.LossFunc().HessVec(n, k, z, p.y, 1, jv, u)
				cnet, err := net.WithLoss(cotangentLoss{u, k})
				if err != nil {
					t.Fatal(err)
				}
				idx := make([]int, n)
				for i := range idx {
					idx[i] = i
				}
				want := make([]float64, len(v))
				cnet.NewWorkspace(4).LossGrad(want, p.theta, p.x, idx)
				got := make([]float64, len(v))
				ws.GNVP(got, p.theta, v, p.x, p.y)
				e := relErr(got, want)
				t.Logf("v%d: Gv vs oracle %.3g", s, e)
				if e > 1e-6 {
					t.Errorf("v%d: Gv relative error %.3g > 1e-6", s, e)
				}
			}
		})
	}
}

// TestGaussNewtonLinear: for a linear model z = Wx + b the network output is
// linear in θ, so G = H exactly (both for MSE, where G = H = (1/n)Σ JᵀJ, and for
// softmax CE); relative difference ≤ 1e-12. For a multilayer tanh MLP they
// must differ.
func TestGaussNewtonLinear(t *testing.T) {
	for _, loss := range []nn.LossFunc{nn.MeanSquaredError{}, nn.SoftmaxCrossEntropy{}} {
		net, err := nn.New(loss, &nn.Dense{In: 4, Out: 3, Gain: 1})
		if err != nil {
			t.Fatal(err)
		}
		p := netProblem(t, net, 9, 3)
		P := len(p.theta)
		H := denseOp(P, nn.NewHessian(net, p.theta, p.x, p.y, 4).Apply)
		G := denseOp(P, nn.NewGaussNewton(net, p.theta, p.x, p.y, 4).Apply)
		d := maxRelDiff(G, H)
		t.Logf("%T: ‖G − H‖/‖H‖ = %.3g", loss, d)
		if d > 1e-12 {
			t.Errorf("%T: linear model G ≠ H: %.3g", loss, d)
		}
	}
	for _, a := range acts {
		p := newProblem(t, a.act, 11)
		P := len(p.theta)
		H := denseOp(P, nn.NewHessian(p.net, p.theta, p.x, p.y, 4).Apply)
		G := denseOp(P, nn.NewGaussNewton(p.net, p.theta, p.x, p.y, 4).Apply)
		d := maxRelDiff(G, H)
		// For ReLU, Hv − Gv keeps the bilinear weight terms D_Zᵀ R{A} and
		// D_Z V (∂²z/∂W_l∂W_m ≠ 0 across layers); only the activation curvature
		// term vanishes, so G ≠ H there too.
		t.Logf("MLP %s: ‖G − H‖/‖H‖ = %.3g", a.name, d)
		if d < 1e-3 {
			t.Errorf("MLP %s: G ≈ H (%.3g), expected the non-convex terms", a.name, d)
		}
	}
}

// TestWeightDecay: with biases included the penalty shifts the Hessian and
// the Gauss–Newton matrix by exactly λI (entrywise ≤ 1e-12·‖H‖), the loss by
// (λ/2)‖θ‖² and the gradient by λθ; without biases the bias diagonal is
// unchanged.
func TestWeightDecay(t *testing.T) {
	const lambda = 0.3
	base, err := nn.NewCNN(1, 4, 4, []int{2}, nil, 3, nn.ActTanh)
	if err != nil {
		t.Fatal(err)
	}
	p := netProblem(t, base, 7, 4)
	P := len(p.theta)
	H0 := denseOp(P, nn.NewHessian(base, p.theta, p.x, p.y, 4).Apply)
	G0 := denseOp(P, nn.NewGaussNewton(base, p.theta, p.x, p.y, 4).Apply)
	l0, _ := base.NewWorkspace(4).Loss(p.theta, p.x, p.y)
	g0 := make([]float64, P)
	base.NewWorkspace(4).LossGrad(g0, p.theta, p.x, p.y)
	// Bias positions of the CNN: conv b (2), output b (3).
	isBias := map[int]bool{}
	for _, i := range []int{50, 51, P - 3, P - 2, P - 1} {
		isBias[i] = true
	}
	for _, biases := range []bool{true, false} {
		t.Run(fmt.Sprintf("biases=%v", biases), func(t *testing.T) {
			net, err := base.WithWeightDecay(lambda, biases)
			if err != nil {
				t.Fatal(err)
			}
			if l, b := net.WeightDecay(); l != lambda || b != biases {
				t.Fatalf("WeightDecay() = %v, %v", l, b)
			}
			ws := net.NewWorkspace(4)
			var sq float64
			want := slices.Clone(g0)
			for i, th := range p.theta {
				if biases || !isBias[i] {
					sq += th * th
					want[i] += lambda * th
				}
			}
			l, _ := ws.Loss(p.theta, p.x, p.y)
			if d := math.Abs(l - l0 - lambda/2*sq); d > 1e-12*l {
				t.Errorf("loss shift off by %.3g", d)
			}
			g := make([]float64, P)
			ws.LossGrad(g, p.theta, p.x, p.y)
			if e := relErr(g, want); e > 1e-13 {
				t.Errorf("gradient shift relative error %.3g", e)
			}
			for name, pair := range map[string][2]*mat.Dense{
				"H":    {denseOp(P, nn.NewHessian(net, p.theta, p.x, p.y, 4).Apply), H0},
				"G":    {denseOp(P, nn.NewGaussNewton(net, p.theta, p.x, p.y, 4).Apply), G0},
				"HVP":  {denseOp(P, func(dst, v []float64) { ws.HVP(dst, p.theta, v, p.x, p.y) }), H0},
				"GNVP": {denseOp(P, func(dst, v []float64) { ws.GNVP(dst, p.theta, v, p.x, p.y) }), G0},
			} {
				var worst float64
				scale := mat.Norm(pair[1], math.Inf(1))
				for i := 0; i < P; i++ {
					for j := 0; j < P; j++ {
						w := pair[1].At(i, j)
						if i == j && (biases || !isBias[i]) {
							w += lambda
						}
						worst = max(worst, math.Abs(pair[0].At(i, j)-w))
					}
				}
				t.Logf("%s: max |Δ − λM| = %.3g", name, worst)
				if worst > 1e-12*scale {
					t.Errorf("%s: decay shift off by %.3g", name, worst)
				}
			}
		})
	}
	if _, err := base.WithWeightDecay(-1, true); err == nil {
		t.Error("negative λ accepted")
	}
	if _, err := base.WithWeightDecay(math.NaN(), true); err == nil {
		t.Error("NaN λ accepted")
	}
}

// TestMSEReference checks ½‖z − e_y‖² on a linear model by hand.
func TestMSEReference(t *testing.T) {
	net, err := nn.New(nn.MeanSquaredError{}, &nn.Dense{In: 1, Out: 2})
	if err != nil {
		t.Fatal(err)
	}
	// z = (2x + 0.5, −x): x = 1 → (2.5, −1), y = 0: ½(1.5² + 1²) = 1.625;
	// x = −1 → (−1.5, 1), y = 1: ½(1.5² + 0²) = 1.125, argmax correct.
	theta := []float64{2, -1, 0.5, 0}
	loss, acc := net.NewWorkspace(2).Loss(theta, []float64{1, -1}, []int{0, 1})
	if math.Abs(loss-(1.625+1.125)/2) > 1e-15 || acc != 1 {
		t.Errorf("loss, acc = %v, %v; want 1.375, 1", loss, acc)
	}
	if l, err := nn.ParseLoss("mse"); err != nil || l != (nn.MeanSquaredError{}) {
		t.Errorf("ParseLoss(mse) = %v, %v", l, err)
	}
	if _, err := nn.ParseLoss("hinge"); err == nil {
		t.Error("unknown loss accepted")
	}
}

// TestConvPoolByHand: a 1×3×3 image 1…9, one 2×2 filter [[1,2],[3,4]], bias
// 0.5, valid: outputs 37.5, 47.5, 67.5, 77.5; a 2×2 max pool gives 77.5.
// With a 3×3 all-ones filter and padding 1 ("same"), outputs are the 3×3
// neighbourhood sums (12, 21, 16, 27, 45, 33, 24, 39, 28).
func TestConvPoolByHand(t *testing.T) {
	x := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	conv := &nn.Conv2D{C: 1, H: 3, W: 3, F: 1, K: 2}
	net, err := nn.New(nn.MeanSquaredError{}, conv)
	if err != nil {
		t.Fatal(err)
	}
	z := make([]float64, 4)
	net.NewWorkspace(1).Outputs(z, []float64{1, 2, 3, 4, 0.5}, x)
	if want := []float64{37.5, 47.5, 67.5, 77.5}; !slices.Equal(z, want) {
		t.Errorf("valid conv = %v, want %v", z, want)
	}
	net, err = nn.New(nn.MeanSquaredError{}, conv, &nn.MaxPool2D{C: 1, H: 2, W: 2, Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	net.NewWorkspace(1).Outputs(z[:1], []float64{1, 2, 3, 4, 0.5}, x)
	if z[0] != 77.5 {
		t.Errorf("conv+pool = %v, want 77.5", z[0])
	}
	same, err := nn.NewConv2D(1, 3, 3, 1, 3, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	net, err = nn.New(nn.MeanSquaredError{}, same)
	if err != nil {
		t.Fatal(err)
	}
	z = make([]float64, 9)
	net.NewWorkspace(1).Outputs(z, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, x)
	if want := []float64{12, 21, 16, 27, 45, 33, 24, 39, 28}; !slices.Equal(z, want) {
		t.Errorf("same conv = %v, want %v", z, want)
	}
	// Pooling a 2×5×4 input (Size 2 drops the last row): channel c holds
	// 100c + index; the maxima are at the bottom-right of each window.
	pool := &nn.MaxPool2D{C: 2, H: 5, W: 4, Size: 2}
	net, err = nn.New(nn.MeanSquaredError{}, pool)
	if err != nil {
		t.Fatal(err)
	}
	in := make([]float64, 40)
	for i := range in {
		in[i] = float64(100*(i/20) + i%20)
	}
	in[0] = 50 // top-left window max moves to index 0
	z = make([]float64, 8)
	net.NewWorkspace(1).Outputs(z, nil, in)
	if want := []float64{50, 7, 13, 15, 105, 107, 113, 115}; !slices.Equal(z, want) {
		t.Errorf("pool = %v, want %v", z, want)
	}
}

// TestCNNShape: the 1×28×28 CNN with convs 8, 16 has boundaries
// 8·28·28 → 8·14·14 → 16·14·14 → 16·7·7 = 784 → 32 → 10.
func TestCNNShape(t *testing.T) {
	net, err := nn.NewCNN(1, 28, 28, []int{8, 16}, []int{32}, 10, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, ly := range net.Layers() {
		sizes = append(sizes, ly.OutSize())
	}
	want := []int{8 * 784, 8 * 784, 8 * 196, 16 * 196, 16 * 196, 784, 32, 32, 10}
	if !slices.Equal(sizes, want) {
		t.Errorf("sizes %v, want %v", sizes, want)
	}
	if got, w := net.NumParams(), 8*25+8+16*8*25+16+784*32+32+32*10+10; got != w {
		t.Errorf("NumParams = %d, want %d", got, w)
	}
	p := netProblem(t, net, 3, 1)
	z := make([]float64, 30)
	net.NewWorkspace(2).Outputs(z, p.theta, p.x)
	for _, v := range z {
		if math.IsNaN(v) || v == 0 {
			t.Fatalf("outputs %v", z)
		}
	}
}

func TestModelErrors(t *testing.T) {
	for name, f := range map[string]func() error{
		"cnn too small": func() error { _, err := nn.NewCNN(1, 3, 3, []int{4, 4}, nil, 2, nn.ActReLU); return err },
		"cnn bad act":   func() error { _, err := nn.NewCNN(1, 8, 8, []int{4}, nil, 2, 7); return err },
		"cnn 0 filters": func() error { _, err := nn.NewCNN(1, 8, 8, []int{0}, nil, 2, nn.ActReLU); return err },
		"cnn 0 classes": func() error { _, err := nn.NewCNN(1, 8, 8, nil, nil, 0, nn.ActReLU); return err },
		"resmlp width":  func() error { _, err := nn.NewResMLP(3, 0, 1, 2, nn.ActReLU); return err },
		"resmlp act":    func() error { _, err := nn.NewResMLP(3, 4, 1, 2, 9); return err },
		"conv pad":      func() error { _, err := nn.NewConv2D(1, 5, 5, 2, 3, 3, 1); return err },
		"conv big":      func() error { _, err := nn.NewConv2D(1, 2, 2, 2, 5, 0, 1); return err },
		"residual width": func() error {
			_, err := nn.NewResidual(&nn.Dense{In: 3, Out: 4})
			return err
		},
		"residual empty": func() error { _, err := nn.NewResidual(); return err },
		"bad conv literal": func() error {
			_, err := nn.New(nn.SoftmaxCrossEntropy{}, &nn.Conv2D{C: 1, H: 2, W: 2, F: 1, K: 3})
			return err
		},
		"bad pool literal": func() error {
			_, err := nn.New(nn.SoftmaxCrossEntropy{}, &nn.MaxPool2D{C: 1, H: 1, W: 4, Size: 2})
			return err
		},
		"bad residual literal": func() error {
			_, err := nn.New(nn.SoftmaxCrossEntropy{}, &nn.Residual{Body: []nn.Layer{&nn.Dense{In: 2, Out: 3}}})
			return err
		},
		"nil loss": func() error { _, err := nn.New(nil, &nn.Dense{In: 2, Out: 3}); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestGaussNewtonMatchesGNVP: the cached operator is bitwise equal to
// Workspace.GNVP with the same chunking (CNN, 3 chunks).
func TestGaussNewtonMatchesGNVP(t *testing.T) {
	net, err := nn.NewCNN(2, 8, 8, []int{3}, nil, 3, nn.ActTanh)
	if err != nil {
		t.Fatal(err)
	}
	p := netProblem(t, net, 11, 2)
	g := nn.NewGaussNewton(net, p.theta, p.x, p.y, 4)
	h := nn.NewHessian(net, p.theta, p.x, p.y, 4)
	ws := net.NewWorkspace(4)
	v := randVec(len(p.theta), 7)
	a, b := make([]float64, len(v)), make([]float64, len(v))
	for k := 0; k < 2; k++ {
		g.Apply(a, v)
		ws.GNVP(b, p.theta, v, p.x, p.y)
		if !slices.Equal(a, b) {
			t.Fatalf("product %d: cached Gauss–Newton differs from GNVP", k)
		}
		h.Apply(a, v) // interleaving must not disturb either cache
		ws.HVP(b, p.theta, v, p.x, p.y)
		if !slices.Equal(a, b) {
			t.Fatalf("product %d: cached Hessian differs from HVP", k)
		}
	}
	if g.Products() != 2 || g.Dim() != len(p.theta) {
		t.Errorf("Products = %d, Dim = %d", g.Products(), g.Dim())
	}
}

// TestModelsNoAllocs: repeated evaluations of the new models do not allocate.
func TestModelsNoAllocs(t *testing.T) {
	for _, c := range modelCases() {
		t.Run(c.name, func(t *testing.T) {
			p := netProblem(t, c.net(t), 11, 1)
			ws := p.net.NewWorkspace(4)
			g := make([]float64, len(p.theta))
			v := randVec(len(p.theta), 1)
			hess := nn.NewHessian(p.net, p.theta, p.x, p.y, 4)
			gn := nn.NewGaussNewton(p.net, p.theta, p.x, p.y, 4)
			z := make([]float64, len(p.y)*p.net.OutSize())
			for name, f := range map[string]func(){
				"Loss":        func() { ws.Loss(p.theta, p.x, p.y) },
				"LossGrad":    func() { ws.LossGrad(g, p.theta, p.x, p.y) },
				"HVP":         func() { ws.HVP(g, p.theta, v, p.x, p.y) },
				"GNVP":        func() { ws.GNVP(g, p.theta, v, p.x, p.y) },
				"Outputs":     func() { ws.Outputs(z, p.theta, p.x) },
				"Hessian":     func() { hess.Apply(g, v) },
				"GaussNewton": func() { gn.Apply(g, v) },
			} {
				if n := testing.AllocsPerRun(5, f); n != 0 {
					t.Errorf("%s: %v allocations per call", name, n)
				}
			}
		})
	}
}
