package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
)

// FullCheck is the largest number of trials of a sweep with field axes,
// linked axes or random draws that Validate checks trial by trial; a larger
// sweep is checked one axis value at a time (each value with the other axes
// at their first value), and each trial again before it runs.
const FullCheck = 4096

// MaxAxes is the largest number of swept axes a sweep may have.
const MaxAxes = 32

// claimed is a trial field an axis sets, and where the axis is.
type claimed struct{ path, source string }

// validateAxes checks the field axes, the linked axes and the random draws
// themselves: known fields that an axis may set, each set once and not also
// a fixed setting, values of the field's type that are distinct, linked
// axes of equal lengths, and well-formed distributions. It reports whether
// they are sound enough for their trials to be checked.
func (s Sweep) validateAxes() ([]error, bool) {
	var errs []error
	bad := func(field, value, problem string) {
		errs = append(errs, &FieldError{Field: field, Value: value, Problem: problem})
	}
	var paths []claimed
	f := s.fixed()
	base := s.Base()
	named := s.Grid.named(func(string) bool { return true })
	claim := func(path, source string) (reflect.Type, bool) {
		typ, err := AxisFieldType(path)
		if err != nil {
			bad(source, "", err.Error())
			return nil, false
		}
		for _, p := range paths {
			if pathsOverlap(p.path, path) {
				bad(source, "", fmt.Sprintf("%s sets %s already; a field takes its values from one axis", p.source, p.path))
				return nil, false
			}
		}
		for _, a := range named {
			if len(a.Values) > 0 && pathsOverlap(a.Path, path) {
				bad(source, "", fmt.Sprintf("grid.%s sets %s already; give its values in one place", a.Name, a.Path))
				return nil, false
			}
		}
		if v, err := field(&f, path); err == nil && !v.IsZero() {
			bad(source, "", fmt.Sprintf("%s is also a fixed setting; give it as a fixed setting or as an axis, not both", s.sweepPath(path)))
			return nil, false
		}
		paths = append(paths, claimed{path, source})
		return typ, true
	}
	// check checks a list of values of the field at path and returns their
	// canonical JSON (nil if one is bad).
	check := func(path, source string, raw []json.RawMessage) []string {
		if len(raw) == 0 {
			bad(source, "[]", "empty list; expected at least one value")
			return nil
		}
		canon := make([]string, len(raw))
		first := map[string]int{}
		ok := true
		for i, r := range raw {
			v, err := decodeValue(path, r)
			if err != nil {
				bad(fmt.Sprintf("%s[%d]", source, i), string(r), err.Error())
				ok = false
				continue
			}
			_, canon[i] = canonicalValue(base, path, v)
			if j, dup := first[canon[i]]; dup {
				bad(fmt.Sprintf("%s[%d]", source, i), string(r), fmt.Sprintf("duplicate of %s[%d] (once defaults are applied); the values of an axis must be distinct", source, j))
				ok = false
			}
			first[canon[i]] = i
		}
		if !ok {
			return nil
		}
		return canon
	}
	sound := true
	for _, fa := range s.Grid.Fields {
		if _, ok := claim(fa.Path, "grid.axes."+fa.Path); !ok || check(fa.Path, "grid.axes."+fa.Path, fa.Values) == nil {
			sound = false
		}
	}
	for g, group := range s.Grid.Linked {
		at := fmt.Sprintf("grid.linked[%d]", g)
		if len(group) == 0 {
			bad(at, "{}", "empty group; expected axes that vary together, such as {lr: [0.1, 0.2], batch_size: [64, 128]}")
			sound = false
			continue
		}
		var tuples []string
		lengthOK := true
		for i, fa := range group {
			src := at + "." + fa.Path
			if _, ok := claim(fa.Path, src); !ok {
				sound = false
				continue
			}
			if i > 0 && len(fa.Values) != len(group[0].Values) {
				bad(src, "", fmt.Sprintf("%s, but %s.%s has %d: linked axes vary together (the i-th value of each), so they need equally many values",
					values(len(fa.Values)), at, group[0].Path, len(group[0].Values)))
				sound, lengthOK = false, false
				continue
			}
			canon := check(fa.Path, src, fa.Values)
			if canon == nil {
				sound, lengthOK = false, false
				continue
			}
			if tuples == nil {
				tuples = make([]string, len(canon))
			}
			for k, c := range canon {
				tuples[k] += "\x00" + c
			}
		}
		if lengthOK && len(tuples) > 0 {
			first := map[string]int{}
			for k, tu := range tuples {
				if j, dup := first[tu]; dup {
					bad(fmt.Sprintf("%s.%s[%d]", at, group[0].Path, k), "", fmt.Sprintf("the values at index %d repeat those at index %d; the value tuples of linked axes must be distinct", k, j))
					sound = false
				}
				first[tu] = k
			}
		}
	}
	r := s.Random
	switch {
	case r.Sample != 0 && (r.Count != 0 || len(r.Draws) > 0):
		bad("random.sample", fmt.Sprint(r.Sample), "give random.sample (a sample of the grid) or random.count and random.draws (random search), not both")
		sound = false
	case r.Sample < 0:
		bad("random.sample", fmt.Sprint(r.Sample), "must be ≥ 1 (the number of grid points run, drawn without replacement)")
		sound = false
	case r.Sample > 0:
		points := 1.0
		_, dims := s.Layout()
		for _, d := range dims[0].Sample {
			points *= float64(d.Len)
		}
		if points > 1<<62 {
			bad("random.sample", fmt.Sprint(r.Sample), fmt.Sprintf("the grid has %.3g points besides the seed; at most 2⁶² can be sampled", points))
			sound = false
		} else if float64(r.Sample) > points {
			bad("random.sample", fmt.Sprint(r.Sample), fmt.Sprintf("the grid has %.0f points besides the seed: at most that many can be drawn without replacement", points))
			sound = false
		}
	case r.Count == 0 && len(r.Draws) == 0 && s.Random.Seed != 0:
		bad("random", "{…}", "expected random.count and random.draws (random search) or random.sample (a sample of the grid)")
		sound = false
	}
	if r.Count != 0 || len(r.Draws) > 0 {
		if r.Count < 1 {
			bad("random.count", fmt.Sprint(r.Count), "must be ≥ 1 (the number of configurations drawn)")
			sound = false
		}
		if len(r.Draws) == 0 {
			bad("random.draws", "", "no draws; expected the fields to draw, such as {lr: {dist: log_uniform, low: 0.001, high: 1}}")
			sound = false
		}
		for _, d := range r.Draws {
			src := "random.draws." + d.Path
			typ, ok := claim(d.Path, src)
			if !ok || !s.validateDist(d, typ, src, bad, func(raw []json.RawMessage) bool { return check(d.Path, src+".values", raw) != nil }) {
				sound = false
			}
		}
		if sound && s.total() <= MaxTrials {
			if err := s.distinctDraws(); err != nil {
				errs = append(errs, err)
				sound = false
			}
		}
	}
	return errs, sound
}

