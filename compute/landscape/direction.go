// Package landscape evaluates the loss and accuracy of a network on low-
// dimensional slices of its parameter space: Keskar et al.'s (2017, arXiv
// 1609.04836) straight line between two trained models and Li et al.'s
// (2018, arXiv 1712.09913) filter-normalized random slices around one.
//
// # The line between two models
//
// For parameter vectors θ_A and θ_B of the same network (say, trained with
// a small and a large batch) Line evaluates
//
//	θ(α) = (1 − α)·θ_A + α·θ_B,   α ∈ [−1, 2] typically,
//
// so α = 0 is θ_A, α = 1 is θ_B, and α < 0 or > 1 extrapolates beyond them.
//
// # Filter-normalized directions
//
// A random direction d is drawn from N(0, I) with the shape of θ (P draws
// in the order of the flat parameter vector, whatever the bias mode, so the
// weights of d do not depend on it). Each filter f of d is then rescaled to
// the norm of the same filter of θ:
//
//	d_f ← d_f / ‖d_f‖ · ‖θ_f‖.
//
// A filter is a row of a Dense layer's Out × In weight matrix (the weights
// into one output unit) or one output channel of a Conv2D layer (its
// C·K·K weights); the filters of a Residual block are those of the layers
// of its body; layers without parameters (ReLU, Tanh, MaxPool2D) have none.
// The rescaling removes the scale invariance of ReLU networks from the
// picture: a layer whose weights are 10× larger gets a 10× larger
// perturbation, so slices of differently scaled networks can be compared.
// A filter of θ with zero norm gets d_f = 0.
//
// Biases follow the bias mode. BiasZero (the default, as in Li et al., who
// also zero the batch-normalization components, which count as biases
// here) sets every bias entry of d to 0, so the slice moves the weights
// only. BiasNormalize treats the bias vector b of each
// Dense or Conv2D layer as one more filter: d_b ← d_b/‖d_b‖·‖θ_b‖ (all
// Out entries together, so a layer whose biases are all zero, as at
// initialization, again gets d_b = 0), and a BatchNorm's γ and β each as
// one filter. Li et al.'s published code, when
// told not to ignore biases, copies θ_b into d_b instead; BiasNormalize is
// the filter-wise rule applied to the bias vector.
//
// # Slices
//
// Slice evaluates the 1-D slice L(θ + a·d₁) or the 2-D slice
// L(θ + a·d₁ + b·d₂) on a grid of a (and b) values, such as 51 × 51 values
// in [−1, 1]², with d₂ drawn independently of d₁: random vectors in high
// dimension are nearly orthogonal (|cos| ~ 1/√P), so d₂ is not
// orthogonalized against d₁.
//
// # Cost
//
// Every grid point is one forward pass over the training and test subsets.
// When the first layer is linear in its parameters (Dense, Conv2D), its
// output at θ(a, b) = V₀ + a·V₁ + b·V₂ (V₀ = θ, V₁ = d₁, V₂ = d₂; for a line
// (1 − α)·θ_A + α·θ_B) is
//
//	f₀(x; c₀V₀ + c₁V₁ + c₂V₂) = c₀ f₀(x; V₀) + c₁ f₀(x; V₁) + c₂ f₀(x; V₂),
//
// so the three products are computed once per chunk of examples and each
// grid point's first-layer output costs two axpys; only the later layers
// run per point. The result differs from the direct evaluation only by
// rounding (a relative 1e-12 or less on the loss). Grid points are shared
// out to two goroutines (Options.Workers, at most GOMAXPROCS); each
// point is computed by one goroutine with its own workspace and its chunks
// are summed in order, so every value is independent of the scheduling.
package landscape

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/spec"
)

// Bias is how the bias entries of a filter-normalized direction are set.
type Bias int

const (
	// BiasZero sets them to zero.
	BiasZero Bias = iota
	// BiasNormalize rescales each layer's bias vector as one filter.
	BiasNormalize
)

// ParseBias maps "zero" (or "") and "normalize" to a Bias.
func ParseBias(s string) (Bias, error) {
	switch s {
	case "", spec.BiasZero:
		return BiasZero, nil
	case spec.BiasNormalize:
		return BiasNormalize, nil
	}
	return 0, fmt.Errorf("landscape: bias mode %q: want %q or %q", s, spec.BiasZero, spec.BiasNormalize)
}

// String returns "zero" or "normalize".
func (b Bias) String() string {
	if b == BiasNormalize {
		return spec.BiasNormalize
	}
	return spec.BiasZero
}

