package sweeps

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

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

// resolve fills in defaults and validates raw, in document order.
func (v *validator) resolve(raw *rawSpec) *Spec {
	s := &Spec{Name: raw.Name}
	if v.required("name", "a slug such as \"quickstart\"") &&
		(!slug.MatchString(raw.Name) || len(raw.Name) > maxNameLen) {
		v.bad("name", fmt.Sprintf("must be a slug of at most %d characters matching [a-z0-9][a-z0-9._-]*", maxNameLen))
	}
	nOK := v.dataset(&raw.Dataset, &s.Dataset)
	v.model(&raw.Model, &s.Model)
	s.Train.Epochs = raw.Train.Epochs
	if v.required("train.epochs", "a positive number of epochs") {
		v.positive("train.epochs", raw.Train.Epochs, "the number of passes over the training set")
	}
	v.curvature(&raw.Curvature, &s.Curvature, raw.Dataset.N, nOK)
	v.grid(&raw.Grid, &s.Grid, raw.Dataset.N, nOK)
	return s
}

// dataset resolves the dataset section; it reports whether dataset.n is valid
// (so that bounds against it can be checked).
func (v *validator) dataset(raw *rawDataset, d *compute.DatasetSpec) (nOK bool) {
	*d = compute.DatasetSpec{
		Name: raw.Name, N: raw.N, NTest: raw.NTest, Features: raw.Features,
		Classes: raw.Classes, LabelNoise: raw.LabelNoise, Seed: raw.Seed,
	}
	if v.required("dataset.name", `"synthetic"`) && raw.Name != "synthetic" {
		v.bad("dataset.name", `unknown dataset; expected "synthetic"`)
	}
	if v.required("dataset.n", "the number of training examples N > 0") {
		v.positive("dataset.n", raw.N, "the number of training examples N")
		nOK = raw.N > 0
	}
	if v.required("dataset.n_test", "the number of test examples > 0") {
		v.positive("dataset.n_test", raw.NTest, "the number of test examples")
	}
	if !v.has("dataset.features") {
		d.Features = DefaultFeatures
	} else {
		v.positive("dataset.features", raw.Features, "the input dimension")
	}
	if !v.has("dataset.classes") {
		d.Classes = DefaultClasses
	} else if raw.Classes < 2 {
		v.bad("dataset.classes", "must be ≥ 2 (the number of classes)")
	}
	if !(raw.LabelNoise >= 0 && raw.LabelNoise < 1) {
		v.bad("dataset.label_noise", "must be in [0, 1) (the fraction of training labels replaced)")
	}
	return nOK
}

// model resolves the model section.
func (v *validator) model(raw *rawModel, m *compute.ModelSpec) {
	*m = compute.ModelSpec{Arch: raw.Arch, Hidden: raw.Hidden, Activation: raw.Activation}
	if v.required("model.arch", `"mlp"`) && raw.Arch != "mlp" {
		v.bad("model.arch", `unknown architecture; expected "mlp"`)
	}
	if v.required("model.hidden", "a list of hidden layer widths such as [64, 64]") && len(raw.Hidden) == 0 {
		v.bad("model.hidden", "empty list; expected at least one hidden layer width")
	}
	for i, h := range raw.Hidden {
		v.positive(fmt.Sprintf("model.hidden[%d]", i), h, "a hidden layer width")
	}
	if !v.has("model.activation") {
		m.Activation = DefaultActivation
	} else if raw.Activation != "relu" {
		v.bad("model.activation", `unknown activation; expected "relu"`)
	}
}

// curvature resolves the curvature section; n is dataset.n, valid if nOK.
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
}

// grid resolves the grid; n is dataset.n, valid if nOK.
func (v *validator) grid(raw *rawGrid, g *Grid, n int, nOK bool) {
	*g = Grid{BatchSize: raw.BatchSize, LR: raw.LR, Seed: raw.Seed}
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
	// Each axis is at most MaxSpecBytes long, so the product fits in an int64.
	if total := int64(len(raw.BatchSize)) * int64(len(raw.LR)) * int64(len(raw.Seed)); total > MaxTrials {
		v.add(&FieldError{Source: v.source, Field: "grid", Problem: fmt.Sprintf("expands to %d trials (%d batch sizes × %d learning rates × %d seeds); at most %d allowed",
			total, len(raw.BatchSize), len(raw.LR), len(raw.Seed), MaxTrials)})
	}
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
