package compute

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/train"
	"github.com/flatsweep/flatsweep/compute/weights"
	"github.com/flatsweep/flatsweep/spec"
)

// ChunkRows is the number of examples per chunk in full-data-set evaluations,
// gradients and Hessian-vector products. Networks with very wide layers
// (convolutional feature maps) use smaller chunks so that one boundary of the
// workspace stays below chunkFloats values.
const ChunkRows = 512

// chunkFloats bounds rows × width of one workspace boundary.
const chunkFloats = 1 << 22

// PCG stream constants: every random draw of a trial comes from a generator
// seeded with the trial's Seed (Dataset.Seed for the data) and one of these
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
	streamTrackSubset
	streamTrack
	// The loss landscape's example subsets and directions.
	streamLandscape
	// The dropout masks of training (model.dropout).
	streamDropout
)

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func pcg(seed int64, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), stream))
}

// invalid returns a *spec.FieldError for a problem found when the trial runs
// (against its files or its built network).
func invalid(field string, value any, problem string) error {
	if s, ok := value.(string); ok {
		value = fmt.Sprintf("%q", s)
	}
	return &spec.FieldError{Field: field, Value: fmt.Sprint(value), Problem: problem}
}

// buildNetwork builds the (unregularized) network of a model spec for the
// given input width, classes and image shape, with the layers
// spec.Trial.Architecture describes.
func buildNetwork(m spec.Model, features, classes int, shape spec.Image) (*nn.Network, error) {
	act, err := nn.ParseActivation(cmp.Or(m.Activation, spec.DefaultActivation))
	if err != nil {
		return nil, err
	}
	var net *nn.Network
	opt := nn.Options{BatchNorm: m.BatchNorm, Dropout: m.Dropout}
	switch m.Arch {
	case spec.ArchResMLP:
		net, err = nn.NewResMLPWith(features, m.Width, m.Blocks, classes, act, opt)
	case spec.ArchCNN:
		net, err = nn.NewCNNWith(shape.C, shape.H, shape.W, m.Conv, m.Hidden, classes, act, opt)
	default:
		net, err = nn.NewMLPWith(features, m.Hidden, classes, act, opt)
	}
	if err != nil || m.Loss == "" || m.Loss == spec.LossCE {
		return net, err
	}
	loss, err := nn.ParseLoss(m.Loss)
	if err != nil {
		return nil, err
	}
	return net.WithLoss(loss)
}

// architectureOf describes a built network's top-level layers as
// spec.Architecture does.
func architectureOf(net *nn.Network) spec.Architecture {
	var a spec.Architecture
	for i, ly := range net.Layers() {
		var kind spec.LayerKind
		switch ly.(type) {
		case *nn.Dense:
			kind = spec.LayerDense
		case *nn.ReLU:
			kind = spec.LayerReLU
		case *nn.Tanh:
			kind = spec.LayerTanh
		case *nn.Conv2D:
			kind = spec.LayerConv
		case *nn.MaxPool2D:
			kind = spec.LayerMaxPool
		case *nn.Residual:
			kind = spec.LayerResidual
		case *nn.BatchNorm:
			kind = spec.LayerBatchNorm
		case *nn.Dropout:
			kind = spec.LayerDropout
		default:
			kind = spec.LayerKind(fmt.Sprintf("%T", ly))
		}
		p := net.Offset(i+1) - net.Offset(i)
		a.Layers = append(a.Layers, spec.ArchLayer{Kind: kind, In: ly.InSize(), Out: ly.OutSize(), Params: p})
	}
	a.Params = net.NumParams()
	return a
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
	// network on which metrics and curvature are measured), in evaluation
	// mode with the running statistics training left (see
	// nn.Network.WithBuffers; for a network with batch normalization).
	Net *nn.Network
	// Theta holds the final parameters (the state at divergence for a
	// diverged run, possibly non-finite).
	Theta []float64
}

