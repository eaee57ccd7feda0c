package flatness

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// FisherRaoSettings configure FisherRao.
type FisherRaoSettings struct {
	// IncludeBiases uses the full θ as the direction. When false (the
	// default) the biases are set to zero in the direction, i.e. the norm of
	// the weights alone: Liang et al. define the Fisher–Rao norm for ReLU
	// networks without biases, where ⟨θ, ∇_θ ℓ⟩ = (L+1)⟨f, ∂ℓ/∂f⟩ by
	// homogeneity; with biases that identity fails, and including them
	// would make the norm depend on a non-homogeneous part.
	IncludeBiases bool
	// ModelLabels draws each label y ~ softmax(f_θ(x)) from rng (the model
	// Fisher, the definition of Liang et al.); false uses the data labels
	// (the empirical Fisher, as in Jiang et al.'s implementation). Model
	// labels assume the outputs are logits of a softmax classifier.
	ModelLabels bool
}

// FisherRaoResult is a Fisher–Rao norm.
type FisherRaoResult struct {
	// Norm2 is ‖θ‖²_fr; Examples the number of examples averaged.
	Norm2    float64
	Examples int
}

// FisherRao computes the squared Fisher–Rao norm of Liang, Poggio, Rakhlin &
// Stokes (2019),
//
//	‖θ‖²_fr = θ̃ᵀ F(θ) θ̃ = (1/M) Σᵢ ⟨θ̃, ∇_θ ℓ(f_θ(xᵢ), yᵢ)⟩²,
//
// with F = (1/M) Σᵢ ∇ℓᵢ ∇ℓᵢᵀ the (empirical or model, see ModelLabels)
// Fisher information over the M rows of x and θ̃ = θ with the biases zeroed
// unless IncludeBiases (biases are exactly the Dense bias entries). The
// per-example gradients are computed one example at a time (M gradient
// passes) with Workspace.LossGrad, so ℓ is the network's training objective:
// pass a network without weight decay to get the data-loss Fisher. Model
// labels need the outputs, so they are limited to the layers Outputs
// supports. ctx is checked every 64 examples.
func FisherRao(ctx context.Context, net *nn.Network, theta, x []float64, y []int, rng *rand.Rand,
	s FisherRaoSettings) (FisherRaoResult, error) {
	o, err := NewNetOracle(net, x, y, 1)
	if err != nil {
		return FisherRaoResult{}, err
	}
	if err := checkTheta(o, theta); err != nil {
		return FisherRaoResult{}, err
	}
	if s.ModelLabels && rng == nil {
		return FisherRaoResult{}, fmt.Errorf("%w: nil rng", ErrInvalid)
	}
	dir := append([]float64(nil), theta...)
	if !s.IncludeBiases {
		for l, ly := range net.Layers() {
			if d, ok := ly.(*nn.Dense); ok {
				b := net.Offset(l) + d.Out*d.In
				clear(dir[b : b+d.Out])
			}
		}
	}
	labels := y
	if s.ModelLabels {
		out, err := Outputs(nil, net, theta, x)
		if err != nil {
			return FisherRaoResult{}, err
		}
		labels = sampleSoftmax(out, net.OutSize(), rng)
	}
	d := net.InSize()
	ws := o.ws
	grad := make([]float64, len(theta))
	var sum float64
	for i := range labels {
		if i%64 == 0 {
			if err := ctx.Err(); err != nil {
				return FisherRaoResult{}, fmt.Errorf("fisher-rao example %d: %w", i+1, err)
			}
		}
		ws.LossGrad(grad, theta, x[i*d:(i+1)*d], labels[i:i+1])
		var ip float64
		for j, g := range grad {
			ip += g * dir[j]
		}
		sum += ip * ip
	}
	return FisherRaoResult{Norm2: sum / float64(len(labels)), Examples: len(labels)}, nil
}

// sampleSoftmax draws one label per row of the n×k logits z from softmax(z).
func sampleSoftmax(z []float64, k int, rng *rand.Rand) []int {
	n := len(z) / k
	y := make([]int, n)
	p := make([]float64, k)
	for i := 0; i < n; i++ {
		row := z[i*k : (i+1)*k]
		m := row[0]
		for _, v := range row {
			m = max(m, v)
		}
		var s float64
		for c, v := range row {
			p[c] = math.Exp(v - m)
			s += p[c]
		}
		u := rng.Float64() * s
		y[i] = k - 1
		for c := range p {
			if u < p[c] {
				y[i] = c
				break
			}
			u -= p[c]
		}
	}
	return y
}
