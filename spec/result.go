package spec

import "math"

// EpochMetrics are the metrics measured after one epoch of training: Epoch
// counts from 1, losses are the mean per-example loss (Model.Loss, without the
// weight-decay penalty) over the full training (noisy labels) and test (clean
// labels) sets, and accuracies are fractions in [0, 1].
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

// Result is the outcome of a trial: what its spec produced.
type Result struct {
	// Final metrics after training (on the full training and test sets).
	TrainLoss float64 `json:"train_loss"`
	TrainAcc  float64 `json:"train_acc"`
	TestLoss  float64 `json:"test_loss"`
	TestAcc   float64 `json:"test_acc"`
	// Diverged is set when the training loss became NaN or ±Inf; the metrics
	// and curve then describe the run up to that point and curvature is
	// skipped. The final metrics are then those of the last finite state (the
	// last Curve entry, or the initialization when the first epoch diverged),
	// so a Result is always finite and JSON-encodable.
	Diverged bool `json:"diverged"`
	// LambdaMax is the top (largest algebraic) Hessian eigenvalue λ₁ of the
	// training loss over the curvature examples, estimated by Lanczos: with
	// the top_k measure selected, the first value of its run ("lambda_1",
	// bit for bit), which also meets Curvature.Tol.
	LambdaMax float64 `json:"lambda_max"`
	// LambdaResidual is ‖Hv − λ₁v‖ for the returned Ritz pair.
	LambdaResidual float64 `json:"lambda_residual"`
	// LambdaConverged reports whether the residual met the tolerance.
	LambdaConverged bool `json:"lambda_converged"`
	// HVPs is the number of Hessian-vector products of the Lanczos run that
	// gave λ₁ (its steps plus one product that verifies λ₁'s residual); with
	// top_k selected, that run also gave the top_k values.
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
	// spec, by name (see Measure.Records). Values that are not finite are
	// left out, never stored as NaN or ±Inf.
	Measures map[string]float64 `json:"measures,omitempty"`
	// Density is the stochastic Lanczos quadrature of the Hessian's spectral
	// density when the density measure is selected (nil otherwise).
	Density *SpectralDensity `json:"density,omitempty"`
	// Gradients is the number of minibatch gradient evaluations training
	// took: Steps for SGD and Adam, 2·Steps with SAM or ASAM (the gradient
	// at θ and the one at the perturbed point). Zero in results stored
	// before it was counted.
	Gradients int `json:"gradients,omitempty"`
	// Sharpness is λ₁ along training, when Curvature.Track asks for it: one
	// point per measurement, in training order (nil otherwise).
	Sharpness []SharpnessPoint `json:"sharpness,omitempty"`
	// Landscape is the loss landscape around the final θ, when
	// Curvature.Landscape asks for it (nil otherwise).
	Landscape *Landscape `json:"landscape,omitempty"`
	// TargetReached reports that training stopped at the targets of the
	// trial's Stop (false without targets, or when the budget ran out
	// first).
	TargetReached bool `json:"target_reached,omitempty"`
	// CurvatureExamples is the number M of training examples λ₁ and the
	// measures were taken over, and CurvatureIndices their indices into the
	// training set in increasing order when they are a subset (nil for the
	// whole set). Zero and nil in results stored before they were recorded.
	CurvatureExamples int   `json:"curvature_examples,omitempty"`
	CurvatureIndices  []int `json:"curvature_indices,omitempty"`
	// Costs account for the work of the curvature: one entry per piece of
	// work, in the order it ran (see MeasureCost for the names). Nil in
	// results stored before costs were recorded.
	Costs []MeasureCost `json:"costs,omitempty"`
	// TrainSeconds and CurvatureSeconds are the wall-clock seconds of
	// training (including tracking along training) and of λ₁ with the
	// measures (including Dinh's check and the landscape). Like every
	// MeasureCost.Seconds they are measurements, not functions of the spec:
	// WithoutTimes clears them for comparisons of results.
	TrainSeconds     float64 `json:"train_seconds,omitempty"`
	CurvatureSeconds float64 `json:"curvature_seconds,omitempty"`
	// External marks a result produced by an external program (a command
	// trial, see Command): its metrics and curve are the program's, which
	// flatsweep cannot promise to be bit-identical across retries (the
	// curvature it measures on the program's weights is a deterministic
	// function of those weights).
	External bool `json:"external,omitempty"`
	// TestCorrect records which test examples the final model classifies
	// correctly, one bit per example in the test set's order (bit i is byte
	// i/8's bit i mod 8, the low bit first), TestExamples bits in all, so that
	// TestAcc = popcount(TestCorrect)/TestExamples exactly. Trials scored on
	// the same test set can then be compared image by image (a paired
	// comparison), whose error is far smaller than that of two independent
	// test sets. Empty for results without it (a diverged run, a command
	// trial, results stored before it was recorded).
	TestCorrect  []byte `json:"test_correct,omitempty"`
	TestExamples int    `json:"test_examples,omitempty"`
}

