// Package flatness implements the flatness and sharpness measures of the
// flat-minima literature on top of a loss oracle (docs/SCIENCE.md §1, §2, §4, §6):
//
//   - Evidence: the Laplace-approximation Bayesian evidence and Occam factor
//     of Smith & Le (2018) with a stochastic-Lanczos log-determinant;
//   - KeskarSharpness: the ε-sharpness of Keskar et al. (2017), full space or
//     random subspace, by L-BFGS-B on the box C_ε (package lbfgsb);
//   - AlphaScale, LayerScale, OutputChange: the α-scale reparametrization of
//     Dinh et al. (2017), which changes raw flatness without changing the
//     function;
//   - AdaptiveSharpness, AverageSharpness: worst- and average-case (adaptive)
//     sharpness (Kwon et al. 2021; Andriushchenko et al. 2023);
//   - RelativeFlatness (Petzka et al. 2021), FisherRao (Liang et al. 2019)
//     and PACBayesFlatness, the magnitude-aware 1/σ'² of Jiang et al. (2020).
//
// The oracle is a training loss L(θ) = (1/M) Σᵢ ℓᵢ(θ) over a fixed set of M
// examples with its gradient and exact Hessian-vector products; NetOracle
// adapts an nn.Network with a data set. All randomness comes from a passed
// *rand.Rand, so results are deterministic given the seed; every function
// checks its context between oracle calls and validates its settings,
// returning errors wrapping ErrInvalid that name the offending parameter.
package flatness

import (
	"errors"
	"fmt"
	"math"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/nn"
)

// ErrInvalid is returned when an argument or setting is invalid; the message
// names the parameter.
var ErrInvalid = errors.New("flatness: invalid argument")

// Oracle is a twice-differentiable loss L: R^P → R. Implementations need not
// be safe for concurrent use. Vectors passed have length Dim and dst never
// aliases the inputs.
type Oracle interface {
	// Dim returns P.
	Dim() int
	// Loss returns L(θ).
	Loss(theta []float64) float64
	// Grad sets dst = ∇L(θ) and returns L(θ).
	Grad(dst, theta []float64) float64
	// HVP sets dst = ∇²L(θ) v.
	HVP(dst, theta, v []float64)
}

// Classifier is an Oracle that also reports the training accuracy of θ (the
// fraction of the M examples classified correctly).
type Classifier interface {
	Oracle
	Accuracy(theta []float64) float64
}

// HessianOperator returns the operator v ↦ ∇²L(θ) v of o at a copy of θ.
func HessianOperator(o Oracle, theta []float64) curvature.Operator {
	th := append([]float64(nil), theta...)
	return func(dst, v []float64) { o.HVP(dst, th, v) }
}

// NetOracle is the Oracle and Classifier of an nn.Network's mean loss over
// the rows of X (row-major, len(Y) rows). It owns one nn.Workspace and must
// not be used concurrently.
type NetOracle struct {
	net *nn.Network
	x   []float64
	y   []int
	ws  *nn.Workspace
}

// NewNetOracle returns the oracle of net over the examples (x, y), evaluated
// in chunks of rows examples. x and y are retained, not copied.
func NewNetOracle(net *nn.Network, x []float64, y []int, rows int) (*NetOracle, error) {
	switch {
	case net == nil:
		return nil, fmt.Errorf("%w: nil network", ErrInvalid)
	case len(y) == 0:
		return nil, fmt.Errorf("%w: no examples", ErrInvalid)
	case len(x) != len(y)*net.InSize():
		return nil, fmt.Errorf("%w: len(x) = %d, want %d examples × %d inputs", ErrInvalid, len(x), len(y), net.InSize())
	}
	for i, c := range y {
		if c < 0 || c >= net.OutSize() {
			return nil, fmt.Errorf("%w: label y[%d] = %d outside [0, %d)", ErrInvalid, i, c, net.OutSize())
		}
	}
	return &NetOracle{net: net, x: x, y: y, ws: net.NewWorkspace(rows)}, nil
}

// Net returns the network.
func (o *NetOracle) Net() *nn.Network { return o.net }

// Data returns the examples (x, y).
func (o *NetOracle) Data() ([]float64, []int) { return o.x, o.y }

// Dim implements Oracle.
func (o *NetOracle) Dim() int { return o.net.NumParams() }

// Loss implements Oracle.
func (o *NetOracle) Loss(theta []float64) float64 {
	l, _ := o.ws.Loss(theta, o.x, o.y)
	return l
}

// Grad implements Oracle.
func (o *NetOracle) Grad(dst, theta []float64) float64 {
	l, _ := o.ws.LossGrad(dst, theta, o.x, o.y)
	return l
}

// HVP implements Oracle.
func (o *NetOracle) HVP(dst, theta, v []float64) { o.ws.HVP(dst, theta, v, o.x, o.y) }

// Accuracy implements Classifier.
func (o *NetOracle) Accuracy(theta []float64) float64 {
	_, a := o.ws.Loss(theta, o.x, o.y)
	return a
}

// checkTheta validates θ against the oracle's dimension.
func checkTheta(o Oracle, theta []float64) error {
	if o == nil {
		return fmt.Errorf("%w: nil oracle", ErrInvalid)
	}
	if len(theta) != o.Dim() {
		return fmt.Errorf("%w: len(theta) = %d, want P = %d", ErrInvalid, len(theta), o.Dim())
	}
	for i, t := range theta {
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return fmt.Errorf("%w: theta[%d] = %v", ErrInvalid, i, t)
		}
	}
	return nil
}

// positive reports an error naming name unless v is finite and > 0.
func positive(name string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%w: %s = %v, want finite > 0", ErrInvalid, name, v)
	}
	return nil
}

// atLeast reports an error naming name unless v ≥ lo.
func atLeast(name string, v, lo int) error {
	if v < lo {
		return fmt.Errorf("%w: %s = %d, want ≥ %d", ErrInvalid, name, v, lo)
	}
	return nil
}
