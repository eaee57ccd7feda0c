package compute

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// TrialSpec is every value that changes a trial's outcome. A trial is a pure
// function of its spec: the same spec on the same binary and BLAS backend gives
// bit-identical results. The JSON encoding of a TrialSpec (fields in declaration
// order, zero values omitted) is its canonical form; sweeps hashes it to obtain
// the stable trial ID, so fields may be added (with omitempty, or omitzero for
// structs) but never renamed. Every field added after the first release is
// optional and its zero value means the original behaviour (plain SGD, constant
// schedules, no augmentation, fresh initialization, cross-entropy), so the
// canonical form and ID of a spec that does not use it are unchanged.
type TrialSpec struct {
	// Dataset selects the training and test data.
	Dataset DatasetSpec `json:"dataset"`
	// Model is the network architecture.
	Model ModelSpec `json:"model"`
	// BatchSize is the (initial) minibatch size B (1 ≤ B ≤ N).
	BatchSize int `json:"batch_size"`
	// LR is the (initial) learning rate ε (finite, > 0).
	LR float64 `json:"lr"`
	// Epochs is the training budget in passes over the N training examples;
	// 0 when the budget is given in Steps.
	Epochs int `json:"epochs"`
	// Seed drives every random draw of the trial that is not part of the data:
	// initialization, batch order, augmentation and curvature probe vectors.
	Seed int64 `json:"seed"`
	// Curvature configures the curvature measures computed after training.
	Curvature CurvatureSpec `json:"curvature"`
	// Steps is the training budget in parameter updates, the alternative to
	// Epochs: exactly one of the two is > 0.
	Steps int `json:"steps,omitempty"`
	// WeightDecay is the L2 coefficient λ ≥ 0: training minimizes
	// L(θ) + (λ/2)‖θ‖² over all parameters, biases included (coupled L2, like
	// PyTorch's weight_decay). Reported losses and the curvature are those of
	// the unregularized loss L.
	WeightDecay float64 `json:"weight_decay,omitempty"`
	// Optimizer is the update rule (zero value: plain SGD).
	Optimizer OptimizerSpec `json:"optimizer,omitzero"`
	// Schedule varies the learning rate and the batch size over the epochs
	// (zero value: both constant).
	Schedule ScheduleSpec `json:"schedule,omitzero"`
	// Augment configures training-time data augmentation (zero value: none).
	Augment AugmentSpec `json:"augment,omitzero"`
	// WarmStart starts training from saved weights instead of a fresh
	// initialization (zero value: fresh initialization from Seed).
	WarmStart WarmStartSpec `json:"warm_start,omitzero"`
}

// Dataset names accepted in DatasetSpec.Name.
const (
	DatasetSynthetic    = "synthetic"
	DatasetMNIST        = "mnist"
	DatasetFashionMNIST = "fashion-mnist"
	DatasetKMNIST       = "kmnist"
	DatasetCIFAR10      = "cifar10"
)

