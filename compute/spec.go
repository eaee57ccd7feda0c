package compute

// TrialSpec is every value that changes a trial's outcome. A trial is a pure
// function of its spec: the same spec on the same binary and BLAS backend gives
// bit-identical results. The JSON encoding of a TrialSpec (fields in declaration
// order, zero values omitted) is its canonical form; sweeps hashes it to obtain
// the stable trial ID, so fields may be added (with omitempty) but never renamed.
type TrialSpec struct {
	// Dataset selects the training and test data.
	Dataset DatasetSpec `json:"dataset"`
	// Model is the network architecture.
	Model ModelSpec `json:"model"`
	// BatchSize is the minibatch size B (1 ≤ B ≤ N).
	BatchSize int `json:"batch_size"`
	// LR is the SGD learning rate ε (finite, > 0).
	LR float64 `json:"lr"`
	// Epochs is the training budget in passes over the N training examples.
	Epochs int `json:"epochs"`
	// Seed drives every random draw of the trial that is not part of the data:
	// initialization, batch order and curvature probe vectors.
	Seed int64 `json:"seed"`
	// Curvature configures the curvature measures computed after training.
	Curvature CurvatureSpec `json:"curvature"`
}

// DatasetSpec selects a dataset. The data depend only on the dataset spec, never
// on the trial seed, so every trial of a sweep sees the same examples.
type DatasetSpec struct {
	// Name is the dataset: "synthetic" (embedded, generated from Seed).
	Name string `json:"name"`
	// N is the number of training examples.
	N int `json:"n"`
	// NTest is the number of test examples.
	NTest int `json:"n_test"`
	// Features is the input dimension of the synthetic task.
	Features int `json:"features,omitempty"`
	// Classes is the number of classes of the synthetic task.
	Classes int `json:"classes,omitempty"`
	// LabelNoise is the fraction of synthetic training labels replaced by a
	// uniformly drawn class (test labels stay clean).
	LabelNoise float64 `json:"label_noise,omitempty"`
	// Seed generates the synthetic data and selects subsets of file data.
	Seed int64 `json:"seed"`
}

// ModelSpec describes the network.
type ModelSpec struct {
	// Arch is the architecture: "mlp".
	Arch string `json:"arch"`
	// Hidden lists the hidden layer widths.
	Hidden []int `json:"hidden"`
	// Activation is the hidden nonlinearity: "relu".
	Activation string `json:"activation"`
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
}

// EpochMetrics are the metrics measured after one epoch of training: Epoch
// counts from 1, losses are the mean per-example softmax cross-entropy over the
// full training (noisy labels) and test (clean labels) sets, and accuracies are
// fractions in [0, 1].
type EpochMetrics struct {
	Epoch     int     `json:"epoch"`
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	TestLoss  float64 `json:"test_loss"`
	TestAcc   float64 `json:"test_acc"`
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
}
