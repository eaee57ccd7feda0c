package sweeps

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/flatsweep/flatsweep/compute"
)

// slug is the pattern of a sweep name.
var slug = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// maxNameLen is the longest sweep name accepted.
const maxNameLen = 64

// validator resolves a decoded rawSpec into a Spec, applying defaults and
// collecting a FieldError for each invalid value.
type validator struct {
	*schema
}

// bad records a problem with the field at path, citing its line and value as
// written when the field is present.
func (v *validator) bad(path, problem string) {
	e := &FieldError{Source: v.source, Field: path, Problem: problem}
	if n, ok := v.nodes[path]; ok {
		e.Line = n.Line
		e.Value = shown(n)
	}
	v.add(e)
}

// required records a problem if the field at path is absent and reports
// whether it is present.
func (v *validator) required(path, what string) bool {
	if v.has(path) {
		return true
	}
	v.bad(path, "required field is missing; expected "+what)
	return false
}

// positive checks that the int field at path, if present, is > 0.
func (v *validator) positive(path string, x int, what string) {
	if x <= 0 {
		v.bad(path, "must be > 0 ("+what+")")
	}
}

// resolve fills in defaults and validates raw, in document order. Checks
// that need the whole spec (the new training options, architectures and data
// sources) are delegated to compute.TrialSpec.Validate on the expanded trials
// once everything else is valid, and reported at the YAML field they come
// from.
func (v *validator) resolve(raw *rawSpec) *Spec {
	s := &Spec{Name: raw.Name}
	if v.required("name", "a slug such as \"quickstart\"") &&
		(!slug.MatchString(raw.Name) || len(raw.Name) > maxNameLen) {
		v.bad("name", fmt.Sprintf("must be a slug of at most %d characters matching [a-z0-9][a-z0-9._-]*", maxNameLen))
	}
	nOK := v.dataset(&raw.Dataset, &s.Dataset, len(raw.Grid.N) > 0 || v.has("grid.n"))
	v.model(&raw.Model, &s.Model)
	v.train(&raw.Train, &s.Train)
	n := raw.Dataset.N
	if len(raw.Grid.N) > 0 {
		n, nOK = slices.Min(raw.Grid.N), slices.Min(raw.Grid.N) > 0
	}
	v.curvature(&raw.Curvature, &s.Curvature, n, nOK)
	v.grid(raw, &s.Grid, n, nOK)
	if v.err() == nil {
		v.trials(s)
	}
	return s
}

// datasetNames lists the accepted dataset names, for messages.
const datasetNames = `"synthetic", "mnist", "fashion-mnist", "kmnist" or "cifar10"`

// dataset resolves the dataset section; it reports whether dataset.n is valid
// (so that bounds against it can be checked). swept tells whether grid.n
// replaces dataset.n.
func (v *validator) dataset(raw *rawDataset, d *compute.DatasetSpec, swept bool) (nOK bool) {
	*d = compute.DatasetSpec{
		Name: raw.Name, N: raw.N, NTest: raw.NTest, Features: raw.Features,
		Classes: raw.Classes, LabelNoise: raw.LabelNoise, Seed: raw.Seed,
		Dir: raw.Dir, TrainImages: raw.TrainImages, TrainLabels: raw.TrainLabels,
		TestImages: raw.TestImages, TestLabels: raw.TestLabels,
		TrainBatches: raw.TrainBatches, TestBatches: raw.TestBatches, Standardize: raw.Standardize,
	}
	synthetic := raw.Name == compute.DatasetSynthetic
	if v.required("dataset.name", datasetNames) {
		switch raw.Name {
		case compute.DatasetSynthetic, compute.DatasetMNIST, compute.DatasetFashionMNIST, compute.DatasetKMNIST, compute.DatasetCIFAR10:
		default:
			v.bad("dataset.name", "unknown dataset; expected "+datasetNames)
		}
	}
	switch {
	case swept && v.has("dataset.n"):
		v.bad("dataset.n", "give the training-set size in dataset.n or as the grid axis grid.n, not both")
	case swept:
	case v.required("dataset.n", "the number of training examples N > 0 (or a grid.n axis)"):
		v.positive("dataset.n", raw.N, "the number of training examples N")
		nOK = raw.N > 0
	}
	if v.required("dataset.n_test", "the number of test examples > 0") {
		v.positive("dataset.n_test", raw.NTest, "the number of test examples")
	}
	switch {
	case !v.has("dataset.features") && synthetic:
		d.Features = DefaultFeatures
	case v.has("dataset.features"):
		v.positive("dataset.features", raw.Features, "the input dimension")
	}
	switch {
	case !v.has("dataset.classes") && synthetic:
		d.Classes = DefaultClasses
	case v.has("dataset.classes") && raw.Classes < 2:
		v.bad("dataset.classes", "must be ≥ 2 (the number of classes)")
	}
	if !(raw.LabelNoise >= 0 && raw.LabelNoise < 1) {
		v.bad("dataset.label_noise", "must be in [0, 1) (the fraction of training labels replaced)")
	}
	return nOK
}

