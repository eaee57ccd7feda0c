package sweeps

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flatsweep/flatsweep/spec"
)

// integral matches a plain decimal integer, which yaml.v3 resolves to a float
// when it overflows int64.
var integral = regexp.MustCompile(`^[-+]?[0-9]+$`)

// maxErrors bounds the number of problems reported for one spec; the rest are
// summarized in one final error.
const maxErrors = 20

// schema checks a YAML node tree against the shape of a Go struct type (its
// keys are the json tags of the spec types) before decoding: unknown and duplicate fields, mappings versus lists versus scalars,
// integer versus float versus string scalars, and integer range. It reports
// every problem with its field path and line, which the yaml.v3 decoder does
// not, and records the node of every field path it saw so that later
// validation can cite lines and values as written.
//
// The walk descends only where the schema has a field, so an alias is
// expanded at most once per position of the schema it appears in; the
// values of an axis over a list field (lists of lists) may repeat an alias
// of a long list, so the walk also stops after maxWalk nodes: the work is
// bounded whatever the document's aliasing.
type schema struct {
	source  string
	nodes   map[string]*yaml.Node
	errs    []error
	fields  map[string]bool // fields with a recorded problem
	dropped int             // problems beyond maxErrors
	// nonFinite holds the NaN and infinite numbers found: problems that do
	// not stop the checks, their values left out of the decoded sweep.
	nonFinite map[*yaml.Node]bool
	walked    int // nodes walked, at most maxWalk
}

// maxWalk bounds the nodes walked: a value list of an axis over a list
// field may repeat an alias of a long list many times.
const maxWalk = 1 << 20

func newSchema(source string) *schema {
	return &schema{source: source, nodes: map[string]*yaml.Node{}, fields: map[string]bool{}, nonFinite: map[*yaml.Node]bool{}}
}

// blocking reports whether a problem other than a non-finite number was
// recorded, so that the document cannot be decoded.
func (s *schema) blocking() bool { return len(s.errs)+s.dropped > len(s.nonFinite) }

// add records a problem, keeping at most maxErrors and one per field.
func (s *schema) add(e *FieldError) {
	if e.Field != "" {
		if s.fields[e.Field] {
			return
		}
		s.fields[e.Field] = true
	}
	if len(s.errs) >= maxErrors {
		s.dropped++
		return
	}
	s.errs = append(s.errs, e)
}

// err returns the recorded problems joined, or nil.
func (s *schema) err() error {
	if len(s.errs) == 0 {
		return nil
	}
	errs := s.errs
	if s.dropped > 0 {
		errs = append(errs, &FieldError{Source: s.source, Problem: fmt.Sprintf("… and %d more problems", s.dropped)})
	}
	return errors.Join(errs...)
}

// has reports whether the field at path is present and not null.
func (s *schema) has(path string) bool {
	_, ok := s.nodes[path]
	return ok
}

// fail records a problem at node n (which may be nil).
func (s *schema) fail(n *yaml.Node, path, problem string) {
	e := &FieldError{Source: s.source, Field: path, Problem: problem}
	if n != nil {
		e.Line = n.Line
		e.Value = shown(n)
	}
	s.add(e)
}

// shown renders a node's value as written: scalars verbatim (strings quoted),
// collections as [] or {} when empty and […] or {…} otherwise.
func shown(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.SequenceNode && len(n.Content) == 0:
		return "[]"
	case n.Kind == yaml.MappingNode && len(n.Content) == 0:
		return "{}"
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			return strconv.Quote(n.Value)
		}
		return n.Value
	case yaml.MappingNode:
		return "{…}"
	case yaml.SequenceNode:
		return "[…]"
	case yaml.AliasNode:
		return "*" + n.Value
	}
	return ""
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a string"
	}
	return "an unsupported YAML node"
}

// walk checks node n, found at path, against type t.
func (s *schema) walk(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if s.walked++; s.walked > maxWalk {
		if s.walked == maxWalk+1 {
			s.fail(n, path, fmt.Sprintf("the document expands, through its aliases, to more than %d values", maxWalk))
		}
		return
	}
	s.nodes[path] = n
	switch t {
	case reflect.TypeFor[spec.FieldAxes]():
		s.walkFieldAxes(n, path)
		return
	case reflect.TypeFor[spec.Draws]():
		s.walkDraws(n, path)
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		s.walkStruct(n, t, path)
	case reflect.Slice:
		s.walkSlice(n, t, path)
	default:
		s.walkScalar(n, t, path)
	}
}

// schemaTyped is implemented by types whose keys are not their Go fields
// (spec.Curvature, whose measure settings blocks come from the registry).
type schemaTyped interface{ SchemaType() reflect.Type }

// fields returns the keys a struct type accepts (the names of its json
// tags), in declaration order, and their types.
func fields(t reflect.Type) (names []string, types map[string]reflect.Type) {
	if st, ok := reflect.Zero(t).Interface().(schemaTyped); ok {
		t = st.SchemaType()
	}
	types = map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			// An embedded struct's fields are the outer struct's, as in JSON.
			inner, innerTypes := fields(f.Type)
			names = append(names, inner...)
			for k, v := range innerTypes {
				types[k] = v
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		types[name] = f.Type
	}
	return names, types
}

