package flatness

import (
	"fmt"
	"math"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// AlphaScaleFactors returns the diagonal D of Dinh et al.'s (2017) α-scale
// transformation T_α θ = D θ for the Dense layers l1 and l2 = l1 + 2 of net
// separated by the ReLU layer l1 + 1 (indices into net.Layers()):
//
//	W₁ ← α W₁,  b₁ ← α b₁,  W₂ ← W₂/α,  b₂ unchanged,
//
// and 1 elsewhere. Because relu(αz) = α relu(z) for α > 0, the network
// computes the same function, while ∇²L(T_α θ) = D⁻¹ ∇²L(θ) D⁻¹: the
// (W₁, b₁) block of the Hessian is multiplied by α⁻² and the W₂ block by α².
// It returns an error wrapping ErrInvalid if α is not finite and positive or
// the layers are not Dense–ReLU–Dense.
func AlphaScaleFactors(net *nn.Network, l1, l2 int, alpha float64) ([]float64, error) {
	if err := positive("alpha", alpha); err != nil {
		return nil, err
	}
	if net == nil {
		return nil, fmt.Errorf("%w: nil network", ErrInvalid)
	}
	layers := net.Layers()
	if l2 != l1+2 || l1 < 0 || l2 >= len(layers) {
		return nil, fmt.Errorf("%w: layers %d and %d are not two Dense layers separated by one ReLU layer (want l2 = l1+2 < %d)",
			ErrInvalid, l1, l2, len(layers))
	}
	_, ok1 := layers[l1].(*nn.Dense)
	_, okr := layers[l1+1].(*nn.ReLU)
	d2, ok2 := layers[l2].(*nn.Dense)
	if !ok1 || !okr || !ok2 {
		return nil, fmt.Errorf("%w: layers %d, %d, %d are %T, %T, %T, want *nn.Dense, *nn.ReLU, *nn.Dense",
			ErrInvalid, l1, l1+1, l2, layers[l1], layers[l1+1], layers[l2])
	}
	d := ones(net.NumParams())
	fill(d[net.Offset(l1):net.Offset(l1+1)], alpha)
	o2 := net.Offset(l2)
	fill(d[o2:o2+d2.Out*d2.In], 1/alpha)
	return d, nil
}

// LayerScaleFactors returns the diagonal D of the layer-wise rescaling of a
// deep ReLU network net = Dense, ReLU, Dense, ReLU, …, Dense (every
// activation a ReLU) by factors α_k > 0, one per Dense layer in order, with
// Π_k α_k = 1 (to 1e-12 relative):
//
//	W_k ← α_k W_k,  b_k ← (Π_{i≤k} α_i) b_k.
//
// The pre-activation of layer k is then multiplied by c_k = Π_{i≤k} α_i, the
// ReLU commutes with the positive factor, and the output (c_L = 1) is
// unchanged. For two layers with (α, 1/α) this is AlphaScaleFactors.
func LayerScaleFactors(net *nn.Network, alphas []float64) ([]float64, error) {
	if net == nil {
		return nil, fmt.Errorf("%w: nil network", ErrInvalid)
	}
	layers := net.Layers()
	var dense []int
	for l, ly := range layers {
		switch ly.(type) {
		case *nn.Dense:
			if l%2 != 0 {
				return nil, fmt.Errorf("%w: layer %d is Dense but not preceded by a ReLU after a Dense layer", ErrInvalid, l)
			}
			dense = append(dense, l)
		case *nn.ReLU:
			if l%2 != 1 || l+1 >= len(layers) {
				return nil, fmt.Errorf("%w: ReLU layer %d does not separate two Dense layers", ErrInvalid, l)
			}
		default:
			return nil, fmt.Errorf("%w: layer %d is %T; layer scaling needs Dense layers separated by ReLU", ErrInvalid, l, ly)
		}
	}
	if len(alphas) != len(dense) {
		return nil, fmt.Errorf("%w: %d alphas for %d Dense layers", ErrInvalid, len(alphas), len(dense))
	}
	prod := 1.0
	d := ones(net.NumParams())
	for k, l := range dense {
		if err := positive(fmt.Sprintf("alphas[%d]", k), alphas[k]); err != nil {
			return nil, err
		}
		prod *= alphas[k]
		dl := layers[l].(*nn.Dense)
		o := net.Offset(l)
		nw := dl.Out * dl.In
		fill(d[o:o+nw], alphas[k])
		fill(d[o+nw:o+nw+dl.Out], prod)
	}
	if math.Abs(prod-1) > 1e-12 {
		return nil, fmt.Errorf("%w: product of alphas = %v, want 1", ErrInvalid, prod)
	}
	return d, nil
}

// Rescale sets dst = D θ (elementwise) and returns dst, allocating it when
// nil. It returns an error if the lengths differ.
func Rescale(dst, d, theta []float64) ([]float64, error) {
	if len(d) != len(theta) {
		return nil, fmt.Errorf("%w: len(factors) = %d, len(theta) = %d", ErrInvalid, len(d), len(theta))
	}
	if dst == nil {
		dst = make([]float64, len(theta))
	}
	if len(dst) != len(theta) {
		return nil, fmt.Errorf("%w: len(dst) = %d, want %d", ErrInvalid, len(dst), len(theta))
	}
	for i, t := range theta {
		dst[i] = d[i] * t
	}
	return dst, nil
}

// AlphaScale sets dst = T_α θ for the Dense–ReLU–Dense layers (l1, l1+1, l2)
// of net (see AlphaScaleFactors) and returns it (allocated when dst is nil).
func AlphaScale(dst, theta []float64, net *nn.Network, l1, l2 int, alpha float64) ([]float64, error) {
	d, err := AlphaScaleFactors(net, l1, l2, alpha)
	if err != nil {
		return nil, err
	}
	return Rescale(dst, d, theta)
}

// LayerScale sets dst to the layer-wise rescaling of θ (see
// LayerScaleFactors) and returns it (allocated when dst is nil).
func LayerScale(dst, theta []float64, net *nn.Network, alphas []float64) ([]float64, error) {
	d, err := LayerScaleFactors(net, alphas)
	if err != nil {
		return nil, err
	}
	return Rescale(dst, d, theta)
}

// Outputs sets dst to the network outputs (row-major n×k, n = len(x)/InSize)
// at θ, for any architecture (nn.Workspace.Outputs, in chunks of 256 rows),
// and returns it. Shapes that do not fit the network give an error wrapping
// ErrInvalid.
func Outputs(dst []float64, net *nn.Network, theta, x []float64) ([]float64, error) {
	if net == nil {
		return nil, fmt.Errorf("%w: nil network", ErrInvalid)
	}
	if len(theta) != net.NumParams() {
		return nil, fmt.Errorf("%w: len(theta) = %d, want P = %d", ErrInvalid, len(theta), net.NumParams())
	}
	d, k := net.InSize(), net.OutSize()
	if len(x)%d != 0 {
		return nil, fmt.Errorf("%w: len(x) = %d is not a multiple of the input width %d", ErrInvalid, len(x), d)
	}
	n := len(x) / d
	if len(dst) < n*k {
		dst = make([]float64, n*k)
	}
	dst = dst[:n*k]
	net.NewWorkspace(256).Outputs(dst, theta, x)
	return dst, nil
}

// OutputChange returns the largest absolute change max |f_θa(x) − f_θb(x)|
// of the network outputs (logits) over the rows of x, and the same divided
// by the largest |f_θa(x)| (a relative change). Dinh's T_α gives 0 up to
// rounding.
func OutputChange(net *nn.Network, thetaA, thetaB, x []float64) (maxAbs, maxRel float64, err error) {
	a, err := Outputs(nil, net, thetaA, x)
	if err != nil {
		return 0, 0, err
	}
	b, err := Outputs(nil, net, thetaB, x)
	if err != nil {
		return 0, 0, err
	}
	var scale float64
	for i := range a {
		maxAbs = max(maxAbs, math.Abs(a[i]-b[i]))
		scale = max(scale, math.Abs(a[i]))
	}
	if scale == 0 {
		return maxAbs, maxAbs, nil
	}
	return maxAbs, maxAbs / scale, nil
}

func ones(n int) []float64 {
	d := make([]float64, n)
	fill(d, 1)
	return d
}

func fill(d []float64, v float64) {
	for i := range d {
		d[i] = v
	}
}
