// Package train trains a network by minibatch stochastic optimization: SGD
// with optional heavy-ball or Nesterov momentum, or Adam (see Optimizer), with
// learning-rate and batch-size schedules (LRSchedule, BatchSchedule), a budget
// in epochs or in updates, optional random-shift augmentation of image
// batches (Augment), and two ways of seeking flat minima: sharpness-aware
// minimization with its adaptive and m-sharpness variants (SAM), which
// changes the gradient each update uses, and stochastic weight averaging
// (SWA), which replaces the final parameters by the mean of the iterates at
// the ends of the last epochs.
//
// # Batches
//
// Each epoch draws a fresh permutation π of the N training examples (a
// Fisher–Yates shuffle of the identity, from the generator Config.Rng, seeded
// once per run) and takes ⌊N/B_e⌋ steps on the consecutive batches
// β_t = {π(tB_e), …, π(tB_e+B_e−1)}, B_e being the batch size of epoch e:
//
//	θ ← update(θ, ∇L_β(θ), ε_t),   L_β = (1/B_e) Σ_{i∈β} ℓᵢ.
//
// The last N mod B_e examples of each permutation are dropped (drop_last), so
// every step averages exactly B_e examples and the SGD noise scale
// g = ε(N/B − 1) is the same at every step of an epoch; because the
// permutation changes every epoch, every example is still used with equal
// probability. The same rule holds under a batch-size schedule: an epoch
// with B_e = 5B₀ takes ⌊N/(5B₀)⌋ steps and drops the N mod 5B₀ remaining
// examples (B_e is clamped to N, so at least one step is taken). With
// Config.KeepPartial the last N mod B_e examples instead make one more,
// smaller update (⌈N/B_e⌉ per epoch), whose gradient averages only them.
//
// # Budget and metrics
//
// The budget is either Epochs full passes or Steps updates. After every
// completed epoch (every Config.EvalEvery-th, and the last) the mean loss and
// accuracy over the full training and test sets are measured and passed to
// the progress callback; with a step budget
// that ends inside an epoch, the run stops after the last update and one more
// evaluation is reported for that partial epoch (Metrics.Epoch is the number
// of the epoch in progress, Metrics.Step the number of updates).
//
// # Batch normalization and dropout
//
// For a network with training-mode layers (nn.Network.Trains: nn.BatchNorm,
// nn.Dropout) every update uses the training-mode gradient
// (nn.Workspace.TrainGrad): batch normalization normalizes by the batch's
// statistics and updates the running statistics, and dropout drops values
// with the masks of update t (0-based, over the whole run) drawn from a
// PCG generator seeded with (Config.MaskSeed, t·2²⁰ + k), k the sub-batch of
// m-sharpness (0 otherwise), so they depend only on the seed and the step.
// A batch is one chunk for batch normalization, whatever MaxRows. The
// metrics, the probes and everything measured afterwards are in evaluation
// mode, with the running statistics at that point (Result.Buffers at the
// end, ProbePoint.Buffers along training).
//
// A run diverges when a batch loss or an epoch loss is NaN or ±Inf. Divergence
// is a result, not an error: training stops and Result.Diverged is set.
//
// With SWA the final metrics are those of the averaged parameters θ_swa,
// which Train leaves in θ; the per-epoch metrics are the iterates'. With
// batch normalization the running statistics of θ_swa are recomputed first
// (see SWA).
//
// With Config.Precision Float32 the updates run in float32 and the metrics
// are float64 evaluations of the float32 parameters, converted exactly (see
// Precision).
//
// Everything is deterministic: the same inputs, Rng state and Augment seed give
// bit-identical parameters and metrics.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
)

// DefaultEvalRows is the chunk size of full-data-set evaluations.
const DefaultEvalRows = 512

// ErrConfig is returned for an invalid Config.
var ErrConfig = errors.New("train: invalid configuration")