// model resolves the model section.
func (v *validator) model(raw *rawModel, m *compute.ModelSpec) {
	*m = compute.ModelSpec{Arch: raw.Arch, Hidden: raw.Hidden, Activation: raw.Activation,
		Width: raw.Width, Blocks: raw.Blocks, Conv: raw.Conv, Loss: raw.Loss}
	if v.required("model.arch", `"mlp", "resmlp" or "cnn"`) {
		switch raw.Arch {
		case compute.ArchMLP:
			if v.required("model.hidden", "a list of hidden layer widths such as [64, 64]") && len(raw.Hidden) == 0 {
				v.bad("model.hidden", "empty list; expected at least one hidden layer width")
			}
		case compute.ArchResMLP:
			v.required("model.width", "the residual stream width")
		case compute.ArchCNN:
			v.required("model.conv", "a list of convolution filter counts such as [16, 32]")
		default:
			v.bad("model.arch", `unknown architecture; expected "mlp", "resmlp" or "cnn"`)
		}
	}
	for i, h := range raw.Hidden {
		v.positive(fmt.Sprintf("model.hidden[%d]", i), h, "a hidden layer width")
	}
	if !v.has("model.activation") {
		m.Activation = DefaultActivation
	} else if raw.Activation != "relu" && raw.Activation != "tanh" {
		v.bad("model.activation", `unknown activation; expected "relu" or "tanh"`)
	}
	if raw.Loss == "ce" {
		m.Loss = "" // the default, left out of the canonical form
	}
}

// train resolves the train section.
func (v *validator) train(raw *rawTrain, t *Train) {
	o, ls, bs := raw.Optimizer, raw.Schedule.LR, raw.Schedule.Batch
	*t = Train{
		Epochs: raw.Epochs, Steps: raw.Steps, WeightDecay: raw.WeightDecay,
		Optimizer: compute.OptimizerSpec{Name: o.Name, Momentum: o.Momentum, Nesterov: o.Nesterov,
			Beta1: o.Beta1, Beta2: o.Beta2, Eps: o.Eps},
		Schedule: compute.ScheduleSpec{
			LR:    compute.LRScheduleSpec{Kind: ls.Kind, Milestones: ls.Milestones, Gamma: ls.Gamma, Floor: ls.Floor},
			Batch: compute.BatchScheduleSpec{Milestones: bs.Milestones, Factor: bs.Factor},
		},
		Augment:   compute.AugmentSpec{Shift: raw.Augment.Shift},
		WarmStart: compute.WarmStartSpec{Path: raw.WarmStart.Path, SHA256: raw.WarmStart.SHA256},
	}
	// Defaults written out are normalized to the zero value, so that writing
	// them does not change the canonical form or the trial IDs.
	if o.Name == compute.OptimizerSGD {
		t.Optimizer.Name = ""
	}
	if ls.Kind == compute.ScheduleConstant {
		t.Schedule.LR.Kind = ""
	}
	switch {
	case v.has("train.epochs") && v.has("train.steps"):
		v.bad("train.steps", "give the budget in train.epochs or in train.steps, not both")
	case v.has("train.steps"):
		v.positive("train.steps", raw.Steps, "the number of parameter updates")
	case v.required("train.epochs", "a positive number of epochs (or train.steps)"):
		v.positive("train.epochs", raw.Epochs, "the number of passes over the training set")
	}
	if v.has("train.warm_start") {
		v.required("train.warm_start.path", "the path of a safetensors weights file")
	}
}

// trials validates the expanded trials with compute.TrialSpec.Validate: one
// trial per combination of the optional axes (the required axes were checked
// here already). The first problem is reported at its YAML field.
func (v *validator) trials(s *Spec) {
	if len(s.Grid.BatchSize) == 0 || len(s.Grid.LR) == 0 || len(s.Grid.Seed) == 0 {
		return
	}
	b, lr, seed := s.Grid.BatchSize[0], s.Grid.LR[0], s.Grid.Seed[0]
	for _, n := range axisOr(s.Grid.N, s.Dataset.N) {
		for _, m := range axisOr(s.Grid.Momentum, s.Train.Optimizer.Momentum) {
			for _, wd := range axisOr(s.Grid.WeightDecay, s.Train.WeightDecay) {
				if !v.trial(s, s.trialSpec(n, m, wd, b, lr, seed)) {
					return
				}
			}
		}
	}
}