// DatasetSpec selects a dataset. The data depend only on the dataset spec, never
// on the trial seed, so every trial of a sweep sees the same examples.
//
// File datasets ("mnist", "fashion-mnist", "kmnist": MNIST-format IDX files;
// "cifar10": CIFAR-10 binary batches) are read from Dir or from explicit
// paths. Relative paths resolve against the working directory of the process
// that runs the trial (the worker), and the identity of a trial includes the
// paths, not the file contents. With a training and a test source the N
// training examples are a seeded subsample (data.Set.Sample with Seed) of the
// training files and the NTest test examples one of the test files. With only
// training files (one IDX pair, or CIFAR-10 training batches alone) they are
// split deterministically (data.Set.Split with Seed): the last NTest examples
// of the shuffled file are the test set and the training set is a seeded
// subsample of N of the rest. Both are nested: for the same files and seed,
// the training set of N′ < N examples is the first N′ of the set of N.
type DatasetSpec struct {
	// Name is the dataset: "synthetic" (embedded, generated from Seed),
	// "mnist", "fashion-mnist", "kmnist" or "cifar10".
	Name string `json:"name"`
	// N is the number of training examples.
	N int `json:"n"`
	// NTest is the number of test examples.
	NTest int `json:"n_test"`
	// Features is the input dimension of the synthetic task.
	Features int `json:"features,omitempty"`
	// Classes is the number of classes of the synthetic task.
	Classes int `json:"classes,omitempty"`
	// LabelNoise is the fraction of training labels replaced by a uniformly
	// drawn class (test labels stay clean).
	LabelNoise float64 `json:"label_noise,omitempty"`
	// Seed generates the synthetic data and selects subsets of file data.
	Seed int64 `json:"seed"`
	// Dir is a directory holding the dataset under its standard file names:
	// train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
	// and t10k-labels-idx1-ubyte (each optionally with .gz) for IDX datasets;
	// data_batch_1.bin … data_batch_5.bin and test_batch.bin for CIFAR-10.
	// Missing files are skipped: a directory with only the t10k pair (or only
	// test_batch.bin) is split as a single source.
	Dir string `json:"dir,omitempty"`
	// TrainImages and TrainLabels are the IDX training files, TestImages
	// and TestLabels the optional IDX test files (alternative to Dir).
	TrainImages string `json:"train_images,omitempty"`
	TrainLabels string `json:"train_labels,omitempty"`
	TestImages  string `json:"test_images,omitempty"`
	TestLabels  string `json:"test_labels,omitempty"`
	// TrainBatches and TestBatches are CIFAR-10 binary batch files
	// (alternative to Dir); TestBatches is optional.
	TrainBatches []string `json:"train_batches,omitempty"`
	TestBatches  []string `json:"test_batches,omitempty"`
	// Standardize maps every input feature to zero mean and unit variance
	// with a data.Standardizer fitted on the N training examples and applied
	// to both sets.
	Standardize bool `json:"standardize,omitempty"`
}

// Architectures accepted in ModelSpec.Arch.
const (
	ArchMLP    = "mlp"
	ArchResMLP = "resmlp"
	ArchCNN    = "cnn"
)

// ModelSpec describes the network (see package nn for the constructors):
//
//	"mlp":    nn.NewMLP with the Hidden widths;
//	"resmlp": nn.NewResMLP with Width and Blocks residual blocks;
//	"cnn":    nn.NewCNN with the Conv filter counts (5×5 convolutions, each
//	          followed by the activation and 2×2 max-pooling) and then dense
//	          hidden layers of the Hidden widths; image datasets only.
type ModelSpec struct {
	// Arch is the architecture: "mlp", "resmlp" or "cnn".
	Arch string `json:"arch"`
	// Hidden lists the hidden layer widths (mlp), or the dense layer widths
	// after the convolutions (cnn).
	Hidden []int `json:"hidden"`
	// Activation is the hidden nonlinearity: "relu" or "tanh".
	Activation string `json:"activation"`
	// Width is the residual stream width (resmlp).
	Width int `json:"width,omitempty"`
	// Blocks is the number of residual blocks, ≥ 0 (resmlp).
	Blocks int `json:"blocks,omitempty"`
	// Conv lists the filter counts of the convolution stages (cnn).
	Conv []int `json:"conv,omitempty"`
	// Loss is the per-example loss: "ce" (softmax cross-entropy, also the
	// meaning of "") or "mse" (½‖z − e_y‖² on the one-hot target).
	Loss string `json:"loss,omitempty"`
}

// Optimizer names accepted in OptimizerSpec.Name.
const (
	OptimizerSGD  = "sgd"
	OptimizerAdam = "adam"
)

// OptimizerSpec selects the update rule (see train.Optimizer for the exact
// formulas). The zero value is plain SGD.
type OptimizerSpec struct {
	// Name is "sgd" (also the meaning of "") or "adam".
	Name string `json:"name,omitempty"`
	// Momentum is the SGD momentum m ∈ [0, 1), heavy-ball convention
	// v ← m v + g, θ ← θ − ε v (noise scale g = εN/(B(1 − m))).
	Momentum float64 `json:"momentum,omitempty"`
	// Nesterov selects Nesterov momentum, θ ← θ − ε(g + m v) (needs m > 0).
	Nesterov bool `json:"nesterov,omitempty"`
	// Beta1, Beta2 ∈ [0, 1) and Eps > 0 are Adam's parameters (0: 0.9, 0.999,
	// 1e-8).
	Beta1 float64 `json:"beta1,omitempty"`
	Beta2 float64 `json:"beta2,omitempty"`
	Eps   float64 `json:"eps,omitempty"`
}

