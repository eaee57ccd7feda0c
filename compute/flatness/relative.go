package flatness

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/nn"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// RelativeSettings configure RelativeFlatness.
type RelativeSettings struct {
	// Exact computes κ with one Hessian-vector product per weight of the
	// layer (Out·In products); otherwise κ is estimated by Hutchinson with
	// Trace (Budget ≥ 1 products, optional RelErr target).
	Exact bool
	Trace curvature.TraceSettings
}

// RelativeResult is a relative-flatness value.
type RelativeResult struct {
	// Kappa is κ; StdErr its Hutchinson standard error (0 when exact).
	Kappa, StdErr float64
	// Products is the number of Hessian-vector products.
	Products int
}

// RelativeFlatness computes the relative flatness of Petzka et al. (2021) for
// the Dense layer l of net (index into net.Layers()) with weight rows w_s
// (w_s ∈ R^In, the weights into output neuron s; the bias is not part of the
// measure):
//
//	κ = Σ_{s,s'} ⟨w_s, w_{s'}⟩ Tr(H_{s,s'}),   H_{s,s'} = ∂²L/∂w_s ∂w_{s'}ᵀ.
//
// With the weights ordered row-major, index (s, i), this is κ = tr(H_W M)
// with H_W the weight block of ∇²L and M = G ⊗ I_In, G = W Wᵀ (the Gram
// matrix of the rows): M v for V ∈ R^{Out×In} is G V. Exact evaluates
// Σ_j (H_W M e_j)_j with Out·In products (tiny layers, tests); otherwise
// κ ≈ mean vᵀ H_W (M v) over Rademacher v on the block (Hutchinson: unbiased
// since E[vᵀAv] = tr A for any square A). Each product pads M v with zeros to
// a full direction, calls o.HVP at θ and keeps the weight block. Under a
// neuron-wise or Dinh rescaling of the layer (W → αW, H_W → H_W/α²) κ is
// unchanged, exactly for Exact and, with the same rng seed, for Hutchinson.
func RelativeFlatness(ctx context.Context, o Oracle, net *nn.Network, theta []float64, layer int,
	rng *rand.Rand, s RelativeSettings) (RelativeResult, error) {
	if err := checkTheta(o, theta); err != nil {
		return RelativeResult{}, err
	}
	if net == nil || net.NumParams() != o.Dim() {
		return RelativeResult{}, fmt.Errorf("%w: network does not match the oracle's dimension", ErrInvalid)
	}
	if layer < 0 || layer >= len(net.Layers()) {
		return RelativeResult{}, fmt.Errorf("%w: layer = %d, want 0…%d", ErrInvalid, layer, len(net.Layers())-1)
	}
	dl, ok := net.Layers()[layer].(*nn.Dense)
	if !ok {
		return RelativeResult{}, fmt.Errorf("%w: layer %d is %T, want *nn.Dense", ErrInvalid, layer, net.Layers()[layer])
	}
	k, in := dl.Out, dl.In
	off := net.Offset(layer)
	w := theta[off : off+k*in]
	// G = W Wᵀ (k×k).
	g := make([]float64, k*k)
	impl := blas64.Implementation()
	impl.Dgemm(blas.NoTrans, blas.Trans, k, k, in, 1, w, in, w, in, 0, g, k)
	full, hv := make([]float64, len(theta)), make([]float64, len(theta))
	products := 0
	op := func(dst, v []float64) {
		blk := full[off : off+k*in]
		impl.Dgemm(blas.NoTrans, blas.NoTrans, k, in, k, 1, g, k, v, in, 0, blk, in)
		o.HVP(hv, theta, full)
		products++
		copy(dst, hv[off:off+k*in])
	}
	dim := k * in
	if s.Exact {
		e, dst := make([]float64, dim), make([]float64, dim)
		var kappa float64
		for j := 0; j < dim; j++ {
			if err := ctx.Err(); err != nil {
				return RelativeResult{}, fmt.Errorf("relative flatness product %d: %w", j+1, err)
			}
			e[j] = 1
			op(dst, e)
			e[j] = 0
			kappa += dst[j]
		}
		return RelativeResult{Kappa: kappa, Products: products}, nil
	}
	if rng == nil {
		return RelativeResult{}, fmt.Errorf("%w: nil rng", ErrInvalid)
	}
	est, err := curvature.Hutchinson(ctx, dim, op, rng, s.Trace)
	if err != nil {
		return RelativeResult{}, fmt.Errorf("relative flatness: %w", err)
	}
	return RelativeResult{Kappa: est.Trace, StdErr: est.StdErr, Products: est.Products}, nil
}