// trial validates one expanded trial spec, reporting its first problem at
// its YAML field; it returns false after a problem.
func (v *validator) trial(s *Spec, spec compute.TrialSpec) bool {
	{
		err := spec.Validate()
		var se *compute.SpecError
		if errors.As(err, &se) {
			v.bad(yamlPath(se.Field, s.Grid), se.Problem)
			return false
		}
		if err != nil {
			v.add(&FieldError{Source: v.source, Problem: err.Error(), Err: err})
			return false
		}
	}
	return true
}

// yamlPath maps a compute.TrialSpec JSON field path to the sweep file's field
// path.
func yamlPath(field string, g Grid) string {
	switch {
	case field == "dataset.n" && len(g.N) > 0:
		return "grid.n"
	case field == "optimizer.momentum" && len(g.Momentum) > 0:
		return "grid.momentum"
	case field == "weight_decay" && len(g.WeightDecay) > 0:
		return "grid.weight_decay"
	case strings.HasPrefix(field, "dataset.") || strings.HasPrefix(field, "model.") || strings.HasPrefix(field, "curvature."):
		return field
	case field == "batch_size" || field == "lr" || field == "seed":
		return "grid." + field
	}
	return "train." + field
}

// curvature resolves the curvature section; n is the smallest training-set
// size, valid if nOK.
func (v *validator) curvature(raw *rawCurvature, c *compute.CurvatureSpec, n int, nOK bool) {
	*c = compute.CurvatureSpec{Examples: raw.Examples, LanczosSteps: raw.LanczosSteps, Tol: raw.Tol}
	if raw.Examples < 0 || (nOK && raw.Examples > n) {
		v.bad("curvature.examples", fmt.Sprintf("must be in 0…dataset.n (%d); 0 means the whole training set", n))
	}
	if !v.has("curvature.lanczos_steps") {
		c.LanczosSteps = DefaultLanczosSteps
	} else {
		v.positive("curvature.lanczos_steps", raw.LanczosSteps, "the maximum number of Lanczos steps")
	}
	if !v.has("curvature.tol") {
		c.Tol = DefaultTol
	} else if !(raw.Tol > 0) || math.IsInf(raw.Tol, 0) {
		v.bad("curvature.tol", "must be finite and > 0 (the relative residual tolerance)")
	}
	v.measures(raw, c)
	v.dinh(raw.Dinh, &c.Dinh)
}

// dinh resolves curvature.dinh, Dinh's α-scaling check: alpha is required
// (finite, > 0 and ≠ 1), layer ≥ 0 is optional. Whether the model has that
// Dense–ReLU–Dense pair is compute.TrialSpec.Validate's check, reported at
// curvature.dinh or curvature.dinh.layer.
func (v *validator) dinh(raw rawDinh, d *compute.DinhSpec) {
	*d = compute.DinhSpec{Alpha: raw.Alpha, Layer: raw.Layer}
	if !v.has("curvature.dinh") {
		return
	}
	if v.required("curvature.dinh.alpha", "the scale α of T_α (finite, > 0 and ≠ 1), such as 10") {
		switch a := raw.Alpha; {
		case !(a > 0) || math.IsInf(a, 0):
			v.bad("curvature.dinh.alpha", "must be finite and > 0 (the scale α of T_α)")
		case a == 1:
			v.bad("curvature.dinh.alpha", "must differ from 1 (T_1 is the identity)")
		}
	}
	if raw.Layer < 0 {
		v.bad("curvature.dinh.layer", "must be ≥ 0 (the Dense–ReLU–Dense pair, counted from 0 at the input)")
	}
}

