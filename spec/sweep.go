package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// MaxTrials is the largest number of trials one sweep may expand to: the
// product of the grid's axis lengths (see Grid.Len).
const MaxTrials = 2_000_000

// Sweep is a sweep: the fixed settings shared by all its trials and the grid
// over which they vary. A sweep file decodes into it (package sweeps reads
// the YAML); its JSON encoding (fields in declaration order) is the form the
// coordinator receives and stores.
type Sweep struct {
	// Name is the sweep's identity: a slug [a-z0-9][a-z0-9._-]* of at most 64
	// characters.
	Name string `json:"name"`
	// Dataset is the data every trial trains and tests on.
	Dataset Dataset `json:"dataset"`
	// Model is the network every trial trains.
	Model Model `json:"model"`
	// Train is the training budget and procedure.
	Train Train `json:"train"`
	// Curvature configures the curvature measures of every trial.
	Curvature Curvature `json:"curvature"`
	// Grid lists the values of the swept axes.
	Grid Grid `json:"grid"`
	// Random is random search over the fields it draws (zero value: none;
	// see Random).
	Random Random `json:"random,omitzero"`
	// Command runs every trial as an external program (see Command); zero
	// value: flatsweep trains the model itself.
	Command Command `json:"command,omitzero"`
}

// Train is the training budget and procedure shared by the trials of a sweep:
// the trial's Epochs and Training.
type Train struct {
	// Epochs is the number of passes over the N training examples, or 0 when
	// the budget is given in Steps.
	Epochs int `json:"epochs"`
	// Training holds the rest ("steps", "weight_decay", "optimizer", …).
	Training
}

// Grid holds the axes of a sweep. Each axis is free of duplicates; the sweep
// runs every combination (see Axes for the order). BatchSize, LR and Seed
// are required and non-empty; N, Momentum, WeightDecay, SAMRho and SAMM are
// optional (an omitted axis takes its single value from the fixed settings:
// dataset.n, train.optimizer.momentum, train.weight_decay, train.sam.rho,
// train.sam.m). Values are kept exactly as written: integers as integers,
// floats as the float64 nearest the decimal.
type Grid struct {
	// BatchSize lists the minibatch sizes B, each in 1…N.
	BatchSize []int `json:"batch_size"`
	// LR lists the learning rates ε, each finite and > 0.
	LR []float64 `json:"lr"`
	// Seed lists the trial seeds (initialization, batch order, probes).
	Seed []int64 `json:"seed"`
	// N lists training-set sizes (replacing dataset.n).
	N []int `json:"n,omitempty"`
	// Momentum lists SGD momenta m ∈ [0, 1) (replacing
	// train.optimizer.momentum).
	Momentum []float64 `json:"momentum,omitempty"`
	// WeightDecay lists L2 coefficients λ ≥ 0 (replacing train.weight_decay).
	WeightDecay []float64 `json:"weight_decay,omitempty"`
	// SAMRho lists SAM radii ρ ≥ 0 (replacing train.sam.rho; 0 is plain
	// training).
	SAMRho []float64 `json:"sam_rho,omitempty"`
	// SAMM lists m-sharpness sub-batch sizes m ≥ 0 (replacing train.sam.m;
	// 0 is the whole batch), each dividing every batch size.
	SAMM []int `json:"sam_m,omitempty"`
	// Fields are axes over any trial field (key "axes"), by JSON path, in the order
	// written (see FieldAxes); they vary slowest, in that order.
	Fields FieldAxes `json:"axes,omitempty"`
	// Linked are groups of axes that vary together: the i-th trial value of
	// every axis of a group is its i-th value (a zip, not a product), so the
	// axes of a group have equally many values. They vary after Axes and
	// before the named axes.
	Linked []FieldAxes `json:"linked,omitempty"`
}

// Len returns the number of grid points, the product of the axis lengths
// (an omitted optional axis counts 1, a linked group the length of its
// axes). A sweep's trials are Sweep.Len: with random search, Len grid
// points for each configuration.
func (g Grid) Len() int { return Sweep{Grid: g}.Len() }

