package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
)

// Axis is one axis of a sweep's grid: the trial field it sets and the values
// it takes, kept exactly (as Go values of the field's type, and as their
// canonical JSON).
type Axis struct {
	// Name is the axis's key in the grid ("batch_size", "n", …).
	Name string
	// Path is the JSON path of the trial field it sets ("batch_size",
	// "dataset.n", "optimizer.momentum", …).
	Path string
	// Swept is false for an optional axis the grid does not list: it then
	// has the single value of the fixed setting.
	Swept bool
	// Values are the axis's values, of the field's type (int, int64 or
	// float64 for the named axes, any type for a field axis; the choices of
	// a random choice draw; nil for another random draw).
	Values []any
	// Source is the place of the axis's values in the sweep:
	// "grid.batch_size", "grid.axes.model.hidden", "grid.linked[0].lr" or
	// "random.draws.lr".
	Source string
	// Random is the distribution of a random draw, nil for an axis of
	// listed values.
	Random *Distribution

	seed int64     // the seed of a random draw
	kind fieldKind // the field's kind, for a random draw
}

// Dim is one dimension of a sweep's trials: axes whose values are taken
// together. An axis of its own is one dimension, a linked group is one, and
// the draws of random search are one (its configurations).
type Dim struct {
	// Axes are the indexes of the dimension's axes in Sweep.Swept.
	Axes []int
	// Len is the number of values (configurations, for random search).
	Len int
	// Random is true for the configurations of random search.
	Random bool
	// Sample, for a sample of the grid (Random.Sample), lists the grid's
	// dimensions it samples points of: value j of the dimension is point
	// SamplePoint(seed, j, Π Len) of their product (see Indexes); Axes then
	// lists all their axes.
	Sample []Dim

	seed int64
}

// Indexes returns the index on each dimension of d.Sample of sample j,
// the last varying fastest.
func (d Dim) Indexes(j int) []int {
	n := 1
	for _, sd := range d.Sample {
		n *= sd.Len
	}
	p := SamplePoint(d.seed, j, n)
	out := make([]int, len(d.Sample))
	for k := len(d.Sample) - 1; k >= 0; k-- {
		l := max(d.Sample[k].Len, 1)
		out[k] = p % l
		p /= l
	}
	return out
}

// axisDef names a grid axis and the trial field it sets.
type axisDef struct{ name, path string }

// gridAxes lists the grid's axes in expansion order, slowest first: the
// optional axes n, momentum, weight_decay, sam_rho and sam_m, then
// batch_size, lr and seed.
var gridAxes = []axisDef{{"n", "dataset.n"}, {"momentum", "optimizer.momentum"}, {"weight_decay", "weight_decay"},
	{"sam_rho", "sam.rho"}, {"sam_m", "sam.m"}, {"batch_size", "batch_size"}, {"lr", "lr"}, {"seed", "seed"}}

// AxisNames returns the names of the grid axes in expansion order.
func AxisNames() []string {
	out := make([]string, len(gridAxes))
	for i, a := range gridAxes {
		out[i] = a.name
	}
	return out
}

// AxisPath returns the trial field an axis sets, and whether name is an axis.
func AxisPath(name string) (string, bool) {
	for _, a := range gridAxes {
		if a.name == name {
			return a.path, true
		}
	}
	return "", false
}

// Axes returns the grid's named axes in expansion order (see gridAxes). The
// optional axes the grid does not list are returned with Swept false and no
// values: the fixed setting then applies (Sweep.Base sets it); so are the
// axes batch_size, lr and seed when the grid does not list them but a field
// axis or a linked axis sets their field. The field axes and linked axes
// are Sweep.Swept's.
func (g Grid) Axes() []Axis { return g.named(g.sets) }

// sets reports whether a field axis or a linked axis of the grid sets the
// trial field at path (or a field that holds it).
func (g Grid) sets(path string) bool {
	for _, fa := range g.allFieldAxes() {
		for _, a := range fa {
			if pathsOverlap(a.Path, path) {
				return true
			}
		}
	}
	return false
}