// measures resolves the measure selection and settings of the curvature
// section. Settings written out with their default value are normalized to
// zero (compute.CurvatureSpec.Normalized), so that they do not change the
// trial IDs; an explicit zero or empty string where zero means "default" is
// rejected. The remaining checks (ranges, k and p against P, the relative
// layer) are compute.TrialSpec.Validate's, reported at these same paths.
func (v *validator) measures(raw *rawCurvature, c *compute.CurvatureSpec) {
	for i, name := range raw.Measures {
		m, err := compute.ParseMeasure(name)
		path := fmt.Sprintf("curvature.measures[%d]", i)
		switch {
		case err != nil:
			v.bad(path, err.Error())
		case c.Measures.Has(m):
			v.bad(path, "measure listed twice")
		}
		c.Measures |= m
	}
	if v.has("curvature.measures") && len(raw.Measures) == 0 {
		v.bad("curvature.measures", "empty list; list measures such as [top_k, trace] or omit the field")
	}
	t, tr, d, e, k, a, r, f, p := raw.TopK, raw.Trace, raw.Density, raw.Evidence, raw.Keskar, raw.Adaptive, raw.Relative, raw.FisherRao, raw.PACBayes
	c.TopK = compute.TopKSpec{K: t.K, Negative: t.Negative, Tol: t.Tol, Steps: t.Steps}
	c.Trace = compute.TraceSpec{Method: tr.Method, Budget: tr.Budget, RelErr: tr.RelErr}
	c.Density = compute.DensitySpec{Runs: d.Runs, Steps: d.Steps}
	c.Evidence = compute.EvidenceSpec{Lambda: e.Lambda, Operator: e.Operator, Runs: e.Runs, Steps: e.Steps}
	c.Keskar = compute.KeskarSpec{Space: k.Space, Subspace: k.Subspace, Iterations: k.Iterations}
	c.Adaptive = compute.AdaptiveSpec{Rho: a.Rho, Norm: a.Norm, Plain: a.Plain, Iterations: a.Iterations, Samples: a.Samples}
	c.Relative = compute.RelativeSpec{Layer: r.Layer, Exact: r.Exact, Budget: r.Budget}
	c.FisherRao = compute.FisherRaoSpec{ModelLabels: f.ModelLabels, IncludeBiases: f.IncludeBiases}
	c.PACBayes = compute.PACBayesSpec{Target: p.Target, Samples: p.Samples, Steps: p.Steps}
	switch {
	case len(k.Epsilons) > compute.MaxEpsilons:
		v.bad("curvature.keskar.epsilons", fmt.Sprintf("at most %d box sizes", compute.MaxEpsilons))
	case v.has("curvature.keskar.epsilons") && len(k.Epsilons) == 0:
		v.bad("curvature.keskar.epsilons", "empty list; give box sizes such as [1e-3, 5e-4] or omit the field for that default")
	default:
		for i, eps := range k.Epsilons {
			if eps == 0 {
				v.bad(fmt.Sprintf("curvature.keskar.epsilons[%d]", i), "must be finite and > 0 (the relative box size ε)")
			}
		}
		copy(c.Keskar.Epsilons[:], k.Epsilons)
	}
	defaulted := map[string]float64{
		"curvature.top_k.k": float64(t.K), "curvature.top_k.tol": t.Tol, "curvature.top_k.steps": float64(t.Steps),
		"curvature.trace.budget": float64(tr.Budget), "curvature.density.runs": float64(d.Runs),
		"curvature.density.steps": float64(d.Steps), "curvature.evidence.lambda": e.Lambda,
		"curvature.evidence.runs": float64(e.Runs), "curvature.evidence.steps": float64(e.Steps),
		"curvature.keskar.subspace": float64(k.Subspace), "curvature.keskar.iterations": float64(k.Iterations),
		"curvature.adaptive.rho": a.Rho, "curvature.adaptive.iterations": float64(a.Iterations),
		"curvature.adaptive.samples": float64(a.Samples), "curvature.relative.budget": float64(r.Budget),
		"curvature.pac_bayes.target": p.Target, "curvature.pac_bayes.samples": float64(p.Samples),
		"curvature.pac_bayes.steps": float64(p.Steps),
	}
	for _, path := range slices.Sorted(maps.Keys(defaulted)) {
		if v.has(path) && defaulted[path] == 0 {
			v.bad(path, "must be > 0 (omit the field for its default)")
		}
	}
	named := map[string]string{"curvature.trace.method": tr.Method, "curvature.evidence.operator": e.Operator,
		"curvature.keskar.space": k.Space, "curvature.adaptive.norm": a.Norm}
	for _, path := range slices.Sorted(maps.Keys(named)) {
		if v.has(path) && named[path] == "" {
			v.bad(path, "empty string (omit the field for its default)")
		}
	}
	*c = c.Normalized()
}

