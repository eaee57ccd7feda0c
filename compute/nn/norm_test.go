package nn_test

import (
	"math"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// trainCases are networks with training-mode layers, tanh so that the loss
// is smooth for the finite differences.
func trainCases(t testing.TB) map[string]*nn.Network {
	mlp, err := nn.NewMLPWith(5, []int{7, 6}, 3, nn.ActTanh, nn.Options{BatchNorm: true, Dropout: 0.3})
	mlp = must(t, mlp, err)
	cnn, err := nn.NewCNNWith(2, 8, 8, []int{3}, []int{5}, 3, nn.ActTanh, nn.Options{BatchNorm: true, Dropout: 0.5})
	cnn = must(t, cnn, err)
	res, err := nn.NewResMLPWith(5, 6, 2, 3, nn.ActTanh, nn.Options{BatchNorm: true, Dropout: 0.3})
	res = must(t, res, err)
	return map[string]*nn.Network{"mlp": mlp, "cnn": cnn, "resmlp": res}
}

// TestTrainGradFD: the training-mode gradient, in which the batch
// statistics of BatchNorm depend on θ and fixed dropout masks (the same
// Training) scale the activations, against central differences of the
// training-mode loss (h = 1e-6): relative error ≤ 1e-6.
func TestTrainGradFD(t *testing.T) {
	for name, net := range trainCases(t) {
		t.Run(name, func(t *testing.T) {
			p := netProblem(t, net, 11, 3)
			ws := net.NewWorkspace(11)
			tr := nn.Training{Seed: 7, Stream: 3}
			grad := make([]float64, len(p.theta))
			ws.TrainGrad(grad, p.theta, p.x, p.y, tr)
			scratch := make([]float64, len(p.theta))
			loss := func(th []float64) float64 {
				l, _ := ws.TrainGrad(scratch, th, p.x, p.y, tr)
				return l
			}
			const h = 1e-6
			fd := make([]float64, len(p.theta))
			th := slices.Clone(p.theta)
			for i := range th {
				th[i] = p.theta[i] + h
				lp := loss(th)
				th[i] = p.theta[i] - h
				lm := loss(th)
				th[i] = p.theta[i]
				fd[i] = (lp - lm) / (2 * h)
			}
			e := relErr(grad, fd)
			t.Logf("P=%d training-mode gradient relative error %.3g", len(p.theta), e)
			if e > 1e-6 {
				t.Errorf("training-mode gradient relative error %.3g > 1e-6", e)
			}
			// The batch statistics differ from the running ones: training
			// and evaluation modes must differ.
			eg := make([]float64, len(p.theta))
			ws.LossGrad(eg, p.theta, p.x, p.y)
			if relErr(eg, grad) < 1e-3 {
				t.Errorf("evaluation-mode gradient equals the training-mode one")
			}
		})
	}
}

// TestBatchNormRunningStats checks the training-mode output and the update
// of the running statistics against PyTorch's formulas, computed by hand on
// a batch of 4 rows × 2 features (momentum 0.1): μ ← 0.9 μ + 0.1 μ_B,
// σ² ← 0.9 σ² + 0.1·(4/3) σ²_B (unbiased), batches ← batches + 1.
func TestBatchNormRunningStats(t *testing.T) {
	bn := &nn.BatchNorm{C: 2, HW: 1}
	net, err := nn.New(nn.MeanSquaredError{}, bn)
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{1, 10, 2, 20, 4, 30, 5, 60}
	y := []int{0, 1, 0, 1}
	theta := []float64{2, 3, 0.5, -1} // γ = (2, 3), β = (0.5, −1)
	ws := net.NewWorkspace(4)
	if b := ws.Buffers(); !slices.Equal(b, []float64{0, 0, 1, 1, 0}) {
		t.Fatalf("initial buffers %v, want [0 0 1 1 0]", b)
	}
	grad := make([]float64, 4)
	for step := 1; step <= 2; step++ {
		ws.TrainGrad(grad, theta, x, y, nn.Training{Update: true})
	}
	// Feature 0: μ_B = 3, σ²_B = (4+1+1+4)/4 = 2.5, unbiased 10/3.
	// Feature 1: μ_B = 30, σ²_B = (400+100+0+900)/4 = 350, unbiased 1400/3.
	mu := []float64{3, 30}
	vu := []float64{10.0 / 3, 1400.0 / 3}
	want := make([]float64, 5)
	rm, rv := []float64{0, 0}, []float64{1, 1}
	for range 2 {
		for c := range 2 {
			rm[c] = 0.9*rm[c] + 0.1*mu[c]
			rv[c] = 0.9*rv[c] + 0.1*vu[c]
		}
	}
	copy(want, rm)
	copy(want[2:], rv)
	want[4] = 2
	got := ws.Buffers()
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-14*math.Abs(want[i]) {
			t.Errorf("buffer %d = %.17g, want %.17g", i, got[i], want[i])
		}
	}
	// A pass without Update leaves them.
	ws.TrainGrad(grad, theta, x, y, nn.Training{})
	if !slices.Equal(ws.Buffers(), got) {
		t.Errorf("a pass without Update changed the buffers")
	}
	// Training-mode outputs: z = γ (x − μ_B)/√(σ²_B + ε) + β; with the MSE
	// loss and a one-hot target of width 2 the loss is their mean ½‖z − e_y‖².
	var wantLoss float64
	vb := []float64{2.5, 350}
	for i := range 4 {
		for c := range 2 {
			z := theta[c]*(x[2*i+c]-mu[c])/math.Sqrt(vb[c]+1e-5) + theta[2+c]
			tgt := 0.0
			if y[i] == c {
				tgt = 1
			}
			wantLoss += 0.5 * (z - tgt) * (z - tgt) / 4
		}
	}
	if l, _ := ws.TrainGrad(grad, theta, x, y, nn.Training{}); math.Abs(l-wantLoss) > 1e-13*wantLoss {
		t.Errorf("training-mode loss %.17g, want %.17g", l, wantLoss)
	}
	// Evaluation mode with the running statistics: z = γ (x − μ)/√(σ² + ε) + β.
	enet, err := net.WithBuffers(got)
	if err != nil {
		t.Fatal(err)
	}
	z := make([]float64, 8)
	enet.NewWorkspace(4).Outputs(z, theta, x)
	for i := range 4 {
		for c := range 2 {
			w := theta[c]*(x[2*i+c]-got[c])/math.Sqrt(got[2+c]+1e-5) + theta[2+c]
			if math.Abs(z[2*i+c]-w) > 1e-13*math.Abs(w) {
				t.Errorf("evaluation output (%d, %d) = %.17g, want %.17g", i, c, z[2*i+c], w)
			}
		}
	}
}

