package sweeps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"

	"github.com/flatsweep/flatsweep/spec"
)

// MaxSpecBytes is the largest sweep file Load and Parse accept (1 MiB).
const MaxSpecBytes = 1 << 20

// Load reads and parses the sweep file at path. A file that cannot be read
// yields an error wrapping the os error (errors.Is(err, fs.ErrNotExist) for a
// missing file) whose message names the path; a bad spec yields an error
// wrapping ErrInvalid.
func Load(path string) (spec.Sweep, error) {
	f, err := os.Open(path)
	if err != nil {
		return spec.Sweep{}, fmt.Errorf("read sweep spec: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return spec.Sweep{}, fmt.Errorf("read sweep spec %s: %w", path, err)
	}
	return Parse(data, path)
}

// Parse decodes, checks and validates a sweep file: the YAML is checked
// against the shape of spec.Sweep (unknown and repeated fields, types,
// ranges of integers, finite numbers), decoded into it through its JSON
// form, resolved (spec.Sweep.Resolved: defaults filled in or normalized
// away) and validated (spec.Sweep.Validate), with the checks that concern how
// the file is written added here: required fields, a default written as 0,
// a value given twice (dataset.n and grid.n). source names the spec in
// error messages (a file path, or "" for "<input>"). Every error wraps
// ErrInvalid; the problems are *FieldError values, several joined with
// errors.Join, in document order, naming the file, line, field and value.
func Parse(data []byte, source string) (spec.Sweep, error) {
	if source == "" {
		source = "<input>"
	}
	if len(data) > MaxSpecBytes {
		return spec.Sweep{}, &FieldError{Source: source, Problem: fmt.Sprintf("file larger than %d bytes", MaxSpecBytes)}
	}
	root, err := parseNode(data, source)
	if err != nil {
		return spec.Sweep{}, err
	}
	return parseRoot(root, source)
}

// parseRoot is Parse of a parsed document. The profiles mapping
// (ProfilesKey) is checked and left out: it is not part of the sweep.
func parseRoot(root *yaml.Node, source string) (spec.Sweep, error) {
	if root.Kind == yaml.MappingNode {
		if _, err := profilesOf(root, source); err != nil {
			return spec.Sweep{}, err
		}
		kept := *root
		kept.Content = nil
		for i := 0; i+1 < len(root.Content); i += 2 {
			if root.Content[i].Value != ProfilesKey {
				kept.Content = append(kept.Content, root.Content[i], root.Content[i+1])
			}
		}
		root = &kept
	}
	sc := newSchema(source)
	sc.walk(root, reflect.TypeFor[spec.Sweep](), "")
	if sc.blocking() {
		return spec.Sweep{}, sc.sorted()
	}
	js, err := json.Marshal(sc.value(root))
	if err != nil {
		return spec.Sweep{}, &FieldError{Source: source, Problem: "cannot convert the document: " + err.Error(), Err: err}
	}
	s, err := spec.DecodeSweep(js)
	if err != nil {
		sc.cite(err)
		return spec.Sweep{}, sc.err()
	}
	presence{sc}.check(&s)
	// Validated as written, before Resolved sets the settings equal to
	// their defaults to zero: a value is checked whether or not it is the
	// default (curvature.landscape.examples: 1000 on 256 examples is an
	// error, as 999 is).
	if err := s.Validate(); err != nil {
		// A problem at a field whose writing was faulted already is left
		// out (schema.add keeps one problem per field).
		for _, e := range unjoin(err) {
			sc.cite(e)
		}
	}
	if err := sc.err(); err != nil {
		return spec.Sweep{}, sc.sorted()
	}
	return s.Resolved(), nil
}

// unjoin returns the errors joined in err (or err itself).
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// cite records a problem found after decoding, adding the line and the value
// as written of the field it names.
func (s *schema) cite(err error) {
	var fe *spec.FieldError
	if !errors.As(err, &fe) {
		s.add(&FieldError{Source: s.source, Problem: err.Error(), Err: err})
		return
	}
	e := &FieldError{Source: s.source, Field: fe.Field, Value: fe.Value, Problem: fe.Problem, Err: fe}
	if n, ok := s.nodes[fe.Field]; ok {
		e.Line, e.Value = n.Line, shown(n)
	}
	s.add(e)
}

// sorted returns the recorded problems ordered by line (problems without a
// line, such as missing fields, first), stably.
func (s *schema) sorted() error {
	slices.SortStableFunc(s.errs, func(a, b error) int {
		la, lb := 0, 0
		if fe, ok := a.(*FieldError); ok {
			la = fe.Line
		}
		if fe, ok := b.(*FieldError); ok {
			lb = fe.Line
		}
		return la - lb
	})
	return s.err()
}

// value converts a checked YAML node into the value its JSON form encodes:
// mappings (without null fields, which mean "omitted"), lists and scalars,
// integers kept as integers. A NaN or infinite number, already reported, is
// left out of a mapping and replaced in a list by a tiny positive number
// that no other entry has, so that the checks of the other values go on.
func (s *schema) value(n *yaml.Node) any {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		var m object
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; !isNull(v) && !s.nonFinite[v] {
				m = append(m, member{n.Content[i].Value, s.value(v)})
			}
		}
		return m
	case yaml.SequenceNode:
		l := make([]any, len(n.Content))
		for i, e := range n.Content {
			if s.nonFinite[e] {
				l[i] = 1e-300 * float64(i+1)
				continue
			}
			l[i] = s.value(e)
		}
		return l
	}
	var v any
	_ = n.Decode(&v)
	return v
}

// parseNode parses data into a YAML node tree holding exactly one document.
func parseNode(data []byte, source string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FieldError{Source: source, Problem: "empty document; expected a sweep spec mapping"}
		}
		return nil, yamlError(source, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, yamlError(source, err)
		}
		return nil, &FieldError{Source: source, Line: extra.Line, Problem: "more than one YAML document; expected exactly one sweep spec"}
	}
	if len(doc.Content) != 1 || isNull(doc.Content[0]) {
		return nil, &FieldError{Source: source, Problem: "empty document; expected a sweep spec mapping"}
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError wraps a yaml.v3 error as a FieldError, lifting out its line.
func yamlError(source string, err error) error {
	e := &FieldError{Source: source, Problem: "malformed YAML: " + err.Error(), Err: err}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Problem = "malformed YAML: " + m[2]
	}
	return e
}

// object is a mapping as its JSON object, members in document order (the
// order of field axes and random draws is their expansion order).
type object []member

type member struct {
	key   string
	value any
}

// MarshalJSON encodes the members in order.
func (o object) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, m := range o {
		if i > 0 {
			b = append(b, ',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, k...), ':'), v...)
	}
	return append(b, '}'), nil
}