func (s *schema) walkStruct(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		s.fail(n, path, "expected a mapping of fields, got "+kindName(n))
		return
	}
	names, types := fields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		sub := k.Value
		if path != "" {
			sub = path + "." + k.Value
		}
		if k.Kind != yaml.ScalarNode {
			s.fail(k, path, "expected a field name, got "+kindName(k))
			continue
		}
		ft, ok := types[k.Value]
		if !ok {
			s.add(&FieldError{Source: s.source, Line: k.Line, Field: sub,
				Problem: "unknown field; expected one of " + strings.Join(names, ", ")})
			continue
		}
		if line, dup := seen[k.Value]; dup {
			s.add(&FieldError{Source: s.source, Line: k.Line, Field: sub,
				Problem: fmt.Sprintf("field given twice (first at line %d)", line)})
			continue
		}
		seen[k.Value] = k.Line
		if isNull(v) {
			continue // null means omitted: the default applies
		}
		s.walk(v, ft, sub)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (s *schema) walkSlice(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.SequenceNode {
		s.fail(n, path, "expected a list such as [1, 2], got "+kindName(n))
		return
	}
	for i, e := range n.Content {
		if s.walked > maxWalk {
			return
		}
		s.walk(e, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
	}
}

func (s *schema) walkScalar(n *yaml.Node, t reflect.Type, path string) {
	want := map[reflect.Kind]string{
		reflect.Int: "an integer", reflect.Int64: "an integer",
		reflect.Float64: "a number", reflect.String: "a string", reflect.Bool: "true or false",
	}[t.Kind()]
	if n.Kind != yaml.ScalarNode || isNull(n) {
		s.fail(n, path, fmt.Sprintf("expected %s, got %s", want, kindName(n)))
		return
	}
	tag := n.ShortTag()
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		if tag == "!!float" && integral.MatchString(n.Value) {
			s.fail(n, path, fmt.Sprintf("integer out of range (at most %d)", math.MaxInt64))
			return
		}
		if tag != "!!int" {
			s.fail(n, path, fmt.Sprintf("expected %s, got %s", want, kindName(n)))
			return
		}
	case reflect.Float64:
		if tag != "!!int" && tag != "!!float" {
			s.fail(n, path, fmt.Sprintf("expected %s, got %s", want, kindName(n)))
			return
		}
		var x float64
		if err := n.Decode(&x); err == nil && (math.IsNaN(x) || math.IsInf(x, 0)) {
			s.nonFinite[n] = true
			s.fail(n, path, "must be a finite number (no value of a sweep is NaN or infinite)")
			return
		}
	case reflect.Bool:
		if tag != "!!bool" {
			s.fail(n, path, fmt.Sprintf("expected %s, got %s", want, kindName(n)))
			return
		}
	case reflect.String:
		if tag != "!!str" {
			s.fail(n, path, fmt.Sprintf("expected %s, got %s (quote it if a string is meant)", want, kindName(n)))
			return
		}
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		s.fail(n, path, fmt.Sprintf("expected %s in the range of a %s", want, t))
	}
}

// axisKeys walks a mapping whose keys are the JSON paths of trial fields
// (grid.axes, a group of grid.linked, random.draws), calling fn with each
// key's field type, path in the file and value node.
func (s *schema) axisKeys(n *yaml.Node, path, example string, fn func(t reflect.Type, sub string, v *yaml.Node)) {
	if n.Kind != yaml.MappingNode {
		s.fail(n, path, "expected a mapping of trial fields (JSON paths) to values, such as "+example+", got "+kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		if k.Kind != yaml.ScalarNode {
			s.fail(k, path, "expected the JSON path of a trial field, got "+kindName(k))
			continue
		}
		sub := path + "." + k.Value
		t, err := spec.AxisFieldType(k.Value)
		if err != nil {
			s.add(&FieldError{Source: s.source, Line: k.Line, Field: sub, Problem: err.Error()})
			continue
		}
		if line, dup := seen[k.Value]; dup {
			s.add(&FieldError{Source: s.source, Line: k.Line, Field: sub, Problem: fmt.Sprintf("field given twice (first at line %d)", line)})
			continue
		}
		seen[k.Value] = k.Line
		s.nodes[sub] = v
		fn(t, sub, v)
	}
}

// walkFieldAxes checks a mapping of field axes: each key the JSON path of a
// trial field, each value a list of values of the field's type.
func (s *schema) walkFieldAxes(n *yaml.Node, path string) {
	s.axisKeys(n, path, `{model.hidden: [[64], [128, 128]]}`, func(t reflect.Type, sub string, v *yaml.Node) {
		if v.Kind != yaml.SequenceNode {
			s.fail(v, sub, "expected the list of the axis's values, such as ["+example(t)+"], got "+kindName(v))
			return
		}
		for i, e := range v.Content {
			if s.walked > maxWalk {
				return
			}
			s.walk(e, t, fmt.Sprintf("%s[%d]", sub, i))
		}
	})
}

// walkDraws checks a mapping of random draws: each key the JSON path of a
// trial field, each value a distribution whose choices are values of the
// field's type.
func (s *schema) walkDraws(n *yaml.Node, path string) {
	s.axisKeys(n, path, `{lr: {dist: log_uniform, low: 0.001, high: 1}}`, func(t reflect.Type, sub string, v *yaml.Node) {
		s.walk(v, distSchema(t), sub)
	})
}

// distSchema is the shape of a spec.Distribution whose choices are values
// of type t: its fields, with Values a list of t.
func distSchema(t reflect.Type) reflect.Type {
	d := reflect.TypeFor[spec.Distribution]()
	fields := make([]reflect.StructField, d.NumField())
	for i := range fields {
		fields[i] = d.Field(i)
		if fields[i].Name == "Values" {
			fields[i].Type = reflect.SliceOf(t)
		}
	}
	return reflect.StructOf(fields)
}

// example returns an example value of a field of type t, as YAML.
func example(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "1, 2"
	case reflect.Float64:
		return "0.1, 0.2"
	case reflect.String:
		return "a, b"
	case reflect.Bool:
		return "false, true"
	case reflect.Slice:
		return "[1, 2], [3]"
	}
	return "{…}, {…}"
}