// allFieldAxes returns the field axes and the linked groups.
func (g Grid) allFieldAxes() []FieldAxes {
	return append([]FieldAxes{g.Fields}, g.Linked...)
}

// Sets reports whether a field axis, a linked axis or a random draw
// sets the trial field at path (or a field that holds it).
func (s Sweep) Sets(path string) bool {
	if s.Grid.sets(path) {
		return true
	}
	for _, d := range s.Random.Draws {
		if pathsOverlap(d.Path, path) {
			return true
		}
	}
	return false
}

// generic reports whether the sweep has field axes, linked axes or random
// draws: axes beyond the named ones.
func (s Sweep) generic() bool {
	return len(s.Grid.Fields) > 0 || len(s.Grid.Linked) > 0 || s.Random.Count != 0 || len(s.Random.Draws) > 0 || s.Random.Sample != 0
}

// named returns the named axes; a required one is swept when listed or
// when no other axis sets its field (set).
func (g Grid) named(set func(string) bool) []Axis {
	lists := map[string][]any{
		"n": anys(g.N), "momentum": anys(g.Momentum), "weight_decay": anys(g.WeightDecay),
		"sam_rho": anys(g.SAMRho), "sam_m": anys(g.SAMM),
		"batch_size": anys(g.BatchSize), "lr": anys(g.LR), "seed": anys(g.Seed),
	}
	out := make([]Axis, 0, len(gridAxes))
	for _, d := range gridAxes {
		vs := lists[d.name]
		required := (d.name == "batch_size" || d.name == "lr" || d.name == "seed") && !set(d.path)
		out = append(out, Axis{Name: d.name, Path: d.path, Swept: required || len(vs) > 0, Values: vs, Source: "grid." + d.name})
	}
	return out
}

// Swept returns the named axes that take values from the grid, in
// expansion order (Sweep.Swept adds the field axes, linked axes and random
// draws).
func (g Grid) Swept() []Axis {
	var out []Axis
	for _, a := range g.Axes() {
		if a.Swept {
			out = append(out, a)
		}
	}
	return out
}

