package nn

import (
	"fmt"
	"math"
)

// LossFunc is the per-example loss ℓ(z, y) on the network output z (one row of
// the n×k output matrix) and an integer label y. Implementations must be
// stateless (safe for concurrent use with distinct buffers).
type LossFunc interface {
	// Eval returns Σᵢ ℓ(zᵢ, yᵢ) and the number of rows whose argmax equals the
	// label. When dz is non-nil it also sets dz = s·∂ℓ/∂z row by row.
	Eval(n, k int, z []float64, y []int, s float64, dz []float64) (sum float64, correct int)
	// HessVec sets rdz = s·(∇²_z ℓ) rz row by row.
	HessVec(n, k int, z []float64, y []int, s float64, rz, rdz []float64)
}

// SoftmaxCrossEntropy is ℓ(z, y) = log Σ_c exp(z_c) − z_y (evaluated with the
// max-shift, so it is finite for every finite z), with gradient p − e_y and
// Hessian diag(p) − p pᵀ, p = softmax(z).
type SoftmaxCrossEntropy struct{}

// Eval implements LossFunc.
func (SoftmaxCrossEntropy) Eval(n, k int, z []float64, y []int, s float64, dz []float64) (float64, int) {
	var sum float64
	correct := 0
	for i := 0; i < n; i++ {
		row := z[i*k : (i+1)*k]
		m, arg := row[0], 0
		for c, x := range row {
			if x > m {
				m, arg = x, c
			}
		}
		if arg == y[i] {
			correct++
		}
		var se float64
		for _, x := range row {
			se += math.Exp(x - m)
		}
		lse := m + math.Log(se)
		sum += lse - row[y[i]]
		if dz != nil {
			d := dz[i*k : (i+1)*k]
			for c, x := range row {
				d[c] = s * math.Exp(x-lse)
			}
			d[y[i]] -= s
		}
	}
	return sum, correct
}

// HessVec implements LossFunc: rdz = s·(p ⊙ rz − p (pᵀ rz)).
func (SoftmaxCrossEntropy) HessVec(n, k int, z []float64, _ []int, s float64, rz, rdz []float64) {
	for i := 0; i < n; i++ {
		row := z[i*k : (i+1)*k]
		r := rz[i*k : (i+1)*k]
		d := rdz[i*k : (i+1)*k]
		m := row[0]
		for _, x := range row {
			m = max(m, x)
		}
		var se float64
		for c, x := range row {
			e := math.Exp(x - m)
			d[c] = e // unnormalized p, stored temporarily
			se += e
		}
		var pr float64
		for c := range d {
			d[c] /= se
			pr += d[c] * r[c]
		}
		for c, p := range d {
			d[c] = s * p * (r[c] - pr)
		}
	}
}

// MeanSquaredError is the squared error to the one-hot target of the label,
//
//	ℓ(z, y) = ½ ‖z − e_y‖² = ½ Σ_c (z_c − [c = y])²,
//
// with the factor ½ so that ∂ℓ/∂z = z − e_y and ∇²_z ℓ = I (the identity, so
// R{D_z} = s·R{z} and the Gauss–Newton matrix of a linear model is its exact
// Hessian). The batch loss is the mean over examples, (1/n) Σᵢ ℓᵢ, like every
// LossFunc. Accuracy counts rows whose argmax equals the label.
type MeanSquaredError struct{}

// Eval implements LossFunc.
func (MeanSquaredError) Eval(n, k int, z []float64, y []int, s float64, dz []float64) (float64, int) {
	var sum float64
	correct := 0
	for i := 0; i < n; i++ {
		row := z[i*k : (i+1)*k]
		m, arg := row[0], 0
		var sq float64
		for c, x := range row {
			if x > m {
				m, arg = x, c
			}
			if c == y[i] {
				x--
			}
			sq += x * x
		}
		if arg == y[i] {
			correct++
		}
		sum += sq / 2
		if dz != nil {
			d := dz[i*k : (i+1)*k]
			for c, x := range row {
				d[c] = s * x
			}
			d[y[i]] -= s
		}
	}
	return sum, correct
}

// HessVec implements LossFunc: rdz = s·rz.
func (MeanSquaredError) HessVec(n, k int, _ []float64, _ []int, s float64, rz, rdz []float64) {
	rz, rdz = rz[:n*k], rdz[:n*k]
	for i, r := range rz {
		rdz[i] = s * r
	}
}

// ParseLoss maps "ce" (or "cross-entropy") to SoftmaxCrossEntropy and "mse" to
// MeanSquaredError.
func ParseLoss(name string) (LossFunc, error) {
	switch name {
	case "ce", "cross-entropy":
		return SoftmaxCrossEntropy{}, nil
	case "mse":
		return MeanSquaredError{}, nil
	}
	return nil, fmt.Errorf("%w: unknown loss %q", ErrShape, name)
}