// validateDist checks the distribution of a draw of a field of type typ.
func (s Sweep) validateDist(d Draw, typ reflect.Type, src string, bad func(field, value, problem string), choices func([]json.RawMessage) bool) bool {
	ok := true
	fail := func(field, value, problem string) {
		bad(src+field, value, problem)
		ok = false
	}
	num := func(x float64) string { return fmt.Sprint(x) }
	kind := typ.Kind()
	isInt := kind == reflect.Int || kind == reflect.Int64
	switch d.Dist {
	case DistChoice:
		if d.Low != 0 || d.High != 0 || d.Log || d.Digits != 0 {
			fail("", "", "a choice takes values only (no low, high, log or digits)")
		}
		if ok && !choices(d.Values) {
			ok = false
		}
		return ok
	case DistUniform, DistLogUniform:
		if kind != reflect.Float64 {
			hint := "a choice"
			if isInt {
				hint = "dist: int"
			}
			fail(".dist", fmt.Sprintf("%q", d.Dist), fmt.Sprintf("draws a number, but %s is %s (use %s)", d.Path, typeName(typ), hint))
			return false
		}
		if d.Log {
			fail(".log", "true", "only for dist: int (log_uniform is the log-uniform float)")
		}
		if d.Digits < 0 || d.Digits > 17 {
			fail(".digits", fmt.Sprint(d.Digits), fmt.Sprintf("must be in 1…17, the significant digits of a drawn number (0: default %d)", DefaultDigits))
		}
	case DistInt:
		if !isInt {
			fail(".dist", `"int"`, fmt.Sprintf("draws an integer, but %s is %s (use uniform or log_uniform for a number, choice otherwise)", d.Path, typeName(typ)))
			return false
		}
		for _, b := range []struct {
			name string
			x    float64
		}{{".low", d.Low}, {".high", d.High}} {
			if b.x != math.Trunc(b.x) || math.Abs(b.x) > 1<<53 {
				fail(b.name, num(b.x), "must be an integer of at most 2⁵³ in magnitude (the bounds of an int draw)")
			}
		}
		if d.Digits != 0 {
			fail(".digits", fmt.Sprint(d.Digits), "only for uniform and log_uniform (an int draw is exact)")
		}
	default:
		fail(".dist", fmt.Sprintf("%q", d.Dist), `unknown distribution; expected "uniform", "log_uniform", "int" or "choice"`)
		return false
	}
	if len(d.Values) > 0 {
		fail(".values", "[…]", "only for dist: choice")
	}
	if !ok {
		return false
	}
	if !(d.Low < d.High) {
		fail(".high", num(d.High), fmt.Sprintf("must be > low (%s): a draw needs an interval low < high", num(d.Low)))
		return false
	}
	switch {
	case d.Dist == DistLogUniform && d.Low <= 0:
		fail(".low", num(d.Low), "must be > 0: log_uniform draws ln x uniformly, so both bounds must be positive")
	case d.Dist == DistInt && d.Log && d.Low < 1:
		fail(".low", num(d.Low), "must be ≥ 1 with log: true (a log-uniform integer)")
	}
	return ok
}