// Config configures a training run.
type Config struct {
	BatchSize int     // initial batch size B₀, 1 ≤ B₀ ≤ N
	LR        float64 // initial learning rate ε₀, finite and > 0
	// Epochs is the budget in passes over the training set; Steps is the
	// budget in updates. Exactly one of them must be > 0.
	Epochs int
	Steps  int
	// Optimizer is the update rule (zero value: plain SGD).
	Optimizer Optimizer
	// LRSchedule and BatchSchedule vary ε and B over the epochs (zero values:
	// constant).
	LRSchedule    LRSchedule
	BatchSchedule BatchSchedule
	// Augment configures random shifts of the training batches (zero value:
	// none).
	Augment Augment
	// Rng draws the per-epoch permutations.
	Rng *rand.Rand
	// EvalRows is the chunk size of evaluations (0: DefaultEvalRows).
	EvalRows int
	// MaxRows, if > 0, bounds the rows of the training workspace: larger
	// batches are processed in chunks of MaxRows rows whose gradient
	// contributions are summed in chunk order (deterministic, but rounded
	// differently from one whole-batch pass). 0 processes every batch at
	// once; use MaxRows for wide convolutional networks, whose per-row
	// memory is large.
	MaxRows int
	// Eval, if non-nil, is the network on which metrics are evaluated; it
	// must have the training network's parameter layout. Use it to train on
	// a regularized objective (nn.Network.WithWeightDecay) while reporting
	// the plain loss.
	Eval *nn.Network
	// Probe, if non-nil, is called with θ at measurement points along
	// training (see Probe).
	Probe *Probe
	// SAM replaces the minibatch gradient of every update by the
	// sharpness-aware one (zero value: off).
	SAM SAM
	// SWA averages the iterates of the last epochs into the final
	// parameters (zero value: off).
	SWA SWA
	// Target ends training early at a fit (zero value: never).
	Target Target
	// KeepPartial makes the last N mod B_e examples of every epoch's
	// permutation an update of its own (⌈N/B_e⌉ updates per epoch, the last
	// averaging fewer examples); the default drops them (⌊N/B_e⌋ updates,
	// each of exactly B_e examples). It cannot be combined with
	// m-sharpness.
	KeepPartial bool
	// EvalEvery evaluates the full training and test sets (the curve, the
	// progress callback and the Target check) after every EvalEvery-th
	// epoch and after the last one; 0 or 1 is every epoch.
	EvalEvery int
	// MaskSeed seeds the dropout masks of a network with training-mode
	// layers (see the package documentation).
	MaskSeed uint64
	// Buffers, if non-nil, are the running statistics training starts
	// from (length net.NumBuffers()); nil starts from the network's.
	Buffers []float64
	// Precision is the arithmetic of the updates (zero value: Float64;
	// see Precision for Float32).
	Precision Precision
}

// perEpoch returns the updates of an epoch with batch size b over n
// examples.
func (cfg Config) perEpoch(n, b int) int {
	if cfg.KeepPartial {
		return (n + b - 1) / b
	}
	return n / b
}

// Target is a fit at which training stops: after an epoch's evaluation
// (including the partial last epoch of a step budget) at which every given
// target holds — mean training loss ≤ TrainLoss, training accuracy ≥
// TrainAcc (a zero field is no target). The budget caps the run, and
// Result.TargetReached tells whether it stopped at the target.
type Target struct {
	TrainLoss, TrainAcc float64
}

// met reports whether m meets every given target of t (false when t has
// none).
func (t Target) met(m Metrics) bool {
	if t == (Target{}) {
		return false
	}
	return (t.TrainLoss == 0 || m.TrainLoss <= t.TrainLoss) && (t.TrainAcc == 0 || m.TrainAcc >= t.TrainAcc)
}

// Probe measures the parameters along training. Func is called with θ
// (which it must not modify) before the first update, then every Every
// units, and once more at the end of training unless the last call was at
// the final parameters:
//
//   - with Steps false, after every Every-th completed epoch, once the
//     epoch's metrics are evaluated;
//   - with Steps true, before every Every-th update (and so at θ after
//     k·Every updates), inside epochs.
//
// With SWA the call at the end measures the averaged parameters. The calls
// are part of the run: they happen in a deterministic order and
// an error from Func ends training with that error. A diverged run makes no
// further calls.
type Probe struct {
	// Every is the interval, ≥ 1.
	Every int
	// Steps counts the interval in updates instead of epochs.
	Steps bool
	// Func measures θ at the point at.
	Func func(ctx context.Context, at ProbePoint, theta []float64) error
}

