package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Curvature configures the curvature measures computed at the end of
// training: λ₁ always, and the selected Measures.
type Curvature struct {
	// Examples is the number M of training examples over which the loss
	// L(θ) = (1/M) Σ ℓ_i and its Hessian are taken: a fixed subset drawn from
	// the trial seed; 0 means the whole training set.
	Examples int `json:"examples,omitempty"`
	// LanczosSteps is the maximum number of Lanczos iterations (Hessian-vector
	// products) used for the top eigenvalue λ₁ (default 20).
	LanczosSteps int `json:"lanczos_steps"`
	// Tol is the relative residual tolerance: λ₁ has converged when
	// ‖Hv − λ₁v‖ ≤ Tol·|λ₁| (default 1e-3).
	Tol float64 `json:"tol"`
	// Measures selects the curvature and flatness measures computed after
	// training, in addition to λ₁, with their settings (see Measure). In JSON
	// it is the list "measures" of their names in canonical order and a
	// settings block per measure whose settings are not all default, named
	// after the measure ("top_k": {"k": 10}), beside the other fields.
	Measures Measures `json:"-"`
	// Dinh enables Dinh et al.'s reparametrization check (see Dinh); the zero
	// value disables it.
	Dinh Dinh `json:"dinh,omitzero"`
	// Track measures λ₁ along training (see Track); the zero value measures
	// at the end of training only.
	Track Track `json:"track,omitzero"`
	// Landscape asks for the loss landscape around the final θ along
	// filter-normalized random directions (see LandscapeSettings); the zero
	// value disables it.
	Landscape LandscapeSettings `json:"landscape,omitzero"`

	// unlisted names the measures whose settings blocks were decoded but
	// that "measures" does not list (an error Validate reports).
	unlisted []string
}

// Selection is one selected measure with its settings (zero fields meaning
// their defaults).
type Selection struct {
	// Measure is the measure.
	Measure *Measure
	// Settings holds a value of the measure's settings type.
	Settings any
}

// Measures is a selection of measures with their settings, kept in the
// canonical order of the registry. The zero value selects none. A Measures
// value is immutable: With and Without return new ones.
type Measures struct {
	list []Selection
}

// SelectMeasures returns the selection of the named measures with default
// settings.
func SelectMeasures(names ...string) (Measures, error) {
	var ms Measures
	for _, n := range names {
		m, err := LookupMeasure(n)
		if err != nil {
			return Measures{}, err
		}
		if ms.Has(n) {
			return Measures{}, fmt.Errorf("measure %q given twice", n)
		}
		ms = ms.With(m, m.Settings)
	}
	return ms, nil
}

// Len returns the number of selected measures.
func (ms Measures) Len() int { return len(ms.list) }

// List returns the selected measures in canonical order.
func (ms Measures) List() []Selection { return slices.Clone(ms.list) }

// Names returns the names of the selected measures in canonical order.
func (ms Measures) Names() []string {
	out := make([]string, len(ms.list))
	for i, s := range ms.list {
		out[i] = s.Measure.Name
	}
	return out
}

// String returns the names joined by commas.
func (ms Measures) String() string { return strings.Join(ms.Names(), ",") }

// Has reports whether the measure called name is selected.
func (ms Measures) Has(name string) bool {
	_, ok := ms.Settings(name)
	return ok
}

// Settings returns the settings of the measure called name, as given (zero
// fields meaning their defaults), and whether it is selected.
func (ms Measures) Settings(name string) (any, bool) {
	for _, s := range ms.list {
		if s.Measure.Name == name {
			return s.Settings, true
		}
	}
	return nil, false
}

// With returns ms with measure m selected with the given settings (replacing
// its settings if it is selected already). It panics if settings is not of
// m's settings type, a programming error.
func (ms Measures) With(m *Measure, settings any) Measures {
	if err := m.checkType(settings); err != nil {
		panic(err)
	}
	out := Measures{list: make([]Selection, 0, len(ms.list)+1)}
	for _, s := range ms.list {
		if s.Measure.Name != m.Name {
			out.list = append(out.list, s)
		}
	}
	out.list = append(out.list, Selection{Measure: m, Settings: settings})
	slices.SortFunc(out.list, func(a, b Selection) int { return measureIndex(a.Measure.Name) - measureIndex(b.Measure.Name) })
	return out
}

// Without returns ms without the measure called name.
func (ms Measures) Without(name string) Measures {
	out := Measures{}
	for _, s := range ms.list {
		if s.Measure.Name != name {
			out.list = append(out.list, s)
		}
	}
	return out
}

