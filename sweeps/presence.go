package sweeps

import (
	"fmt"
	"reflect"

	"github.com/flatsweep/flatsweep/spec"
)

// presence holds the checks that concern how a sweep file is written rather
// than the values it describes: a required field left out, a default written
// as zero (zero means "omitted" in a spec, so writing it is a mistake), and a
// setting given in two places. The values themselves are checked by
// spec.Sweep.Validate.
type presence struct{ *schema }

// bad records a problem with the field at path, citing its line and value as
// written when the field is present.
func (p presence) bad(path, problem string) {
	e := &FieldError{Source: p.source, Field: path, Problem: problem}
	if n, ok := p.nodes[path]; ok {
		e.Line, e.Value = n.Line, shown(n)
	}
	p.add(e)
}

// required records a problem if the field at path is absent and reports
// whether it is present.
func (p presence) required(path, what string) bool {
	if p.has(path) {
		return true
	}
	p.bad(path, "required field is missing; expected "+what)
	return false
}

// notZero records a problem if the field at path is written with the zero
// value of its type, which would mean "omitted".
func (p presence) notZero(path string, v any, problem string) {
	rv := reflect.ValueOf(v)
	if p.has(path) && (rv.IsZero() || (rv.Kind() == reflect.Slice && rv.Len() == 0)) {
		p.bad(path, problem)
	}
}

// check runs the checks on the decoded sweep s. A field that an axis or a
// random draw sets (spec.Sweep.Sets) counts as present.
func (p presence) check(s *spec.Sweep) {
	required := func(path, trialPath, what string) bool {
		if s.Sets(trialPath) {
			return true
		}
		return p.required(path, what)
	}
	p.required("name", `a slug such as "quickstart"`)
	p.required("dataset.name", `"synthetic", "mnist", "fashion-mnist", "kmnist" or "cifar10"`)
	switch {
	case p.has("grid.n") && p.has("dataset.n"):
		p.bad("dataset.n", "give the training-set size in dataset.n or as the grid axis grid.n, not both")
	case !p.has("grid.n"):
		required("dataset.n", "dataset.n", "the number of training examples N > 0 (or a grid.n axis)")
	}
	p.required("dataset.n_test", "the number of test examples > 0")
	p.notZero("dataset.features", s.Dataset.Features, "must be > 0 (the input dimension; omit the field for its default)")
	p.notZero("dataset.classes", s.Dataset.Classes, "must be ≥ 2 (the number of classes; omit the field for its default)")
	// A command trial's model section is optional: it names the
	// architecture of the weights the program writes, when it writes them.
	if p.has("command") {
		p.required("command.argv", `the program and its arguments, such as ["python3", "train.py", "--lr", "{lr}"]`)
	}
	if (p.has("command") && !p.has("model")) || required("model.arch", "model.arch", `"mlp", "resmlp" or "cnn"`) {
		switch s.Model.Arch {
		case spec.ArchMLP:
			required("model.hidden", "model.hidden", "a list of hidden layer widths such as [64, 64]")
		case spec.ArchResMLP:
			required("model.width", "model.width", "the residual stream width")
		case spec.ArchCNN:
			required("model.conv", "model.conv", "a list of convolution filter counts such as [16, 32]")
		}
	}
	switch {
	case p.has("train.epochs") && p.has("train.steps"):
		p.bad("train.steps", "give the budget in train.epochs or in train.steps, not both")
	case p.has("train.steps"):
		p.notZero("train.steps", s.Train.Steps, "must be > 0 (the number of parameter updates)")
	case s.Sets("steps"):
	case required("train.epochs", "epochs", "a positive number of epochs (or train.steps)"):
		p.notZero("train.epochs", s.Train.Epochs, "must be > 0 (the number of passes over the training set)")
	}
	if p.has("train.warm_start") {
		p.required("train.warm_start.path", "the path of a safetensors weights file")
	}
	p.notZero("curvature.lanczos_steps", s.Curvature.LanczosSteps, "must be > 0 (the maximum number of Lanczos steps; omit the field for its default)")
	p.notZero("curvature.tol", s.Curvature.Tol, "must be finite and > 0 (the relative residual tolerance; omit the field for its default)")
	if p.has("curvature.measures") && s.Curvature.Measures.Len() == 0 {
		p.bad("curvature.measures", "empty list; list measures such as [top_k, trace] or omit the field")
	}
	p.measureDefaults(s.Curvature.Measures)
	if p.has("curvature.dinh") && p.required("curvature.dinh.alpha", "the scale α of T_α (finite, > 0 and ≠ 1), such as 10") {
		p.notZero("curvature.dinh.alpha", s.Curvature.Dinh.Alpha, "must be finite and > 0 (the scale α of T_α)")
	}
	if p.has("curvature.landscape") {
		p.landscape(s.Curvature.Landscape)
	}
	for _, axis := range []string{"batch_size", "lr", "seed"} {
		required("grid."+axis, axis, "a list of "+map[string]string{"batch_size": "batch sizes such as [16, 64, 256]",
			"lr": "learning rates such as [0.05, 0.2]", "seed": "seeds such as [1, 2]"}[axis])
	}
	if p.has("grid.momentum") && p.has("train.optimizer.momentum") {
		p.bad("grid.momentum", "give the momentum in train.optimizer.momentum or as the grid axis grid.momentum, not both")
	}
	if p.has("grid.weight_decay") && p.has("train.weight_decay") {
		p.bad("grid.weight_decay", "give the weight decay in train.weight_decay or as the grid axis grid.weight_decay, not both")
	}
	if p.has("grid.sam_rho") && p.has("train.sam.rho") {
		p.bad("grid.sam_rho", "give the SAM radius in train.sam.rho or as the grid axis grid.sam_rho, not both")
	}
	if p.has("grid.sam_m") && p.has("train.sam.m") {
		p.bad("grid.sam_m", "give the m-sharpness sub-batch size in train.sam.m or as the grid axis grid.sam_m, not both")
	}
	p.notZero("train.sam.eta", s.Train.SAM.Eta, fmt.Sprintf("must be > 0 (ASAM's η; omit the field for its default %g)", spec.DefaultSAMEta))
}

