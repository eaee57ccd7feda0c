package spec

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Measure describes one curvature or flatness measure a trial can take after
// training, beyond λ₁ which every trial records. It is the one home of a
// measure's name, settings (their defaults, ranges and documentation, read
// from the struct tags of Settings), validation, the names of the scalars it
// records and its behaviour under Dinh's α-scaling. The engine (package
// compute) holds the code that runs it, keyed by Name. The registry
// (Measures) lists every measure in canonical order.
//
// A settings struct has fields of kind int, float64, string, bool or
// []float64, each with these tags:
//
//	json:"k,omitempty"      the setting's name (in YAML, JSON and on the wire)
//	default:"5"             the value a zero field takes; without it zero is meaningful
//	range:"[1,1048576]"     the allowed values of a non-zero number, brackets open or closed
//	enum:"hutchpp,hutchinson" the allowed values of a string
//	flag:"trace-budget"     the name of its flag in `flatsweep hessian` (default measure-setting)
//	doc:"…"                 one line for flags and docs
//
// A setting equal to its default is left out of the canonical form, so a
// spec that writes a default out and one that omits it have the same
// identity.
type Measure struct {
	// Name is the measure's key in curvature.measures and of its settings
	// block, e.g. "top_k".
	Name string
	// Summary is one line saying what the measure is.
	Summary string
	// Doc is the science: the definition, the estimator and its choices.
	Doc string
	// Settings is the zero value of the measure's settings struct.
	Settings any
	// Records returns the names of the scalars the measure stores in
	// Result.Measures for the given settings (with defaults applied), with
	// "…" standing for a run of numbered names: the names it can record,
	// since a value that is not finite (a standard error from one sample)
	// is left out, and a default count of eigenvalues is capped at P.
	Records func(settings any) []string
	// Invariance says whether the measure is unchanged by Dinh's α-scaling.
	Invariance Invariance
	// InvarianceNote explains Invariance.
	InvarianceNote string
	// Check validates settings (as given, zero meaning default) beyond the
	// generic tag checks, against the network's architecture; nil when there
	// is nothing more to check. It returns a *FieldError with a path relative to the
	// settings block ("k", "epsilons[1]").
	Check func(settings any, a Architecture) error
	// Fill applies defaults that depend on other settings, after the tag
	// defaults; nil when there are none. It returns the filled settings.
	Fill func(settings any) any
}

// Invariance is a measure's behaviour under Dinh et al.'s α-scaling T_α,
// which leaves the network's function unchanged.
type Invariance int

const (
	// NotInvariant measures change under T_α (λ₁, trace, ε-sharpness):
	// the same function can be made to look arbitrarily sharp or flat.
	NotInvariant Invariance = iota
	// Invariant measures are unchanged by T_α up to rounding.
	Invariant
	// NearlyInvariant measures are unchanged by T_α except for a small
	// regularizing constant in their definition.
	NearlyInvariant
	// DependsOnSettings measures are invariant for some settings only (see
	// the InvarianceNote).
	DependsOnSettings
)

// String names the invariance.
func (v Invariance) String() string {
	switch v {
	case Invariant:
		return "invariant"
	case NearlyInvariant:
		return "nearly invariant"
	case DependsOnSettings:
		return "depends on settings"
	}
	return "not invariant"
}

// registry lists the measures in canonical order: the order of their names
// in a canonical "measures" list and of their settings blocks. The order is
// part of every trial's identity: append new measures, never reorder.
var registry = []*Measure{&topKMeasure, &traceMeasure, &densityMeasure, &evidenceMeasure, &keskarMeasure,
	&adaptiveMeasure, &relativeMeasure, &fisherRaoMeasure, &pacBayesMeasure}

// Registry returns every measure in canonical order.
func Registry() []*Measure { return slices.Clone(registry) }

// MeasureNames returns the names of every measure in canonical order.
func MeasureNames() []string {
	names := make([]string, len(registry))
	for i, m := range registry {
		names[i] = m.Name
	}
	return names
}

