package spec

import (
	"fmt"
	"math"
	"regexp"
	"slices"
)

// Limits guarding against specs that would exhaust memory.
const (
	maxExamples     = 1 << 24 // n + n_test
	maxWidth        = 1 << 16 // features, classes, hidden widths, filters
	maxBlocks       = 1 << 12 // residual blocks
	maxFactor       = 1 << 20 // batch-size schedule factor
	maxDataFloats   = 1 << 28 // (n + n_test)·features
	MaxLanczosSteps = 10000   // curvature.lanczos_steps and every Lanczos budget
)

// Validate checks every field of the trial and returns a *FieldError naming
// the first offending field (by its JSON path) and its value. It needs no
// file and builds no network: the network's layers come from Architecture.
// Checks that need the files (their sizes, their digest) are the engine's,
// when the trial runs.
func (t Trial) Validate() error {
	if err := t.validateDataset(); err != nil {
		return err
	}
	a, err := t.validateModel()
	if err != nil && !t.modelOptional() {
		return err
	}
	for _, check := range []func() error{t.validateTraining, t.validateOptimizer, t.validateSchedule, t.validateSAM, t.samDivides, t.validatePrecision} {
		if err := check(); err != nil {
			return err
		}
	}
	if !t.modelOptional() {
		if err := t.validateCurvature(a); err != nil {
			return err
		}
	}
	return t.validateCommand()
}

// modelOptional reports whether the trial is a command trial without a
// model section: the program's weights are then not measured, and the
// model and curvature sections are not checked.
func (t Trial) modelOptional() bool { return t.IsCommand() && t.Model.Arch == "" }

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (t Trial) validateDataset() error {
	ds := t.Dataset
	in := t.Input()
	switch {
	case ds.Name != DatasetSynthetic && !IsIDX(ds.Name) && ds.Name != DatasetCIFAR10:
		return invalid("dataset.name", ds.Name, `unknown dataset; expected "synthetic", "mnist", "fashion-mnist", "kmnist" or "cifar10"`)
	case ds.N < 1:
		return invalid("dataset.n", ds.N, "must be > 0 (the number of training examples)")
	case ds.NTest < 1:
		return invalid("dataset.n_test", ds.NTest, "must be > 0 (the number of test examples)")
	case ds.NTest > maxExamples:
		return invalid("dataset.n_test", ds.NTest, fmt.Sprintf("must be ≤ %d", maxExamples))
	case ds.N > maxExamples-ds.NTest:
		return invalid("dataset.n", ds.N, fmt.Sprintf("n + n_test must be ≤ %d", maxExamples))
	case ds.Features < 0 || ds.Features > maxWidth:
		return invalid("dataset.features", ds.Features, fmt.Sprintf("must be in [1, %d] (0: default %d)", maxWidth, DefaultFeatures))
	case ds.Classes != 0 && (ds.Classes < 2 || ds.Classes > maxWidth):
		return invalid("dataset.classes", ds.Classes, fmt.Sprintf("must be in [2, %d] (0: default %d)", maxWidth, DefaultClasses))
	case !(ds.LabelNoise >= 0 && ds.LabelNoise < 1):
		return invalid("dataset.label_noise", ds.LabelNoise, "must be in [0, 1) (the fraction of training labels replaced)")
	case float64(ds.N+ds.NTest)*float64(in.Features) > maxDataFloats:
		return invalid("dataset.n", ds.N, fmt.Sprintf("(n + n_test)·features = (%d + %d)·%d must be ≤ %d", ds.N, ds.NTest, in.Features, maxDataFloats))
	case ds.SHA256 != "" && !sha256Hex.MatchString(ds.SHA256):
		return invalid("dataset.sha256", ds.SHA256, "must be 64 lowercase hex digits (the content digest, see Dataset.Digest)")
	}
	if ds.Name != DatasetSynthetic {
		switch {
		case ds.Features != 0:
			return invalid("dataset.features", ds.Features, "only for the synthetic dataset (file datasets fix it)")
		case ds.Classes != 0:
			return invalid("dataset.classes", ds.Classes, "only for the synthetic dataset (file datasets fix it)")
		}
	} else if ds.SHA256 != "" {
		return invalid("dataset.sha256", ds.SHA256, "only for file datasets (synthetic data is generated from the spec)")
	}
	return t.validateSources()
}

