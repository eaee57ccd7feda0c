package compute

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/flatsweep/flatsweep/compute/curvature"
	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
)

// Defaults applied when the corresponding CurvatureSpec field is zero.
const (
	DefaultLanczosSteps = 20
	DefaultTol          = 1e-3
)

// ChunkRows is the number of examples per chunk in full-data-set evaluations,
// gradients and Hessian-vector products.
const ChunkRows = 512

// Limits guarding against specs that would exhaust memory.
const (
	maxExamples     = 1 << 24 // n + n_test
	maxWidth        = 1 << 16 // features, classes, hidden widths
	maxDataFloats   = 1 << 28 // (n + n_test)·features
	maxParams       = 1 << 28
	maxLanczosSteps = 10000
)

// PCG stream constants: every random draw of a trial comes from a generator
// seeded with TrialSpec.Seed and one of these streams.
const (
	streamInit uint64 = 0x666c617473776501 + iota
	streamBatches
	streamCurvatureSubset
	streamLanczos
)

// ErrInvalidSpec is returned (wrapped) by TrialSpec.Validate and RunTrial when
// a spec is invalid; the message names the JSON field and its value.
var ErrInvalidSpec = errors.New("invalid trial spec")

func invalid(field string, value any, why string) error {
	return fmt.Errorf("%w: %s = %v: %s", ErrInvalidSpec, field, value, why)
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Validate checks every field of the spec and returns an error wrapping
// ErrInvalidSpec that names the first offending JSON field and its value.
func (s TrialSpec) Validate() error {
	ds, m, c := s.Dataset, s.Model, s.Curvature
	switch {
	case ds.Name != "synthetic":
		return invalid("dataset.name", fmt.Sprintf("%q", ds.Name), `unknown dataset (want "synthetic")`)
	case ds.N < 1:
		return invalid("dataset.n", ds.N, "must be ≥ 1")
	case ds.NTest < 1:
		return invalid("dataset.n_test", ds.NTest, "must be ≥ 1")
	case ds.NTest > maxExamples:
		return invalid("dataset.n_test", ds.NTest, fmt.Sprintf("must be ≤ %d", maxExamples))
	case ds.N > maxExamples-ds.NTest:
		return invalid("dataset.n", ds.N, fmt.Sprintf("n + n_test must be ≤ %d", maxExamples))
	case ds.Features < 0 || ds.Features > maxWidth:
		return invalid("dataset.features", ds.Features, fmt.Sprintf("must be in [1, %d] (0: default %d)", maxWidth, data.DefaultFeatures))
	case ds.Classes != 0 && (ds.Classes < 2 || ds.Classes > maxWidth):
		return invalid("dataset.classes", ds.Classes, fmt.Sprintf("must be in [2, %d] (0: default %d)", maxWidth, data.DefaultClasses))
	case !(ds.LabelNoise >= 0 && ds.LabelNoise <= 1):
		return invalid("dataset.label_noise", ds.LabelNoise, "must be in [0, 1]")
	case (ds.N+ds.NTest)*s.features() > maxDataFloats:
		return invalid("dataset.features", s.features(), fmt.Sprintf("(n + n_test)·features must be ≤ %d", maxDataFloats))
	case m.Arch != "mlp":
		return invalid("model.arch", fmt.Sprintf("%q", m.Arch), `unknown architecture (want "mlp")`)
	case m.Activation != "relu" && m.Activation != "tanh":
		return invalid("model.activation", fmt.Sprintf("%q", m.Activation), `unknown activation (want "relu" or "tanh")`)
	}
	for i, h := range m.Hidden {
		if h < 1 || h > maxWidth {
			return invalid(fmt.Sprintf("model.hidden[%d]", i), h, fmt.Sprintf("must be in [1, %d]", maxWidth))
		}
	}
	if p := s.numParams(); p > maxParams {
		return invalid("model.hidden", m.Hidden, fmt.Sprintf("network has %d parameters, more than %d", p, maxParams))
	}
	switch {
	case s.BatchSize < 1 || s.BatchSize > ds.N:
		return invalid("batch_size", s.BatchSize, fmt.Sprintf("must be in [1, dataset.n = %d]", ds.N))
	case !finite(s.LR) || s.LR <= 0:
		return invalid("lr", s.LR, "must be finite and > 0")
	case s.Epochs < 1:
		return invalid("epochs", s.Epochs, "must be ≥ 1")
	case c.Examples < 0 || c.Examples > ds.N:
		return invalid("curvature.examples", c.Examples, fmt.Sprintf("must be in [0, dataset.n = %d] (0: all)", ds.N))
	case c.LanczosSteps < 0 || c.LanczosSteps > maxLanczosSteps:
		return invalid("curvature.lanczos_steps", c.LanczosSteps, fmt.Sprintf("must be in [0, %d] (0: default %d)", maxLanczosSteps, DefaultLanczosSteps))
	case !finite(c.Tol) || c.Tol < 0:
		return invalid("curvature.tol", c.Tol, fmt.Sprintf("must be finite and ≥ 0 (0: default %g)", DefaultTol))
	}
	return nil
}

func (s TrialSpec) features() int { return cmp0(s.Dataset.Features, data.DefaultFeatures) }
func (s TrialSpec) classes() int  { return cmp0(s.Dataset.Classes, data.DefaultClasses) }

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// numParams counts the MLP's parameters without overflow (saturating at
// maxParams+1); it assumes validated widths.
func (s TrialSpec) numParams() int {
	p, prev := 0, s.features()
	for _, h := range append(slices.Clone(s.Model.Hidden), s.classes()) {
		p += prev*h + h
		if p > maxParams {
			return maxParams + 1
		}
		prev = h
	}
	return p
}

func pcg(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// RunTrial runs one trial: it validates the spec, generates the data, builds
// the network and initializes θ from spec.Seed, trains with minibatch SGD
// (package train; progress, if non-nil, is called after every epoch), and
// finally estimates the top eigenvalue λ₁ of the Hessian of the mean training
// loss L(θ) = (1/M) Σᵢ ℓᵢ(θ) with Lanczos (package curvature) on exact
// Hessian-vector products (package nn). The M examples are the whole training
// set, or a subset of Curvature.Examples examples drawn without replacement
// from spec.Seed. Lanczos starts from a random unit vector drawn from spec.Seed,
// runs at most Curvature.LanczosSteps steps (default 20) until the relative
// residual is ≤ Curvature.Tol (default 1e-3), and verifies the final residual
// with one explicit product (counted in HVPs).
//
// Curvature is skipped for a diverged run. A cancelled ctx stops the trial
// between SGD steps or Lanczos steps and RunTrial returns an error wrapping
// ctx.Err(). The result is a deterministic function of the spec.
func RunTrial(ctx context.Context, spec TrialSpec, progress func(EpochMetrics)) (Result, error) {
	if err := spec.Validate(); err != nil {
		return Result{}, err
	}
	ds := spec.Dataset
	trainSet, testSet, err := data.Synthetic(data.SyntheticConfig{
		N: ds.N, NTest: ds.NTest, Features: ds.Features, Classes: ds.Classes,
		LabelNoise: ds.LabelNoise, Seed: ds.Seed,
	})
	if err != nil {
		return Result{}, fmt.Errorf("dataset: %w", err)
	}
	act, err := nn.ParseActivation(spec.Model.Activation)
	if err != nil {
		return Result{}, fmt.Errorf("model.activation: %w", err)
	}
	net, err := nn.NewMLP(trainSet.Features, spec.Model.Hidden, trainSet.Classes, act)
	if err != nil {
		return Result{}, fmt.Errorf("model: %w", err)
	}
	theta := make([]float64, net.NumParams())
	net.Init(theta, pcg(spec.Seed, streamInit))

	var cb func(train.Metrics)
	if progress != nil {
		cb = func(m train.Metrics) { progress(epochMetrics(m)) }
	}
	tr, err := train.SGD(ctx, net, theta, trainSet, testSet, train.Config{
		BatchSize: spec.BatchSize, LR: spec.LR, Epochs: spec.Epochs,
		Rng: pcg(spec.Seed, streamBatches), EvalRows: ChunkRows,
	}, cb)
	if err != nil {
		return Result{}, fmt.Errorf("training: %w", err)
	}
	res := Result{
		TrainLoss: tr.Final.TrainLoss, TrainAcc: tr.Final.TrainAcc,
		TestLoss: tr.Final.TestLoss, TestAcc: tr.Final.TestAcc,
		Diverged: tr.Diverged, Params: net.NumParams(),
		Curve: make([]EpochMetrics, 0, len(tr.Curve)),
	}
	for _, m := range tr.Curve {
		res.Curve = append(res.Curve, epochMetrics(m))
	}
	if tr.Diverged {
		return res, nil
	}
	if err := topEigen(ctx, spec, net, theta, trainSet, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// topEigen fills the λ₁ fields of res.
func topEigen(ctx context.Context, spec TrialSpec, net *nn.Network, theta []float64, trainSet data.Set, res *Result) error {
	c := spec.Curvature
	set := trainSet
	if m := c.Examples; m > 0 && m < trainSet.Len() {
		idx := pcg(spec.Seed, streamCurvatureSubset).Perm(trainSet.Len())[:m]
		slices.Sort(idx)
		set = trainSet.Subset(idx)
	}
	h := nn.NewHessian(net, theta, set.X, set.Y, ChunkRows)
	start := make([]float64, net.NumParams())
	curvature.RandomUnit(start, pcg(spec.Seed, streamLanczos))
	eig, err := curvature.Lanczos(ctx, h.Dim(), h.Apply, start, curvature.Settings{
		Steps:  cmp0(c.LanczosSteps, DefaultLanczosSteps),
		Tol:    cmpf0(c.Tol, DefaultTol),
		Which:  curvature.LargestAlgebraic,
		Verify: true,
	})
	if err != nil {
		return fmt.Errorf("curvature: %w", err)
	}
	res.LambdaMax, res.LambdaResidual, res.LambdaConverged = eig.Value, eig.Residual, eig.Converged
	res.HVPs = h.Products()
	return nil
}

func cmpf0(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func epochMetrics(m train.Metrics) EpochMetrics {
	return EpochMetrics{Epoch: m.Epoch, TrainLoss: m.TrainLoss, TrainAcc: m.TrainAcc,
		TestLoss: m.TestLoss, TestAcc: m.TestAcc}
}