// ScheduleSpec varies the learning rate and the batch size over the epochs.
type ScheduleSpec struct {
	// LR is the learning-rate schedule.
	LR LRScheduleSpec `json:"lr,omitzero"`
	// Batch is the batch-size schedule.
	Batch BatchScheduleSpec `json:"batch,omitzero"`
}

// Learning-rate schedule kinds accepted in LRScheduleSpec.Kind.
const (
	ScheduleConstant = "constant"
	ScheduleStep     = "step"
	ScheduleCosine   = "cosine"
)

// LRScheduleSpec is a learning-rate schedule (see train.LRSchedule). Epochs
// count from 1 and a milestone M takes effect after M epochs.
type LRScheduleSpec struct {
	// Kind is "constant" (also the meaning of ""), "step" (multiply ε by
	// Gamma after each milestone epoch) or "cosine" (anneal from ε to
	// Floor·ε over the budget, per update).
	Kind string `json:"kind,omitempty"`
	// Milestones are strictly increasing epochs ≥ 1 (step).
	Milestones []int `json:"milestones,omitempty"`
	// Gamma is the factor applied at each milestone, finite and > 0 (step).
	Gamma float64 `json:"gamma,omitempty"`
	// Floor is the final learning rate as a fraction of ε, in [0, 1] (cosine).
	Floor float64 `json:"floor,omitempty"`
}

// BatchScheduleSpec multiplies the batch size by Factor after each milestone
// epoch, as in Smith, Kindermans, Ying & Le (see train.BatchSchedule); the
// batch size is clamped to N and the last partial batch of every epoch is
// dropped.
type BatchScheduleSpec struct {
	// Milestones are strictly increasing epochs ≥ 1.
	Milestones []int `json:"milestones,omitempty"`
	// Factor k ≥ 2 multiplies B at each milestone.
	Factor int `json:"factor,omitempty"`
}

// AugmentSpec configures training-time data augmentation of image datasets.
type AugmentSpec struct {
	// Shift is the largest random translation s in pixels: every training
	// example of every batch is shifted by (dy, dx) drawn uniformly from
	// {−s, …, s}², with zero fill (see train.Augment); 0 disables it.
	Shift int `json:"shift,omitempty"`
}

// WarmStartSpec starts training from saved weights. The file is read by the
// process running the trial, so its content is not covered by the path alone:
// give SHA256 (sweeps fills it in where it can read the file) to make the
// content part of the trial's identity; RunTrial then refuses a file whose
// digest differs. The optimizer state (momentum, Adam moments) starts at zero.
type WarmStartSpec struct {
	// Path is a safetensors file written by flatsweep (or a PyTorch
	// state_dict of the same network, any architecture; see package weights).
	Path string `json:"path,omitempty"`
	// SHA256 is the lowercase hex SHA-256 digest of the file's content.
	SHA256 string `json:"sha256,omitempty"`
}