// Base returns the trial spec the sweep's fixed settings describe, with the
// axes at the first grid point (or, for an empty axis, their fixed values)
// and the random draws at their first configuration.
func (s Sweep) Base() Trial {
	t := s.fixed()
	axes, _ := s.Layout()
	for _, a := range axes {
		switch {
		case a.Random != nil:
			v, _ := a.Draw(0)
			_ = setValue(&t, a.Path, v)
		case len(a.Values) > 0:
			_ = a.set(&t, 0)
		}
	}
	return t
}

// fixed returns the trial the fixed settings describe, without the axes.
func (s Sweep) fixed() Trial {
	return Trial{Dataset: s.Dataset, Model: s.Model, Epochs: s.Train.Epochs, Curvature: s.Curvature, Training: s.Train.Training, Command: s.Command}
}

// setFixed sets the fixed settings to those of t.
func (s *Sweep) setFixed(t Trial) {
	s.Dataset, s.Model, s.Train.Epochs, s.Curvature, s.Train.Training, s.Command = t.Dataset, t.Model, t.Epochs, t.Curvature, t.Training, t.Command
}

// Resolved returns the sweep in canonical form: every fixed setting as
// Trial.Resolved leaves it, the fixed settings an axis sets left out, and
// every value of a field axis, a linked axis and a random choice in the
// canonical form it has in its trial (a default such as "sgd" or
// {"kind": "constant"} written out is normalized away).
func (s Sweep) Resolved() Sweep {
	t := s.Base().Resolved()
	s.Dataset, s.Model, s.Curvature = t.Dataset, t.Model, t.Curvature
	s.Train.Optimizer, s.Train.Schedule, s.Train.SAM = t.Optimizer, t.Schedule, t.SAM
	s.Train.PartialBatch, s.Train.EvalEvery, s.Train.Precision = t.PartialBatch, t.EvalEvery, t.Precision
	if len(s.Grid.N) > 0 {
		s.Dataset.N = 0
	}
	if len(s.Grid.Momentum) > 0 {
		s.Train.Optimizer.Momentum = 0
	}
	if len(s.Grid.SAMRho) > 0 {
		s.Train.SAM.Rho = 0
	}
	if len(s.Grid.SAMM) > 0 {
		s.Train.SAM.M = 0
	}
	if !s.generic() {
		return s
	}
	f := s.fixed()
	canon := func(path string, raw []json.RawMessage) []json.RawMessage {
		out := make([]json.RawMessage, len(raw))
		for i, r := range raw {
			out[i] = r
			if v, err := decodeValue(path, r); err == nil {
				_, js := canonicalValue(t, path, v)
				out[i] = json.RawMessage(js)
			}
		}
		return out
	}
	resolve := func(fa FieldAxes) FieldAxes {
		out := make(FieldAxes, len(fa))
		for i, a := range fa {
			_ = setValue(&f, a.Path, nil)
			out[i] = FieldAxis{Path: a.Path, Values: canon(a.Path, a.Values)}
		}
		return out
	}
	if s.Grid.Fields != nil {
		s.Grid.Fields = resolve(s.Grid.Fields)
	}
	if s.Grid.Linked != nil {
		linked := make([]FieldAxes, len(s.Grid.Linked))
		for i, g := range s.Grid.Linked {
			linked[i] = resolve(g)
		}
		s.Grid.Linked = linked
	}
	if s.Random.Draws != nil {
		draws := make(Draws, len(s.Random.Draws))
		for i, d := range s.Random.Draws {
			_ = setValue(&f, d.Path, nil)
			if d.Values != nil {
				d.Values = canon(d.Path, d.Values)
			}
			draws[i] = d
		}
		s.Random.Draws = draws
	}
	s.setFixed(f)
	return s
}

// slug is the pattern of a sweep name.
var slug = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// maxNameLen is the longest sweep name accepted.
const maxNameLen = 64