// LookupMeasure returns the measure called name.
func LookupMeasure(name string) (*Measure, error) {
	if i := measureIndex(name); i >= 0 {
		return registry[i], nil
	}
	return nil, fmt.Errorf("unknown measure %q (want one of %s)", name, strings.Join(MeasureNames(), ", "))
}

func measureIndex(name string) int {
	return slices.IndexFunc(registry, func(m *Measure) bool { return m.Name == name })
}

// Setting describes one field of a measure's settings struct, as its tags
// declare it.
type Setting struct {
	// Name is the setting's key, e.g. "budget".
	Name string
	// Kind is the Go kind of its value: int, float64, string, bool or slice
	// (of float64).
	Kind reflect.Kind
	// Default is the default as written in the tag ("" when zero is
	// meaningful).
	Default string
	// Range is the allowed range of a non-zero number, e.g. "[1,1048576]".
	Range string
	// Enum lists the allowed values of a string.
	Enum []string
	// Flag is the setting's flag name in `flatsweep hessian`.
	Flag string
	// Doc is one line of documentation.
	Doc string

	index int
}

// Fields returns the settings of m, in declaration order.
func (m *Measure) Fields() []Setting {
	t := reflect.TypeOf(m.Settings)
	out := make([]Setting, 0, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		s := Setting{Name: name, Kind: f.Type.Kind(), Default: f.Tag.Get("default"), Range: f.Tag.Get("range"),
			Flag: f.Tag.Get("flag"), Doc: f.Tag.Get("doc"), index: i}
		if e := f.Tag.Get("enum"); e != "" {
			s.Enum = strings.Split(e, ",")
		}
		if s.Flag == "" {
			s.Flag = strings.ReplaceAll(m.Name+"-"+name, "_", "-")
		}
		out = append(out, s)
	}
	return out
}

// checkType checks that v holds m's settings type.
func (m *Measure) checkType(v any) error {
	if reflect.TypeOf(v) != reflect.TypeOf(m.Settings) {
		return fmt.Errorf("measure %s: settings of type %T, want %T", m.Name, v, m.Settings)
	}
	return nil
}

// WithDefaults returns settings with every zero field that has a default set
// to it (and m.Fill applied).
func (m *Measure) WithDefaults(settings any) any {
	v := reflect.New(reflect.TypeOf(m.Settings)).Elem()
	v.Set(reflect.ValueOf(settings))
	for _, s := range m.Fields() {
		f := v.Field(s.index)
		if s.Default != "" && isZero(f) {
			f.Set(s.defaultValue(f.Type()))
		}
	}
	out := v.Interface()
	if m.Fill != nil {
		out = m.Fill(out)
	}
	return out
}

// Normalized returns settings with every field equal to its default (as
// WithDefaults would set it) set to zero, so that a default written out and
// one left out have the same canonical form.
func (m *Measure) Normalized(settings any) any {
	v := reflect.New(reflect.TypeOf(m.Settings)).Elem()
	v.Set(reflect.ValueOf(settings))
	d := reflect.ValueOf(m.WithDefaults(m.Settings))
	for _, s := range m.Fields() {
		if f := v.Field(s.index); isZero(f) || reflect.DeepEqual(f.Interface(), d.Field(s.index).Interface()) {
			f.SetZero() // an empty list is the zero value too: one canonical form
		}
	}
	return v.Interface()
}

// isZero reports whether a settings field holds its zero value; an empty
// list counts as zero, so that [] and an omitted list mean the same.
func isZero(f reflect.Value) bool {
	return f.IsZero() || (f.Kind() == reflect.Slice && f.Len() == 0)
}