// Filter is one block of entries of the flat parameter vector that is
// normalized as a unit: θ[Lo:Hi].
type Filter struct {
	Lo, Hi int
	// Bias marks a layer's bias vector (normalized as one filter, or
	// zeroed, by the bias mode).
	Bias bool
}

// Filters returns the filters of net's parameter layout in order: for every
// Dense layer its Out weight rows then its bias vector, for every Conv2D
// layer its F output channels then its bias vector, for every BatchNorm its
// γ and its β, both marked Bias (so that the default BiasZero leaves the
// batch-norm parameters unperturbed, as Li et al.'s code does), for a
// Residual block
// those of its body; layers without parameters have none. Every parameter
// belongs to exactly one filter. A layer with parameters of another kind is
// an error.
func Filters(net *nn.Network) ([]Filter, error) {
	var out []Filter
	for l, ly := range net.Layers() {
		fs, err := layerFilters(ly, net.Offset(l))
		if err != nil {
			return nil, fmt.Errorf("landscape: layer %d: %w", l, err)
		}
		out = append(out, fs...)
	}
	return out, nil
}

// layerFilters returns the filters of one layer whose parameters start at
// off.
func layerFilters(ly nn.Layer, off int) ([]Filter, error) {
	rows := func(n, width int) []Filter {
		fs := make([]Filter, 0, n+1)
		for i := range n {
			fs = append(fs, Filter{Lo: off + i*width, Hi: off + (i+1)*width})
		}
		return append(fs, Filter{Lo: off + n*width, Hi: off + n*width + n, Bias: true})
	}
	switch l := ly.(type) {
	case *nn.Dense:
		return rows(l.Out, l.In), nil
	case *nn.Conv2D:
		return rows(l.F, l.C*l.K*l.K), nil
	case *nn.BatchNorm: // γ and β are treated as biases, as Li et al. do ("biasbn")
		return []Filter{{Lo: off, Hi: off + l.C, Bias: true}, {Lo: off + l.C, Hi: off + 2*l.C, Bias: true}}, nil
	case *nn.Residual:
		var out []Filter
		for k, sl := range l.Body {
			fs, err := layerFilters(sl, off)
			if err != nil {
				return nil, fmt.Errorf("residual body layer %d: %w", k, err)
			}
			out = append(out, fs...)
			off += sl.NumParams()
		}
		return out, nil
	}
	if ly.NumParams() == 0 {
		return nil, nil
	}
	return nil, fmt.Errorf("%T has %d parameters but no known filter structure", ly, ly.NumParams())
}

// Normalize rescales the direction d (laid out like θ) in place, filter by
// filter: d_f ← d_f/‖d_f‖·‖θ_f‖ for every weight filter, and for the bias
// vectors the same (BiasNormalize) or d_b ← 0 (BiasZero). A filter with
// ‖d_f‖ = 0 or ‖θ_f‖ = 0 becomes 0.
func Normalize(d []float64, net *nn.Network, theta []float64, bias Bias) error {
	if len(d) != net.NumParams() || len(theta) != net.NumParams() {
		return fmt.Errorf("landscape: direction of length %d and θ of length %d for P = %d", len(d), len(theta), net.NumParams())
	}
	fs, err := Filters(net)
	if err != nil {
		return err
	}
	for _, f := range fs {
		df := d[f.Lo:f.Hi]
		if f.Bias && bias == BiasZero {
			clear(df)
			continue
		}
		nd, nt := norm(df), norm(theta[f.Lo:f.Hi])
		if nd == 0 || nt == 0 {
			clear(df)
			continue
		}
		s := nt / nd
		for i := range df {
			df[i] *= s
		}
	}
	return nil
}

// Direction returns a filter-normalized random direction for net at θ: P
// standard normal draws from rng, in the order of θ, rescaled by Normalize.
func Direction(net *nn.Network, theta []float64, bias Bias, rng *rand.Rand) ([]float64, error) {
	d := make([]float64, net.NumParams())
	for i := range d {
		d[i] = rng.NormFloat64()
	}
	if err := Normalize(d, net, theta, bias); err != nil {
		return nil, err
	}
	return d, nil
}

// norm is the Euclidean norm, summed in order.
func norm(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

// Grid returns n ≥ 2 equally spaced values from lo to hi: lo + (hi − lo)·i/(n − 1),
// with the ends exact and 0 exact when the grid is symmetric and n odd.
func Grid(lo, hi float64, n int) []float64 {
	if n < 2 {
		return []float64{lo}
	}
	g := make([]float64, n)
	for i := range g {
		t := float64(i) / float64(n-1)
		g[i] = lo + (hi-lo)*t
		if lo == -hi && 2*i == n-1 {
			g[i] = 0
		}
	}
	g[n-1] = hi
	return g
}