// Validate checks the sweep and returns every problem found (joined with
// errors.Join, in the order of the file's sections), each a *FieldError with
// the path of the field in the sweep ("grid.lr[1]", "train.optimizer.momentum").
// The fixed settings are checked as every trial checks them (Trial.Validate),
// for every combination of the optional axes.
func (s Sweep) Validate() error {
	var errs []error
	if !slug.MatchString(s.Name) || len(s.Name) > maxNameLen {
		errs = append(errs, invalid("name", s.Name, fmt.Sprintf("must be a slug of at most %d characters matching [a-z0-9][a-z0-9._-]*", maxNameLen)))
	}
	gridErrs := s.validateGrid()
	generic := s.generic()
	var axisErrs []error
	sound := true
	if generic {
		axisErrs, sound = s.validateAxes()
	}
	reported := map[string]bool{}
	seen := map[string]bool{}
	base := s.Base()
	for _, a := range s.optionalCombinations() {
		t := base
		for _, c := range a {
			_ = c.axis.set(&t, c.index)
		}
		for _, err := range t.problems() {
			fe := err.(*FieldError)
			trialField := fe.Field
			fe.Field = s.sweepPath(fe.Field)
			// The grid's own checks cover the axes' values; a trial's
			// problem at one of them would repeat theirs.
			if generic && s.Sets(trialField) {
				continue // reported at the axis value (validateAxisTrials)
			}
			if seen[fe.Field] || (len(gridErrs) > 0 && strings.HasPrefix(fe.Field, "grid.")) ||
				fe.Field == "grid.batch_size" || fe.Field == "grid.lr" || fe.Field == "grid.n" {
				continue
			}
			seen[fe.Field] = true
			reported[(&FieldError{Field: trialField, Value: fe.Value, Problem: fe.Problem}).Error()] = true
			errs = append(errs, fe)
		}
		// The base trial has the first batch size; a rule that depends on
		// the batch size is checked at every one.
		for i, b := range s.Grid.BatchSize[min(1, len(s.Grid.BatchSize)):] {
			t.BatchSize = b
			if err := t.validateSWABudget(); err != nil && !seen["train.swa.start"] {
				fe := err.(*FieldError)
				fe.Field, fe.Problem = s.sweepPath(fe.Field), fmt.Sprintf("grid.batch_size[%d] = %d: %s", i+1, b, fe.Problem)
				seen[fe.Field] = true
				errs = append(errs, fe)
			}
		}
	}
	errs = append(errs, gridErrs...)
	errs = append(errs, axisErrs...)
	if generic && sound && len(gridErrs) == 0 {
		errs = append(errs, s.validateAxisTrials(reported)...)
	}
	slices.SortStableFunc(errs, func(a, b error) int { return sectionOrder(a) - sectionOrder(b) })
	return errors.Join(errs...)
}

// sectionOrder ranks a problem by the section of the file it is in.
func sectionOrder(err error) int {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return 0
	}
	for i, p := range []string{"name", "dataset", "model", "train", "curvature", "grid", "random", "command"} {
		if fe.Field == p || strings.HasPrefix(fe.Field, p+".") || strings.HasPrefix(fe.Field, p+"[") {
			return i
		}
	}
	return 7
}

