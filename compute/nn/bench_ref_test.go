package nn_test

import (
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
	"gonum.org/v1/gonum/floats"
)

// refProblem is the reference model of the PyTorch comparison
// (scripts/bench, docs/BENCHMARKS.md): the MLP 784-512-512-512-10 with ReLU
// and cross-entropy, here on n random examples.
func refProblem(b *testing.B, n int) problem {
	net, err := nn.NewMLP(784, []int{512, 512, 512}, 10, nn.ActReLU)
	if err != nil {
		b.Fatal(err)
	}
	return netProblem(b, net, n, 1)
}

// BenchmarkRefHVP: one Workspace.HVP of the reference MLP over 2,048 examples.
func BenchmarkRefHVP(b *testing.B) {
	p := refProblem(b, 2048)
	ws := p.net.NewWorkspace(2048)
	v := randVec(len(p.theta), 1)
	hv := make([]float64, len(v))
	b.ReportAllocs()
	for b.Loop() {
		ws.HVP(hv, p.theta, v, p.x, p.y)
	}
}

// BenchmarkRefHessianCached: one cached Hessian product of the reference MLP
// over 2,048 examples.
func BenchmarkRefHessianCached(b *testing.B) {
	p := refProblem(b, 2048)
	h := nn.NewHessian(p.net, p.theta, p.x, p.y, 2048)
	v := randVec(len(p.theta), 1)
	hv := make([]float64, len(v))
	b.ReportAllocs()
	for b.Loop() {
		h.Apply(hv, v)
	}
}

// BenchmarkRefTrainStep: one plain SGD step of the reference MLP at B = 128
// (LossGrad and θ ← θ − ε∇L).
func BenchmarkRefTrainStep(b *testing.B) {
	p := refProblem(b, 128)
	ws := p.net.NewWorkspace(128)
	g := make([]float64, len(p.theta))
	b.ReportAllocs()
	for b.Loop() {
		ws.LossGrad(g, p.theta, p.x, p.y)
		floats.AddScaled(p.theta, -1e-3, g)
	}
}

// BenchmarkRefSGDStep32: one float32 SGD step of the reference MLP at
// B = 128 (Workspace32.SGDStep, the update fused into the backward pass).
func BenchmarkRefSGDStep32(b *testing.B) {
	p, th, x := problem32(refProblem(b, 128))
	n32, err := p.net.Float32()
	if err != nil {
		b.Fatal(err)
	}
	ws := n32.NewWorkspace(128)
	g := make([]float32, len(th))
	b.ReportAllocs()
	for b.Loop() {
		ws.SGDStep(th, g, x, p.y, 1e-3)
	}
}