// Normalized returns ms with every setting that equals its default set to
// zero (see Measure.Normalized).
func (ms Measures) Normalized() Measures {
	out := Measures{list: slices.Clone(ms.list)}
	for i, s := range out.list {
		out.list[i].Settings = s.Measure.Normalized(s.Settings)
	}
	return out
}

// SettingsOf returns the settings of the selected measure whose settings
// type is T, with every default applied, and whether it is selected.
func SettingsOf[T any](ms Measures) (T, bool) {
	for _, s := range ms.list {
		if v, ok := s.Settings.(T); ok {
			return s.Measure.WithDefaults(v).(T), true
		}
	}
	var zero T
	return zero, false
}

// DinhSuffix is appended to a measure's name for its value at T_α θ (see
// Dinh): "lambda_max@dinh", "lambda_1@dinh", "trace@dinh", ….
const DinhSuffix = "@dinh"

// MeasureDinhOutputChange is the name of the relative output change of the
// α-scaling in Result.Measures (see Dinh).
const MeasureDinhOutputChange = "dinh_output_change"

// Dinh configures the check of Dinh et al. (2017) that a measure is
// reparametrization-aware. After the normal measures, the trial applies the
// α-scale transformation to the trained θ at one Dense–ReLU–Dense pair of the
// network (Dense layer l₁, its ReLU, Dense layer l₂):
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
// λ₁ and, e.g., "trace@dinh", "adaptive_sharpness@dinh" for the entries of
// Result.Measures (the spectral density is not redone). A measure is
// reparametrization-aware when m@dinh = m (see Measure.Invariance). The check
// doubles the cost of the curvature phase and is skipped for a diverged run.
//
// Only the single-pair transformation is offered: for a deep network the
// layer-wise scalings W_k ← α_k W_k with Π α_k = 1 are compositions of pair
// scalings (pair k by c_k = Π_{i≤k} α_i), so a measure invariant under every
// pair scaling is invariant under them too.
type Dinh struct {
	// Alpha is α: finite, > 0 and ≠ 1 (1 is the identity). Required when
	// the block is given.
	Alpha float64 `json:"alpha,omitempty"`
	// Layer selects the Dense–ReLU–Dense pair among the network's top-level
	// layers, counted from 0 at the input: 0 (the default) is the first
	// pair, which for an mlp scales the weights into the first hidden layer
	// by α and those out of it by 1/α. A ReLU mlp with h hidden layers has
	// h pairs; a resmlp has one only without residual blocks, a cnn one per
	// dense hidden layer; networks with tanh activations have none (see
	// Architecture.DinhPairs).
	Layer int `json:"layer,omitempty"`
}

// allZero reports whether every field of a settings value is zero (see
// isZero), so that its block would be empty.
func allZero(settings any) bool {
	v := reflect.ValueOf(settings)
	for i := range v.NumField() {
		if !isZero(v.Field(i)) {
			return false
		}
	}
	return true
}

// curvatureFixed are the JSON names of Curvature's own fields, in order.
var curvatureFixed = []string{"examples", "lanczos_steps", "tol", "measures", "dinh", "track", "landscape"}