// RunTrial runs one trial: it validates the spec, generates or loads the data
// (checking the files against the spec's content digest), builds the network
// and initializes θ from t.Seed (or reads it from the warm-start file), trains
// it (package train; progress, if non-nil, is called after every epoch and at
// the end of a step budget), and finally estimates the top eigenvalue λ₁ of
// the Hessian of the mean training loss L(θ) = (1/M) Σᵢ ℓᵢ(θ) (without the
// weight-decay penalty) with Lanczos (package curvature) on exact
// Hessian-vector products (package nn), for every architecture. The M
// examples are the whole training set, or a subset of Curvature.Examples
// examples drawn without replacement from t.Seed. Lanczos starts from a
// random unit vector drawn from t.Seed, runs at most Curvature.LanczosSteps
// steps until the relative residual is ≤ Curvature.Tol, and verifies the
// final residual with one explicit product (counted in HVPs); with the top_k
// measure selected, λ₁ is instead the first value of top_k's run (see
// Measure). Result.Costs records the products, evaluations, seconds and
// residuals of every piece of the curvature work, and Result.TrainSeconds
// and Result.CurvatureSeconds the wall-clock time of training and of the
// curvature (the only parts of a result that are not a function of the
// spec; see spec.Result.WithoutTimes).
//
// It then computes the measures selected in Curvature.Measures over the same
// examples (see Measure and spec.Registry for their names and settings),
// storing scalars in Result.Measures and the spectral density in
// Result.Density. Each measure draws its random numbers from its own
// generator seeded with t.Seed. With Curvature.Dinh it finally repeats λ₁ and
// the measures at Dinh et al.'s α-scaled T_α θ, which computes the same
// function, storing them as "<name>@dinh" (see spec.Dinh).
//
// With t.SAM the updates use the sharpness-aware gradient (train.SAM), and
// Result.Gradients counts two batch gradients per update instead of one;
// with t.SWA the final metrics, λ₁ and every measure are those of the
// averaged parameters θ_swa (train.SWA), which Trained.Theta holds. With
// Curvature.Track it measures λ₁ along training (see spec.Track), stored in
// Result.Sharpness.
//
// With Model.BatchNorm or Model.Dropout the updates use training-mode
// gradients (batch statistics, dropout masks drawn from t.Seed and the
// update; see package train) and everything measured — the metrics, λ₁,
// the measures, the tracked curvature and the landscape — is in evaluation
// mode with the running statistics of that point (the final ones in
// Trained.Net).
//
// With Curvature.Landscape it finally evaluates the loss landscape around θ
// along filter-normalized random directions drawn from t.Seed (see
// Landscape), stored in Result.Landscape.
//
// Curvature, the measures and the landscape are skipped for a diverged run. A cancelled ctx
// stops the trial between updates or Lanczos steps and RunTrial returns an
// error wrapping ctx.Err(). The result is a deterministic function of the
// spec (whose identity covers the contents of its files).
func RunTrial(ctx context.Context, t spec.Trial, progress func(spec.EpochMetrics)) (spec.Result, error) {
	res, _, err := Run(ctx, t, progress)
	return res, err
}

