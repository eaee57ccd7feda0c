package spec

// Trial is every value that changes a trial's outcome. A trial is a pure
// function of its spec: the same spec on the same binary and BLAS backend
// gives bit-identical results. Its JSON encoding (fields in declaration
// order, zero values omitted; see Canonical) is the form a worker receives,
// and its identity form (see Identity) the one ID hashes. Fields may be added
// (with omitempty, or omitzero for structs) but never renamed. Every field
// added after the first release is optional and its zero value means the
// original behaviour (plain SGD, constant schedules, no augmentation, fresh
// initialization, cross-entropy, no SAM, no weight averaging), so the
// identity of a spec that does not use it is unchanged.
type Trial struct {
	// Dataset selects the training and test data.
	Dataset Dataset `json:"dataset"`
	// Model is the network architecture.
	Model Model `json:"model"`
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
	Curvature Curvature `json:"curvature"`
	// Training holds the rest of the training procedure (its fields are
	// the trial's own in JSON: "steps", "weight_decay", "optimizer", …).
	Training
	// Command runs an external program instead of flatsweep's trainer
	// (zero value: flatsweep trains the model itself); see Command.
	Command Command `json:"command,omitzero"`
}

// Training is the training procedure besides the budget in epochs: the
// fields a sweep's train section shares with its trials. Every field is
// optional and its zero value means the original behaviour (a budget in
// epochs, no weight decay, plain SGD, constant schedules, no augmentation,
// fresh initialization, no SAM, no weight averaging, float64 training).
type Training struct {
	// Steps is the training budget in parameter updates, the alternative to
	// Epochs: exactly one of the two is > 0.
	Steps int `json:"steps,omitempty"`
	// WeightDecay is the L2 coefficient λ ≥ 0: training minimizes
	// L(θ) + (λ/2)‖θ‖² over all parameters, biases included (coupled L2, like
	// PyTorch's weight_decay). Reported losses and the curvature are those of
	// the unregularized loss L.
	WeightDecay float64 `json:"weight_decay,omitempty"`
	// Optimizer is the update rule (zero value: plain SGD).
	Optimizer Optimizer `json:"optimizer,omitzero"`
	// Schedule varies the learning rate and the batch size over the epochs
	// (zero value: both constant).
	Schedule Schedule `json:"schedule,omitzero"`
	// Augment configures training-time data augmentation (zero value: none).
	Augment Augment `json:"augment,omitzero"`
	// WarmStart starts training from saved weights instead of a fresh
	// initialization (zero value: fresh initialization from Seed).
	WarmStart WarmStart `json:"warm_start,omitzero"`
	// SAM selects sharpness-aware minimization (zero value: off, the update
	// uses the minibatch gradient).
	SAM SAM `json:"sam,omitzero"`
	// SWA selects stochastic weight averaging (zero value: off, the final
	// parameters are the last iterate).
	SWA SWA `json:"swa,omitzero"`
	// Stop ends training early at a fit target, the budget capping it (zero
	// value: train for the whole budget).
	Stop Stop `json:"stop,omitzero"`
	// PartialBatch says what an epoch does with the last N mod B examples
	// of its shuffle: "drop" (the default: ⌊N/B⌋ updates of exactly B
	// examples, so that the noise scale is the same at every update) or
	// "keep" (one more update on those examples, ⌈N/B⌉ per epoch; not with
	// m-sharpness).
	PartialBatch string `json:"partial_batch,omitempty"`
	// EvalEvery evaluates the full training and test sets (the per-epoch
	// curve and the Stop targets) after every EvalEvery-th epoch and the last
	// one instead of after every epoch (0 or 1), for long runs of short
	// epochs such as full-batch gradient descent, where an epoch is one
	// update.
	EvalEvery int `json:"eval_every,omitempty"`
	// Precision is the arithmetic of training: "float64" (the default, also
	// the meaning of "") or "float32" (mlp only, without batch
	// normalization, dropout or SAM). With "float32" the parameters, the
	// activations, the gradients, the matrix products and the updates of
	// training are float32 (the per-example losses, their sums and the bias
	// gradients are accumulated in float64); the trained float32 weights
	// are converted exactly to float64, and every reported quantity — the
	// per-epoch and final losses and accuracies, λ₁, the measures, the
	// tracked curvature, the landscape, the saved weights — is computed in
	// float64 on them, as for a float64 trial.
	Precision string `json:"precision,omitempty"`
}

