package nn_test

import (
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// cnnBench is the 1×28×28 CNN with 5×5 convs of 8 and 16 filters (same
// padding, 2×2 pools, so 16·7·7 = 784 features) and a 10-way output, on a
// batch of 128 random images.
func cnnBench(b *testing.B) problem {
	net, err := nn.NewCNN(1, 28, 28, []int{8, 16}, nil, 10, nn.ActReLU)
	if err != nil {
		b.Fatal(err)
	}
	return netProblem(b, net, 128, 1)
}

// BenchmarkCNNForward: loss (forward pass only) over the 128 batch.
func BenchmarkCNNForward(b *testing.B) {
	p := cnnBench(b)
	ws := p.net.NewWorkspace(128)
	b.ReportAllocs()
	for b.Loop() {
		ws.Loss(p.theta, p.x, p.y)
	}
}

// BenchmarkCNNGrad: loss and gradient (forward + backward) over the batch.
func BenchmarkCNNGrad(b *testing.B) {
	p := cnnBench(b)
	ws := p.net.NewWorkspace(128)
	g := make([]float64, len(p.theta))
	b.ReportAllocs()
	for b.Loop() {
		ws.LossGrad(g, p.theta, p.x, p.y)
	}
}

// BenchmarkCNNHVP: one exact Hessian-vector product (forward, backward,
// R-forward, R-backward) over the batch.
func BenchmarkCNNHVP(b *testing.B) {
	p := cnnBench(b)
	ws := p.net.NewWorkspace(128)
	v := randVec(len(p.theta), 1)
	hv := make([]float64, len(v))
	b.ReportAllocs()
	for b.Loop() {
		ws.HVP(hv, p.theta, v, p.x, p.y)
	}
}

// BenchmarkCNNHessianCached: one product of the cached Hessian (R passes only).
func BenchmarkCNNHessianCached(b *testing.B) {
	p := cnnBench(b)
	h := nn.NewHessian(p.net, p.theta, p.x, p.y, 128)
	v := randVec(len(p.theta), 1)
	hv := make([]float64, len(v))
	b.ReportAllocs()
	for b.Loop() {
		h.Apply(hv, v)
	}
}

// BenchmarkCNNGaussNewtonCached: one product of the cached Gauss–Newton
// operator (R-forward and backward).
func BenchmarkCNNGaussNewtonCached(b *testing.B) {
	p := cnnBench(b)
	g := nn.NewGaussNewton(p.net, p.theta, p.x, p.y, 128)
	v := randVec(len(p.theta), 1)
	gv := make([]float64, len(v))
	b.ReportAllocs()
	for b.Loop() {
		g.Apply(gv, v)
	}
}

// BenchmarkResMLPHVP: one HVP of a 64-256×(2 blocks)-10 residual MLP over 512
// examples (compare BenchmarkHVP).
func BenchmarkResMLPHVP(b *testing.B) {
	net, err := nn.NewResMLP(64, 256, 2, 10, nn.ActReLU)
	if err != nil {
		b.Fatal(err)
	}
	p := netProblem(b, net, 512, 1)
	ws := p.net.NewWorkspace(512)
	v := randVec(len(p.theta), 1)
	hv := make([]float64, len(v))
	b.ReportAllocs()
	for b.Loop() {
		ws.HVP(hv, p.theta, v, p.x, p.y)
	}
}