// problems returns the first problem of every section of the trial.
func (t Trial) problems() []error {
	var errs []error
	if err := t.validateDataset(); err != nil {
		errs = append(errs, err)
	}
	a, err := t.validateModel()
	if err != nil && !t.modelOptional() {
		errs = append(errs, err)
	}
	// m against the batch sizes is the grid's check (validateGrid): it
	// covers every batch size of the grid, not just the first.
	for _, check := range []func() error{t.validateTraining, t.validateOptimizer, t.validateSchedule, t.validateSAM, t.validatePrecision} {
		if err := check(); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 && !t.modelOptional() {
		if err := t.validateCurvature(a); err != nil {
			errs = append(errs, err)
		}
	}
	if err := t.validateCommand(); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// sweepPath maps the path of a trial field to the sweep field it comes from.
func (s Sweep) sweepPath(field string) string {
	for _, a := range s.Grid.Axes() {
		if (field == a.Path || strings.HasPrefix(field, a.Path+"[")) && (a.Swept || a.Name == "batch_size" || a.Name == "lr" || a.Name == "seed") {
			return "grid." + a.Name
		}
	}
	switch {
	case field == "", strings.HasPrefix(field, "dataset."), strings.HasPrefix(field, "model."), strings.HasPrefix(field, "curvature."),
		field == "command", strings.HasPrefix(field, "command."):
		return field
	}
	return "train." + field
}

// coordinate is one axis at one of its values.
type coordinate struct {
	axis  Axis
	index int
}

// optionalCombinations returns every combination of the optional axes' values.
func (s Sweep) optionalCombinations() [][]coordinate {
	combos := [][]coordinate{nil}
	for _, a := range s.Grid.Axes() {
		if !a.Swept || a.Name == "batch_size" || a.Name == "lr" || a.Name == "seed" {
			continue
		}
		var next [][]coordinate
		for _, c := range combos {
			for i := range a.Values {
				next = append(next, append(slices.Clone(c), coordinate{a, i}))
			}
		}
		combos = next
	}
	return combos
}

// validateGrid checks the axes: present, non-empty, valid values, distinct,
// and at most MaxTrials points.
func (s Sweep) validateGrid() []error {
	var errs []error
	g := s.Grid
	n := s.Dataset.N
	if len(g.N) > 0 {
		n = slices.Min(g.N)
	}
	axis := func(name string, length int, what string) bool {
		if length == 0 {
			errs = append(errs, &FieldError{Field: "grid." + name, Value: "[]", Problem: "empty list; expected at least one value (" + what + ")"})
		}
		return length > 0
	}
	each := func(name string, k int, ok bool, v any, problem string) {
		if !ok {
			errs = append(errs, invalid(fmt.Sprintf("grid.%s[%d]", name, k), v, problem))
		}
	}
	if (len(g.BatchSize) > 0 || !s.Sets("batch_size")) && axis("batch_size", len(g.BatchSize), "batch sizes such as [16, 64, 256]") {
		for i, b := range g.BatchSize {
			each("batch_size", i, b >= 1 && (n < 1 || b <= n), b, fmt.Sprintf("batch size must be an integer in 1…dataset.n (%d)", n))
		}
		errs = append(errs, distinct("grid.batch_size", g.BatchSize)...)
	}
	if (len(g.LR) > 0 || !s.Sets("lr")) && axis("lr", len(g.LR), "learning rates such as [0.05, 0.2]") {
		for i, lr := range g.LR {
			each("lr", i, lr > 0 && !math.IsInf(lr, 0), lr, "learning rate must be finite and > 0")
		}
		errs = append(errs, distinct("grid.lr", g.LR)...)
	}
	if (len(g.Seed) > 0 || !s.Sets("seed")) && axis("seed", len(g.Seed), "seeds such as [1, 2]") {
		errs = append(errs, distinct("grid.seed", g.Seed)...)
	}
	if g.N != nil && axis("n", len(g.N), "training-set sizes such as [1000, 4000]") {
		for i, x := range g.N {
			each("n", i, x > 0, x, "must be > 0 (a training-set size)")
		}
		errs = append(errs, distinct("grid.n", g.N)...)
	}
	if g.Momentum != nil && axis("momentum", len(g.Momentum), "momenta such as [0, 0.9]") {
		for i, m := range g.Momentum {
			each("momentum", i, m >= 0 && m < 1, m, "momentum must be in [0, 1)")
		}
		errs = append(errs, distinct("grid.momentum", g.Momentum)...)
	}
	if g.WeightDecay != nil && axis("weight_decay", len(g.WeightDecay), "weight decays such as [0, 1e-4]") {
		for i, wd := range g.WeightDecay {
			each("weight_decay", i, wd >= 0 && !math.IsInf(wd, 0), wd, "weight decay must be finite and ≥ 0")
		}
		errs = append(errs, distinct("grid.weight_decay", g.WeightDecay)...)
	}
	if g.SAMRho != nil && axis("sam_rho", len(g.SAMRho), "SAM radii such as [0, 0.05, 0.1]") {
		for i, r := range g.SAMRho {
			each("sam_rho", i, r >= 0 && !math.IsInf(r, 0), r, "must be finite and ≥ 0 (the SAM radius ρ; 0 disables SAM)")
		}
		errs = append(errs, distinct("grid.sam_rho", g.SAMRho)...)
	}
	if g.SAMM != nil && axis("sam_m", len(g.SAMM), "m-sharpness sub-batch sizes such as [4, 16]") {
		for i, m := range g.SAMM {
			each("sam_m", i, m >= 0, m, "must be ≥ 0 (the m-sharpness sub-batch size; 0: the whole batch)")
		}
		errs = append(errs, distinct("grid.sam_m", g.SAMM)...)
	}
	errs = append(errs, s.validateSubBatches()...)
	// Each axis is at most MaxSpecBytes long, so the product fits in a
	// float64 exactly enough to compare with MaxTrials.
	total, desc := 1.0, ""
	axes, dims := s.Layout()
	for _, d := range dims {
		total *= float64(d.Len)
	}
	if len(axes) > MaxAxes {
		errs = append(errs, &FieldError{Field: "grid", Problem: fmt.Sprintf("%d swept axes; at most %d allowed", len(axes), MaxAxes)})
	}
	if total > MaxTrials {
		for _, a := range []struct {
			n    int
			name string
		}{{len(g.BatchSize), "batch sizes"}, {len(g.LR), "learning rates"}, {len(g.Seed), "seeds"},
			{len(g.N), "training-set sizes"}, {len(g.Momentum), "momenta"}, {len(g.WeightDecay), "weight decays"},
			{len(g.SAMRho), "SAM radii"}, {len(g.SAMM), "m-sharpness sizes"}} {
			if a.n > 0 {
				desc += fmt.Sprintf(" × %d %s", a.n, a.name)
			}
		}
		for _, d := range dims {
			if d.Random {
				desc += fmt.Sprintf(" × %d random configurations", d.Len)
				continue
			}
			if d.Sample != nil {
				desc += fmt.Sprintf(" × %d sampled grid points", d.Len)
				continue
			}
			if len(d.Axes) == 0 {
				continue
			}
			switch a := axes[d.Axes[0]]; {
			case len(d.Axes) > 1:
				desc += fmt.Sprintf(" × %d values of %s", d.Len, strings.TrimSuffix(a.Source, "."+a.Path))
			case a.Source != "grid."+a.Name:
				desc += fmt.Sprintf(" × %d values of %s", d.Len, a.Source)
			}
		}
		errs = append(errs, &FieldError{Field: "grid", Problem: fmt.Sprintf("expands to %.0f trials (%s); at most %d allowed",
			total, strings.TrimPrefix(desc, " × "), MaxTrials)})
	}
	return errs
}

// validateSubBatches checks that every m-sharpness sub-batch size of the
// sweep (grid.sam_m, or train.sam.m) divides every batch size of every
// trial: each of grid.batch_size and its scheduled sizes, for each
// training-set size. It reports the first misfit of each m.
func (s Sweep) validateSubBatches() []error {
	g := s.Grid
	ms, field := []int{s.Train.SAM.M}, func(int) string { return "train.sam.m" }
	if len(g.SAMM) > 0 {
		ms, field = g.SAMM, func(j int) string { return fmt.Sprintf("grid.sam_m[%d]", j) }
	}
	ns := []int{s.Dataset.N}
	if len(g.N) > 0 {
		ns = g.N
	}
	var errs []error
	for j, m := range ms {
	search:
		for _, n := range ns {
			for i, b := range g.BatchSize {
				if b < 1 || n < 1 || b > n {
					continue
				}
				if bad, ok := subBatchMisfit(m, b, n, s.Train.Schedule.Batch); !ok {
					errs = append(errs, invalid(field(j), m, fmt.Sprintf("grid.batch_size[%d] = %d: %s", i, b, notDividing(bad, b))))
					break search
				}
			}
		}
	}
	return errs
}

// distinct returns an error for every value of an axis that repeats an
// earlier one.
func distinct[T comparable](path string, xs []T) []error {
	var errs []error
	first := make(map[T]int, len(xs))
	for i, x := range xs {
		if j, dup := first[x]; dup {
			errs = append(errs, invalid(path+"["+strconv.Itoa(i)+"]", x, fmt.Sprintf("duplicate of %s[%d]; the values of a grid axis must be distinct", path, j)))
			continue
		}
		first[x] = i
	}
	return errs
}