// Values of Training.PartialBatch.
const (
	PartialDrop = "drop"
	PartialKeep = "keep"
)

// Dataset names accepted in Dataset.Name.
const (
	DatasetSynthetic    = "synthetic"
	DatasetMNIST        = "mnist"
	DatasetFashionMNIST = "fashion-mnist"
	DatasetKMNIST       = "kmnist"
	DatasetCIFAR10      = "cifar10"
)

// IsIDX reports whether name is a dataset stored as MNIST-format IDX files.
func IsIDX(name string) bool {
	return name == DatasetMNIST || name == DatasetFashionMNIST || name == DatasetKMNIST
}

// Dataset selects a dataset. The data depend only on the dataset spec, never
// on the trial seed, so every trial of a sweep sees the same examples.
//
// File datasets ("mnist", "fashion-mnist", "kmnist": MNIST-format IDX files;
// "cifar10": CIFAR-10 binary batches) are read from Dir or from explicit
// paths (see Dataset.Files). Relative paths resolve against the working
// directory of the process that reads them. A file dataset's identity is its
// content, not its paths: SHA256 is a digest of the files it reads (see
// Dataset.Digest), filled in where the sweep is submitted and checked by the
// worker before training, and the paths are left out of the trial's identity
// (see Identity). Moving the files keeps the trial IDs; changing them changes
// the IDs.
//
// With a training and a test source the N training examples are a seeded
// subsample (data.Set.Sample with Seed) of the training files and the NTest
// test examples one of the test files. With only training files (one IDX
// pair, or CIFAR-10 training batches alone) they are split deterministically
// (data.Set.Split with Seed): the last NTest examples of the shuffled file are
// the test set and the training set is a seeded subsample of N of the rest.
// Both are nested: for the same files and seed, the training set of N′ < N
// examples is the first N′ of the set of N.
type Dataset struct {
	// Name is the dataset: "synthetic" (embedded, generated from Seed),
	// "mnist", "fashion-mnist", "kmnist" or "cifar10".
	Name string `json:"name"`
	// N is the number of training examples.
	N int `json:"n"`
	// NTest is the number of test examples.
	NTest int `json:"n_test"`
	// Features is the input dimension of the synthetic task (default 16).
	Features int `json:"features,omitempty"`
	// Classes is the number of classes of the synthetic task (default 4).
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
	// with a standardizer fitted on the N training examples and applied to
	// both sets.
	Standardize bool `json:"standardize,omitempty"`
	// SHA256 is the content digest of a file dataset (see Dataset.Digest):
	// part of the identity in place of the paths. Empty for synthetic data.
	SHA256 string `json:"sha256,omitempty"`
}

// Architectures accepted in Model.Arch.
const (
	ArchMLP    = "mlp"
	ArchResMLP = "resmlp"
	ArchCNN    = "cnn"
)

// Activations accepted in Model.Activation.
const (
	ActivationReLU = "relu"
	ActivationTanh = "tanh"
)

// Losses accepted in Model.Loss.
const (
	LossCE  = "ce"
	LossMSE = "mse"
)