// distinctDraws checks that no two configurations of random search draw
// the same values: they would be the same trials.
func (s Sweep) distinctDraws() error {
	axes, dims := s.Layout()
	if len(dims) == 0 || !dims[0].Random {
		return nil
	}
	first := make(map[string]int, s.Random.Count)
	var b strings.Builder
	for j := range s.Random.Count {
		b.Reset()
		for _, k := range dims[0].Axes {
			v, _ := axes[k].Draw(j)
			js, _ := json.Marshal(v)
			b.WriteString(axes[k].Path + "=" + string(js) + " ")
		}
		key := b.String()
		if i, dup := first[key]; dup {
			return &FieldError{Field: "random.count", Value: fmt.Sprint(s.Random.Count), Problem: fmt.Sprintf(
				"configurations %d and %d draw the same values (%s): they would be the same trials; draw fewer, widen the distributions or give more digits", i, j, strings.TrimSpace(key))}
		}
		first[key] = j
	}
	return nil
}

// trialAt returns trial i of the sweep laid out as axes and dims, built on
// the fixed settings f, and its point.
func trialAt(f Trial, axes []Axis, dims []Dim, i int) (Trial, Point) {
	t := f
	p := make(Point, len(axes))
	var flat []Dim
	var at []int
	for d := len(dims) - 1; d >= 0; d-- {
		dim := dims[d]
		k := i % max(dim.Len, 1)
		i /= max(dim.Len, 1)
		if dim.Sample != nil {
			flat = append(flat, dim.Sample...)
			at = append(at, dim.Indexes(k)...)
			continue
		}
		flat, at = append(flat, dim), append(at, k)
	}
	for d, dim := range flat {
		k := at[d]
		for _, a := range dim.Axes {
			v := any(nil)
			if axes[a].Random != nil {
				v, _ = axes[a].Draw(k)
			} else if k < len(axes[a].Values) {
				v = axes[a].Values[k]
			}
			_ = setValue(&t, axes[a].Path, v)
			js, _ := json.Marshal(v)
			p[a] = Coordinate{Axis: axes[a].Name, Value: string(js)}
		}
	}
	return t, p
}

// Trial returns trial i of the sweep (0 ≤ i < Len) and its point, computed
// on its own: the fixed settings with every axis at the trial's value (see
// Layout). It is what package sweeps expands, field for field.
func (s Sweep) Trial(i int) (Trial, Point) {
	axes, dims := s.Layout()
	return trialAt(s.fixed(), axes, dims, i)
}