// CorrectBits packs per-example correctness into the TestCorrect layout:
// bit i is correct[i].
func CorrectBits(correct []bool) []byte {
	b := make([]byte, (len(correct)+7)/8)
	for i, c := range correct {
		if c {
			b[i/8] |= 1 << (i % 8)
		}
	}
	return b
}

// TestCorrectAt reports whether test example i was classified correctly
// (false when i is outside TestCorrect).
func (r Result) TestCorrectAt(i int) bool {
	return i >= 0 && i < r.TestExamples && i/8 < len(r.TestCorrect) && r.TestCorrect[i/8]&(1<<(i%8)) != 0
}

// Names of MeasureCost entries that are not measures of the registry.
const (
	// CostHessian is the set-up of the cached Hessian operator: one forward
	// and backward pass over the curvature examples (Gradients 1).
	CostHessian = "hessian"
	// CostLambdaMax is the Lanczos run of λ₁ when top_k is not selected.
	// With top_k, λ₁ is the first value of the top_k run, whose entry then
	// carries the work.
	CostLambdaMax = "lambda_max"
	// CostLandscape is the loss landscape (Losses: grid points evaluated).
	CostLandscape = "landscape"
)

// MeasureCost is what one piece of a trial's curvature work cost: a measure
// of the registry by its name (with spec.DinhSuffix when taken at T_α θ), or
// CostHessian, CostLambdaMax or CostLandscape.
type MeasureCost struct {
	Measure string `json:"measure"`
	// HVPs counts Hessian-vector products (or Gauss–Newton products, for
	// evidence with operator gauss_newton), Gradients full-batch gradient
	// evaluations and Losses full-batch loss (or accuracy) evaluations over
	// the curvature examples, as applied, not as planned.
	HVPs      int `json:"hvps,omitempty"`
	Gradients int `json:"gradients,omitempty"`
	Losses    int `json:"losses,omitempty"`
	// Seconds is its wall-clock time (a measurement: see WithoutTimes).
	Seconds float64 `json:"seconds"`
	// Residuals are the relative convergence residuals of its iterative
	// solves, where it has any: ‖Hy − θy‖/|θ| of every wanted Ritz pair
	// (lambda_max: λ₁; top_k: λ₁ … λ_K, then the most negative ones), the
	// relative standard error SE/|tr| of a trace estimate.
	Residuals []float64 `json:"residuals,omitempty"`
}

// WithoutTimes returns r with its wall-clock seconds (TrainSeconds,
// CurvatureSeconds and every MeasureCost.Seconds) set to 0: the part of a
// result that is a deterministic function of its spec. It does not modify r.
func (r Result) WithoutTimes() Result {
	r.TrainSeconds, r.CurvatureSeconds = 0, 0
	if r.Costs != nil {
		costs := make([]MeasureCost, len(r.Costs))
		for i, c := range r.Costs {
			c.Seconds = 0
			costs[i] = c
		}
		r.Costs = costs
	}
	return r
}

// CurvatureMeasured reports whether the result's λ₁ was measured: always for
// flatsweep's own trials (unless diverged), and for an external result only
// when flatsweep measured the weights the program wrote (HVPs > 0).
func (r Result) CurvatureMeasured() bool {
	return !r.Diverged && (!r.External || r.HVPs > 0)
}

// SharpnessPoint is one measurement of the curvature along training (see
// Track): the top Hessian eigenvalue λ₁ of the loss over the tracking
// examples at the parameters after Step updates, with the stability limit of
// the update rule at the learning rate then in use.
type SharpnessPoint struct {
	// Epoch is the epoch in progress (or just completed) and Step the number
	// of updates taken when the measurement was made (0: the initialization).
	Epoch int `json:"epoch"`
	Step  int `json:"step"`
	// LR is the learning rate ε of the next update (that of the last one for
	// the final point).
	LR float64 `json:"lr"`
	// LambdaMax is λ₁, with the residual ‖Hv − λ₁v‖ of its Ritz pair and
	// whether it met the tracking tolerance.
	LambdaMax       float64 `json:"lambda_max"`
	LambdaResidual  float64 `json:"lambda_residual"`
	LambdaConverged bool    `json:"lambda_converged"`
	// TopK holds the k largest eigenvalues, largest first, when Track.TopK
	// is ≥ 2 (TopK[0] = LambdaMax).
	TopK []float64 `json:"top_k,omitempty"`
	// Trace is Hutchinson's estimate of tr(H) when Track.TraceProbes > 0.
	Trace float64 `json:"trace,omitempty"`
	// HVPs is the number of Hessian-vector products the measurement took.
	HVPs int `json:"hvps"`
	// StabilityLimit is the largest λ₁ at which the update rule is stable on
	// a quadratic with that curvature: 2/ε for SGD, (2 + 2β)/ε for heavy-ball
	// momentum β and (2 + 2β)/((1 + 2β)ε) for Nesterov momentum (see
	// StabilityLimit); 0 for Adam, whose limit depends on its preconditioner.
	StabilityLimit float64 `json:"stability_limit,omitempty"`
}

