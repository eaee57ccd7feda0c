package sweeps

import (
	"encoding/binary"
	"encoding/json"
	"reflect"

	"github.com/flatsweep/flatsweep/spec"
)

// Trial is one grid point of a sweep, ready to run.
type Trial struct {
	// ID is spec.ID(Spec).
	ID string `json:"id"`
	// Index is the trial's position in the expansion order, 0-based.
	Index int `json:"index"`
	// Point holds the trial's values on the swept axes, as canonical JSON.
	Point spec.Point `json:"point"`
	// Spec is the complete trial spec.
	Spec spec.Trial `json:"spec"`
}

// Expand returns the trials of the sweep: the Cartesian product of its
// dimensions (spec.Sweep.Layout) in a fixed order, the first varying
// slowest: the configurations of random search (when the sweep has a
// random section), the field axes (grid.axes, in the order written), the
// linked groups (grid.linked, each group's axes together), then the named
// optional axes n, momentum, weight_decay, sam_rho and sam_m (when the grid
// lists them), then batch_size, lr, and seed innermost, each in the order
// written. A sweep without field axes, linked axes, random draws or
// optional axes has trial i at
//
//	batch_size = BatchSize[(i / (|lr|·|seed|)) mod |batch_size|]
//	lr         = LR[(i / |seed|) mod |lr|]
//	seed       = Seed[i mod |seed|]
//
// The trials share the sweep's lists (hidden widths, milestones, file
// lists, list values of axes): treat a trial's Spec as read-only, or clone
// what you change. The trials of a valid sweep have distinct IDs, since its
// axes have no duplicates and its random configurations are distinct.
func Expand(s spec.Sweep) []Trial {
	e := NewExpander(s)
	trials := make([]Trial, 0, e.Len())
	e.Each(func(t *Trial) {
		c := *t
		c.Point = e.Point()
		trials = append(trials, c)
	})
	return trials
}

// PointOf returns the trial's position on the sweep's swept axes
// (spec.Sweep.Swept), read from its spec.
func (t *Trial) PointOf(s spec.Sweep) spec.Point {
	axes := s.Swept()
	p := make(spec.Point, 0, len(axes))
	for _, a := range axes {
		v, _ := spec.GetJSON(t.Spec, a.Path)
		p = append(p, spec.Coordinate{Axis: a.Name, Value: v})
	}
	return p
}

// Expander walks a sweep's trials. Values holds, per swept axis of listed
// values, the canonical JSON of each value; Indexes the current trial's
// position on each, and Value its value (see ForEachTrial).
type Expander struct {
	// Axes are the swept axes in the order of a trial's point
	// (spec.Sweep.Swept).
	Axes []spec.Axis
	// Values[k][i] is the canonical JSON of value i of axis k (the choices
	// of a random choice; nil for another random draw).
	Values [][]string
	// Indexes[k] is the current trial's index on axis k: the index of its
	// value in Values[k], or, for a random draw other than a choice, the
	// trial's configuration.
	Indexes []int

	dims      []spec.Dim
	cur       []string // the current trial's value on each axis, as JSON
	val       []any    // and as a Go value of the field's type
	base      spec.Trial
	fields    [][]int
	omits     []bool // whether each axis's field is left out at 0
	splice    []bool // whether each axis's value is spliced into a template (a number)
	key       []byte // the current trial's template key
	templates map[string]*spec.Template
	noTmpl    map[string]bool
}

// NewExpander returns an Expander of the sweep's trials.
func NewExpander(s spec.Sweep) *Expander {
	axes, dims := s.Layout()
	e := &Expander{Axes: axes, dims: dims, base: s.Base(), templates: map[string]*spec.Template{}, noTmpl: map[string]bool{}}
	for _, a := range e.Axes {
		var vals []string
		if a.Values != nil {
			vals = make([]string, len(a.Values))
			for i := range a.Values {
				vals[i] = a.JSON(i)
			}
		}
		e.Values = append(e.Values, vals)
		idx, err := spec.FieldIndex(a.Path)
		if err != nil {
			panic(err) // the sweep's axes name trial fields
		}
		e.fields = append(e.fields, idx)
		e.omits = append(e.omits, spec.OmitsZero(a.Path))
		k := reflect.ValueOf(&e.base).Elem().FieldByIndex(idx).Kind()
		e.splice = append(e.splice, k == reflect.Int || k == reflect.Int64 || k == reflect.Float64)
	}
	e.Indexes = make([]int, len(e.Axes))
	e.cur = make([]string, len(e.Axes))
	e.val = make([]any, len(e.Axes))
	return e
}

// Len returns the number of trials (spec.Sweep.Len).
func (e *Expander) Len() int {
	n := 1
	for _, d := range e.dims {
		n *= d.Len
	}
	return n
}

// Value returns the canonical JSON of the current trial's value on axis k.
func (e *Expander) Value(k int) string { return e.cur[k] }

