package compute

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
	"github.com/flatsweep/flatsweep/compute/weights"
)

// Defaults applied when the corresponding CurvatureSpec field is zero.
const (
	DefaultLanczosSteps = 20
	DefaultTol          = 1e-3
)

// ChunkRows is the number of examples per chunk in full-data-set evaluations,
// gradients and Hessian-vector products. Networks with very wide layers
// (convolutional feature maps) use smaller chunks so that one boundary of the
// workspace stays below chunkFloats values.
const ChunkRows = 512

// chunkFloats bounds rows × width of one workspace boundary.
const chunkFloats = 1 << 22

// Limits guarding against specs that would exhaust memory.
const (
	maxExamples     = 1 << 24 // n + n_test
	maxWidth        = 1 << 16 // features, classes, hidden widths, filters
	maxBlocks       = 1 << 12 // residual blocks
	maxFactor       = 1 << 20 // batch-size schedule factor
	maxDataFloats   = 1 << 28 // (n + n_test)·features
	maxParams       = 1 << 28
	maxLanczosSteps = 10000
)

// PCG stream constants: every random draw of a trial comes from a generator
// seeded with TrialSpec.Seed (DatasetSpec.Seed for the data) and one of these
// streams.
const (
	streamInit uint64 = 0x666c617473776501 + iota
	streamBatches
	streamCurvatureSubset
	streamLanczos
	streamAugment
	streamFileLabelNoise
	// One stream per measure (see Measure); appended so that the streams
	// above keep their values.
	streamTopK
	streamTopKNegative
	streamTrace
	streamDensity
	streamEvidence
	streamKeskar
	streamAdaptive
	streamAdaptiveAvg
	streamRelative
	streamFisherRao
	streamPACBayes
)

// ErrInvalidSpec is returned (wrapped) by TrialSpec.Validate and RunTrial when
// a spec is invalid; the message names the JSON field and its value.
var ErrInvalidSpec = errors.New("invalid trial spec")

// SpecError is the error returned for an invalid spec: it names the JSON
// field (a path such as "optimizer.momentum" or "model.hidden[1]"), its value
// and the problem, and wraps ErrInvalidSpec.
type SpecError struct {
	// Field is the JSON path of the offending field.
	Field string
	// Value is the offending value as formatted in the message (strings
	// quoted).
	Value string
	// Problem says what is wrong and what is expected.
	Problem string
}

// Error formats the error as "invalid trial spec: field = value: problem".
func (e *SpecError) Error() string {
	return fmt.Sprintf("%v: %s = %s: %s", ErrInvalidSpec, e.Field, e.Value, e.Problem)
}

// Unwrap returns ErrInvalidSpec.
func (e *SpecError) Unwrap() error { return ErrInvalidSpec }

func invalid(field string, value any, why string) error {
	if s, ok := value.(string); ok {
		value = fmt.Sprintf("%q", s)
	}
	return &SpecError{Field: field, Value: fmt.Sprint(value), Problem: why}
}

// literal is a value shown verbatim (not quoted) in an error message.
type literal string

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// imageShape is the C×H×W layout of an image dataset's examples; the zero
// value means the examples are not images.
type imageShape struct{ c, h, w int }

func (s imageShape) image() bool { return s.c > 0 }

// inputDims returns the input width, the number of classes and the image
// shape of the spec's dataset as known before reading files (IDX images are
// assumed to be 28×28, as in MNIST, Fashion-MNIST and KMNIST; the real sizes
// are used at run time).
func (s TrialSpec) inputDims() (features, classes int, shape imageShape) {
	switch s.Dataset.Name {
	case DatasetMNIST, DatasetFashionMNIST, DatasetKMNIST:
		return 28 * 28, data.IDXClasses, imageShape{1, 28, 28}
	case DatasetCIFAR10:
		return data.CIFARFeatures, data.CIFARClasses, imageShape{3, 32, 32}
	}
	return cmp0(s.Dataset.Features, data.DefaultFeatures), cmp0(s.Dataset.Classes, data.DefaultClasses), imageShape{}
}

func isIDX(name string) bool {
	return name == DatasetMNIST || name == DatasetFashionMNIST || name == DatasetKMNIST
}