// TestDropoutMasks: the masks are those of (Seed, Stream): the same
// Training gives bit-identical gradients, another stream other ones; the
// kept values are scaled by 1/(1 − p), and the dropped fraction is near p.
func TestDropoutMasks(t *testing.T) {
	const p, width, rows = 0.4, 200, 50
	net, err := nn.New(nn.MeanSquaredError{}, &nn.Dropout{Size: width, P: p})
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, rows*width)
	for i := range x {
		x[i] = 1
	}
	y := make([]int, rows)
	ws := net.NewWorkspace(rows)
	out := func(tr nn.Training) []float64 { // the loss ½‖M ⊙ x − e_y‖² depends on the masks
		l, _ := ws.TrainGrad(nil, nil, x, y, tr)
		return []float64{l}
	}
	a, b, c := out(nn.Training{Seed: 1, Stream: 5}), out(nn.Training{Seed: 1, Stream: 5}), out(nn.Training{Seed: 1, Stream: 6})
	if !slices.Equal(a, b) {
		t.Errorf("same Training, different losses %v, %v", a, b)
	}
	if slices.Equal(a, c) {
		t.Errorf("different streams, same loss %v", a)
	}
	// Dropout then a Dense layer with a linear loss: the gradient reads the
	// masks, ∂L/∂W_j = (1/n) Σᵢ m_ij x_ij.
	sum, err := nn.New(cotangentLoss{u: []float64{1}, k: 1},
		&nn.Dropout{Size: width, P: p}, &nn.Dense{In: width, Out: 1, Gain: 1})
	if err != nil {
		t.Fatal(err)
	}
	theta := make([]float64, width+1)
	grad := make([]float64, width+1)
	idx := make([]int, rows) // cotangentLoss reads u at the label: all 0
	sum.NewWorkspace(rows).TrainGrad(grad, theta, x, idx, nn.Training{Seed: 9})
	// grad_j = (1/rows) Σᵢ m_ij, m_ij ∈ {0, 1/(1−p)}: the kept count of
	// column j is grad_j·rows·(1−p), an integer.
	kept := 0.0
	for j := range width {
		k := grad[j] * rows * (1 - p)
		if math.Abs(k-math.Round(k)) > 1e-9 {
			t.Fatalf("column %d: kept count %v is not an integer", j, k)
		}
		kept += math.Round(k)
	}
	frac := 1 - kept/(rows*width)
	// 10,000 Bernoulli(0.4) draws: standard deviation ≈ 0.0049; allow 5σ.
	if math.Abs(frac-p) > 0.025 {
		t.Errorf("dropped fraction %.4f, want %.2f ± 0.025", frac, p)
	}
	// Evaluation mode is the identity: the gradient is (1/rows) Σᵢ x_ij = 1.
	sum.NewWorkspace(rows).LossGrad(grad, theta, x, idx)
	for j := range width {
		if math.Abs(grad[j]-1) > 1e-13 {
			t.Fatalf("evaluation-mode gradient %d = %v, want 1", j, grad[j])
		}
	}
}