// Kinds of Landscape.
const (
	Landscape1D   = "1d"
	Landscape2D   = "2d"
	LandscapeLine = "line"
)

// Landscape is the loss and accuracy on a 1-D or 2-D grid of parameters:
// θ(a, b) = θ₀ + a·d₁ + b·d₂ for a in A and b in B (B empty for a 1-D
// slice or line). Values are stored row-major with a varying fastest:
// TrainLoss[j·len(A) + i] is the loss at (A[i], B[j]).
type Landscape struct {
	// Kind is "1d" or "2d" (filter-normalized random directions around a
	// minimum, Li et al. 2018) or "line" (the straight line between two
	// parameter vectors, θ(α) = (1 − α)θ₀ + αθ₁, Keskar et al. 2017).
	Kind string    `json:"kind"`
	A    []float64 `json:"a"`
	B    []float64 `json:"b,omitempty"`
	// TrainLoss, TrainAcc, TestLoss and TestAcc are the mean loss and the
	// accuracy over Examples training and TestExamples test examples at each
	// grid point.
	TrainLoss []float64 `json:"train_loss"`
	TrainAcc  []float64 `json:"train_acc"`
	TestLoss  []float64 `json:"test_loss"`
	TestAcc   []float64 `json:"test_acc"`
	// Examples and TestExamples are the numbers of training and test
	// examples evaluated (fixed subsets drawn from the trial seed when
	// smaller than the sets).
	Examples     int `json:"examples"`
	TestExamples int `json:"test_examples"`
	// Evaluations is the number of grid points evaluated, each a forward
	// pass over Examples + TestExamples examples (the cost of the slice).
	Evaluations int `json:"evaluations"`
}

// SpectralDensity is the stochastic Lanczos quadrature of the Hessian's
// spectrum: run r has nodes θ_{r,j} (Ritz values) and weights τ²_{r,j}
// (squared first components, Σ_j τ²_{r,j} = 1). The density is
// ρ(t) = P·mean_r Σ_j τ²_{r,j} N(t; θ_{r,j}, σ²), σ² = 1e-5·max(1, λ_max −
// λ_min), and tr f(H) ≈ P·mean_r Σ_j τ²_{r,j} f(θ_{r,j}).
type SpectralDensity struct {
	// Params is P.
	Params int `json:"params"`
	// Nodes[r] and Weights[r] are run r's θ_{r,j} and τ²_{r,j}.
	Nodes   [][]float64 `json:"nodes"`
	Weights [][]float64 `json:"weights"`
}

// Bin is one histogram bin [Lo, Hi) of a spectral density with its
// estimated eigenvalue count.
type Bin struct {
	Lo    float64 `json:"lo"`
	Hi    float64 `json:"hi"`
	Count float64 `json:"count"`
}

// Histogram bins the quadrature nodes into n equal bins of their range,
// weighting node j of run r by P·τ²_{r,j}/runs, so that each bin's count
// estimates the number of eigenvalues in it (the counts sum to P). The last
// bin is closed. It returns nil for a density without nodes.
func (d SpectralDensity) Histogram(n int) []Bin {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, nodes := range d.Nodes {
		for _, t := range nodes {
			lo, hi = min(lo, t), max(hi, t)
		}
	}
	if !(hi >= lo) || n < 1 {
		return nil
	}
	if hi == lo {
		n = 1
	}
	bins := make([]Bin, n)
	w := (hi - lo) / float64(n)
	for i := range bins {
		bins[i].Lo, bins[i].Hi = lo+float64(i)*w, lo+float64(i+1)*w
	}
	bins[n-1].Hi = hi
	scale := float64(d.Params) / float64(len(d.Nodes))
	for r, nodes := range d.Nodes {
		for j, t := range nodes {
			i := n - 1
			if w > 0 {
				i = min(int((t-lo)/w), n-1)
			}
			bins[i].Count += scale * d.Weights[r][j]
		}
	}
	return bins
}

// ZeroRow returns where the values of the landscape's row nearest b = 0
// start (j·len(A) for the b_j of least |b_j|) and that b_j: 0 and 0 for a
// line or 1-D slice, whose one row is all of it.
func (l Landscape) ZeroRow() (offset int, b float64) {
	if len(l.B) == 0 {
		return 0, 0
	}
	j := 0
	for k, bk := range l.B {
		if math.Abs(bk) < math.Abs(l.B[j]) {
			j = k
		}
	}
	return j * len(l.A), l.B[j]
}
