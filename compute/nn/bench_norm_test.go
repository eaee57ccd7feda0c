package nn_test

import (
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// normBenchNets are Keskar et al.'s F1 shape, 784-512-512-10, plain and
// with batch normalization and dropout 0.5, on a batch of 256.
func normBenchNets(b *testing.B) map[string]problem {
	out := map[string]problem{}
	for name, o := range map[string]nn.Options{"plain": {}, "bn-dropout": {BatchNorm: true, Dropout: 0.5}} {
		net, err := nn.NewMLPWith(784, []int{512, 512}, 10, nn.ActReLU, o)
		if err != nil {
			b.Fatal(err)
		}
		out[name] = netProblem(b, net, 256, 1)
	}
	return out
}

// BenchmarkNormGrad: the evaluation-mode gradient (LossGrad) and the
// training-mode one (TrainGrad) of F1 with and without batch norm and
// dropout.
func BenchmarkNormGrad(b *testing.B) {
	for _, name := range []string{"plain", "bn-dropout"} {
		p := normBenchNets(b)[name]
		ws := p.net.NewWorkspace(256)
		g := make([]float64, len(p.theta))
		b.Run(name+"/eval", func(b *testing.B) {
			for b.Loop() {
				ws.LossGrad(g, p.theta, p.x, p.y)
			}
		})
		b.Run(name+"/train", func(b *testing.B) {
			for b.Loop() {
				ws.TrainGrad(g, p.theta, p.x, p.y, nn.Training{Seed: 1, Update: true})
			}
		})
	}
}

// BenchmarkNormHVP: one evaluation-mode Hessian-vector product of F1 with
// and without batch norm and dropout.
func BenchmarkNormHVP(b *testing.B) {
	for _, name := range []string{"plain", "bn-dropout"} {
		p := normBenchNets(b)[name]
		ws := p.net.NewWorkspace(256)
		v := randVec(len(p.theta), 1)
		hv := make([]float64, len(v))
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				ws.HVP(hv, p.theta, v, p.x, p.y)
			}
		})
	}
}