// validateAxisTrials checks the trials that the field axes, linked axes and
// random draws make: each value alone (the other axes at their first value)
// and, for a sweep of at most FullCheck trials, every trial. A problem is
// reported once, at the axis value that causes it; problems of the trial
// at the first point reported already (reported, keyed by their text) are
// not repeated.
func (s Sweep) validateAxisTrials(reported map[string]bool) []error {
	var errs []error
	axes, dims := s.Layout()
	var flat []Dim // the dimensions, a sample's dimensions in its place
	for _, d := range dims {
		if d.Sample != nil {
			flat = append(flat, d.Sample...)
		} else {
			flat = append(flat, d)
		}
	}
	base := s.Base()
	report := func(t Trial, field, path, value string) {
		for _, err := range t.problems() {
			fe := err.(*FieldError)
			key := fe.Error()
			if reported[key] {
				continue
			}
			reported[key] = true
			problem := "makes an invalid trial: " + fe.Error()
			if fe.Field == path || strings.HasPrefix(fe.Field, path+".") || strings.HasPrefix(fe.Field, path+"[") {
				problem = "invalid " + fe.Error()
			}
			errs = append(errs, &FieldError{Field: field, Value: value, Problem: problem})
		}
		if err := t.samDivides(); err != nil && !reported[err.Error()] {
			reported[err.Error()] = true
			errs = append(errs, &FieldError{Field: field, Value: value, Problem: "makes an invalid trial: " + err.Error()})
		}
	}
	for _, dim := range flat {
		for _, k := range dim.Axes {
			a := axes[k]
			if a.Random == nil || a.Random.Dist == DistChoice {
				continue
			}
			for _, b := range []struct {
				name string
				x    float64
			}{{"low", a.Random.Low}, {"high", a.Random.High}} {
				t := base
				var v any = b.x
				switch a.kind {
				case kindInt:
					v = int(b.x)
				case kindInt64:
					v = int64(b.x)
				}
				_ = setValue(&t, a.Path, v)
				report(t, a.Source+"."+b.name, a.Path, fmt.Sprint(b.x))
			}
		}
		if dim.Random {
			for _, k := range dim.Axes {
				a := axes[k]
				if a.Random.Dist != DistChoice {
					continue
				}
				for i, v := range a.Values {
					t := base
					_ = setValue(&t, a.Path, v)
					js, _ := json.Marshal(v)
					report(t, fmt.Sprintf("%s.values[%d]", a.Source, i), a.Path, string(js))
				}
			}
			continue
		}
		if len(dim.Axes) == 1 && axes[dim.Axes[0]].Source == "grid."+axes[dim.Axes[0]].Name {
			continue // a named axis: the grid's checks cover it
		}
		for i := range dim.Len {
			t := base
			var shown []string
			for _, k := range dim.Axes {
				_ = setValue(&t, axes[k].Path, axes[k].Values[i])
				js, _ := json.Marshal(axes[k].Values[i])
				shown = append(shown, string(js))
			}
			a := axes[dim.Axes[0]]
			value := shown[0]
			if len(dim.Axes) > 1 {
				var parts []string
				for j, k := range dim.Axes {
					parts = append(parts, axes[k].Path+"="+shown[j])
				}
				value = "(" + strings.Join(parts, " ") + ")"
			}
			report(t, fmt.Sprintf("%s[%d]", a.Source, i), a.Path, value)
		}
	}
	if n := product(dims); n <= FullCheck {
		f := s.fixed()
		for i := range int(n) {
			t, p := trialAt(f, axes, dims, i)
			for _, err := range append(t.problems(), t.samDivides(), t.validateSWABudget()) {
				if err == nil {
					continue
				}
				if reported[err.Error()] {
					continue
				}
				reported[err.Error()] = true
				field := "grid"
				if len(dims) > 0 && dims[0].Random {
					field = "random"
				}
				errs = append(errs, &FieldError{Field: field, Problem: fmt.Sprintf("trial %d (%s) is invalid: %s", i, p, err)})
			}
		}
	}
	return slices.Clip(errs)
}

// total returns the number of trials of the sweep as a float64, which does
// not overflow (each dimension is at most MaxSpecBytes long).
func (s Sweep) total() float64 {
	_, dims := s.Layout()
	return product(dims)
}

// product returns the product of the dimensions' lengths as a float64.
func product(dims []Dim) float64 {
	n := 1.0
	for _, d := range dims {
		n *= float64(d.Len)
	}
	return n
}

// values returns "1 value" or "n values".
func values(n int) string {
	if n == 1 {
		return "1 value"
	}
	return fmt.Sprintf("%d values", n)
}