// landscape checks a curvature.landscape block: dims is required, and a
// setting written as zero (which would mean its default) is a mistake.
func (p presence) landscape(l spec.LandscapeSettings) {
	const f = "curvature.landscape."
	if p.required(f+"dims", "1 (a line along one direction) or 2 (a plane along two)") {
		p.notZero(f+"dims", l.Dims, "must be 1 or 2")
	}
	p.notZero(f+"points", l.Points, "must be ≥ 2 (the grid values per axis; omit the field for its default)")
	p.notZero(f+"extent", l.Extent, "must be finite and > 0: a grid of zero extent has no points (omit the field for its default 1)")
	p.notZero(f+"examples", l.Examples, "must be > 0 (the training examples evaluated; omit the field for its default)")
	p.notZero(f+"test_examples", l.TestExamples, "must be > 0 (the test examples evaluated; omit the field for its default)")
	p.notZero(f+"bias", l.Bias, `must be "zero" or "normalize" (omit the field for its default "zero")`)
}

// measureDefaults rejects a measure setting that has a default written as
// zero or as an empty string or list.
func (p presence) measureDefaults(ms spec.Measures) {
	for _, sel := range ms.List() {
		v := reflect.ValueOf(sel.Settings)
		for i, f := range sel.Measure.Fields() {
			if f.Default == "" {
				continue
			}
			path := fmt.Sprintf("curvature.%s.%s", sel.Measure.Name, f.Name)
			switch f.Kind {
			case reflect.String:
				p.notZero(path, v.Field(i).Interface(), "empty string (omit the field for its default)")
			case reflect.Slice:
				p.notZero(path, v.Field(i).Interface(), "empty list; give values such as ["+f.Default+"] or omit the field for its default")
			default:
				p.notZero(path, v.Field(i).Interface(), "must be > 0 (omit the field for its default "+f.Default+")")
			}
		}
	}
}