// CurvatureSpec configures the curvature measures computed at the end of training.
type CurvatureSpec struct {
	// Examples is the number M of training examples over which the loss
	// L(θ) = (1/M) Σ ℓ_i and its Hessian are taken: a fixed subset drawn from the
	// trial seed; 0 means the whole training set.
	Examples int `json:"examples,omitempty"`
	// LanczosSteps is the maximum number of Lanczos iterations (Hessian-vector
	// products) used for the top eigenvalue λ₁.
	LanczosSteps int `json:"lanczos_steps"`
	// Tol is the relative residual tolerance: λ₁ has converged when
	// ‖Hv − λ₁v‖ ≤ Tol·|λ₁|.
	Tol float64 `json:"tol"`
	// Measures selects the curvature and flatness measures computed after
	// training, in addition to λ₁ (see MeasureSet and the Measure constants;
	// the zero value computes none). The settings blocks below configure
	// them; a block may be given only for a selected measure, and its zero
	// fields take the documented defaults (see CurvatureSpec.WithDefaults).
	// Every field from here on is omitted from the canonical form when zero,
	// so specs without measures keep their trial IDs.
	Measures MeasureSet `json:"measures,omitempty"`
	// TopK configures MeasureTopK.
	TopK TopKSpec `json:"top_k,omitzero"`
	// Trace configures MeasureTrace.
	Trace TraceSpec `json:"trace,omitzero"`
	// Density configures MeasureDensity.
	Density DensitySpec `json:"density,omitzero"`
	// Evidence configures MeasureEvidence.
	Evidence EvidenceSpec `json:"evidence,omitzero"`
	// Keskar configures MeasureKeskar.
	Keskar KeskarSpec `json:"keskar,omitzero"`
	// Adaptive configures MeasureAdaptive.
	Adaptive AdaptiveSpec `json:"adaptive,omitzero"`
	// Relative configures MeasureRelative.
	Relative RelativeSpec `json:"relative,omitzero"`
	// FisherRao configures MeasureFisherRao.
	FisherRao FisherRaoSpec `json:"fisher_rao,omitzero"`
	// PACBayes configures MeasurePACBayes.
	PACBayes PACBayesSpec `json:"pac_bayes,omitzero"`
	// Dinh enables Dinh et al.'s reparametrization check (see DinhSpec);
	// the zero value disables it.
	Dinh DinhSpec `json:"dinh,omitzero"`
}

// DinhSuffix is appended to a measure's name for its value at T_α θ (see
// DinhSpec): "lambda_max@dinh", "lambda_1@dinh", "trace@dinh", ….
const DinhSuffix = "@dinh"

// MeasureDinhOutputChange is the name of the relative output change of the
// α-scaling in Result.Measures (see DinhSpec).
const MeasureDinhOutputChange = "dinh_output_change"

// DinhSpec configures the check of Dinh et al. (2017, arXiv 1703.04933) that
// a measure is reparametrization-aware. After the normal measures, the trial
// applies the α-scale transformation to the trained θ at one Dense–ReLU–Dense
// pair of the network (Dense layer l₁, its ReLU, Dense layer l₂):
//
//	T_α(θ):  W₁ ← α W₁,  b₁ ← α b₁,  W₂ ← W₂/α,  b₂ and every other parameter unchanged,
//
// which leaves the function unchanged because relu(αz) = α relu(z) for α > 0,
// while the Hessian becomes ∇²L(T_α θ) = D⁻¹ ∇²L(θ) D⁻¹ with D the diagonal of
// T_α (the (W₁, b₁) block scaled by α⁻², the W₂ block by α²). It stores
//
//	"dinh_output_change" = max |f_{T_α θ}(x) − f_θ(x)| / max |f_θ(x)|
//
// over the logits of the curvature examples (0 up to rounding), then
// recomputes λ₁ and every selected measure at T_α θ with the same seeds and
// settings, storing each scalar m under m + DinhSuffix: "lambda_max@dinh" for
// λ₁ (Result.LambdaMax) and, e.g., "trace@dinh", "adaptive_sharpness@dinh"
// for the entries of Result.Measures (the spectral density is not redone). A
// measure is reparametrization-aware when m@dinh = m. The check doubles the
// cost of the curvature phase and is skipped for a diverged run.
//
// Only the single-pair transformation is offered: for a deep network the
// layer-wise scalings W_k ← α_k W_k with Π α_k = 1 are compositions of pair
// scalings (pair k by c_k = Π_{i≤k} α_i), so a measure invariant under every
// pair scaling is invariant under them too.
type DinhSpec struct {
	// Alpha is α: finite, > 0 and ≠ 1 (1 is the identity). Required when
	// the block is given.
	Alpha float64 `json:"alpha,omitempty"`
	// Layer selects the Dense–ReLU–Dense pair among the network's top-level
	// layers, counted from 0 at the input: 0 (the default) is the first
	// pair, which for an mlp scales the weights into the first hidden layer
	// by α and those out of it by 1/α. A ReLU mlp with h hidden layers has
	// h pairs; a resmlp has one only without residual blocks, a cnn one per
	// dense hidden layer; networks with tanh activations have none.
	Layer int `json:"layer,omitempty"`
}

