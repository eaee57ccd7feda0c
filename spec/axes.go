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
	// float64).
	Values []any
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

// Axes returns the grid's axes in expansion order (see gridAxes). The
// optional axes the grid does not list are returned with Swept false and no
// values: the fixed setting then applies (Sweep.Base sets it).
func (g Grid) Axes() []Axis {
	lists := map[string][]any{
		"n": anys(g.N), "momentum": anys(g.Momentum), "weight_decay": anys(g.WeightDecay),
		"sam_rho": anys(g.SAMRho), "sam_m": anys(g.SAMM),
		"batch_size": anys(g.BatchSize), "lr": anys(g.LR), "seed": anys(g.Seed),
	}
	out := make([]Axis, 0, len(gridAxes))
	for _, d := range gridAxes {
		vs := lists[d.name]
		required := d.name == "batch_size" || d.name == "lr" || d.name == "seed"
		out = append(out, Axis{Name: d.name, Path: d.path, Swept: required || len(vs) > 0, Values: vs})
	}
	return out
}

// Swept returns the axes that take values from the grid, in expansion order.
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
	b, _ := json.Marshal(a.Values[i]) // grid values are numbers; validation rejects NaN and ±Inf
	return string(b)
}

// set sets the axis's field of t to its i-th value.
func (a Axis) set(t *Trial, i int) error {
	f, err := field(t, a.Path)
	if err != nil {
		return err
	}
	v := reflect.ValueOf(a.Values[i])
	if !v.Type().AssignableTo(f.Type()) {
		return fmt.Errorf("axis %s: value of type %s for a field of type %s", a.Name, v.Type(), f.Type())
	}
	f.Set(v)
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
