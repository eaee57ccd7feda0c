// Package train trains a network with plain minibatch stochastic gradient
// descent.
//
// Each epoch draws a fresh permutation π of the N training examples (a
// Fisher–Yates shuffle of the identity, from a PCG generator seeded once per
// run) and takes ⌊N/B⌋ steps on the consecutive batches
// β_t = {π(tB), …, π(tB+B−1)}:
//
//	θ ← θ − ε ∇L_β(θ),   L_β = (1/B) Σ_{i∈β} ℓᵢ.
//
// The last N mod B examples of each permutation are dropped (drop_last), so
// every step averages exactly B examples and the SGD noise scale g = ε(N/B − 1)
// is the same at every step; because the permutation changes every epoch,
// every example is still used with equal probability. After every epoch the
// mean loss and accuracy over the full training and test sets are measured.
//
// A run diverges when a batch loss or an epoch loss is NaN or ±Inf. Divergence
// is a result, not an error: training stops and Result.Diverged is set.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"gonum.org/v1/gonum/floats"
)

// DefaultEvalRows is the chunk size of full-data-set evaluations.
const DefaultEvalRows = 512

// ErrConfig is returned for an invalid Config.
var ErrConfig = errors.New("train: invalid configuration")

// Config configures SGD.
type Config struct {
	BatchSize int     // B, 1 ≤ B ≤ N
	LR        float64 // ε, finite and > 0
	Epochs    int     // number of passes, ≥ 1
	// Rng draws the per-epoch permutations.
	Rng *rand.Rand
	// EvalRows is the chunk size of evaluations (0: DefaultEvalRows).
	EvalRows int
}

// Metrics are the full-data-set metrics after an epoch (Epoch = 0 is the
// initialization).
type Metrics struct {
	Epoch               int
	TrainLoss, TrainAcc float64
	TestLoss, TestAcc   float64
}

func (m Metrics) finite() bool {
	return !math.IsNaN(m.TrainLoss) && !math.IsInf(m.TrainLoss, 0) &&
		!math.IsNaN(m.TestLoss) && !math.IsInf(m.TestLoss, 0)
}

// Result is the outcome of SGD.
type Result struct {
	// Curve holds the metrics of every completed epoch with finite losses.
	Curve []Metrics
	// Final are the metrics at the end of training; after divergence they
	// are those of the last finite state (the last Curve entry, or the
	// initialization when the first epoch diverged).
	Final Metrics
	// Diverged reports a NaN/±Inf batch or epoch loss.
	Diverged bool
	// Steps is the number of SGD updates performed.
	Steps int
}

// SGD trains θ in place on train, evaluating on train and test after every
// epoch and calling progress (if non-nil) with each epoch's metrics. It checks
// ctx between batches and returns the partial result with the wrapped
// ctx.Err() when cancelled.
func SGD(ctx context.Context, net *nn.Network, theta []float64, trainSet, testSet data.Set,
	cfg Config, progress func(Metrics)) (Result, error) {
	n := trainSet.Len()
	switch {
	case cfg.BatchSize < 1 || cfg.BatchSize > n:
		return Result{}, fmt.Errorf("%w: batch size %d not in [1, %d]", ErrConfig, cfg.BatchSize, n)
	case !(cfg.LR > 0) || math.IsInf(cfg.LR, 0):
		return Result{}, fmt.Errorf("%w: learning rate %v", ErrConfig, cfg.LR)
	case cfg.Epochs < 1:
		return Result{}, fmt.Errorf("%w: epochs %d", ErrConfig, cfg.Epochs)
	case cfg.Rng == nil:
		return Result{}, fmt.Errorf("%w: nil Rng", ErrConfig)
	}
	evalRows := cfg.EvalRows
	if evalRows <= 0 {
		evalRows = DefaultEvalRows
	}
	B, d := cfg.BatchSize, trainSet.Features
	ws := net.NewWorkspace(max(B, evalRows))
	grad := make([]float64, net.NumParams())
	xb, yb := make([]float64, B*d), make([]int, B)
	perm := make([]int, n)

	evaluate := func(epoch int) Metrics {
		m := Metrics{Epoch: epoch}
		m.TrainLoss, m.TrainAcc = ws.Loss(theta, trainSet.X, trainSet.Y)
		m.TestLoss, m.TestAcc = ws.Loss(theta, testSet.X, testSet.Y)
		return m
	}
	res := Result{Final: evaluate(0)}
	if !res.Final.finite() {
		res.Diverged = true
		return res, nil
	}
	for epoch := 1; epoch <= cfg.Epochs; epoch++ {
		for i := range perm {
			perm[i] = i
		}
		cfg.Rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		for lo := 0; lo+B <= n; lo += B {
			if err := ctx.Err(); err != nil {
				return res, fmt.Errorf("epoch %d, step %d: %w", epoch, res.Steps+1, err)
			}
			for j, i := range perm[lo : lo+B] {
				copy(xb[j*d:(j+1)*d], trainSet.Row(i))
				yb[j] = trainSet.Y[i]
			}
			loss, _ := ws.LossGrad(grad, theta, xb, yb)
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				res.Diverged = true
				return res, nil
			}
			floats.AddScaled(theta, -cfg.LR, grad)
			res.Steps++
		}
		m := evaluate(epoch)
		if !m.finite() {
			res.Diverged = true
			return res, nil
		}
		res.Curve = append(res.Curve, m)
		res.Final = m
		if progress != nil {
			progress(m)
		}
	}
	return res, nil
}