// EpochMetrics are the metrics measured after one epoch of training: Epoch
// counts from 1, losses are the mean per-example loss (ModelSpec.Loss, without
// the weight-decay penalty) over the full training (noisy labels) and test
// (clean labels) sets, and accuracies are fractions in [0, 1].
//
// With a step budget that ends inside an epoch, the last entry describes that
// partial epoch. Step, LR and BatchSize record the number of updates so far,
// the learning rate of the epoch's last update and the epoch's batch size.
type EpochMetrics struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	TestLoss  float64 `json:"test_loss"`
	TestAcc   float64 `json:"test_acc"`
	Step      int     `json:"step,omitempty"`
	LR        float64 `json:"lr,omitempty"`
	BatchSize int     `json:"batch_size,omitempty"`
}

// Result is the outcome of a trial.
type Result struct {
	// Final metrics after training (on the full training and test sets).
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	TestLoss  float64 `json:"test_loss"`
	TestAcc   float64 `json:"test_acc"`
	// Diverged is set when the training loss became NaN or ±Inf; the metrics
	// and curve then describe the run up to that point and curvature is skipped.
	// The final metrics are then those of the last finite state (the last Curve
	// entry, or the initialization when the first epoch diverged), so a Result
	// is always finite and JSON-encodable.
	Diverged bool `json:"diverged"`
	// LambdaMax is the top (largest algebraic) Hessian eigenvalue λ₁ of the
	// training loss over the curvature examples, estimated by Lanczos.
	LambdaMax float64 `json:"lambda_max"`
	// LambdaResidual is ‖Hv − λ₁v‖ for the returned Ritz pair.
	LambdaResidual float64 `json:"lambda_residual"`
	// LambdaConverged reports whether the residual met the tolerance.
	LambdaConverged bool `json:"lambda_converged"`
	// HVPs is the number of Hessian-vector products used (Lanczos steps plus
	// one product that verifies the final residual).
	HVPs int `json:"hvps"`
	// Params is the number of trainable parameters P.
	Params int `json:"params"`
	// Curve holds the per-epoch metrics.
	Curve []EpochMetrics `json:"curve"`
	// Steps is the number of parameter updates performed.
	Steps int `json:"steps,omitempty"`
	// WarmStartSHA256 is the SHA-256 digest of the warm-start file actually
	// read (empty without warm start).
	WarmStartSHA256 string `json:"warm_start_sha256,omitempty"`
	// Measures holds the curvature and flatness measures requested by the
	// spec, by name (see the Measure constants for the names). Values that
	// are not finite are left out, never stored as NaN or ±Inf.
	Measures map[string]float64 `json:"measures,omitempty"`
	// Density is the stochastic Lanczos quadrature of the Hessian's spectral
	// density when MeasureDensity is selected (nil otherwise).
	Density *SpectralDensity `json:"density,omitempty"`
}

// MeasureSet is a set of measures (a bit set of the Measure constants). It
// is comparable, and encodes in JSON as the list of the measures' names in
// the canonical order of the Measure constants, so the order in which a user lists
// them does not change a trial's identity.
type MeasureSet uint32