// Point returns the current trial's point.
func (e *Expander) Point() spec.Point {
	p := make(spec.Point, len(e.Axes))
	for k, a := range e.Axes {
		p[k] = spec.Coordinate{Axis: a.Name, Value: e.cur[k]}
	}
	return p
}

// At sets t to trial i (0 ≤ i < Len), computed on its own: its spec, ID
// and index; t.Point is not set (Point returns it). e.Indexes and Value
// then describe trial i.
func (e *Expander) At(i int, t *Trial) {
	e.move(i)
	e.set(&t.Spec)
	t.ID, e.key = e.ID(&t.Spec, e.key)
	t.Index = i
}

// move sets Indexes and the current values to those of trial i.
func (e *Expander) move(i int) {
	r := i
	for d := len(e.dims) - 1; d >= 0; d-- {
		dim := e.dims[d]
		n := max(dim.Len, 1)
		j := r % n
		r /= n
		if dim.Sample != nil {
			for s, at := range dim.Indexes(j) {
				e.moveDim(dim.Sample[s], at)
			}
			continue
		}
		e.moveDim(dim, j)
	}
}

// moveDim sets the axes of one dimension to its j-th value.
func (e *Expander) moveDim(dim spec.Dim, j int) {
	for _, k := range dim.Axes {
		a := &e.Axes[k]
		switch {
		case a.Random != nil && a.Random.Dist == spec.DistChoice:
			_, c := a.Draw(j)
			e.Indexes[k], e.cur[k], e.val[k] = c, e.Values[k][c], a.Values[c]
		case a.Random != nil:
			v, _ := a.Draw(j)
			js, _ := json.Marshal(v)
			e.Indexes[k], e.cur[k], e.val[k] = j, string(js), v
		default:
			e.Indexes[k], e.cur[k], e.val[k] = j, e.Values[k][j], a.Values[j]
		}
	}
}

// set sets the fields of t to the current trial's values.
func (e *Expander) set(t *spec.Trial) {
	*t = e.base
	v := reflect.ValueOf(t).Elem()
	for k := range e.Axes {
		v.FieldByIndex(e.fields[k]).Set(reflect.ValueOf(e.val[k]))
	}
}

// ID returns the current trial's ID, spliced from a template of its
// identity form where one exists, and buf for reuse. The template is shared
// by the trials with the same pattern of omitted zero values (their fields
// are part of the template, not spliced) and the same values on the axes
// that are not numbers (strings, lists, objects: part of the template too);
// the values of the other axes are spliced in.
func (e *Expander) ID(t *spec.Trial, buf []byte) (string, []byte) {
	mask := e.OmittedMask()
	key := binary.LittleEndian.AppendUint64(buf[:0], mask)
	for k := range e.Axes {
		if !e.splice[k] {
			key = binary.LittleEndian.AppendUint32(key, uint32(e.Indexes[k]))
		}
	}
	tmpl, ok := e.templates[string(key)]
	if !ok && !e.noTmpl[string(key)] {
		var paths []string
		for k, a := range e.Axes {
			if e.splice[k] && mask&(1<<k) == 0 {
				paths = append(paths, a.Path)
			}
		}
		var err error
		if tmpl, err = spec.NewTemplate(spec.Identity, *t, paths); err != nil {
			e.noTmpl[string(key)] = true
		} else {
			e.templates[string(key)] = tmpl
		}
	}
	if tmpl == nil {
		return spec.ID(*t), key
	}
	vals := make([]string, 0, len(e.Axes))
	for k := range e.Axes {
		if e.splice[k] && mask&(1<<k) == 0 {
			vals = append(vals, e.cur[k])
		}
	}
	buf = tmpl.Append(key[:0], vals)
	return spec.IDOf(buf), buf
}

// OmittedMask returns the current trial's pattern of numeric axis values
// that its JSON leaves out (bit k: axis k is an omitempty number at 0),
// part of the key of its template.
func (e *Expander) OmittedMask() uint64 {
	var mask uint64
	for k := range e.Axes {
		if e.omits[k] && e.splice[k] && e.cur[k] == "0" {
			mask |= 1 << k
		}
	}
	return mask
}

// ForEachTrial calls fn for each trial of the sweep in the order of Expand
// without building the whole list: t (and its Spec) is reused between calls
// and t.Point is not set (PointOf computes it), so fn must copy what it
// keeps. For very large grids it saves the memory of a full spec per trial.
//
// IDs are computed without encoding each trial: the identity form is
// encoded once per pattern of omitted zero values (and of values of the
// axes that are not numbers) as a spec.Template, and each trial's is
// spliced together from it and the encodings of its axis values (checked
// on the first trial of each pattern; a pattern without a template is
// encoded trial by trial).
func ForEachTrial(s spec.Sweep, fn func(t *Trial)) {
	e := NewExpander(s)
	e.Each(func(t *Trial) { fn(t) })
}

// Each calls fn for every trial in expansion order, with e.Indexes at its
// position (see ForEachTrial).
func (e *Expander) Each(fn func(t *Trial)) {
	var t Trial
	for i := range e.Len() {
		e.At(i, &t)
		fn(&t)
	}
}