// MarshalJSON encodes c with its fields in declaration order, the measure
// settings blocks (those not all zero) in canonical order after "measures".
func (c Curvature) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	field := func(name string, v any) error {
		js, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("curvature.%s: %w", name, err)
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(name))
		b.WriteByte(':')
		b.Write(js)
		return nil
	}
	if c.Examples != 0 {
		_ = field("examples", c.Examples)
	}
	_ = field("lanczos_steps", c.LanczosSteps)
	if err := field("tol", c.Tol); err != nil {
		return nil, err
	}
	if c.Measures.Len() > 0 {
		_ = field("measures", c.Measures.Names())
		for _, s := range c.Measures.list {
			if allZero(s.Settings) {
				continue
			}
			if err := field(s.Measure.Name, s.Settings); err != nil {
				return nil, err
			}
		}
	}
	if c.Dinh != (Dinh{}) {
		if err := field("dinh", c.Dinh); err != nil {
			return nil, err
		}
	}
	if c.Track != (Track{}) {
		if err := field("track", c.Track); err != nil {
			return nil, err
		}
	}
	if c.Landscape != (LandscapeSettings{}) {
		if err := field("landscape", c.Landscape); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes c strictly: an unknown field, an unknown or repeated
// measure and a settings field the measure does not have are errors (a
// *FieldError). A settings block for a measure that "measures" does not list
// is an error of Validate.
func (c *Curvature) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return &FieldError{Field: "curvature", Problem: "expected an object: " + err.Error()}
	}
	out := Curvature{}
	strict := func(name string, raw json.RawMessage, dst any) error {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			return &FieldError{Field: "curvature." + name, Problem: jsonProblem(err)}
		}
		return nil
	}
	for _, f := range []struct {
		name string
		dst  any
	}{{"examples", &out.Examples}, {"lanczos_steps", &out.LanczosSteps}, {"tol", &out.Tol}, {"dinh", &out.Dinh},
		{"track", &out.Track}, {"landscape", &out.Landscape}} {
		if raw, ok := fields[f.name]; ok {
			if err := strict(f.name, raw, f.dst); err != nil {
				return err
			}
		}
	}
	var names []string
	if raw, ok := fields["measures"]; ok {
		if err := strict("measures", raw, &names); err != nil {
			return err
		}
	}
	for i, n := range names {
		m, err := LookupMeasure(n)
		if err != nil {
			return invalid(fmt.Sprintf("curvature.measures[%d]", i), n, err.Error())
		}
		if out.Measures.Has(n) {
			return invalid(fmt.Sprintf("curvature.measures[%d]", i), n, "measure listed twice")
		}
		out.Measures = out.Measures.With(m, m.Settings)
	}
	for _, key := range slices.Sorted(maps.Keys(fields)) {
		if slices.Contains(curvatureFixed, key) {
			continue
		}
		m, err := LookupMeasure(key)
		if err != nil {
			return &FieldError{Field: "curvature." + key, Problem: "unknown field; expected one of " +
				strings.Join(append(slices.Clone(curvatureFixed[:4]), append(MeasureNames(), "dinh", "track", "landscape")...), ", ")}
		}
		if !out.Measures.Has(key) {
			out.unlisted = append(out.unlisted, key)
			continue
		}
		v := reflect.New(reflect.TypeOf(m.Settings))
		if err := strict(key, fields[key], v.Interface()); err != nil {
			return err
		}
		out.Measures = out.Measures.With(m, v.Elem().Interface())
	}
	*c = out
	return nil
}

// SchemaType returns a struct type with one field per key a curvature
// section may have (json tags naming them), the measure settings blocks
// included, for checking a sweep file against before decoding.
func (Curvature) SchemaType() reflect.Type {
	fields := []reflect.StructField{
		{Name: "Examples", Type: reflect.TypeFor[int](), Tag: `json:"examples"`},
		{Name: "LanczosSteps", Type: reflect.TypeFor[int](), Tag: `json:"lanczos_steps"`},
		{Name: "Tol", Type: reflect.TypeFor[float64](), Tag: `json:"tol"`},
		{Name: "Measures", Type: reflect.TypeFor[[]string](), Tag: `json:"measures"`},
	}
	for i, m := range registry {
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("M%d", i), Type: reflect.TypeOf(m.Settings),
			Tag: reflect.StructTag(`json:"` + m.Name + `"`)})
	}
	fields = append(fields, reflect.StructField{Name: "Dinh", Type: reflect.TypeFor[Dinh](), Tag: `json:"dinh"`},
		reflect.StructField{Name: "Track", Type: reflect.TypeFor[Track](), Tag: `json:"track"`})
	fields = append(fields, reflect.StructField{Name: "Landscape", Type: reflect.TypeFor[LandscapeSettings](), Tag: `json:"landscape"`})
	return reflect.StructOf(fields)
}

// jsonProblem turns an encoding/json error into a problem text.
func jsonProblem(err error) string {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "json: ")
	return msg
}

// MeasuresOf returns the selection of the measures whose settings are given:
// each value is of one measure's settings type (TopKSettings{K: 10},
// TraceSettings{}, …) and selects that measure with those settings. It
// panics on a value of another type, a programming error.
func MeasuresOf(settings ...any) Measures {
	var ms Measures
	for _, s := range settings {
		i := slices.IndexFunc(registry, func(m *Measure) bool { return reflect.TypeOf(m.Settings) == reflect.TypeOf(s) })
		if i < 0 {
			panic(fmt.Sprintf("spec.MeasuresOf: %T is not the settings type of a measure", s))
		}
		ms = ms.With(registry[i], s)
	}
	return ms
}