// Measures selectable in CurvatureSpec.Measures. The names of the scalar
// results each one stores in Result.Measures are given with it; ε is
// formatted by EpsilonName ("1e-3", "5e-4").
const (
	// MeasureTopK: the K largest Hessian eigenvalues by Lanczos with full
	// reorthogonalization ("lambda_1" ≥ … ≥ "lambda_K"), the Negative most
	// negative ones ("lambda_min_1" ≤ "lambda_min_2" ≤ …), and whether every
	// wanted Ritz pair met ‖Hy − θy‖ ≤ tol·|θ| ("top_k_converged",
	// "lambda_min_converged": 1 or 0).
	MeasureTopK MeasureSet = 1 << iota
	// MeasureTrace: tr(H) by Hutchinson or Hutch++ ("trace") and its
	// standard error ("trace_se"; left out when undefined, i.e. with a single
	// Hutchinson probe).
	MeasureTrace
	// MeasureDensity: the SLQ spectral density of H, stored in
	// Result.Density (no scalar).
	MeasureDensity
	// MeasureEvidence: the Laplace evidence of Smith & Le with prior
	// precision λ on the summed cost C = M·L + (λ/2)‖θ‖²: "log_evidence" =
	// −C(θ) − ½ Σ ln(λᵢ/λ), "log_occam" = −½ Σ ln(λᵢ/λ), "log_occam_se" (SLQ
	// standard error), "log_det" = Σ ln λᵢ = log det ∇²C (after clipping),
	// and "occam_clipped", the fraction of spectral weight of ∇²C below λ
	// that was clipped to λ (0 with the Gauss–Newton operator).
	MeasureEvidence
	// MeasureKeskar: Keskar's ε-sharpness φ for every ε, in the full space
	// ("keskar_full_<ε>") and/or a random subspace of dimension p
	// ("keskar_sub_<ε>").
	MeasureKeskar
	// MeasureAdaptive: worst-case sharpness S_max ("adaptive_sharpness", or
	// "plain_sharpness" with c = 1) and average-case S_avg
	// ("adaptive_sharpness_avg" and "adaptive_sharpness_avg_se", or
	// "plain_sharpness_avg", "plain_sharpness_avg_se").
	MeasureAdaptive
	// MeasureRelative: Petzka's relative flatness κ of one Dense layer
	// ("relative_flatness", with "relative_flatness_se" when estimated by
	// Hutchinson).
	MeasureRelative
	// MeasureFisherRao: the squared Fisher–Rao norm ‖θ‖²_fr ("fisher_rao").
	MeasureFisherRao
	// MeasurePACBayes: the magnitude-aware PAC-Bayes noise scale σ'
	// ("pac_bayes_sigma") and flatness 1/σ'² ("pac_bayes_flatness").
	MeasurePACBayes

	measureEnd
)

// AllMeasures is the set of every measure.
const AllMeasures = measureEnd - 1

// measureNames lists the measures' names in canonical order (bit order).
var measureNames = [...]string{"top_k", "trace", "density", "evidence", "keskar", "adaptive", "relative", "fisher_rao", "pac_bayes"}

// ParseMeasure returns the measure called name: "top_k", "trace",
// "density", "evidence", "keskar", "adaptive", "relative", "fisher_rao"
// or "pac_bayes".
func ParseMeasure(name string) (MeasureSet, error) {
	for i, n := range measureNames {
		if n == name {
			return 1 << i, nil
		}
	}
	return 0, fmt.Errorf("unknown measure %q (want one of %s)", name, strings.Join(measureNames[:], ", "))
}

// Has reports whether every measure of m is in s.
func (s MeasureSet) Has(m MeasureSet) bool { return s&m == m }

// Names returns the names of the measures in s in canonical order.
func (s MeasureSet) Names() []string {
	var names []string
	for i, n := range measureNames {
		if s&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return names
}

// String returns the names joined by commas.
func (s MeasureSet) String() string { return strings.Join(s.Names(), ",") }

// MarshalJSON encodes s as the list of its names in canonical order.
func (s MeasureSet) MarshalJSON() ([]byte, error) {
	if s >= measureEnd {
		return nil, fmt.Errorf("measure set %#x has unknown bits", uint32(s))
	}
	names := s.Names()
	if names == nil {
		names = []string{}
	}
	return json.Marshal(names)
}

// UnmarshalJSON decodes a list of measure names (in any order, without
// repetition).
func (s *MeasureSet) UnmarshalJSON(b []byte) error {
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return fmt.Errorf("measures: %w", err)
	}
	var set MeasureSet
	for _, n := range names {
		m, err := ParseMeasure(n)
		if err != nil {
			return fmt.Errorf("measures: %w", err)
		}
		if set.Has(m) {
			return fmt.Errorf("measures: %q given twice", n)
		}
		set |= m
	}
	*s = set
	return nil
}

// Trace estimators accepted in TraceSpec.Method.
const (
	TraceHutchinson = "hutchinson"
	TraceHutchPP    = "hutchpp"
)

// Curvature operators accepted in EvidenceSpec.Operator.
const (
	OperatorHessian     = "hessian"
	OperatorGaussNewton = "gauss_newton"
)

// Keskar spaces accepted in KeskarSpec.Space.
const (
	SpaceFull     = "full"
	SpaceSubspace = "subspace"
	SpaceBoth     = "both"
)

// Norms accepted in AdaptiveSpec.Norm.
const (
	NormL2   = "l2"
	NormLInf = "linf"
)