// Validate checks every field of the spec and returns an error wrapping
// ErrInvalidSpec that names the first offending JSON field and its value.
func (s TrialSpec) Validate() error {
	for _, check := range []func() error{s.validateDataset, s.validateModel, s.validateTraining,
		s.validateOptimizer, s.validateSchedule, s.validateCurvature} {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (s TrialSpec) validateDataset() error {
	ds := s.Dataset
	features, _, _ := s.inputDims()
	switch {
	case ds.Name != DatasetSynthetic && !isIDX(ds.Name) && ds.Name != DatasetCIFAR10:
		return invalid("dataset.name", ds.Name, `unknown dataset (want "synthetic", "mnist", "fashion-mnist", "kmnist" or "cifar10")`)
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
	case (ds.N+ds.NTest)*features > maxDataFloats:
		return invalid("dataset.n", ds.N, fmt.Sprintf("(n + n_test)·features = (%d + %d)·%d must be ≤ %d", ds.N, ds.NTest, features, maxDataFloats))
	}
	if ds.Name != DatasetSynthetic {
		if ds.Features != 0 {
			return invalid("dataset.features", ds.Features, "only for the synthetic dataset (file datasets fix it)")
		}
		if ds.Classes != 0 {
			return invalid("dataset.classes", ds.Classes, "only for the synthetic dataset (file datasets fix it)")
		}
	}
	return s.validateSources()
}

// validateSources checks the file fields of the dataset.
func (s TrialSpec) validateSources() error {
	ds := s.Dataset
	idx := map[string]string{"dataset.train_images": ds.TrainImages, "dataset.train_labels": ds.TrainLabels,
		"dataset.test_images": ds.TestImages, "dataset.test_labels": ds.TestLabels}
	var idxSet, batchSet string
	for _, f := range []string{"dataset.train_images", "dataset.train_labels", "dataset.test_images", "dataset.test_labels"} {
		if idx[f] != "" && idxSet == "" {
			idxSet = f
		}
	}
	if len(ds.TrainBatches) > 0 {
		batchSet = "dataset.train_batches"
	} else if len(ds.TestBatches) > 0 {
		batchSet = "dataset.test_batches"
	}
	switch {
	case ds.Name == DatasetSynthetic && ds.Dir != "":
		return invalid("dataset.dir", ds.Dir, "only for file datasets")
	case !isIDX(ds.Name) && idxSet != "":
		return invalid(idxSet, idx[idxSet], "IDX files are only for mnist, fashion-mnist and kmnist")
	case ds.Name != DatasetCIFAR10 && batchSet != "":
		return invalid(batchSet, literal("[…]"), "batch files are only for cifar10")
	case ds.Name == DatasetSynthetic:
		return nil
	case ds.Dir != "" && (idxSet != "" || batchSet != ""):
		if idxSet != "" {
			return invalid(idxSet, idx[idxSet], "give dataset.dir or explicit files, not both")
		}
		return invalid(batchSet, literal("[…]"), "give dataset.dir or explicit files, not both")
	case ds.Dir != "":
		return nil
	case isIDX(ds.Name) && ds.TrainImages == "":
		return invalid("dataset.train_images", "", "required with explicit IDX files (or give dataset.dir)")
	case isIDX(ds.Name) && ds.TrainLabels == "":
		return invalid("dataset.train_labels", "", "required with dataset.train_images")
	case isIDX(ds.Name) && ds.TestImages == "" && ds.TestLabels != "":
		return invalid("dataset.test_images", "", "required with dataset.test_labels")
	case isIDX(ds.Name) && ds.TestLabels == "" && ds.TestImages != "":
		return invalid("dataset.test_labels", "", "required with dataset.test_images")
	case ds.Name == DatasetCIFAR10 && len(ds.TrainBatches) == 0:
		return invalid("dataset.train_batches", literal("[]"), "required for cifar10 (or give dataset.dir)")
	}
	for i, p := range slices.Concat(ds.TrainBatches, ds.TestBatches) {
		if p == "" {
			f := fmt.Sprintf("dataset.train_batches[%d]", i)
			if i >= len(ds.TrainBatches) {
				f = fmt.Sprintf("dataset.test_batches[%d]", i-len(ds.TrainBatches))
			}
			return invalid(f, p, "empty path")
		}
	}
	return nil
}

func (s TrialSpec) validateModel() error {
	m := s.Model
	_, _, shape := s.inputDims()
	switch m.Arch {
	case ArchMLP, ArchResMLP, ArchCNN:
	default:
		return invalid("model.arch", m.Arch, `unknown architecture (want "mlp", "resmlp" or "cnn")`)
	}
	switch {
	case m.Activation != "relu" && m.Activation != "tanh":
		return invalid("model.activation", m.Activation, `unknown activation (want "relu" or "tanh")`)
	case m.Loss != "" && m.Loss != "ce" && m.Loss != "mse":
		return invalid("model.loss", m.Loss, `unknown loss (want "ce" or "mse")`)
	case m.Arch != ArchResMLP && m.Width != 0:
		return invalid("model.width", m.Width, "only for resmlp")
	case m.Arch != ArchResMLP && m.Blocks != 0:
		return invalid("model.blocks", m.Blocks, "only for resmlp")
	case m.Arch != ArchCNN && len(m.Conv) > 0:
		return invalid("model.conv", m.Conv, "only for cnn")
	case m.Arch == ArchResMLP && len(m.Hidden) > 0:
		return invalid("model.hidden", m.Hidden, "not used by resmlp (give model.width and model.blocks)")
	case m.Arch == ArchResMLP && (m.Width < 1 || m.Width > maxWidth):
		return invalid("model.width", m.Width, fmt.Sprintf("must be in [1, %d]", maxWidth))
	case m.Arch == ArchResMLP && (m.Blocks < 0 || m.Blocks > maxBlocks):
		return invalid("model.blocks", m.Blocks, fmt.Sprintf("must be in [0, %d]", maxBlocks))
	case m.Arch == ArchCNN && !shape.image():
		return invalid("model.arch", m.Arch, fmt.Sprintf("needs an image dataset, not %q", s.Dataset.Name))
	case m.Arch == ArchCNN && len(m.Conv) == 0:
		return invalid("model.conv", literal("[]"), "cnn needs at least one convolution stage")
	}
	for i, h := range m.Hidden {
		if h < 1 || h > maxWidth {
			return invalid(fmt.Sprintf("model.hidden[%d]", i), h, fmt.Sprintf("must be in [1, %d]", maxWidth))
		}
	}
	for i, f := range m.Conv {
		if f < 1 || f > maxWidth {
			return invalid(fmt.Sprintf("model.conv[%d]", i), f, fmt.Sprintf("must be in [1, %d]", maxWidth))
		}
	}
	field, value := "model.hidden", any(m.Hidden)
	switch m.Arch {
	case ArchResMLP:
		field, value = "model.width", m.Width
	case ArchCNN:
		field, value = "model.conv", m.Conv
	}
	if p := s.paramBound(); p > maxParams {
		return invalid(field, value, fmt.Sprintf("network has about %.0f parameters, more than %d", p, maxParams))
	}
	features, classes, shape := s.inputDims()
	if _, err := buildNetwork(m, features, classes, shape); err != nil {
		return invalid(field, value, err.Error())
	}
	return nil
}

// paramBound returns the parameter count of the spec's network (exact for
// mlp and resmlp, an upper bound for cnn), in float64 so that it cannot
// overflow; widths must have been checked.
func (s TrialSpec) paramBound() float64 {
	features, classes, shape := s.inputDims()
	m := s.Model
	dense := func(in float64, widths []int) float64 {
		p, prev := 0.0, in
		for _, h := range append(slices.Clone(widths), classes) {
			p += prev*float64(h) + float64(h)
			prev = float64(h)
		}
		return p
	}
	switch m.Arch {
	case ArchResMLP:
		w := float64(m.Width)
		return float64(features)*w + w + float64(m.Blocks)*2*(w*w+w) + w*float64(classes) + float64(classes)
	case ArchCNN:
		p, c := 0.0, float64(shape.c)
		for _, f := range m.Conv {
			p += float64(f)*c*nn.CNNKernel*nn.CNNKernel + float64(f)
			c = float64(f)
		}
		return p + dense(c*float64(shape.h*shape.w), m.Hidden)
	}
	return dense(float64(features), m.Hidden)
}

func (s TrialSpec) validateTraining() error {
	ds := s.Dataset
	switch {
	case s.BatchSize < 1 || s.BatchSize > ds.N:
		return invalid("batch_size", s.BatchSize, fmt.Sprintf("must be in [1, dataset.n = %d]", ds.N))
	case !finite(s.LR) || s.LR <= 0:
		return invalid("lr", s.LR, "must be finite and > 0")
	case s.Epochs < 0:
		return invalid("epochs", s.Epochs, "must be ≥ 1 (or 0 with a budget in steps)")
	case s.Steps < 0:
		return invalid("steps", s.Steps, "must be ≥ 1 (or 0 with a budget in epochs)")
	case s.Epochs == 0 && s.Steps == 0:
		return invalid("epochs", s.Epochs, "must be ≥ 1 (or give a budget in steps)")
	case s.Epochs > 0 && s.Steps > 0:
		return invalid("steps", s.Steps, fmt.Sprintf("give a budget in epochs (%d) or in steps, not both", s.Epochs))
	case !finite(s.WeightDecay) || s.WeightDecay < 0:
		return invalid("weight_decay", s.WeightDecay, "must be finite and ≥ 0")
	case s.Augment.Shift < 0:
		return invalid("augment.shift", s.Augment.Shift, "must be ≥ 0")
	}
	if s.Augment.Shift > 0 {
		_, _, shape := s.inputDims()
		if !shape.image() {
			return invalid("augment.shift", s.Augment.Shift, fmt.Sprintf("needs an image dataset, not %q", ds.Name))
		}
		if s.Augment.Shift >= min(shape.h, shape.w) {
			return invalid("augment.shift", s.Augment.Shift, fmt.Sprintf("must be < %d (the image size)", min(shape.h, shape.w)))
		}
	}
	w := s.WarmStart
	switch {
	case w.SHA256 != "" && w.Path == "":
		return invalid("warm_start.sha256", w.SHA256, "needs warm_start.path")
	case w.SHA256 != "" && !sha256Hex.MatchString(w.SHA256):
		return invalid("warm_start.sha256", w.SHA256, "must be 64 lowercase hex digits")
	}
	return nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (s TrialSpec) validateOptimizer() error {
	o := s.Optimizer
	adam := o.Name == OptimizerAdam
	switch {
	case o.Name != "" && o.Name != OptimizerSGD && !adam:
		return invalid("optimizer.name", o.Name, `unknown optimizer (want "sgd" or "adam")`)
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return invalid("optimizer.momentum", o.Momentum, "must be in [0, 1)")
	case adam && o.Momentum != 0:
		return invalid("optimizer.momentum", o.Momentum, "only for sgd (Adam's momentum is beta1)")
	case o.Nesterov && (adam || o.Momentum == 0):
		return invalid("optimizer.nesterov", o.Nesterov, "needs sgd with momentum > 0")
	case !(o.Beta1 >= 0 && o.Beta1 < 1):
		return invalid("optimizer.beta1", o.Beta1, "must be in [0, 1) (0: default 0.9)")
	case !(o.Beta2 >= 0 && o.Beta2 < 1):
		return invalid("optimizer.beta2", o.Beta2, "must be in [0, 1) (0: default 0.999)")
	case !finite(o.Eps) || o.Eps < 0:
		return invalid("optimizer.eps", o.Eps, "must be finite and > 0 (0: default 1e-8)")
	case !adam && o.Beta1 != 0:
		return invalid("optimizer.beta1", o.Beta1, "only for adam")
	case !adam && o.Beta2 != 0:
		return invalid("optimizer.beta2", o.Beta2, "only for adam")
	case !adam && o.Eps != 0:
		return invalid("optimizer.eps", o.Eps, "only for adam")
	}
	return nil
}

func (s TrialSpec) validateSchedule() error {
	lr, b := s.Schedule.LR, s.Schedule.Batch
	switch lr.Kind {
	case "", ScheduleConstant, ScheduleStep, ScheduleCosine:
	default:
		return invalid("schedule.lr.kind", lr.Kind, `unknown schedule (want "constant", "step" or "cosine")`)
	}
	step := lr.Kind == ScheduleStep
	switch {
	case step && len(lr.Milestones) == 0:
		return invalid("schedule.lr.milestones", literal("[]"), "a step schedule needs milestones")
	case !step && len(lr.Milestones) > 0:
		return invalid("schedule.lr.milestones", lr.Milestones, "only for a step schedule")
	case step && (!finite(lr.Gamma) || lr.Gamma <= 0):
		return invalid("schedule.lr.gamma", lr.Gamma, "must be finite and > 0")
	case !step && lr.Gamma != 0:
		return invalid("schedule.lr.gamma", lr.Gamma, "only for a step schedule")
	case !(lr.Floor >= 0 && lr.Floor <= 1):
		return invalid("schedule.lr.floor", lr.Floor, "must be in [0, 1]")
	case lr.Kind != ScheduleCosine && lr.Floor != 0:
		return invalid("schedule.lr.floor", lr.Floor, "only for a cosine schedule")
	case len(b.Milestones) > 0 && (b.Factor < 2 || b.Factor > maxFactor):
		return invalid("schedule.batch.factor", b.Factor, fmt.Sprintf("must be in [2, %d]", maxFactor))
	case len(b.Milestones) == 0 && b.Factor != 0:
		return invalid("schedule.batch.milestones", literal("[]"), "a batch-size factor needs milestones")
	}
	if err := milestones("schedule.lr.milestones", lr.Milestones); err != nil {
		return err
	}
	return milestones("schedule.batch.milestones", b.Milestones)
}

func milestones(field string, ms []int) error {
	for i, m := range ms {
		if m < 1 || (i > 0 && m <= ms[i-1]) {
			return invalid(fmt.Sprintf("%s[%d]", field, i), m, "milestones must be strictly increasing epochs ≥ 1")
		}
	}
	return nil
}

func (s TrialSpec) validateCurvature() error {
	c, n := s.Curvature, s.Dataset.N
	switch {
	case c.Examples < 0 || c.Examples > n:
		return invalid("curvature.examples", c.Examples, fmt.Sprintf("must be in [0, dataset.n = %d] (0: all)", n))
	case c.LanczosSteps < 0 || c.LanczosSteps > maxLanczosSteps:
		return invalid("curvature.lanczos_steps", c.LanczosSteps, fmt.Sprintf("must be in [0, %d] (0: default %d)", maxLanczosSteps, DefaultLanczosSteps))
	case !finite(c.Tol) || c.Tol < 0:
		return invalid("curvature.tol", c.Tol, fmt.Sprintf("must be finite and ≥ 0 (0: default %g)", DefaultTol))
	}
	if err := s.validateMeasures(); err != nil {
		return err
	}
	return s.validateDinh()
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func pcg(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// buildNetwork builds the (unregularized) network of a model spec for the
// given input width, classes and image shape.
func buildNetwork(m ModelSpec, features, classes int, shape imageShape) (*nn.Network, error) {
	act, err := nn.ParseActivation(m.Activation)
	if err != nil {
		return nil, err
	}
	var net *nn.Network
	switch m.Arch {
	case ArchResMLP:
		net, err = nn.NewResMLP(features, m.Width, m.Blocks, classes, act)
	case ArchCNN:
		net, err = nn.NewCNN(shape.c, shape.h, shape.w, m.Conv, m.Hidden, classes, act)
	default:
		net, err = nn.NewMLP(features, m.Hidden, classes, act)
	}
	if err != nil || m.Loss == "" || m.Loss == "ce" {
		return net, err
	}
	loss, err := nn.ParseLoss(m.Loss)
	if err != nil {
		return nil, err
	}
	return net.WithLoss(loss)
}

// chunkRows returns the evaluation chunk size for net: ChunkRows, or fewer
// rows when a layer is so wide that a boundary would exceed chunkFloats.
func chunkRows(net *nn.Network) int {
	widest := net.InSize()
	for _, ly := range net.Layers() {
		widest = max(widest, ly.OutSize())
	}
	return max(16, min(ChunkRows, chunkFloats/widest))
}

// Trained is the state at the end of a trial's training.
type Trained struct {
	// Net is the trial's network with its loss and without weight decay (the
	// network on which metrics and curvature are measured).
	Net *nn.Network
	// Theta holds the final parameters (the state at divergence for a
	// diverged run, possibly non-finite).
	Theta []float64
}

// RunTrial runs one trial: it validates the spec, generates or loads the data,
// builds the network and initializes θ from spec.Seed (or reads it from the
// warm-start file), trains it (package train; progress, if non-nil, is called
// after every epoch and at the end of a step budget), and finally estimates
// the top eigenvalue λ₁ of the Hessian of the mean training loss
// L(θ) = (1/M) Σᵢ ℓᵢ(θ) (without the weight-decay penalty) with Lanczos
// (package curvature) on exact Hessian-vector products (package nn), for every
// architecture. The M examples are the whole training set, or a subset of
// Curvature.Examples examples drawn without replacement from spec.Seed.
// Lanczos starts from a random unit vector drawn from spec.Seed, runs at most
// Curvature.LanczosSteps steps (default 20) until the relative residual is
// ≤ Curvature.Tol (default 1e-3), and verifies the final residual with one
// explicit product (counted in HVPs).
//
// It then computes the measures selected in Curvature.Measures over the same
// examples (see Measure and the Measure constants for their names and
// settings), storing scalars in Result.Measures and the spectral density in
// Result.Density. Each measure draws its random numbers from its own
// generator seeded with spec.Seed. With Curvature.Dinh it finally repeats λ₁
// and the measures at Dinh et al.'s α-scaled T_α θ, which computes the same
// function, storing them as "<name>@dinh" (see DinhSpec).
//
// Curvature and the measures are skipped for a diverged run. A cancelled ctx stops the trial
// between updates or Lanczos steps and RunTrial returns an error wrapping
// ctx.Err(). The result is a deterministic function of the spec (and of the
// contents of its data and warm-start files).
func RunTrial(ctx context.Context, spec TrialSpec, progress func(EpochMetrics)) (Result, error) {
	res, _, err := Run(ctx, spec, progress)
	return res, err
}

// Run is RunTrial that also returns the trained network and parameters, for
// callers that keep the weights (see WriteWeights).
func Run(ctx context.Context, spec TrialSpec, progress func(EpochMetrics)) (Result, Trained, error) {
	if err := spec.Validate(); err != nil {
		return Result{}, Trained{}, err
	}
	trainSet, testSet, shape, err := loadData(spec.Dataset)
	if err != nil {
		return Result{}, Trained{}, err
	}
	net, err := buildNetwork(spec.Model, trainSet.Features, trainSet.Classes, shape)
	if err != nil {
		return Result{}, Trained{}, fmt.Errorf("model: %w", err)
	}
	theta, digest, err := initialParams(spec, net)
	if err != nil {
		return Result{}, Trained{}, err
	}
	cfg, trainNet, err := trainConfig(spec, net, trainSet.Features, shape)
	if err != nil {
		return Result{}, Trained{}, err
	}
	var cb func(train.Metrics)
	if progress != nil {
		cb = func(m train.Metrics) { progress(epochMetrics(m)) }
	}
	tr, err := train.Train(ctx, trainNet, theta, trainSet, testSet, cfg, cb)
	if err != nil {
		return Result{}, Trained{}, fmt.Errorf("training: %w", err)
	}
	res := Result{
		TrainLoss: tr.Final.TrainLoss, TrainAcc: tr.Final.TrainAcc,
		TestLoss: tr.Final.TestLoss, TestAcc: tr.Final.TestAcc,
		Diverged: tr.Diverged, Params: net.NumParams(), Steps: tr.Steps,
		Curve: make([]EpochMetrics, 0, len(tr.Curve)), WarmStartSHA256: digest,
	}
	for _, m := range tr.Curve {
		res.Curve = append(res.Curve, epochMetrics(m))
	}
	out := Trained{Net: net, Theta: theta}
	if tr.Diverged {
		return res, out, nil
	}
	m, err := Measure(ctx, spec, Model{Net: net, Theta: theta, Examples: curvatureSet(spec, trainSet)})
	if err != nil {
		return Result{}, Trained{}, err
	}
	res.LambdaMax, res.LambdaResidual, res.LambdaConverged, res.HVPs = m.LambdaMax, m.LambdaResidual, m.LambdaConverged, m.HVPs
	res.Measures, res.Density = m.Measures, m.Density
	return res, out, nil
}

// trainConfig returns the training configuration of spec and the network to
// train (net with the weight-decay penalty, if any).
func trainConfig(spec TrialSpec, net *nn.Network, features int, shape imageShape) (train.Config, *nn.Network, error) {
	rows := chunkRows(net)
	cfg := train.Config{
		BatchSize: spec.BatchSize, LR: spec.LR, Epochs: spec.Epochs, Steps: spec.Steps,
		Rng: pcg(spec.Seed, streamBatches), EvalRows: rows,
		Optimizer: train.Optimizer{Momentum: spec.Optimizer.Momentum, Nesterov: spec.Optimizer.Nesterov,
			Beta1: spec.Optimizer.Beta1, Beta2: spec.Optimizer.Beta2, Eps: spec.Optimizer.Eps},
		BatchSchedule: train.BatchSchedule{Milestones: spec.Schedule.Batch.Milestones, Factor: spec.Schedule.Batch.Factor},
		LRSchedule: train.LRSchedule{Milestones: spec.Schedule.LR.Milestones, Gamma: spec.Schedule.LR.Gamma,
			Floor: spec.Schedule.LR.Floor},
	}
	if rows < ChunkRows {
		cfg.MaxRows = rows
	}
	if spec.Optimizer.Name == OptimizerAdam {
		cfg.Optimizer.Kind = train.KindAdam
	}
	switch spec.Schedule.LR.Kind {
	case ScheduleStep:
		cfg.LRSchedule.Kind = train.LRStep
	case ScheduleCosine:
		cfg.LRSchedule.Kind = train.LRCosine
	}
	if s := spec.Augment.Shift; s > 0 {
		if !shape.image() || shape.c*shape.h*shape.w != features || s >= min(shape.h, shape.w) {
			return train.Config{}, nil, invalid("augment.shift", s, fmt.Sprintf("does not fit the %d×%d×%d images", shape.c, shape.h, shape.w))
		}
		cfg.Augment = train.Augment{MaxShift: s, Channels: shape.c, Height: shape.h, Width: shape.w,
			Seed: uint64(spec.Seed) ^ streamAugment}
	}
	if spec.WeightDecay == 0 {
		return cfg, net, nil
	}
	trainNet, err := net.WithWeightDecay(spec.WeightDecay, true)
	if err != nil {
		return train.Config{}, nil, invalid("weight_decay", spec.WeightDecay, err.Error())
	}
	cfg.Eval = net
	return cfg, trainNet, nil
}

// initialParams returns θ₀: a fresh initialization from spec.Seed, or the
// warm-start weights together with the file's SHA-256 digest.
func initialParams(spec TrialSpec, net *nn.Network) ([]float64, string, error) {
	w := spec.WarmStart
	if w.Path == "" {
		theta := make([]float64, net.NumParams())
		net.Init(theta, pcg(spec.Seed, streamInit))
		return theta, "", nil
	}
	b, err := os.ReadFile(w.Path)
	if err != nil {
		return nil, "", fmt.Errorf("warm_start.path: %w", err)
	}
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	if w.SHA256 != "" && w.SHA256 != digest {
		return nil, "", invalid("warm_start.sha256", w.SHA256, fmt.Sprintf("%s has SHA-256 %s", w.Path, digest))
	}
	theta, _, err := ReadWeights(bytes.NewReader(b), net)
	if err != nil {
		return nil, "", fmt.Errorf("warm_start.path %s: %w", w.Path, err)
	}
	return theta, digest, nil
}

// FlatTensor is the name of the single tensor of shape [P] holding all of θ,
// in the flat layout of package nn, in the weight files that earlier versions
// of WriteWeights wrote for the resmlp and cnn architectures. ReadWeights
// still reads such files; WriteWeights no longer writes them.
const FlatTensor = "theta"

// WriteWeights writes θ of net to w as an F64 safetensors file with the given
// metadata, with the tensor names and shapes of the state_dict of the
// equivalent PyTorch module (see package weights, which documents the module
// of every architecture: mlp, resmlp and cnn). A network with a layer that
// package weights cannot name gives an error wrapping weights.ErrUnsupported
// before anything is written.
func WriteWeights(w io.Writer, net *nn.Network, theta []float64, meta map[string]string) error {
	return weights.Save(w, net, theta, meta)
}

// ReadWeights reads a safetensors file written by WriteWeights (or the
// PyTorch state_dict of the equivalent module, F64 or F32; see package
// weights) and returns θ for net and the file's metadata. A file holding the
// single tensor FlatTensor, as older versions wrote for resmlp and cnn, is
// read as θ itself. A file that does not fit net gives an error wrapping
// weights.ErrMismatch that lists every missing, extra and misshapen tensor.
func ReadWeights(r io.Reader, net *nn.Network) ([]float64, map[string]string, error) {
	ts, meta, err := weights.Read(r)
	if err != nil {
		return nil, nil, err
	}
	if len(ts) == 1 && ts[0].Name == FlatTensor {
		if !slices.Equal(ts[0].Shape, []int{net.NumParams()}) {
			return nil, nil, fmt.Errorf("%w: tensor %q has shape %v, want [%d]", weights.ErrMismatch, FlatTensor, ts[0].Shape, net.NumParams())
		}
		return ts[0].Data, meta, nil
	}
	theta, err := weights.Import(net, ts)
	if err != nil {
		return nil, nil, err
	}
	return theta, meta, nil
}

// loadData generates or reads the training and test sets of ds and returns
// the image shape of their examples (zero for synthetic data).
func loadData(ds DatasetSpec) (trainSet, testSet data.Set, shape imageShape, err error) {
	if ds.Name == DatasetSynthetic {
		trainSet, testSet, err = data.Synthetic(data.SyntheticConfig{
			N: ds.N, NTest: ds.NTest, Features: ds.Features, Classes: ds.Classes,
			LabelNoise: ds.LabelNoise, Seed: ds.Seed,
		})
		if err != nil {
			return data.Set{}, data.Set{}, imageShape{}, fmt.Errorf("dataset: %w", err)
		}
		return standardize(ds, trainSet, testSet, imageShape{})
	}
	var pool, testPool data.Set
	if isIDX(ds.Name) {
		pool, testPool, shape, err = loadIDX(ds)
	} else {
		pool, testPool, shape, err = loadCIFAR(ds)
	}
	if err != nil {
		return data.Set{}, data.Set{}, imageShape{}, err
	}
	if testPool.Len() == 0 { // one source: hold out the test set
		if ds.N+ds.NTest > pool.Len() {
			return data.Set{}, data.Set{}, imageShape{}, invalid("dataset.n", ds.N,
				fmt.Sprintf("n + n_test = %d exceeds the %d examples of the %s files", ds.N+ds.NTest, pool.Len(), ds.Name))
		}
		if pool, testSet, err = pool.Split(pool.Len()-ds.NTest, ds.Seed); err != nil {
			return data.Set{}, data.Set{}, imageShape{}, fmt.Errorf("dataset: %w", err)
		}
	} else {
		if ds.NTest > testPool.Len() {
			return data.Set{}, data.Set{}, imageShape{}, invalid("dataset.n_test", ds.NTest,
				fmt.Sprintf("exceeds the %d examples of the %s test files", testPool.Len(), ds.Name))
		}
		if testSet, err = testPool.Sample(ds.NTest, ds.Seed); err != nil {
			return data.Set{}, data.Set{}, imageShape{}, fmt.Errorf("dataset: %w", err)
		}
	}
	if ds.N > pool.Len() {
		return data.Set{}, data.Set{}, imageShape{}, invalid("dataset.n", ds.N,
			fmt.Sprintf("exceeds the %d training examples of the %s files", pool.Len(), ds.Name))
	}
	if trainSet, err = pool.Sample(ds.N, ds.Seed); err != nil {
		return data.Set{}, data.Set{}, imageShape{}, fmt.Errorf("dataset: %w", err)
	}
	if ds.LabelNoise > 0 {
		noise := pcg(ds.Seed, streamFileLabelNoise)
		for i := range trainSet.Y {
			u, c := noise.Float64(), noise.IntN(trainSet.Classes) // always draw both: nested sets
			if u < ds.LabelNoise {
				trainSet.Y[i] = c
			}
		}
	}
	return standardize(ds, trainSet, testSet, shape)
}

// standardize applies ds.Standardize.
func standardize(ds DatasetSpec, trainSet, testSet data.Set, shape imageShape) (data.Set, data.Set, imageShape, error) {
	if !ds.Standardize {
		return trainSet, testSet, shape, nil
	}
	st, err := data.FitStandardizer(trainSet)
	if err == nil {
		trainSet, err = st.Apply(trainSet)
	}
	if err == nil {
		testSet, err = st.Apply(testSet)
	}
	if err != nil {
		return data.Set{}, data.Set{}, imageShape{}, fmt.Errorf("dataset.standardize: %w", err)
	}
	return trainSet, testSet, shape, nil
}

// existing returns the first of path and path+".gz" that exists, or "".
func existing(path string) string {
	for _, p := range []string{path, path + ".gz"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

// loadIDX reads the IDX files of ds: the training pool and, when given, the
// test pool (empty otherwise).
func loadIDX(ds DatasetSpec) (pool, testPool data.Set, shape imageShape, err error) {
	trI, trL, teI, teL := ds.TrainImages, ds.TrainLabels, ds.TestImages, ds.TestLabels
	if ds.Dir != "" {
		trI, trL = existing(filepath.Join(ds.Dir, "train-images-idx3-ubyte")), existing(filepath.Join(ds.Dir, "train-labels-idx1-ubyte"))
		teI, teL = existing(filepath.Join(ds.Dir, "t10k-images-idx3-ubyte")), existing(filepath.Join(ds.Dir, "t10k-labels-idx1-ubyte"))
		if trI == "" || trL == "" {
			trI, trL, teI, teL = teI, teL, "", ""
		} else if teI == "" || teL == "" {
			teI, teL = "", ""
		}
		if trI == "" || trL == "" {
			return data.Set{}, data.Set{}, imageShape{}, invalid("dataset.dir", ds.Dir,
				"holds no IDX image and label pair (train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz], or the t10k pair)")
		}
	}
	pool, shape, err = readIDX(trI, trL)
	if err != nil || teI == "" {
		return pool, data.Set{}, shape, err
	}
	testPool, testShape, err := readIDX(teI, teL)
	if err == nil && testShape != shape {
		err = fmt.Errorf("dataset: %s holds %d×%d images but %s %d×%d", teI, testShape.h, testShape.w, trI, shape.h, shape.w)
	}
	return pool, testPool, shape, err
}

// readIDX reads one IDX image and label pair.
func readIDX(images, labels string) (data.Set, imageShape, error) {
	var x []float64
	var h, w int
	err := withFile(images, func(f io.Reader) (err error) {
		x, h, w, err = data.ReadIDXImages(f)
		return err
	})
	if err != nil {
		return data.Set{}, imageShape{}, err
	}
	var y []int
	if err := withFile(labels, func(f io.Reader) (err error) { y, err = data.ReadIDXLabels(f); return err }); err != nil {
		return data.Set{}, imageShape{}, err
	}
	if n := len(x) / (h * w); n != len(y) {
		return data.Set{}, imageShape{}, fmt.Errorf("dataset: %s holds %d images but %s holds %d labels: %w",
			images, n, labels, len(y), data.ErrFormat)
	}
	return data.Set{X: x, Y: y, Features: h * w, Classes: data.IDXClasses}, imageShape{1, h, w}, nil
}

// withFile opens path and calls read on it; errors name the file.
func withFile(path string, read func(io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	if err := read(f); err != nil {
		return fmt.Errorf("dataset: %s: %w", path, err)
	}
	return nil
}

// loadCIFAR reads the CIFAR-10 batches of ds.
func loadCIFAR(ds DatasetSpec) (pool, testPool data.Set, shape imageShape, err error) {
	shape = imageShape{3, 32, 32}
	trainFiles, testFiles := ds.TrainBatches, ds.TestBatches
	if ds.Dir != "" {
		trainFiles, testFiles = nil, nil
		for i := 1; i <= 5; i++ {
			if p := existing(filepath.Join(ds.Dir, fmt.Sprintf("data_batch_%d.bin", i))); p != "" {
				trainFiles = append(trainFiles, p)
			}
		}
		if p := existing(filepath.Join(ds.Dir, "test_batch.bin")); p != "" {
			testFiles = []string{p}
		}
		if len(trainFiles) == 0 {
			trainFiles, testFiles = testFiles, nil
		}
		if len(trainFiles) == 0 {
			return data.Set{}, data.Set{}, imageShape{}, invalid("dataset.dir", ds.Dir,
				"holds no CIFAR-10 batch (data_batch_1.bin … data_batch_5.bin, test_batch.bin)")
		}
	}
	if pool, err = data.LoadCIFAR10(trainFiles...); err != nil {
		return data.Set{}, data.Set{}, imageShape{}, fmt.Errorf("dataset: %w", err)
	}
	if len(testFiles) > 0 {
		if testPool, err = data.LoadCIFAR10(testFiles...); err != nil {
			return data.Set{}, data.Set{}, imageShape{}, fmt.Errorf("dataset: %w", err)
		}
	}
	return pool, testPool, shape, nil
}

func cmpf0(v, def float64) float64 {
	if v == 0 {
		return def
	}
	return v
}

func epochMetrics(m train.Metrics) EpochMetrics {
	return EpochMetrics{Epoch: m.Epoch, TrainLoss: m.TrainLoss, TrainAcc: m.TrainAcc,
		TestLoss: m.TestLoss, TestAcc: m.TestAcc, Step: m.Step, LR: m.LR, BatchSize: m.BatchSize}
}