func anys[T any](xs []T) []any {
	if xs == nil {
		return nil
	}
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// JSON returns the canonical JSON of the axis's i-th value.
func (a Axis) JSON(i int) string {
	b, _ := json.Marshal(a.Values[i]) // validation rejects NaN and ±Inf
	return string(b)
}

// Draw returns the value of a random axis in configuration j (see
// Distribution) and, for a choice, the index of the value chosen (j
// otherwise).
func (a Axis) Draw(j int) (any, int) {
	return a.Random.draw(a.seed, j, a.Path, a.kind, a.Values)
}

// Swept returns every swept axis of the sweep in the order of a trial's
// Point: the random draws (in the order written), the field axes, the
// axes of each linked group, then the named axes of the grid
// (Grid.Axes). An axis whose path names no field an axis may set is left
// out (Validate reports it); a value that does not decode is its field's
// zero value.
func (s Sweep) Swept() []Axis {
	axes, _ := s.Layout()
	return axes
}

// Layout returns the swept axes (see Swept) and the dimensions of the
// sweep's trials, slowest first: the configurations of random search, each
// field axis, each linked group, then each swept named axis. Trial i is at
// index (i / Π_{d' > d} Len_{d'}) mod Len_d of dimension d. With a sample
// of the grid (Random.Sample) the dimensions but the seed's are one, of
// Random.Sample values (see Dim.Sample), followed by the seed's.
func (s Sweep) Layout() ([]Axis, []Dim) {
	var axes []Axis
	var dims []Dim
	if r := s.Random; r.Count > 0 || len(r.Draws) > 0 {
		d := Dim{Len: r.Count, Random: true}
		for _, dr := range r.Draws {
			typ, err := AxisFieldType(dr.Path)
			if err != nil {
				continue
			}
			a := Axis{Name: dr.Path, Path: dr.Path, Swept: true, Source: "random.draws." + dr.Path, Random: &dr.Distribution, seed: r.Seed}
			switch typ.Kind() {
			case reflect.Int:
				a.kind = kindInt
			case reflect.Int64:
				a.kind = kindInt64
			case reflect.Float64:
				a.kind = kindFloat
			}
			if dr.Dist == DistChoice {
				a.Values = decodeValues(dr.Path, typ, dr.Values)
				if len(a.Values) == 0 {
					continue
				}
			} else if a.kind == kindOther || (dr.Dist == DistInt) != (a.kind != kindFloat) {
				continue
			}
			d.Axes = append(d.Axes, len(axes))
			axes = append(axes, a)
		}
		dims = append(dims, d)
	}
	for g, group := range s.Grid.allFieldAxes() {
		var d Dim
		for i, fa := range group {
			typ, err := AxisFieldType(fa.Path)
			if err != nil {
				continue
			}
			src := "grid.axes." + fa.Path
			if g > 0 {
				src = fmt.Sprintf("grid.linked[%d].%s", g-1, fa.Path)
			}
			vs := decodeValues(fa.Path, typ, fa.Values)
			if g == 0 || i == 0 {
				d = Dim{}
			}
			if len(d.Axes) == 0 || len(vs) < d.Len {
				d.Len = len(vs)
			}
			d.Axes = append(d.Axes, len(axes))
			axes = append(axes, Axis{Name: fa.Path, Path: fa.Path, Swept: true, Values: vs, Source: src})
			if g == 0 {
				dims = append(dims, d)
			}
		}
		if g > 0 && len(d.Axes) > 0 {
			dims = append(dims, d)
		}
	}
	for _, a := range s.Grid.named(s.Sets) {
		if a.Swept {
			dims = append(dims, Dim{Axes: []int{len(axes)}, Len: len(a.Values)})
			axes = append(axes, a)
		}
	}
	if s.Random.Sample != 0 {
		// A sample of the grid's points but the seed, each at every seed.
		var sampled, rest []Dim
		for _, d := range dims {
			if len(d.Axes) == 1 && axes[d.Axes[0]].Source == "grid.seed" || d.Random {
				rest = append(rest, d)
			} else {
				sampled = append(sampled, d)
			}
		}
		sd := Dim{Len: s.Random.Sample, Sample: sampled, seed: s.Random.Seed}
		for _, d := range sampled {
			sd.Axes = append(sd.Axes, d.Axes...)
		}
		dims = append([]Dim{sd}, rest...)
	}
	return axes, dims
}

// decodeValues decodes the values of a field axis, each as a Go value of
// the field's type (its zero value where it does not decode).
func decodeValues(path string, typ reflect.Type, raw []json.RawMessage) []any {
	vs := make([]any, len(raw))
	for i, r := range raw {
		v, err := decodeValue(path, r)
		if err != nil {
			v = reflect.Zero(typ).Interface()
		}
		vs[i] = v
	}
	return vs
}

// Len returns the number of trials of the sweep: the product of its
// dimensions' lengths (see Layout), Count × Grid.Len() with random search.
func (s Sweep) Len() int {
	_, dims := s.Layout()
	n := 1
	for _, d := range dims {
		n *= d.Len
	}
	return n
}

// set sets the axis's field of t to its i-th value.
func (a Axis) set(t *Trial, i int) error {
	if err := setValue(t, a.Path, a.Values[i]); err != nil {
		return fmt.Errorf("axis %s: %w", a.Name, err)
	}
	return nil
}

// setValue sets the field of t at path to v, a value of the field's type,
// or to its zero value for nil.
func setValue(t *Trial, path string, v any) error {
	f, err := field(t, path)
	if err != nil {
		return err
	}
	if v == nil {
		f.Set(reflect.Zero(f.Type()))
		return nil
	}
	rv := reflect.ValueOf(v)
	if !rv.Type().AssignableTo(f.Type()) {
		return fmt.Errorf("value of type %s for a field of type %s", rv.Type(), f.Type())
	}
	f.Set(rv)
	return nil
}

// Coordinate is a trial's value on one axis, as canonical JSON.
type Coordinate struct {
	// Axis is the axis's name.
	Axis string `json:"axis"`
	// Value is the value's canonical JSON ("16", "0.05", "9007199254740993").
	Value string `json:"value"`
}

// Point is a trial's position on the grid: its value on every swept axis, in
// expansion order.
type Point []Coordinate

// String formats the point as "batch_size=16 lr=0.05 seed=1".
func (p Point) String() string {
	parts := make([]string, len(p))
	for i, c := range p {
		parts[i] = c.Axis + "=" + c.Value
	}
	return strings.Join(parts, " ")
}

// Value returns the JSON of the point's value on the named axis.
func (p Point) Value(axis string) (string, bool) {
	for _, c := range p {
		if c.Axis == axis {
			return c.Value, true
		}
	}
	return "", false
}

// SetJSON sets the field of t at path (a JSON path such as "dataset.n") from
// its JSON encoding, exactly: integers stay integers whatever their size.
func SetJSON(t *Trial, path, value string) error {
	f, err := field(t, path)
	if err != nil {
		return err
	}
	p := reflect.New(f.Type())
	if err := json.Unmarshal([]byte(value), p.Interface()); err != nil {
		return fmt.Errorf("%s = %s: %w", path, value, err)
	}
	f.Set(p.Elem())
	return nil
}

// GetJSON returns the canonical JSON of the field of t at path.
func GetJSON(t Trial, path string) (string, error) {
	f, err := field(&t, path)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(f.Interface())
	return string(b), err
}

// field returns the addressable field of t at a JSON path.
func field(t *Trial, path string) (reflect.Value, error) {
	idx, err := FieldIndex(path)
	if err != nil {
		return reflect.Value{}, err
	}
	return reflect.ValueOf(t).Elem().FieldByIndex(idx), nil
}

// FieldIndex returns the index path (for reflect.Value.FieldByIndex) of the
// Trial field at a JSON path such as "optimizer.momentum".
func FieldIndex(path string) ([]int, error) {
	idx, _, err := fieldPath(path)
	return idx, err
}

// fieldPath returns the index path and the struct field at a JSON path.
func fieldPath(path string) ([]int, reflect.StructField, error) {
	typ := reflect.TypeFor[Trial]()
	var idx []int
	var f reflect.StructField
	for _, name := range strings.Split(path, ".") {
		if typ.Kind() != reflect.Struct {
			return nil, f, fmt.Errorf("no trial field %q", path)
		}
		sub := jsonField(typ, name)
		if sub == nil {
			return nil, f, fmt.Errorf("no trial field %q", path)
		}
		f = typ.FieldByIndex(sub)
		idx = append(idx, sub...)
		typ = f.Type
	}
	return idx, f, nil
}

// jsonField returns the index path of the field of struct type t with JSON
// name name, looking into embedded structs as encoding/json does, or nil.
func jsonField(t reflect.Type, name string) []int {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			if sub := jsonField(f.Type, name); sub != nil {
				return append([]int{i}, sub...)
			}
			continue
		}
		if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n == name {
			return []int{i}
		}
	}
	return nil
}

// Omitted reports whether the trial field at path is left out of the JSON
// encoding when its value has the canonical JSON value: an omitempty number
// at 0 (the only values a grid axis can take that are left out).
func Omitted(path, value string) bool {
	return value == "0" && OmitsZero(path)
}

// OmitsZero reports whether the trial field at path is an omitempty field,
// left out of the JSON encoding at its zero value.
func OmitsZero(path string) bool {
	_, f, err := fieldPath(path)
	return err == nil && strings.Contains(f.Tag.Get("json"), ",omitempty")
}