// Model describes the network (see Architecture for its exact layers):
//
//	"mlp":    Dense, act, …, Dense with the Hidden widths;
//	"resmlp": a Dense stem of Width, Blocks residual blocks
//	          a ↦ a + W₂ act(W₁a + b₁) + b₂, and a Dense output layer;
//	"cnn":    the Conv filter counts (5×5 "same" convolutions, each followed
//	          by the activation and 2×2 max-pooling), then dense hidden
//	          layers of the Hidden widths; image datasets only.
type Model struct {
	// Arch is the architecture: "mlp", "resmlp" or "cnn".
	Arch string `json:"arch"`
	// Hidden lists the hidden layer widths (mlp), or the dense layer widths
	// after the convolutions (cnn).
	Hidden []int `json:"hidden"`
	// Activation is the hidden nonlinearity: "relu" (the default) or "tanh".
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
	// BatchNorm inserts batch normalization after every hidden dense layer
	// and every convolution, before the activation (for resmlp: after the
	// stem's dense layer and the first dense layer of every block; PyTorch's
	// BatchNorm1d/2d, ε = 1e-5, momentum 0.1). Training normalizes by the
	// batch's statistics and updates the running ones; the metrics, the
	// curvature and every measure use evaluation mode, with the running
	// statistics (with swa, recomputed at the averaged parameters). It
	// needs batch_size ≥ 2.
	BatchNorm bool `json:"batchnorm,omitempty"`
	// Dropout is the probability p ∈ [0, 1) of inverted dropout after the
	// activation of every hidden dense layer (not after convolutions; for
	// resmlp after the stem's and every block's activation), applied while
	// training only, with masks drawn from the trial's seed and the update;
	// 0 is none.
	Dropout float64 `json:"dropout,omitempty"`
}

// Optimizer names accepted in Optimizer.Name.
const (
	OptimizerSGD  = "sgd"
	OptimizerAdam = "adam"
)

// Optimizer selects the update rule. The zero value is plain SGD. With
// gradient g of the minibatch loss:
//
//	SGD, heavy ball:  v ← m v + g,  θ ← θ − ε v
//	SGD, Nesterov:    v ← m v + g,  θ ← θ − ε (g + m v)
//	Adam:             m₁ ← β₁m₁ + (1−β₁)g,  m₂ ← β₂m₂ + (1−β₂)g²,
//	                  θ ← θ − ε m̂₁/(√m̂₂ + eps)  (bias-corrected moments)
//
// The noise scale of momentum SGD is g = εN/(B(1 − m)).
type Optimizer struct {
	// Name is "sgd" (also the meaning of "") or "adam".
	Name string `json:"name,omitempty"`
	// Momentum is the SGD momentum m ∈ [0, 1).
	Momentum float64 `json:"momentum,omitempty"`
	// Nesterov selects Nesterov momentum (needs m > 0).
	Nesterov bool `json:"nesterov,omitempty"`
	// Beta1, Beta2 ∈ [0, 1) and Eps > 0 are Adam's parameters (0: 0.9,
	// 0.999, 1e-8).
	Beta1 float64 `json:"beta1,omitempty"`
	Beta2 float64 `json:"beta2,omitempty"`
	Eps   float64 `json:"eps,omitempty"`
}

// Schedule varies the learning rate and the batch size over the epochs.
type Schedule struct {
	// LR is the learning-rate schedule.
	LR LRSchedule `json:"lr,omitzero"`
	// Batch is the batch-size schedule.
	Batch BatchSchedule `json:"batch,omitzero"`
}

// Learning-rate schedule kinds accepted in LRSchedule.Kind.
const (
	ScheduleConstant = "constant"
	ScheduleStep     = "step"
	ScheduleCosine   = "cosine"
)