// TopKSpec configures the extreme Hessian eigenvalues (curvature.LanczosTopK,
// started from a random unit vector, restarted with fresh random directions
// at invariant subspaces, residuals verified with K explicit products).
type TopKSpec struct {
	// K is the number of largest eigenvalues, 1 ≤ K ≤ P (default 5, capped
	// at P).
	K int `json:"k,omitempty"`
	// Negative is the number of most negative eigenvalues, 0 ≤ Negative ≤ P
	// (default 0: none), from a second Lanczos run.
	Negative int `json:"negative,omitempty"`
	// Tol > 0 is the relative residual tolerance ‖Hy − θy‖ ≤ Tol·|θ|
	// (default 1e-3).
	Tol float64 `json:"tol,omitempty"`
	// Steps ≥ 1 is the Lanczos step budget per run (default 100).
	Steps int `json:"steps,omitempty"`
}

// TraceSpec configures the trace estimate.
type TraceSpec struct {
	// Method is "hutchpp" (Hutch++, the default) or "hutchinson".
	Method string `json:"method,omitempty"`
	// Budget is the number of Hessian-vector products (default 99; ≥ 3 for
	// Hutch++, which spends a third on the sketch and a third on projecting
	// it).
	Budget int `json:"budget,omitempty"`
	// RelErr ≥ 0 stops early once trace_se ≤ RelErr·|trace| (default 0:
	// spend the whole budget).
	RelErr float64 `json:"rel_err,omitempty"`
}

// DensitySpec configures the SLQ spectral density.
type DensitySpec struct {
	// Runs ≥ 1 is the number of Rademacher start vectors (default 5).
	Runs int `json:"runs,omitempty"`
	// Steps ≥ 1 is the number of Lanczos steps per run (default 30).
	Steps int `json:"steps,omitempty"`
}

// EvidenceSpec configures the Laplace evidence (flatness.Evidence).
type EvidenceSpec struct {
	// Lambda > 0 is the prior precision λ (L2 strength of the summed cost;
	// default 1).
	Lambda float64 `json:"lambda,omitempty"`
	// Operator is the curvature K of the mean loss in ∇²C = M·K + λI:
	// "gauss_newton" (the default; PSD, so nothing is clipped) or "hessian"
	// (the exact Hessian; Ritz values below λ are clipped and reported).
	Operator string `json:"operator,omitempty"`
	// Runs and Steps configure the SLQ log-determinant (defaults 5 and 30).
	Runs  int `json:"runs,omitempty"`
	Steps int `json:"steps,omitempty"`
}

// MaxEpsilons is the largest number of Keskar box sizes in one spec.
const MaxEpsilons = 4

// Epsilons is a short list of positive Keskar box sizes ε held in a fixed
// array so that specs stay comparable: the list is the entries before the
// first zero. It encodes in JSON as that list.
type Epsilons [MaxEpsilons]float64

// List returns the box sizes (the entries before the first zero).
func (e Epsilons) List() []float64 {
	for i, x := range e {
		if x == 0 {
			return slices.Clone(e[:i])
		}
	}
	return slices.Clone(e[:])
}

// MarshalJSON encodes the list.
func (e Epsilons) MarshalJSON() ([]byte, error) {
	l := e.List()
	for _, x := range e[len(l):] {
		if x != 0 {
			return nil, fmt.Errorf("epsilons %v: a nonzero value follows a zero", e)
		}
	}
	return json.Marshal(l)
}

// UnmarshalJSON decodes a list of at most MaxEpsilons values.
func (e *Epsilons) UnmarshalJSON(b []byte) error {
	var l []float64
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("epsilons: %w", err)
	}
	if len(l) > MaxEpsilons {
		return fmt.Errorf("epsilons: %d values, at most %d allowed", len(l), MaxEpsilons)
	}
	*e = Epsilons{}
	copy(e[:], l)
	return nil
}