// Run is RunTrial that also returns the trained network and parameters, for
// callers that keep the weights (see WriteWeights).
func Run(ctx context.Context, t spec.Trial, progress func(spec.EpochMetrics)) (spec.Result, Trained, error) {
	if err := t.Validate(); err != nil {
		return spec.Result{}, Trained{}, err
	}
	trainSet, testSet, shape, err := loadData(t.Dataset)
	if err != nil {
		return spec.Result{}, Trained{}, err
	}
	net, err := buildNetwork(t.Model, trainSet.Features, trainSet.Classes, shape)
	if err != nil {
		return spec.Result{}, Trained{}, fmt.Errorf("model: %w", err)
	}
	theta, buffers, digest, err := initialState(t, net)
	if err != nil {
		return spec.Result{}, Trained{}, err
	}
	cfg, trainNet, err := trainConfig(t, net, trainSet.Features, shape)
	if err != nil {
		return spec.Result{}, Trained{}, err
	}
	cfg.Buffers = buffers
	var cb func(train.Metrics)
	if progress != nil {
		cb = func(m train.Metrics) { progress(epochMetrics(m)) }
	}
	track := newTracker(t, net, trainSet)
	if track != nil {
		cfg.Probe = track.probe()
	}
	clock := time.Now()
	tr, err := train.Train(ctx, trainNet, theta, trainSet, testSet, cfg, cb)
	trainSeconds := time.Since(clock).Seconds()
	if err != nil {
		return spec.Result{}, Trained{}, fmt.Errorf("training: %w", err)
	}
	res := spec.Result{
		TrainLoss: tr.Final.TrainLoss, TrainAcc: tr.Final.TrainAcc,
		TestLoss: tr.Final.TestLoss, TestAcc: tr.Final.TestAcc,
		Diverged: tr.Diverged, Params: net.NumParams(), Steps: tr.Steps, Gradients: tr.Gradients, TargetReached: tr.TargetReached,
		Curve: make([]spec.EpochMetrics, 0, len(tr.Curve)), WarmStartSHA256: digest,
		TrainSeconds: trainSeconds,
	}
	for _, m := range tr.Curve {
		res.Curve = append(res.Curve, epochMetrics(m))
	}
	if track != nil {
		res.Sharpness = track.points
	}
	if tr.Buffers != nil { // measure in evaluation mode with the final running statistics
		if net, err = net.WithBuffers(tr.Buffers); err != nil {
			return spec.Result{}, Trained{}, err
		}
	}
	out := Trained{Net: net, Theta: theta}
	if tr.Diverged {
		return res, out, nil
	}
	if bits, ok := testCorrect(net, theta, testSet, res.TestAcc); ok {
		res.TestCorrect, res.TestExamples = bits, testSet.Len()
	}
	res.CurvatureIndices = CurvatureIndices(t, trainSet.Len())
	examples := subset(trainSet, res.CurvatureIndices)
	res.CurvatureExamples = examples.Len()
	clock = time.Now()
	m, err := Measure(ctx, t, Model{Net: net, Theta: theta, Examples: examples})
	if err != nil {
		return spec.Result{}, Trained{}, err
	}
	res.LambdaMax, res.LambdaResidual, res.LambdaConverged, res.HVPs = m.LambdaMax, m.LambdaResidual, m.LambdaConverged, m.HVPs
	res.Measures, res.Density, res.Costs = m.Measures, m.Density, m.Costs
	landscape := time.Now()
	if res.Landscape, err = Landscape(ctx, t, net, theta, trainSet, testSet); err != nil { // nil without curvature.landscape
		return spec.Result{}, Trained{}, err
	}
	if l := res.Landscape; l != nil {
		res.Costs = append(res.Costs, spec.MeasureCost{Measure: spec.CostLandscape, Losses: l.Evaluations, Seconds: time.Since(landscape).Seconds()})
	}
	res.CurvatureSeconds = time.Since(clock).Seconds()
	return res, out, nil
}

// trainConfig returns the training configuration of t and the network to
// train (net with the weight-decay penalty, if any).
func trainConfig(t spec.Trial, net *nn.Network, features int, shape spec.Image) (train.Config, *nn.Network, error) {
	t = t.WithDefaults()
	rows := chunkRows(net)
	o := t.Optimizer
	cfg := train.Config{
		BatchSize: t.BatchSize, LR: t.LR, Epochs: t.Epochs, Steps: t.Steps,
		Rng: pcg(t.Seed, streamBatches), EvalRows: rows, MaskSeed: uint64(t.Seed) ^ streamDropout,
		Optimizer:     train.Optimizer{Momentum: o.Momentum, Nesterov: o.Nesterov, Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps},
		BatchSchedule: train.BatchSchedule{Milestones: t.Schedule.Batch.Milestones, Factor: t.Schedule.Batch.Factor},
		LRSchedule: train.LRSchedule{Milestones: t.Schedule.LR.Milestones, Gamma: t.Schedule.LR.Gamma,
			Floor: t.Schedule.LR.Floor},
		SAM:         train.SAM{Rho: t.SAM.Rho, Adaptive: t.SAM.Adaptive, Eta: t.SAM.Eta, M: t.SAM.M},
		SWA:         train.SWA{Start: t.SWA.Start},
		Target:      train.Target{TrainLoss: t.Stop.TrainLoss, TrainAcc: t.Stop.TrainAcc},
		KeepPartial: t.PartialBatch == spec.PartialKeep, EvalEvery: t.EvalEvery,
	}
	if rows < ChunkRows {
		cfg.MaxRows = rows
	}
	if o.Name == spec.OptimizerAdam {
		cfg.Optimizer.Kind = train.KindAdam
	}
	switch t.Schedule.LR.Kind {
	case spec.ScheduleStep:
		cfg.LRSchedule.Kind = train.LRStep
	case spec.ScheduleCosine:
		cfg.LRSchedule.Kind = train.LRCosine
	}
	if s := t.Augment.Shift; s > 0 {
		if !shape.IsImage() || shape.C*shape.H*shape.W != features || s >= min(shape.H, shape.W) {
			return train.Config{}, nil, invalid("augment.shift", s, fmt.Sprintf("does not fit the %d×%d×%d images", shape.C, shape.H, shape.W))
		}
		cfg.Augment = train.Augment{MaxShift: s, Channels: shape.C, Height: shape.H, Width: shape.W,
			Seed: uint64(t.Seed) ^ streamAugment}
	}
	if t.WeightDecay == 0 {
		return cfg, net, nil
	}
	trainNet, err := net.WithWeightDecay(t.WeightDecay, true)
	if err != nil {
		return train.Config{}, nil, invalid("weight_decay", t.WeightDecay, err.Error())
	}
	cfg.Eval = net
	return cfg, trainNet, nil
}