// LRSchedule is a learning-rate schedule. Epochs count from 1 and a
// milestone M takes effect after M epochs.
type LRSchedule struct {
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

// BatchSchedule multiplies the batch size by Factor after each milestone
// epoch, as in Smith, Kindermans, Ying & Le (2018): growing B by k at a
// milestone keeps the noise scale of dividing ε by k. The batch size is
// clamped to N and the last partial batch of every epoch is dropped.
type BatchSchedule struct {
	// Milestones are strictly increasing epochs ≥ 1.
	Milestones []int `json:"milestones,omitempty"`
	// Factor k ≥ 2 multiplies B at each milestone.
	Factor int `json:"factor,omitempty"`
}

// Augment configures training-time data augmentation of image datasets.
type Augment struct {
	// Shift is the largest random translation s in pixels: every training
	// example of every batch is shifted by (dy, dx) drawn uniformly from
	// {−s, …, s}², with zero fill; 0 disables it.
	Shift int `json:"shift,omitempty"`
}

// WarmStart starts training from saved weights. Like a dataset's, its
// identity is its content: SHA256 (filled in where the sweep is submitted,
// see FileDigest) is part of the trial's identity and Path is not; the
// process running the trial refuses a file whose digest differs. The
// optimizer state (momentum, Adam moments) starts at zero.
type WarmStart struct {
	// Path is a safetensors file written by flatsweep (or a PyTorch
	// state_dict of the same network, any architecture).
	Path string `json:"path,omitempty"`
	// SHA256 is the lowercase hex SHA-256 digest of the file's content.
	SHA256 string `json:"sha256,omitempty"`
}

// SAM selects sharpness-aware minimization (Foret, Kleiner, Mobahi &
// Neyshabur 2021, arXiv 2010.01412), its adaptive variant ASAM (Kwon, Kim,
// Park & Choi 2021, arXiv 2102.11600) and m-sharpness. The zero value is
// off. With ρ > 0 every update evaluates two gradients of its batch β and
// passes the second to the optimizer's update rule (SGD, momentum, Adam),
// which is otherwise unchanged:
//
//	g = ∇L_β(θ),   θ ← update(θ, ∇L_β(θ + e), ε)
//	SAM:   e = ρ g / ‖g‖₂
//	ASAM:  e = ρ T² g / ‖T g‖₂,   T = diag(|θ_i| + η) on weights, 1 on biases
//
// with e = 0 when the norm is 0. With m-sharpness (M = m > 0) the batch of B
// examples is split into B/m consecutive sub-batches of m examples, each
// with its own e_k from its own gradient, and the update uses the mean of
// the B/m gradients at θ + e_k; m must divide every batch size of the trial
// (batch_size and, under a batch-size schedule, every scheduled size,
// clamped to N). Weight decay is part of L_β, so of both gradients. Each
// update costs two batch gradients (Result.Gradients = 2·Steps).
type SAM struct {
	// Rho is the neighbourhood radius ρ ≥ 0; ρ > 0 enables SAM (Foret et al.
	// use ρ ≈ 0.05; ASAM needs larger radii, ρ ≈ 0.5–2).
	Rho float64 `json:"rho,omitempty"`
	// Adaptive selects ASAM (needs ρ > 0).
	Adaptive bool `json:"adaptive,omitempty"`
	// Eta is ASAM's η > 0 (0: default 0.01; only with Adaptive).
	Eta float64 `json:"eta,omitempty"`
	// M is the m-sharpness sub-batch size m ≥ 0 (0: the whole batch, i.e.
	// ordinary SAM; needs ρ > 0).
	M int `json:"m,omitempty"`
}

// SWA selects stochastic weight averaging (Izmailov, Podoprikhin, Garipov,
// Vetrov & Wilson 2018, arXiv 1803.05407). With Start = s ≥ 1 the trial's
// final parameters are the mean of the iterates at the ends of epochs
// s, s+1, …, E (the last, partial epoch of a step budget included):
//
//	θ_swa = (1/(E − s + 1)) Σ_{e=s}^{E} θ_e.
//
// The final metrics and every curvature measure are those of θ_swa; the
// per-epoch curve keeps the iterates'. The networks have no batch
// normalization, so no statistics are recomputed at θ_swa.
type SWA struct {
	// Start is the first averaged epoch s, in 1…epochs (0: off).
	Start int `json:"start,omitempty"`
}