// KeskarSpec configures Keskar et al.'s ε-sharpness (flatness.KeskarSharpness,
// projected gradient ascent from y = 0 on the box C_ε).
type KeskarSpec struct {
	// Epsilons are the box sizes ε > 0, distinct (default [1e-3, 5e-4]).
	Epsilons Epsilons `json:"epsilons,omitzero"`
	// Space is "both" (the default), "full" (A = I) or "subspace" (A a
	// random P×p Gaussian matrix).
	Space string `json:"space,omitempty"`
	// Subspace is p, 1 ≤ p ≤ P (default 100, capped at P). The random
	// matrix A takes P·p·8 bytes and its thin SVD (for A⁺θ) as much again;
	// Validate rejects P·p above 2²⁷ values. The same A (drawn from the
	// trial seed) is used for every ε.
	Subspace int `json:"subspace,omitempty"`
	// Iterations ≥ 1 is the number of ascent iterations (default 10).
	Iterations int `json:"iterations,omitempty"`
}

// AdaptiveSpec configures worst- and average-case adaptive sharpness
// (flatness.AdaptiveSharpness and AverageSharpness).
type AdaptiveSpec struct {
	// Rho > 0 is the radius ρ (default 0.05).
	Rho float64 `json:"rho,omitempty"`
	// Norm is the worst-case ball: "l2" (the default) or "linf".
	Norm string `json:"norm,omitempty"`
	// Plain uses c = 1 (plain sharpness, not reparametrization-aware)
	// instead of c = |θ| (adaptive, the default).
	Plain bool `json:"plain,omitempty"`
	// Iterations ≥ 1 is the number of worst-case ascent iterations (default
	// 10).
	Iterations int `json:"iterations,omitempty"`
	// Samples ≥ 2 is the number of Monte Carlo draws of the average case
	// (default 20).
	Samples int `json:"samples,omitempty"`
}

// RelativeSpec configures Petzka et al.'s relative flatness
// (flatness.RelativeFlatness).
type RelativeSpec struct {
	// Layer selects the Dense layer among the network's top-level Dense
	// layers, counted from 1 at the input; 0 (the default) is the last one,
	// whose weight rows are Petzka et al.'s w_s.
	Layer int `json:"layer,omitempty"`
	// Exact computes κ with one product per weight of the layer; otherwise
	// Hutchinson with Budget products.
	Exact bool `json:"exact,omitempty"`
	// Budget ≥ 2 is the Hutchinson budget (default 50).
	Budget int `json:"budget,omitempty"`
}

// FisherRaoSpec configures the Fisher–Rao norm (flatness.FisherRao; one
// gradient per curvature example).
type FisherRaoSpec struct {
	// ModelLabels samples labels from the model's softmax (Liang et al.'s
	// model Fisher; mlp with cross-entropy only) instead of using the data
	// labels (the empirical Fisher, the default).
	ModelLabels bool `json:"model_labels,omitempty"`
	// IncludeBiases keeps the biases in the direction θ (default: weights
	// only).
	IncludeBiases bool `json:"include_biases,omitempty"`
}

// PACBayesSpec configures the magnitude-aware PAC-Bayes flatness
// (flatness.PACBayesFlatness with noise variance σ'²θᵢ² + 1e-6, σ' bisected
// on log scale in [1e-6, 10]; at the ends of that bracket σ' is the bound).
type PACBayesSpec struct {
	// Target ∈ (0, 1] is the largest allowed training-accuracy drop on the
	// curvature examples (default 0.1).
	Target float64 `json:"target,omitempty"`
	// Samples ≥ 1 is the number of noise draws per σ' (default 5).
	Samples int `json:"samples,omitempty"`
	// Steps ≥ 1 is the number of bisection steps (default 20).
	Steps int `json:"steps,omitempty"`
}

// SpectralDensity is the stochastic Lanczos quadrature of the Hessian's
// spectrum (curvature.SLQ): run r has nodes θ_{r,j} (Ritz values) and weights
// τ²_{r,j} (squared first components, Σ_j τ²_{r,j} = 1). The density is
// ρ(t) = P·mean_r Σ_j τ²_{r,j} N(t; θ_{r,j}, σ²), σ² = 1e-5·max(1, λ_max −
// λ_min), and tr f(H) ≈ P·mean_r Σ_j τ²_{r,j} f(θ_{r,j}).
type SpectralDensity struct {
	// Params is P.
	Params int `json:"params"`
	// Nodes[r] and Weights[r] are run r's θ_{r,j} and τ²_{r,j}.
	Nodes   [][]float64 `json:"nodes"`
	Weights [][]float64 `json:"weights"`
}