// ProbePoint locates a probe call along training.
type ProbePoint struct {
	// Epoch is the epoch in progress (Steps probes) or just completed
	// (epoch probes); 0 at the initialization.
	Epoch int
	// Step is the number of updates taken.
	Step int
	// LR is the learning rate of the next update (of the last one at the
	// end of training).
	LR float64
	// Final marks the call at the end of training.
	Final bool
	// Buffers are the running statistics at this point (nil for a network
	// without buffers): the evaluation mode in which to measure θ. Func
	// must not modify or keep them.
	Buffers []float64
}

// Metrics are the full-data-set metrics after an epoch (Epoch = 0 is the
// initialization).
type Metrics struct {
	Epoch               int
	TrainLoss, TrainAcc float64
	TestLoss, TestAcc   float64
	// Step is the number of updates taken so far.
	Step int
	// LR and BatchSize are the learning rate of the epoch's last update and
	// the epoch's batch size (0 for the initialization).
	LR        float64
	BatchSize int
}

func (m Metrics) finite() bool {
	return !math.IsNaN(m.TrainLoss) && !math.IsInf(m.TrainLoss, 0) &&
		!math.IsNaN(m.TestLoss) && !math.IsInf(m.TestLoss, 0)
}

// Result is the outcome of training.
type Result struct {
	// Curve holds the metrics of every completed epoch with finite losses
	// (and of the final partial epoch of a step budget).
	Curve []Metrics
	// Final are the metrics at the end of training (with SWA, at θ_swa; its
	// Epoch, Step, LR and BatchSize are the last epoch's); after divergence
	// they are those of the last finite state (the last Curve entry, or the
	// initialization when the first epoch diverged).
	Final Metrics
	// Diverged reports a NaN/±Inf batch or epoch loss.
	Diverged bool
	// Steps is the number of updates performed.
	Steps int
	// Gradients is the number of minibatch gradient evaluations of the
	// updates performed: Steps, or 2·Steps with SAM (an evaluation on the
	// B/m sub-batches of m-sharpness counts as one).
	Gradients int
	// Averaged is the number of iterates averaged into the final θ by SWA
	// (0 without SWA, after divergence or when cancelled).
	Averaged int
	// TargetReached reports that training stopped at Config.Target.
	TargetReached bool
	// Buffers are the running statistics at the end of training (nil for
	// a network without buffers), those of the metrics in Final.
	Buffers []float64
}

