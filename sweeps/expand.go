package sweeps

import (
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

// Expand returns the trials of the sweep: the Cartesian product of the swept
// axes (spec.Grid.Swept) in a fixed order, the first axis varying slowest:
// the optional axes n, momentum, weight_decay, sam_rho and sam_m (when the
// grid lists them), then batch_size, lr, and seed innermost, each in the
// order written. A sweep without optional axes has trial i at
//
//	batch_size = BatchSize[(i / (|lr|·|seed|)) mod |batch_size|]
//	lr         = LR[(i / |seed|) mod |lr|]
//	seed       = Seed[i mod |seed|]
//
// The trials share the sweep's lists (hidden widths, milestones, file
// lists): treat a trial's Spec as read-only, or clone what you change. The
// trials of a valid sweep have distinct IDs, since its axes have no
// duplicates.
func Expand(s spec.Sweep) []Trial {
	trials := make([]Trial, 0, s.Grid.Len())
	ForEachTrial(s, func(t *Trial) {
		c := *t
		c.Point = t.PointOf(s.Grid)
		trials = append(trials, c)
	})
	return trials
}

// PointOf returns the trial's position on g's swept axes.
func (t *Trial) PointOf(g spec.Grid) spec.Point {
	p := make(spec.Point, 0, 6)
	for _, a := range g.Swept() {
		v, _ := spec.GetJSON(t.Spec, a.Path)
		p = append(p, spec.Coordinate{Axis: a.Name, Value: v})
	}
	return p
}

// Expander walks a sweep's grid. Values holds, per swept axis, the
// canonical JSON of each value; Indexes the current trial's position on each
// (see ForEachTrial).
type Expander struct {
	// Axes are the swept axes in expansion order.
	Axes []spec.Axis
	// Values[k][i] is the canonical JSON of value i of axis k.
	Values [][]string
	// Indexes[k] is the current trial's index on axis k.
	Indexes []int

	base      spec.Trial
	fields    [][]int
	omits     []bool // whether each axis's field is left out at 0
	templates map[uint64]*spec.Template
	noTmpl    map[uint64]bool
}

// NewExpander returns an Expander of the sweep's grid.
func NewExpander(s spec.Sweep) *Expander {
	e := &Expander{Axes: s.Grid.Swept(), base: s.Base(), templates: map[uint64]*spec.Template{}, noTmpl: map[uint64]bool{}}
	for _, a := range e.Axes {
		vals := make([]string, len(a.Values))
		for i := range a.Values {
			vals[i] = a.JSON(i)
		}
		e.Values = append(e.Values, vals)
		idx, err := spec.FieldIndex(a.Path)
		if err != nil {
			panic(err) // the grid's axes name trial fields
		}
		e.fields = append(e.fields, idx)
		e.omits = append(e.omits, spec.OmitsZero(a.Path))
	}
	e.Indexes = make([]int, len(e.Axes))
	return e
}

// set sets the fields of t to the current trial's values.
func (e *Expander) set(t *spec.Trial) {
	*t = e.base
	v := reflect.ValueOf(t).Elem()
	for k, a := range e.Axes {
		v.FieldByIndex(e.fields[k]).Set(reflect.ValueOf(a.Values[e.Indexes[k]]))
	}
}

// ID returns the current trial's ID, spliced from a template of its
// identity form where one exists (fields at an omitted zero value are part of
// the template, not spliced), and buf for reuse.
func (e *Expander) ID(t *spec.Trial, buf []byte) (string, []byte) {
	mask := e.OmittedMask()
	tmpl, ok := e.templates[mask]
	if !ok && !e.noTmpl[mask] {
		var paths []string
		for k, a := range e.Axes {
			if mask&(1<<k) == 0 {
				paths = append(paths, a.Path)
			}
		}
		var err error
		if tmpl, err = spec.NewTemplate(spec.Identity, *t, paths); err != nil {
			e.noTmpl[mask] = true
		} else {
			e.templates[mask] = tmpl
		}
	}
	if tmpl == nil {
		return spec.ID(*t), buf
	}
	vals := make([]string, 0, len(e.Axes))
	for k := range e.Axes {
		if mask&(1<<k) == 0 {
			vals = append(vals, e.Values[k][e.Indexes[k]])
		}
	}
	buf = tmpl.Append(buf[:0], vals)
	return spec.IDOf(buf), buf
}

// OmittedMask returns the current trial's pattern of axis values that its
// JSON leaves out (bit k: axis k is an omitempty field at 0), the key of
// its template.
func (e *Expander) OmittedMask() uint64 {
	var mask uint64
	for k := range e.Axes {
		if e.omits[k] && e.Values[k][e.Indexes[k]] == "0" {
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
// encoded once per pattern of omitted zero values as a spec.Template, and
// each trial's is spliced together from it and the encodings of its axis
// values (checked on the first trial of each pattern; a pattern without a
// template is encoded trial by trial).
func ForEachTrial(s spec.Sweep, fn func(t *Trial)) {
	e := NewExpander(s)
	e.Each(func(t *Trial) { fn(t) })
}

// Each calls fn for every trial in expansion order, with e.Indexes at its
// position (see ForEachTrial).
func (e *Expander) Each(fn func(t *Trial)) {
	total := 1
	for _, v := range e.Values {
		total *= len(v)
	}
	var t Trial
	var buf []byte
	for i := range total {
		r := i
		for k := len(e.Axes) - 1; k >= 0; k-- {
			e.Indexes[k] = r % len(e.Values[k])
			r /= len(e.Values[k])
		}
		e.set(&t.Spec)
		t.ID, buf = e.ID(&t.Spec, buf)
		t.Index = i
		fn(&t)
	}
}