// TestTrainGradPlain: for a network without training-mode layers TrainGrad
// is LossGrad, bit for bit.
func TestTrainGradPlain(t *testing.T) {
	p := newProblem(t, nn.ActReLU, 11)
	ws := p.net.NewWorkspace(4)
	a, b := make([]float64, len(p.theta)), make([]float64, len(p.theta))
	la, _ := ws.LossGrad(a, p.theta, p.x, p.y)
	lb, _ := ws.TrainGrad(b, p.theta, p.x, p.y, nn.Training{Seed: 3, Update: true})
	if la != lb || !slices.Equal(a, b) {
		t.Errorf("TrainGrad differs from LossGrad without training-mode layers")
	}
	if p.net.Trains() || p.net.Coupled() || p.net.NumBuffers() != 0 {
		t.Errorf("plain MLP: Trains %t, Coupled %t, NumBuffers %d", p.net.Trains(), p.net.Coupled(), p.net.NumBuffers())
	}
}

// TestTrainGradNoAllocs: training-mode passes do not allocate.
func TestTrainGradNoAllocs(t *testing.T) {
	for name, net := range trainCases(t) {
		p := netProblem(t, net, 11, 3)
		ws := net.NewWorkspace(11)
		g := make([]float64, len(p.theta))
		if n := testing.AllocsPerRun(5, func() {
			ws.TrainGrad(g, p.theta, p.x, p.y, nn.Training{Seed: 1, Stream: 2, Update: true})
		}); n != 0 {
			t.Errorf("%s: %v allocations per TrainGrad", name, n)
		}
	}
}

// TestNormErrors: invalid options and layers are rejected.
func TestNormErrors(t *testing.T) {
	if _, err := nn.NewMLPWith(5, []int{4}, 3, nn.ActReLU, nn.Options{Dropout: 1}); err == nil {
		t.Error("dropout 1 accepted")
	}
	if _, err := nn.NewCNNWith(1, 4, 4, []int{2}, nil, 3, nn.ActReLU, nn.Options{Dropout: -0.1}); err == nil {
		t.Error("dropout −0.1 accepted")
	}
	if _, err := nn.New(nn.SoftmaxCrossEntropy{}, &nn.BatchNorm{C: 0, HW: 1}); err == nil {
		t.Error("BatchNorm of 0 channels accepted")
	}
	if _, err := nn.NewResidual(&nn.Dense{In: 3, Out: 3, Gain: 1}, &nn.BatchNorm{C: 3, HW: 1}); err != nil {
		t.Fatal(err)
	}
	res, _ := nn.NewResidual(&nn.Dense{In: 3, Out: 3, Gain: 1}, &nn.BatchNorm{C: 3, HW: 1})
	rnet, err := nn.New(nn.SoftmaxCrossEntropy{}, &nn.Dense{In: 2, Out: 3, Gain: 1}, res)
	if err != nil || rnet.NumBuffers() != 7 || rnet.BufferOffset(1) != 0 || !rnet.Coupled() || !rnet.Trains() {
		t.Errorf("BatchNorm inside a residual block: err %v, %d buffers", err, rnet.NumBuffers())
	}
	net, err := nn.NewMLPWith(5, []int{4}, 3, nn.ActReLU, nn.Options{BatchNorm: true})
	net = must(t, net, err)
	if _, err := net.WithBuffers(make([]float64, 3)); err == nil {
		t.Error("WithBuffers of the wrong length accepted")
	}
}