func (cfg Config) validate(net *nn.Network, n, features int) error {
	switch {
	case cfg.BatchSize < 1 || cfg.BatchSize > n:
		return fmt.Errorf("%w: batch size %d not in [1, %d]", ErrConfig, cfg.BatchSize, n)
	case !(cfg.LR > 0) || math.IsInf(cfg.LR, 0):
		return fmt.Errorf("%w: learning rate %v", ErrConfig, cfg.LR)
	case cfg.Epochs < 0 || cfg.Steps < 0 || (cfg.Epochs > 0) == (cfg.Steps > 0):
		return fmt.Errorf("%w: want exactly one budget > 0, got epochs %d and steps %d", ErrConfig, cfg.Epochs, cfg.Steps)
	case cfg.Rng == nil:
		return fmt.Errorf("%w: nil Rng", ErrConfig)
	case !(cfg.Target.TrainLoss >= 0) || math.IsInf(cfg.Target.TrainLoss, 0) || !(cfg.Target.TrainAcc >= 0 && cfg.Target.TrainAcc <= 1):
		return fmt.Errorf("%w: target train loss %v (want finite ≥ 0) and accuracy %v (want in [0, 1])", ErrConfig, cfg.Target.TrainLoss, cfg.Target.TrainAcc)
	case cfg.EvalEvery < 0:
		return fmt.Errorf("%w: evaluation interval %d epochs (want ≥ 1, or 0 for every epoch)", ErrConfig, cfg.EvalEvery)
	case cfg.KeepPartial && cfg.SAM.M > 0:
		return fmt.Errorf("%w: m-sharpness (m = %d) needs every batch to split into sub-batches of m, which a kept partial batch need not", ErrConfig, cfg.SAM.M)
	case cfg.Probe != nil && (cfg.Probe.Every < 1 || cfg.Probe.Func == nil):
		return fmt.Errorf("%w: probe every %d (want ≥ 1) with a nil function %t", ErrConfig, cfg.Probe.Every, cfg.Probe.Func == nil)
	case cfg.Eval != nil && (cfg.Eval.NumParams() != net.NumParams() || cfg.Eval.NumBuffers() != net.NumBuffers()):
		return fmt.Errorf("%w: evaluation network has %d parameters and %d buffers, training network %d and %d",
			ErrConfig, cfg.Eval.NumParams(), cfg.Eval.NumBuffers(), net.NumParams(), net.NumBuffers())
	case cfg.Buffers != nil && len(cfg.Buffers) != net.NumBuffers():
		return fmt.Errorf("%w: %d initial buffer values for a network with %d", ErrConfig, len(cfg.Buffers), net.NumBuffers())
	}
	if err := errors.Join(cfg.Optimizer.validate(), cfg.LRSchedule.validate(), cfg.BatchSchedule.validate(),
		cfg.Augment.validate(features), cfg.SAM.validate(), cfg.SWA.validate(), cfg.Precision.validate(cfg, net)); err != nil {
		return err
	}
	if m := cfg.SAM.M; m > 0 {
		for _, e := range cfg.BatchSchedule.starts() {
			if b := cfg.BatchSchedule.Size(cfg.BatchSize, n, e); b%m != 0 {
				return fmt.Errorf("%w: m-sharpness sub-batch size m = %d does not divide the batch size %d of epoch %d",
					ErrConfig, m, b, e)
			}
		}
	}
	if s := cfg.SWA.Start; s > 0 {
		if e := cfg.epochs(n); s > e {
			return fmt.Errorf("%w: SWA start epoch %d is beyond the %d epochs of the run", ErrConfig, s, e)
		}
	}
	return nil
}

// epochs returns the number of epochs the budget runs, counting the last,
// partial one of a step budget that ends inside an epoch. The batch size is
// constant between milestones, so a step budget is walked milestone by
// milestone.
func (cfg Config) epochs(n int) int {
	if cfg.Steps <= 0 {
		return cfg.Epochs
	}
	left, done := cfg.Steps, 0 // updates still to take; epochs completed
	ms := cfg.BatchSchedule.Milestones
	for i := 0; ; i++ {
		per := cfg.perEpoch(n, cfg.BatchSchedule.Size(cfg.BatchSize, n, done+1)) // ≥ 1
		need := left / per
		if left%per != 0 {
			need++
		}
		if i >= len(ms) || need <= ms[i]-done {
			return done + need
		}
		left -= (ms[i] - done) * per
		done = ms[i]
	}
}

// totalSteps returns the number of updates of the budget.
func (cfg Config) totalSteps(n int) int {
	if cfg.Steps > 0 {
		return cfg.Steps
	}
	t := 0
	for e := 1; e <= cfg.Epochs; e++ {
		t += cfg.perEpoch(n, cfg.BatchSchedule.Size(cfg.BatchSize, n, e))
	}
	return t
}

// maxBatch returns the largest batch size of the run.
func (cfg Config) maxBatch(n int) int {
	b := 0
	for _, e := range cfg.BatchSchedule.starts() {
		b = max(b, cfg.BatchSchedule.Size(cfg.BatchSize, n, e))
	}
	return b
}

// recomputeStats sets the running statistics of ws to those of θ (SWA's
// update_bn): it resets them and runs training-mode passes over the
// consecutive batches of b examples of trainSet in index order (the last
// N mod b left out, as in training), folding each batch's statistics into a
// cumulative average; the dropout masks of batch j are those of update
// steps + j. grad is scratch.
func recomputeStats(ctx context.Context, ws *nn.Workspace, grad, theta []float64, trainSet data.Set, b, steps int, seed uint64) error {
	b = max(b, 1)
	buf := ws.Buffers()
	net := ws.Network()
	net.InitBuffers(buf)
	d := trainSet.Features
	for j, lo := 0, 0; lo+b <= trainSet.Len(); j, lo = j+1, lo+b {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("SWA statistics, batch %d: %w", j+1, err)
		}
		ws.TrainGrad(grad, theta, trainSet.X[lo*d:(lo+b)*d], trainSet.Y[lo:lo+b],
			nn.Training{Seed: seed, Stream: uint64(steps+j) << 20, Update: true, Cumulative: true})
	}
	return nil
}

