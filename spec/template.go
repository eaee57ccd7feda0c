package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// Template is the JSON of the trials that differ from one trial only in the
// values of some numeric fields, cut at those values: splicing a trial's
// values (their canonical JSON) into it gives, byte for byte, the trial's
// JSON without encoding the whole spec. A Template is immutable.
type Template struct {
	parts [][]byte // len(order)+1 pieces
	order []int    // order[i]: the field whose value follows parts[i]
}

// NewTemplate returns the template of render's output (Canonical or
// Identity) for the trials that share t's values except at paths, checked
// on t itself: its own values spliced in give render(t). Each path must name
// an int, int64 or float64 field that render writes (not an omitempty field
// at zero).
func NewTemplate(render func(Trial) ([]byte, error), t Trial, paths []string) (*Template, error) {
	want, err := render(t)
	if err != nil {
		return nil, err
	}
	own := make([]string, len(paths))
	marked := t
	marks := make([][]byte, len(paths))
	for i, p := range paths {
		f, err := field(&marked, p)
		if err != nil {
			return nil, err
		}
		enc, err := json.Marshal(f.Interface())
		if err != nil {
			return nil, err
		}
		own[i] = string(enc)
		switch f.Kind() {
		case reflect.Int, reflect.Int64:
			f.SetInt(987654321900 + int64(i))
		case reflect.Float64:
			f.SetFloat(0.98765432198765 + float64(i)*1e-12)
		default:
			return nil, fmt.Errorf("template: field %s of kind %s cannot be spliced", p, f.Kind())
		}
		key := p[strings.LastIndexByte(p, '.')+1:]
		mark, _ := json.Marshal(f.Interface())
		marks[i] = append([]byte(`"`+key+`":`), mark...)
	}
	js, err := render(marked)
	if err != nil {
		return nil, err
	}
	type cut struct{ at, end, which int }
	cuts := make([]cut, 0, len(paths))
	for i, m := range marks {
		if bytes.Count(js, m) != 1 {
			return nil, fmt.Errorf("template: %s is not written exactly once", paths[i])
		}
		at := bytes.Index(js, m)
		key := bytes.IndexByte(m, ':') + 1
		cuts = append(cuts, cut{at + key, at + len(m), i})
	}
	slices.SortFunc(cuts, func(a, b cut) int { return a.at - b.at })
	tp := &Template{order: make([]int, len(cuts))}
	prev := 0
	for i, c := range cuts {
		tp.parts = append(tp.parts, js[prev:c.at])
		tp.order[i] = c.which
		prev = c.end
	}
	tp.parts = append(tp.parts, js[prev:])
	if got := tp.Append(nil, own); !bytes.Equal(got, want) {
		return nil, fmt.Errorf("template: check failed: %s != %s", got, want)
	}
	return tp, nil
}

// Append appends the JSON of the trial whose values at the template's paths
// have the given canonical JSON encodings (in the order of the paths).
func (tp *Template) Append(dst []byte, values []string) []byte {
	for i, w := range tp.order {
		dst = append(dst, tp.parts[i]...)
		dst = append(dst, values[w]...)
	}
	return append(dst, tp.parts[len(tp.parts)-1]...)
}