// defaultValue parses the default tag for a field of type t.
func (s Setting) defaultValue(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	switch t.Kind() {
	case reflect.Int:
		n, _ := strconv.Atoi(s.Default)
		v.SetInt(int64(n))
	case reflect.Float64:
		x, _ := strconv.ParseFloat(s.Default, 64)
		v.SetFloat(x)
	case reflect.String:
		v.SetString(s.Default)
	case reflect.Bool:
		v.SetBool(s.Default == "true")
	case reflect.Slice:
		var xs []float64
		for _, p := range strings.Split(s.Default, ",") {
			x, _ := strconv.ParseFloat(p, 64)
			xs = append(xs, x)
		}
		v.Set(reflect.ValueOf(xs))
	}
	return v
}

// validate checks settings against the tags (ranges and enums of non-zero
// values; zero takes the default) and then m.Check against a; paths in the
// errors are prefixed with prefix ("curvature.top_k").
func (m *Measure) validate(settings any, a Architecture, prefix string) error {
	v := reflect.ValueOf(settings)
	for _, s := range m.Fields() {
		if err := s.validate(v.Field(s.index)); err != nil {
			return err.under(prefix)
		}
	}
	if m.Check == nil {
		return nil
	}
	if err := m.Check(settings, a); err != nil {
		if fe, ok := err.(*FieldError); ok {
			return fe.under(prefix)
		}
		return err
	}
	return nil
}

// validate checks one field's value against its tags.
func (s Setting) validate(f reflect.Value) *FieldError {
	def := ""
	if s.Default != "" {
		def = " (0 or omitted: default " + s.Default + ")"
	}
	switch f.Kind() {
	case reflect.Int:
		if x := f.Int(); x != 0 && !inRange(float64(x), s.Range) {
			return invalid(s.Name, x, "must be "+rangeText(s.Range)+def)
		} else if x == 0 && s.Default == "" && !inRange(0, s.Range) && s.Range != "" {
			return invalid(s.Name, x, "must be "+rangeText(s.Range))
		}
	case reflect.Float64:
		x := f.Float()
		switch {
		case math.IsNaN(x) || math.IsInf(x, 0) || (x != 0 && !inRange(x, s.Range)):
			return invalid(s.Name, x, "must be finite and "+rangeText(s.Range)+def)
		case x == 0 && s.Default == "" && s.Range != "" && !inRange(0, s.Range):
			return invalid(s.Name, x, "must be finite and "+rangeText(s.Range))
		}
	case reflect.String:
		if x := f.String(); x != "" && len(s.Enum) > 0 && !slices.Contains(s.Enum, x) {
			return invalid(s.Name, x, "unknown value; expected "+quotedList(s.Enum))
		}
	case reflect.Slice:
		for i := range f.Len() {
			x := f.Index(i).Float()
			if math.IsNaN(x) || math.IsInf(x, 0) || !inRange(x, s.Range) {
				return invalid(fmt.Sprintf("%s[%d]", s.Name, i), x, "must be finite and "+rangeText(s.Range))
			}
		}
	}
	return nil
}

// inRange reports whether x lies in a range written "[a,b]", "(a,b]", … (an
// empty range admits everything).
func inRange(x float64, r string) bool {
	if r == "" {
		return true
	}
	lo, hi, _ := strings.Cut(r[1:len(r)-1], ",")
	a, _ := strconv.ParseFloat(lo, 64)
	b, _ := strconv.ParseFloat(hi, 64)
	if hi == "inf" {
		b = math.Inf(1)
	}
	okLo := x > a || (r[0] == '[' && x == a)
	okHi := x < b || (r[len(r)-1] == ']' && x == b)
	return okLo && okHi
}

// rangeText renders a range for a message: "in [1, 1048576]", "> 0" or
// "≥ 0" for a range without an upper end.
func rangeText(r string) string {
	if r == "" {
		return "in range"
	}
	lo, hi, _ := strings.Cut(r[1:len(r)-1], ",")
	if hi == "inf" {
		if r[0] == '[' {
			return "≥ " + lo
		}
		return "> " + lo
	}
	return "in " + r[:1] + lo + ", " + hi + r[len(r)-1:]
}

func quotedList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = strconv.Quote(x)
	}
	switch len(q) {
	case 1:
		return q[0]
	case 2:
		return q[0] + " or " + q[1]
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}