// SGD trains θ in place; it is Train, kept as the package's original entry
// point (with the zero Optimizer it is plain minibatch SGD).
func SGD(ctx context.Context, net *nn.Network, theta []float64, trainSet, testSet data.Set,
	cfg Config, progress func(Metrics)) (Result, error) {
	return Train(ctx, net, theta, trainSet, testSet, cfg, progress)
}

// Train trains θ in place on trainSet, starting from the given θ (a fresh
// initialization or warm-start weights; the optimizer state always starts at
// zero), evaluating on trainSet and testSet after every epoch and calling
// progress (if non-nil) with each epoch's metrics (see the package
// documentation). It checks ctx between updates and returns the partial
// result with the wrapped ctx.Err() when cancelled.
func Train(ctx context.Context, net *nn.Network, theta []float64, trainSet, testSet data.Set,
	cfg Config, progress func(Metrics)) (res Result, err error) {
	n, d := trainSet.Len(), trainSet.Features
	if err := cfg.validate(net, n, d); err != nil {
		return Result{}, err
	}
	upd, err := NewUpdater(cfg.Optimizer, net.NumParams())
	if err != nil {
		return Result{}, err
	}
	evalRows := cfg.EvalRows
	if evalRows <= 0 {
		evalRows = DefaultEvalRows
	}
	maxB, total := cfg.maxBatch(n), cfg.totalSteps(n)
	rows := max(maxB, evalRows)
	if cfg.MaxRows > 0 {
		rows = min(rows, max(cfg.MaxRows, evalRows))
	}
	if net.Coupled() {
		rows = max(rows, maxB) // batch statistics need the batch in one chunk
	}
	ws := net.NewWorkspace(rows)
	if cfg.Buffers != nil {
		ws.SetBuffers(cfg.Buffers)
	}
	var f32 *trainer32 // nil unless cfg.Precision is Float32
	if cfg.Precision == Float32 {
		rows32 := maxB
		if cfg.MaxRows > 0 {
			rows32 = min(maxB, cfg.MaxRows)
		}
		if f32, err = newTrainer32(net, theta, rows32, maxB, d, cfg.Optimizer); err != nil {
			return Result{}, err
		}
	}
	evalWS := ws
	if cfg.Eval != nil {
		evalWS = cfg.Eval.NewWorkspace(evalRows)
	}
	trains := net.Trains()
	lossGrad := func(g, th, x []float64, y []int, k int, first bool) float64 {
		if !trains {
			l, _ := ws.LossGrad(g, th, x, y)
			return l
		}
		l, _ := ws.TrainGrad(g, th, x, y, nn.Training{Seed: cfg.MaskSeed, Stream: uint64(res.Steps)<<20 | uint64(k), Update: first})
		return l
	}
	var buffers []float64 // the running statistics, nil without
	if net.NumBuffers() > 0 {
		buffers = ws.Buffers()
	}
	grad := make([]float64, net.NumParams())
	var sam *sharpness
	perStep := 1
	if cfg.SAM.on() {
		sam, perStep = newSharpness(cfg.SAM, net), 2
	}
	var swa *averager
	if cfg.SWA.Start > 0 {
		swa = &averager{mean: make([]float64, len(theta))}
	}
	xb, yb := make([]float64, maxB*d), make([]int, maxB)
	perm := make([]int, n)
	aug := newAugmenter(cfg.Augment)

	evaluate := func(m Metrics) Metrics {
		if evalWS != ws && buffers != nil {
			evalWS.SetBuffers(buffers)
		}
		m.TrainLoss, m.TrainAcc = evalWS.Loss(theta, trainSet.X, trainSet.Y)
		m.TestLoss, m.TestAcc = evalWS.Loss(theta, testSet.X, testSet.Y)
		return m
	}
	res.Final = evaluate(Metrics{})
	defer func() {
		if buffers != nil {
			res.Buffers = slices.Clone(buffers)
		}
	}()
	if !res.Final.finite() {
		res.Diverged = true
		return res, nil
	}
	probed := -1 // the step of the last probe call
	probe := func(at ProbePoint) error {
		if cfg.Probe == nil {
			return nil
		}
		probed = at.Step
		at.Buffers = buffers
		if err := cfg.Probe.Func(ctx, at, theta); err != nil {
			return fmt.Errorf("epoch %d, step %d: %w", at.Epoch, at.Step, err)
		}
		return nil
	}
	if err := probe(ProbePoint{LR: cfg.LRSchedule.Rate(cfg.LR, 1, 0, total)}); err != nil {
		return res, err
	}
	for epoch := 1; res.Steps < total; epoch++ {
		B := cfg.BatchSchedule.Size(cfg.BatchSize, n, epoch)
		m := Metrics{Epoch: epoch, BatchSize: B}
		for i := range perm {
			perm[i] = i
		}
		cfg.Rng.Shuffle(n, func(i, j int) { perm[i], perm[j] = perm[j], perm[i] })
		for lo := 0; lo < n && res.Steps < total; lo += B {
			b := min(B, n-lo) // the batch: B examples, fewer for a kept partial batch
			if b < B && !cfg.KeepPartial {
				break
			}
			if err := ctx.Err(); err != nil {
				f32.sync(theta)
				return res, fmt.Errorf("epoch %d, step %d: %w", epoch, res.Steps+1, err)
			}
			if p := cfg.Probe; p != nil && p.Steps && res.Steps > 0 && res.Steps%p.Every == 0 {
				f32.sync(theta)
				if err := probe(ProbePoint{Epoch: epoch, Step: res.Steps, LR: cfg.LRSchedule.Rate(cfg.LR, epoch, res.Steps, total)}); err != nil {
					return res, err
				}
			}
			for j, i := range perm[lo : lo+b] {
				copy(xb[j*d:(j+1)*d], trainSet.Row(i))
				yb[j] = trainSet.Y[i]
			}
			if aug != nil {
				aug.apply(xb, b, res.Steps)
			}
			rate := cfg.LRSchedule.Rate(cfg.LR, epoch, res.Steps, total)
			var loss float64
			switch {
			case f32 != nil: // the gradient and the update (none for a non-finite loss)
				loss = f32.step(xb[:b*d], yb[:b], rate)
			case sam != nil:
				loss = sam.gradient(lossGrad, grad, theta, xb[:b*d], yb[:b], d)
			default:
				loss = lossGrad(grad, theta, xb[:b*d], yb[:b], 0, true)
			}
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				f32.sync(theta)
				res.Diverged = true
				return res, nil
			}
			m.LR = rate
			if f32 == nil {
				upd.Step(theta, grad, m.LR)
			}
			res.Steps++
			res.Gradients += perStep
		}
		f32.sync(theta)
		m.Step = res.Steps
		evaluated := cfg.EvalEvery <= 1 || epoch%cfg.EvalEvery == 0 || res.Steps >= total
		if evaluated {
			m = evaluate(m)
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
		if p := cfg.Probe; p != nil && !p.Steps && epoch%p.Every == 0 && res.Steps < total {
			if err := probe(ProbePoint{Epoch: epoch, Step: res.Steps, LR: cfg.LRSchedule.Rate(cfg.LR, epoch+1, res.Steps, total)}); err != nil {
				return res, err
			}
		}
		if swa != nil && epoch >= cfg.SWA.Start {
			swa.add(theta)
		}
		if evaluated && cfg.Target.met(m) {
			res.TargetReached = true
			break
		}
	}
	if swa != nil && swa.k > 0 {
		copy(theta, swa.mean)
		res.Averaged = swa.k
		if buffers != nil {
			if err := recomputeStats(ctx, ws, grad, theta, trainSet, res.Final.BatchSize, res.Steps, cfg.MaskSeed); err != nil {
				return res, err
			}
		}
		if m := evaluate(res.Final); m.finite() {
			res.Final = m
		} else {
			res.Diverged = true
			return res, nil
		}
	}
	if probed != res.Steps || swa != nil {
		if err := probe(ProbePoint{Epoch: res.Final.Epoch, Step: res.Steps, LR: res.Final.LR, Final: true}); err != nil {
			return res, err
		}
	}
	return res, nil
}
