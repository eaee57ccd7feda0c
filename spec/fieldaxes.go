package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// FieldAxis is a grid axis over any field of the trial spec: the field's
// JSON path ("model.hidden", "optimizer.name", "schedule.lr", "epochs", …)
// and the values it takes, each the JSON of a value of the field's type
// (numbers, strings, booleans, lists such as [512, 512], objects such as
// {"kind": "step", "milestones": [10], "gamma": 0.1}).
type FieldAxis struct {
	// Path is the JSON path of the trial field the axis sets.
	Path string
	// Values are the axis's values as JSON, in the order written.
	Values []json.RawMessage
}

// FieldAxes is an ordered list of field axes. In JSON (and in a sweep
// file) it is an object whose keys are the paths, in the order written:
//
//	{"model.hidden": [[512, 512], [1024]], "model.activation": ["relu", "tanh"]}
type FieldAxes []FieldAxis

// MarshalJSON encodes the axes as an object, keys in order.
func (a FieldAxes) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, x := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(x.Path))
		b.WriteByte(':')
		vs := x.Values
		if vs == nil {
			vs = []json.RawMessage{}
		}
		js, err := json.Marshal(vs)
		if err != nil {
			return nil, fmt.Errorf("axis %s: %w", x.Path, err)
		}
		b.Write(js)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON decodes an object of axes, keeping the order of its keys.
// A key given twice is an error.
func (a *FieldAxes) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		*a = nil
		return nil
	}
	var out FieldAxes
	err := orderedObject(b, func(key string, raw json.RawMessage) error {
		if slices.ContainsFunc(out, func(x FieldAxis) bool { return x.Path == key }) {
			return fmt.Errorf("axis %q given twice", key)
		}
		var vs []json.RawMessage
		if err := json.Unmarshal(raw, &vs); err != nil || vs == nil {
			return fmt.Errorf("axis %q: expected a list of values", key)
		}
		out = append(out, FieldAxis{Path: key, Values: vs})
		return nil
	})
	if err != nil {
		return err
	}
	*a = out
	return nil
}

// orderedObject calls fn for each member of the JSON object b, in order.
func orderedObject(b []byte, fn func(key string, raw json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("expected an object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		if err := fn(key, raw); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

// notAxes are the trial fields no axis may set: the data set's files, whose
// content digest is the sweep's (see Sweep.ResolveFiles), and so the
// section that holds them, and a warm start's digest without its file (an
// axis over warm_start.path or warm_start gets its digests from the files).
var notAxes = []string{"dataset", "dataset.name", "dataset.dir", "dataset.train_images", "dataset.train_labels",
	"dataset.test_images", "dataset.test_labels", "dataset.train_batches", "dataset.test_batches", "dataset.sha256",
	"warm_start.sha256"}

// AxisFieldType returns the Go type of the trial field at path that a
// field axis, a linked axis or a random draw may set, or an error saying
// why the path names no such field.
func AxisFieldType(path string) (reflect.Type, error) {
	_, f, err := fieldPath(path)
	if err != nil {
		return nil, fmt.Errorf("no trial field %q; expected the JSON path of a trial field such as model.hidden, optimizer.name, epochs or schedule.lr.kind", path)
	}
	if slices.Contains(notAxes, path) {
		if path == "warm_start.sha256" {
			return nil, fmt.Errorf("%s cannot be an axis: a warm start's digest is its file's (give warm_start.path as the axis)", path)
		}
		return nil, fmt.Errorf("%s cannot be an axis: the data set is identified by the content of its files, one digest per sweep (run one sweep per data set)", path)
	}
	return f.Type, nil
}

// decodeValue decodes the JSON of a value of the field at path strictly
// (unknown object fields are errors) and returns it as a Go value of the
// field's type.
func decodeValue(path string, raw json.RawMessage) (any, error) {
	typ, err := AxisFieldType(path)
	if err != nil {
		return nil, err
	}
	p := reflect.New(typ)
	if err := decodeStrict(raw, p.Interface()); err != nil {
		return nil, fmt.Errorf("expected %s: %s", typeName(typ), jsonProblem(err))
	}
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return nil, fmt.Errorf("expected %s, got null", typeName(typ))
	}
	return p.Elem().Interface(), nil
}

// typeName describes a field type for an error message.
func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice:
		return "a list of " + strings.TrimPrefix(strings.TrimPrefix(typeName(t.Elem()), "an "), "a ") + "s"
	case reflect.Struct:
		return "an object (the fields of " + t.Name() + ")"
	}
	return t.String()
}

// canonicalValue returns the JSON of the value the field at path takes in
// the resolved form of base with that field set to v (see Trial.Resolved):
// a default written out ("sgd", "constant", {"kind": "constant"}) becomes
// its canonical form, so that a trial has the ID of the same trial written
// with fixed settings.
func canonicalValue(base Trial, path string, v any) (any, string) {
	f, err := field(&base, path)
	if err != nil {
		return v, ""
	}
	f.Set(reflect.ValueOf(v))
	r := base.Resolved()
	g, _ := field(&r, path)
	js, _ := json.Marshal(g.Interface())
	return g.Interface(), string(js)
}

// pathsOverlap reports whether one of two JSON paths is the other or a
// field (or list element) inside it.
func pathsOverlap(a, b string) bool {
	inside := func(x, y string) bool { return strings.HasPrefix(x, y+".") || strings.HasPrefix(x, y+"[") }
	return a == b || inside(a, b) || inside(b, a)
}

// LeafPaths returns the JSON paths of the trial's leaf fields (numbers,
// strings, booleans and lists: every field that is not a struct), in
// declaration order: the fields a trial of a sweep may differ in. The
// curvature measures' settings, which are not struct fields, are not
// among them.
func LeafPaths() []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix)
				continue
			}
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			if f.Type.Kind() == reflect.Struct {
				walk(f.Type, prefix+name+".")
				continue
			}
			out = append(out, prefix+name)
		}
	}
	walk(reflect.TypeFor[Trial](), "")
	return out
}