// validateSources checks the file fields of the dataset.
func (t Trial) validateSources() error {
	ds := t.Dataset
	idx := []struct{ field, path string }{{"dataset.train_images", ds.TrainImages}, {"dataset.train_labels", ds.TrainLabels},
		{"dataset.test_images", ds.TestImages}, {"dataset.test_labels", ds.TestLabels}}
	idxSet := slices.IndexFunc(idx, func(f struct{ field, path string }) bool { return f.path != "" })
	batchSet := ""
	if len(ds.TrainBatches) > 0 {
		batchSet = "dataset.train_batches"
	} else if len(ds.TestBatches) > 0 {
		batchSet = "dataset.test_batches"
	}
	switch {
	case ds.Name == DatasetSynthetic && ds.Dir != "":
		return invalid("dataset.dir", ds.Dir, "only for file datasets")
	case !IsIDX(ds.Name) && idxSet >= 0:
		return invalid(idx[idxSet].field, idx[idxSet].path, "IDX files are only for mnist, fashion-mnist and kmnist")
	case ds.Name != DatasetCIFAR10 && batchSet != "":
		return invalid(batchSet, literal("[…]"), "batch files are only for cifar10")
	case ds.Name == DatasetSynthetic:
		return nil
	case ds.Dir != "" && idxSet >= 0:
		return invalid(idx[idxSet].field, idx[idxSet].path, "give dataset.dir or explicit files, not both")
	case ds.Dir != "" && batchSet != "":
		return invalid(batchSet, literal("[…]"), "give dataset.dir or explicit files, not both")
	case ds.Dir != "":
		return nil
	case IsIDX(ds.Name) && ds.TrainImages == "":
		return invalid("dataset.train_images", "", "required with explicit IDX files (or give dataset.dir)")
	case IsIDX(ds.Name) && ds.TrainLabels == "":
		return invalid("dataset.train_labels", "", "required with dataset.train_images")
	case IsIDX(ds.Name) && ds.TestImages == "" && ds.TestLabels != "":
		return invalid("dataset.test_images", "", "required with dataset.test_labels")
	case IsIDX(ds.Name) && ds.TestLabels == "" && ds.TestImages != "":
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

func (t Trial) validateModel() (Architecture, error) {
	m := t.Model
	switch m.Arch {
	case ArchMLP, ArchResMLP, ArchCNN:
	default:
		return Architecture{}, invalid("model.arch", m.Arch, `unknown architecture; expected "mlp", "resmlp" or "cnn"`)
	}
	switch {
	case m.Activation != "" && m.Activation != ActivationReLU && m.Activation != ActivationTanh:
		return Architecture{}, invalid("model.activation", m.Activation, `unknown activation; expected "relu" or "tanh"`)
	case m.Loss != "" && m.Loss != LossCE && m.Loss != LossMSE:
		return Architecture{}, invalid("model.loss", m.Loss, `unknown loss; expected "ce" or "mse"`)
	case m.Arch == ArchMLP && len(m.Hidden) == 0:
		return Architecture{}, invalid("model.hidden", literal("[]"), "an mlp needs at least one hidden layer width, such as [64, 64]")
	case m.Arch != ArchResMLP && m.Width != 0:
		return Architecture{}, invalid("model.width", m.Width, "only for resmlp")
	case m.Arch != ArchResMLP && m.Blocks != 0:
		return Architecture{}, invalid("model.blocks", m.Blocks, "only for resmlp")
	case m.Arch != ArchCNN && len(m.Conv) > 0:
		return Architecture{}, invalid("model.conv", m.Conv, "only for cnn")
	case m.Arch == ArchResMLP && len(m.Hidden) > 0:
		return Architecture{}, invalid("model.hidden", m.Hidden, "not used by resmlp (give model.width and model.blocks)")
	case m.Arch == ArchResMLP && (m.Width < 1 || m.Width > maxWidth):
		return Architecture{}, invalid("model.width", m.Width, fmt.Sprintf("must be in [1, %d] (the residual stream width)", maxWidth))
	case m.Arch == ArchResMLP && (m.Blocks < 0 || m.Blocks > maxBlocks):
		return Architecture{}, invalid("model.blocks", m.Blocks, fmt.Sprintf("must be in [0, %d]", maxBlocks))
	case m.Arch == ArchCNN && !t.Input().Image.IsImage():
		return Architecture{}, invalid("model.arch", m.Arch, fmt.Sprintf("needs an image dataset, not %q", t.Dataset.Name))
	case m.Arch == ArchCNN && len(m.Conv) == 0:
		return Architecture{}, invalid("model.conv", literal("[]"), "cnn needs at least one convolution stage")
	case !(m.Dropout >= 0 && m.Dropout < 1):
		return Architecture{}, invalid("model.dropout", m.Dropout, "must be in [0, 1) (the probability of dropping a hidden unit while training; 0: none)")
	case m.BatchNorm && t.BatchSize == 1:
		return Architecture{}, invalid("model.batchnorm", true, "needs batch_size ≥ 2 (batch statistics of a single example are undefined)")
	}
	for i, h := range m.Hidden {
		if h < 1 || h > maxWidth {
			return Architecture{}, invalid(fmt.Sprintf("model.hidden[%d]", i), h, fmt.Sprintf("must be in [1, %d] (a hidden layer width)", maxWidth))
		}
	}
	for i, f := range m.Conv {
		if f < 1 || f > maxWidth {
			return Architecture{}, invalid(fmt.Sprintf("model.conv[%d]", i), f, fmt.Sprintf("must be in [1, %d] (a filter count)", maxWidth))
		}
	}
	return t.Architecture()
}

func (t Trial) validateTraining() error {
	ds := t.Dataset
	switch {
	case t.BatchSize < 1 || t.BatchSize > ds.N:
		return invalid("batch_size", t.BatchSize, fmt.Sprintf("batch size must be an integer in 1…dataset.n (%d)", ds.N))
	case !finite(t.LR) || t.LR <= 0:
		return invalid("lr", t.LR, "learning rate must be finite and > 0")
	case t.Epochs < 0:
		return invalid("epochs", t.Epochs, "must be ≥ 1 (or 0 with a budget in steps)")
	case t.Steps < 0:
		return invalid("steps", t.Steps, "must be ≥ 1 (or 0 with a budget in epochs)")
	case t.Epochs == 0 && t.Steps == 0:
		return invalid("epochs", t.Epochs, "must be ≥ 1 (or give a budget in steps)")
	case t.Epochs > 0 && t.Steps > 0:
		return invalid("steps", t.Steps, fmt.Sprintf("give a budget in epochs (%d) or in steps, not both", t.Epochs))
	case !finite(t.WeightDecay) || t.WeightDecay < 0:
		return invalid("weight_decay", t.WeightDecay, "weight decay must be finite and ≥ 0")
	case t.Augment.Shift < 0:
		return invalid("augment.shift", t.Augment.Shift, "must be ≥ 0")
	}
	if s := t.Augment.Shift; s > 0 {
		img := t.Input().Image
		if !img.IsImage() {
			return invalid("augment.shift", s, fmt.Sprintf("needs an image dataset, not %q", ds.Name))
		}
		if s >= min(img.H, img.W) {
			return invalid("augment.shift", s, fmt.Sprintf("must be < %d (the image size)", min(img.H, img.W)))
		}
	}
	w := t.WarmStart
	switch {
	case w.SHA256 != "" && w.Path == "":
		return invalid("warm_start.sha256", w.SHA256, "needs warm_start.path")
	case w.SHA256 != "" && !sha256Hex.MatchString(w.SHA256):
		return invalid("warm_start.sha256", w.SHA256, "must be 64 lowercase hex digits")
	}
	return nil
}

func (t Trial) validateOptimizer() error {
	o := t.Optimizer
	adam := o.Name == OptimizerAdam
	switch {
	case o.Name != "" && o.Name != OptimizerSGD && !adam:
		return invalid("optimizer.name", o.Name, `unknown optimizer; expected "sgd" or "adam"`)
	case !(o.Momentum >= 0 && o.Momentum < 1):
		return invalid("optimizer.momentum", o.Momentum, "momentum must be in [0, 1)")
	case adam && o.Momentum != 0:
		return invalid("optimizer.momentum", o.Momentum, "only for sgd (Adam's momentum is beta1)")
	case o.Nesterov && (adam || o.Momentum == 0):
		return invalid("optimizer.nesterov", o.Nesterov, "needs sgd with momentum > 0")
	case !(o.Beta1 >= 0 && o.Beta1 < 1):
		return invalid("optimizer.beta1", o.Beta1, fmt.Sprintf("must be in [0, 1) (0: default %g)", DefaultBeta1))
	case !(o.Beta2 >= 0 && o.Beta2 < 1):
		return invalid("optimizer.beta2", o.Beta2, fmt.Sprintf("must be in [0, 1) (0: default %g)", DefaultBeta2))
	case !finite(o.Eps) || o.Eps < 0:
		return invalid("optimizer.eps", o.Eps, fmt.Sprintf("must be finite and > 0 (0: default %g)", DefaultAdamEps))
	case !adam && o.Beta1 != 0:
		return invalid("optimizer.beta1", o.Beta1, "only for adam")
	case !adam && o.Beta2 != 0:
		return invalid("optimizer.beta2", o.Beta2, "only for adam")
	case !adam && o.Eps != 0:
		return invalid("optimizer.eps", o.Eps, "only for adam")
	}
	return nil
}

func (t Trial) validateSchedule() error {
	lr, b := t.Schedule.LR, t.Schedule.Batch
	switch lr.Kind {
	case "", ScheduleConstant, ScheduleStep, ScheduleCosine:
	default:
		return invalid("schedule.lr.kind", lr.Kind, `unknown schedule; expected "constant", "step" or "cosine"`)
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

// validateSAM checks the sam and swa settings on their own; samDivides
// checks m against the batch sizes.
func (t Trial) validateSAM() error {
	if err := t.Stop.validate(); err != nil {
		return err
	}
	switch {
	case t.PartialBatch != "" && t.PartialBatch != PartialDrop && t.PartialBatch != PartialKeep:
		return invalid("partial_batch", t.PartialBatch, `must be "drop" (the default: every update averages B examples) or "keep" (one more, smaller update per epoch)`)
	case t.PartialBatch == PartialKeep && t.SAM.M > 0:
		return invalid("partial_batch", t.PartialBatch, fmt.Sprintf("cannot keep the partial batch with m-sharpness (sam.m = %d): it need not split into sub-batches of m", t.SAM.M))
	case t.EvalEvery < 0:
		return invalid("eval_every", t.EvalEvery, "must be ≥ 1: evaluate after every k-th epoch and the last (0 or 1: every epoch)")
	}
	s := t.SAM
	switch {
	case !finite(s.Rho) || s.Rho < 0:
		return invalid("sam.rho", s.Rho, "must be finite and ≥ 0 (the SAM radius ρ, such as 0.05; 0 disables SAM)")
	case !finite(s.Eta) || s.Eta < 0:
		return invalid("sam.eta", s.Eta, fmt.Sprintf("must be finite and > 0 (ASAM's η; 0: default %g)", DefaultSAMEta))
	case s.M < 0:
		return invalid("sam.m", s.M, "must be ≥ 0 (the m-sharpness sub-batch size; 0: the whole batch)")
	case s.Adaptive && s.Rho == 0:
		return invalid("sam.adaptive", s.Adaptive, "needs sam.rho > 0 (ASAM's radius, such as 0.5)")
	case s.Eta != 0 && !s.Adaptive:
		return invalid("sam.eta", s.Eta, "only for adaptive SAM (sam.adaptive: true)")
	case s.M != 0 && s.Rho == 0:
		return invalid("sam.m", s.M, "needs sam.rho > 0 (m-sharpness is a form of SAM)")
	case t.SWA.Start < 0:
		return invalid("swa.start", t.SWA.Start, "must be ≥ 1 (the first averaged epoch; 0 disables SWA)")
	case t.Epochs > 0 && t.SWA.Start > t.Epochs:
		return invalid("swa.start", t.SWA.Start, fmt.Sprintf("must be ≤ epochs (%d): the first averaged epoch", t.Epochs))
	}
	return t.validateSWABudget()
}

// validateSWABudget checks that SWA starts within the epochs a step budget
// runs at the trial's batch size.
func (t Trial) validateSWABudget() error {
	if t.Steps > 0 && t.SWA.Start > 0 && t.BatchSize >= 1 && t.BatchSize <= t.Dataset.N {
		if e := t.budgetEpochs(); t.SWA.Start > e {
			return invalid("swa.start", t.SWA.Start, fmt.Sprintf("must be ≤ %d, the number of epochs %d steps take at batch size %d (the last one partial or not)", e, t.Steps, t.BatchSize))
		}
	}
	return nil
}

// UpdatesPerEpoch returns the updates an epoch of the trial takes at batch
// size b (clamped to N) and the training examples it leaves out: ⌊N/b⌋ and
// N mod b when the partial last batch is dropped (the default), ⌈N/b⌉ and 0
// with partial_batch "keep"; 0 and 0 for sizes out of range.
func (t Trial) UpdatesPerEpoch(b int) (updates, dropped int) {
	n := t.Dataset.N
	b = min(b, n)
	switch {
	case n < 1 || b < 1:
		return 0, 0
	case t.PartialBatch == PartialKeep:
		return (n + b - 1) / b, 0
	}
	return n / b, n % b
}

// budgetEpochs returns the number of epochs a step budget runs, the last one
// possibly partial: UpdatesPerEpoch(B_e) updates per epoch, B_e constant
// between the milestones of the batch-size schedule.
func (t Trial) budgetEpochs() int {
	n, ms := t.Dataset.N, t.Schedule.Batch.Milestones
	sizes := batchSizes(t.BatchSize, n, t.Schedule.Batch)
	left, done := t.Steps, 0 // updates still to take; epochs completed
	for i, b := range sizes {
		per, _ := t.UpdatesPerEpoch(b)
		need := left / per
		if left%per != 0 {
			need++
		}
		if i >= len(ms) || i+1 >= len(sizes) || need <= ms[i]-done {
			return done + need
		}
		left -= (ms[i] - done) * per
		done = ms[i]
	}
	return done
}

// samDivides checks that the m-sharpness sub-batch size divides the trial's
// batch size and every size of its batch-size schedule.
func (t Trial) samDivides() error {
	if b, ok := subBatchMisfit(t.SAM.M, t.BatchSize, t.Dataset.N, t.Schedule.Batch); !ok {
		return invalid("sam.m", t.SAM.M, notDividing(b, t.BatchSize))
	}
	return nil
}

// notDividing is the problem of an m-sharpness sub-batch size that does not
// divide the batch size b (scheduled from batch_size b0).
func notDividing(b, b0 int) string {
	what := fmt.Sprintf("batch size %d", b)
	if b != b0 {
		what += fmt.Sprintf(" (batch_size %d under schedule.batch)", b0)
	}
	return "does not divide the " + what + "; m-sharpness splits every batch into sub-batches of m examples, so m must divide every batch size"
}

// batchSizes returns the batch sizes of the epochs of a trial with initial
// batch size b0, n training examples and batch-size schedule s, whatever its
// budget: b0 and, after the k-th milestone, b0·factor^k clamped to n (as
// train.BatchSchedule.Size).
func batchSizes(b0, n int, s BatchSchedule) []int {
	out := []int{min(b0, n)}
	b := b0
	for range s.Milestones {
		if s.Factor < 2 {
			break
		}
		if b > n/s.Factor {
			b = n
		} else {
			b *= s.Factor
		}
		out = append(out, min(b, n))
	}
	return out
}

// subBatchMisfit reports whether the m-sharpness sub-batch size m divides
// every batch size of batchSizes(b0, n, s) (always when m ≤ 0) and, when it
// does not, returns the first size it does not divide.
func subBatchMisfit(m, b0, n int, s BatchSchedule) (int, bool) {
	if m <= 0 {
		return 0, true
	}
	for _, b := range batchSizes(b0, n, s) {
		if b%m != 0 {
			return b, false
		}
	}
	return 0, true
}

func milestones(field string, ms []int) error {
	for i, m := range ms {
		if m < 1 || (i > 0 && m <= ms[i-1]) {
			return invalid(fmt.Sprintf("%s[%d]", field, i), m, "milestones must be strictly increasing epochs ≥ 1")
		}
	}
	return nil
}

func (t Trial) validateCurvature(a Architecture) error {
	c, n := t.Curvature, t.Dataset.N
	switch {
	case c.Examples < 0 || c.Examples > n:
		return invalid("curvature.examples", c.Examples, fmt.Sprintf("must be in 0…dataset.n (%d); 0 means the whole training set", n))
	case c.LanczosSteps < 0 || c.LanczosSteps > MaxLanczosSteps:
		return invalid("curvature.lanczos_steps", c.LanczosSteps, fmt.Sprintf("must be in [1, %d] (0: default %d)", MaxLanczosSteps, DefaultLanczosSteps))
	case !finite(c.Tol) || c.Tol < 0:
		return invalid("curvature.tol", c.Tol, fmt.Sprintf("must be finite and > 0 (0: default %g)", DefaultTol))
	}
	for _, name := range c.unlisted {
		return &FieldError{Field: "curvature." + name, Value: "{…}",
			Problem: fmt.Sprintf("settings given but %q is not in curvature.measures", name)}
	}
	for _, s := range c.Measures.list {
		if err := s.Measure.validate(s.Settings, a, "curvature."+s.Measure.Name); err != nil {
			return err
		}
	}
	if err := c.Track.validate(n); err != nil {
		return err
	}
	if err := c.Landscape.Validate(n, t.Dataset.NTest); err != nil {
		return err
	}
	return c.Dinh.validate(a)
}

// validate checks Dinh's settings: α finite, > 0 and ≠ 1, and a
// Dense–ReLU–Dense pair number Layer in the network.
func (d Dinh) validate(a Architecture) error {
	switch {
	case d == Dinh{}:
		return nil
	case d.Alpha == 0:
		return missing("curvature.dinh.alpha", "the scale α of T_α (finite, > 0 and ≠ 1), such as 10")
	case !finite(d.Alpha) || d.Alpha < 0:
		return invalid("curvature.dinh.alpha", d.Alpha, "must be finite and > 0 (the scale α of T_α)")
	case d.Alpha == 1:
		return invalid("curvature.dinh.alpha", d.Alpha, "must differ from 1 (T_1 is the identity)")
	case d.Layer < 0:
		return invalid("curvature.dinh.layer", d.Layer, "must be ≥ 0 (the Dense–ReLU–Dense pair, counted from 0 at the input)")
	}
	return d.CheckPair(a)
}

// CheckPair returns a *FieldError when the network has no Dense–ReLU–Dense
// pair number d.Layer (see Architecture.DinhPairs), nil otherwise.
func (d Dinh) CheckPair(a Architecture) error {
	pairs := a.DinhPairs()
	switch {
	case len(pairs) == 0:
		return invalid("curvature.dinh", literal(fmt.Sprintf("{alpha: %g, layer: %d}", d.Alpha, d.Layer)),
			"the model has no Dense–ReLU–Dense pair of consecutive layers to α-scale (it needs relu activations and, for resmlp, no residual blocks)")
	case d.Layer >= len(pairs):
		return invalid("curvature.dinh.layer", d.Layer, fmt.Sprintf("must be in [0, %d]: the model has %d Dense–ReLU–Dense pairs", len(pairs)-1, len(pairs)))
	}
	return nil
}