// grid resolves the grid; n is the smallest training-set size (dataset.n or
// the least grid.n), valid if nOK.
func (v *validator) grid(spec *rawSpec, g *Grid, n int, nOK bool) {
	raw := &spec.Grid
	*g = Grid{BatchSize: raw.BatchSize, LR: raw.LR, Seed: raw.Seed, N: raw.N, Momentum: raw.Momentum, WeightDecay: raw.WeightDecay}
	if v.axis("grid.batch_size", len(raw.BatchSize), "batch sizes such as [16, 64, 256]") {
		for i, b := range raw.BatchSize {
			if b < 1 || (nOK && b > n) {
				v.bad(fmt.Sprintf("grid.batch_size[%d]", i), fmt.Sprintf("batch size must be an integer in 1…dataset.n (%d)", n))
			}
		}
		distinct(v, "grid.batch_size", raw.BatchSize)
	}
	if v.axis("grid.lr", len(raw.LR), "learning rates such as [0.05, 0.2]") {
		for i, lr := range raw.LR {
			if !(lr > 0) || math.IsInf(lr, 0) {
				v.bad(fmt.Sprintf("grid.lr[%d]", i), "learning rate must be finite and > 0")
			}
		}
		distinct(v, "grid.lr", raw.LR)
	}
	if v.axis("grid.seed", len(raw.Seed), "seeds such as [1, 2]") {
		distinct(v, "grid.seed", raw.Seed)
	}
	if v.has("grid.n") && v.axis("grid.n", len(raw.N), "training-set sizes such as [1000, 4000]") {
		for i, x := range raw.N {
			v.positive(fmt.Sprintf("grid.n[%d]", i), x, "a training-set size")
		}
		distinct(v, "grid.n", raw.N)
	}
	if v.has("grid.momentum") && v.axis("grid.momentum", len(raw.Momentum), "momenta such as [0, 0.9]") {
		if v.has("train.optimizer.momentum") {
			v.bad("grid.momentum", "give the momentum in train.optimizer.momentum or as the grid axis grid.momentum, not both")
		}
		for i, m := range raw.Momentum {
			if !(m >= 0 && m < 1) {
				v.bad(fmt.Sprintf("grid.momentum[%d]", i), "momentum must be in [0, 1)")
			}
		}
		distinct(v, "grid.momentum", raw.Momentum)
	}
	if v.has("grid.weight_decay") && v.axis("grid.weight_decay", len(raw.WeightDecay), "weight decays such as [0, 1e-4]") {
		if v.has("train.weight_decay") {
			v.bad("grid.weight_decay", "give the weight decay in train.weight_decay or as the grid axis grid.weight_decay, not both")
		}
		for i, wd := range raw.WeightDecay {
			if !(wd >= 0) || math.IsInf(wd, 0) {
				v.bad(fmt.Sprintf("grid.weight_decay[%d]", i), "weight decay must be finite and ≥ 0")
			}
		}
		distinct(v, "grid.weight_decay", raw.WeightDecay)
	}
	// Each axis is at most MaxSpecBytes long, so the product fits in a float64
	// exactly enough to compare with MaxTrials.
	total := float64(len(raw.BatchSize)) * float64(len(raw.LR)) * float64(len(raw.Seed)) *
		float64(max(len(raw.N), 1)) * float64(max(len(raw.Momentum), 1)) * float64(max(len(raw.WeightDecay), 1))
	if total > MaxTrials {
		v.add(&FieldError{Source: v.source, Field: "grid", Problem: fmt.Sprintf("expands to %.0f trials (%d batch sizes × %d learning rates × %d seeds%s); at most %d allowed",
			total, len(raw.BatchSize), len(raw.LR), len(raw.Seed), optionalAxes(raw), MaxTrials)})
	}
}

// optionalAxes describes the optional axes' lengths for the grid-size message.
func optionalAxes(g *rawGrid) string {
	var b strings.Builder
	for _, a := range []struct {
		n    int
		name string
	}{{len(g.N), "training-set sizes"}, {len(g.Momentum), "momenta"}, {len(g.WeightDecay), "weight decays"}} {
		if a.n > 0 {
			fmt.Fprintf(&b, " × %d %s", a.n, a.name)
		}
	}
	return b.String()
}

// axis checks that the grid axis at path is present and non-empty.
func (v *validator) axis(path string, n int, what string) bool {
	if !v.required(path, "a list of "+what) {
		return false
	}
	if n == 0 {
		v.bad(path, "empty list; expected at least one value ("+what+")")
		return false
	}
	return true
}

// distinct records an error for every value of an axis that repeats an earlier
// one.
func distinct[T comparable](v *validator, path string, xs []T) {
	first := make(map[T]int, len(xs))
	for i, x := range xs {
		if j, dup := first[x]; dup {
			v.bad(path+"["+strconv.Itoa(i)+"]", fmt.Sprintf("duplicate of %s[%d]; the values of a grid axis must be distinct", path, j))
			continue
		}
		first[x] = i
	}
}