// initialParams returns θ₀: a fresh initialization from t.Seed, or the
// warm-start weights together with the file's SHA-256 digest.
func initialParams(t spec.Trial, net *nn.Network) ([]float64, string, error) {
	theta, _, digest, err := initialState(t, net)
	return theta, digest, err
}

// initialState is initialParams that also returns the initial buffers (nil
// for fresh ones; the file's running statistics for a warm start of a
// network with batch normalization).
func initialState(t spec.Trial, net *nn.Network) ([]float64, []float64, string, error) {
	w := t.WarmStart
	if w.Path == "" {
		theta := make([]float64, net.NumParams())
		net.Init(theta, pcg(t.Seed, streamInit))
		return theta, nil, "", nil
	}
	b, err := os.ReadFile(w.Path)
	if err != nil {
		return nil, nil, "", fmt.Errorf("warm_start.path: %w", err)
	}
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])
	if w.SHA256 != "" && w.SHA256 != digest {
		return nil, nil, "", invalid("warm_start.sha256", w.SHA256, fmt.Sprintf("%s has SHA-256 %s", w.Path, digest))
	}
	theta, buffers, _, err := ReadState(bytes.NewReader(b), net)
	if err != nil {
		return nil, nil, "", fmt.Errorf("warm_start.path %s: %w", w.Path, err)
	}
	if net.NumBuffers() == 0 {
		buffers = nil
	}
	return theta, buffers, digest, nil
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
	theta, _, meta, err := ReadState(r, net)
	return theta, meta, err
}

// ReadState is ReadWeights that also returns the buffers of net read from
// the file (the running statistics of batch normalization, length
// net.NumBuffers(); those of net for a FlatTensor file): use
// net.WithBuffers on them to evaluate θ in evaluation mode as it was
// saved.
func ReadState(r io.Reader, net *nn.Network) (theta, buffers []float64, meta map[string]string, err error) {
	ts, meta, err := weights.Read(r)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(ts) == 1 && ts[0].Name == FlatTensor && net.NumBuffers() == 0 {
		if !slices.Equal(ts[0].Shape, []int{net.NumParams()}) {
			return nil, nil, nil, fmt.Errorf("%w: tensor %q has shape %v, want [%d]", weights.ErrMismatch, FlatTensor, ts[0].Shape, net.NumParams())
		}
		return ts[0].Data, net.Buffers(), meta, nil
	}
	theta, buffers, err = weights.ImportState(net, ts)
	if err != nil {
		return nil, nil, nil, err
	}
	return theta, buffers, meta, nil
}

func epochMetrics(m train.Metrics) spec.EpochMetrics {
	return spec.EpochMetrics{Epoch: m.Epoch, TrainLoss: m.TrainLoss, TrainAcc: m.TrainAcc,
		TestLoss: m.TestLoss, TestAcc: m.TestAcc, Step: m.Step, LR: m.LR, BatchSize: m.BatchSize}
}

// testCorrect returns which examples of the test set the network at θ
// classifies correctly, as spec.Result.TestCorrect bits, and whether they
// agree with the accuracy acc that training's evaluation reported (they
// do unless a GEMM of another chunk shape rounded an output differently
// where two classes tie to the last bit; the bits are then left out rather
// than contradict the accuracy).
func testCorrect(net *nn.Network, theta []float64, set data.Set, acc float64) ([]byte, bool) {
	if set.Len() == 0 {
		return nil, false
	}
	correct := make([]bool, set.Len())
	net.NewWorkspace(min(set.Len(), chunkRows(net))).Correct(correct, theta, set.X, set.Y)
	n := 0
	for _, c := range correct {
		if c {
			n++
		}
	}
	return spec.CorrectBits(correct), float64(n)/float64(set.Len()) == acc
}
