package sweeps

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/flatsweep/flatsweep/spec"
)

// ProfilesKey is the top-level key of a sweep file that holds its named
// profiles. It is not part of the sweep: Parse checks its shape and leaves it
// out, and a profile changes the sweep only when Overrides selects it.
const ProfilesKey = "profiles"

// Overrides changes a sweep file before it is parsed: first the settings of
// one named profile of its profiles mapping, then individual settings, each
// replacing the value at a dotted path of the document (a path that is not
// there is created). A profile is how a file ships its variants, for instance
// the paper's scale beside the laptop's:
//
//	profiles:
//	  paper:
//	    dataset.n: 50000
//	    model.hidden: [1024, 1024]
//	    grid.seed: [1, 2, 3, 4, 5]
//
// A path names mapping keys from the top, separated by dots; at each level
// the longest run of segments that is a key there is taken, so that
// grid.axes.model.hidden reaches the axis written as model.hidden. Values
// are YAML. Selecting a profile renames the sweep NAME-PROFILE (its trials
// differ, so its results must not merge with the file's own) unless the
// profile or a Set sets name itself.
type Overrides struct {
	// Profile names the profile to apply; "" for none.
	Profile string
	// Set holds PATH=VALUE settings applied after the profile, in order.
	Set []string
}

// empty reports whether o changes nothing.
func (o Overrides) empty() bool { return o.Profile == "" && len(o.Set) == 0 }

// ParseWith is Parse of the sweep file data changed by o. It also returns the
// effective document as YAML text (data itself when o changes nothing), which
// is what the sweep records as its file. Errors name the source and, for an
// override, the profile entry or the --set flag.
func ParseWith(data []byte, source string, o Overrides) (spec.Sweep, []byte, error) {
	if o.empty() {
		s, err := Parse(data, source)
		return s, data, err
	}
	if source == "" {
		source = "<input>"
	}
	if len(data) > MaxSpecBytes {
		return spec.Sweep{}, nil, &FieldError{Source: source, Problem: fmt.Sprintf("file larger than %d bytes", MaxSpecBytes)}
	}
	root, err := parseNode(data, source)
	if err != nil {
		return spec.Sweep{}, nil, err
	}
	if err := applyOverrides(root, source, o); err != nil {
		return spec.Sweep{}, nil, err
	}
	out, err := yaml.Marshal(root)
	if err != nil {
		return spec.Sweep{}, nil, &FieldError{Source: source, Problem: "cannot write the changed document: " + err.Error(), Err: err}
	}
	s, err := parseRoot(root, source)
	if err != nil {
		var with []string
		if o.Profile != "" {
			with = append(with, "--profile "+o.Profile)
		}
		for _, kv := range o.Set {
			with = append(with, "--set "+kv)
		}
		return spec.Sweep{}, nil, fmt.Errorf("%w\n(the file as changed by %s)", err, strings.Join(with, " "))
	}
	return s, out, nil
}

// applyOverrides applies o to the document root in place.
func applyOverrides(root *yaml.Node, source string, o Overrides) error {
	if root.Kind != yaml.MappingNode {
		return &FieldError{Source: source, Line: root.Line, Problem: "expected a sweep spec mapping"}
	}
	renamed := false
	if o.Profile != "" {
		profiles, err := profilesOf(root, source)
		if err != nil {
			return err
		}
		var names []string
		var prof *yaml.Node
		for i := 0; i+1 < len(profiles.Content); i += 2 {
			names = append(names, profiles.Content[i].Value)
			if profiles.Content[i].Value == o.Profile {
				prof = profiles.Content[i+1]
			}
		}
		if prof == nil {
			want := "the file has no profiles"
			if len(names) > 0 {
				want = "want one of " + strings.Join(names, ", ")
			}
			return &FieldError{Source: source, Problem: fmt.Sprintf("--profile %s: no such profile in its profiles section (%s)", o.Profile, want)}
		}
		for i := 0; i+1 < len(prof.Content); i += 2 {
			k, v := prof.Content[i], prof.Content[i+1]
			if err := setPath(root, k.Value, v); err != nil {
				return &FieldError{Source: source, Line: k.Line, Field: ProfilesKey + "." + o.Profile + "." + k.Value, Problem: err.Error()}
			}
			renamed = renamed || k.Value == "name"
		}
	}
	for _, kv := range o.Set {
		path, value, ok := strings.Cut(kv, "=")
		path = strings.TrimSpace(path)
		if !ok || path == "" {
			return &FieldError{Source: source, Problem: fmt.Sprintf("--set %q: want PATH=VALUE, for example dataset.n=50000", kv)}
		}
		var v yaml.Node
		if err := yaml.Unmarshal([]byte(value), &v); err != nil {
			return &FieldError{Source: source, Field: path, Value: value, Problem: "--set: the value is not YAML: " + err.Error(), Err: err}
		}
		node := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: ""}
		if len(v.Content) == 1 {
			node = v.Content[0]
		}
		unplace(node)
		if err := setPath(root, path, node); err != nil {
			return &FieldError{Source: source, Field: path, Value: value, Problem: "--set: " + err.Error()}
		}
		renamed = renamed || path == "name"
	}
	if o.Profile != "" && !renamed {
		if n := lookup(root, "name"); n != nil && n.Kind == yaml.ScalarNode && n.Value != "" {
			setPath(root, "name", &yaml.Node{Kind: yaml.ScalarNode, Value: n.Value + "-" + o.Profile})
		}
	}
	return nil
}

// profilesOf returns the document's profiles mapping, checked: a mapping of
// names to mappings of paths to values.
func profilesOf(root *yaml.Node, source string) (*yaml.Node, error) {
	p := lookup(root, ProfilesKey)
	if p == nil || isNull(p) {
		return &yaml.Node{Kind: yaml.MappingNode}, nil
	}
	if p.Kind != yaml.MappingNode {
		return nil, &FieldError{Source: source, Line: p.Line, Field: ProfilesKey, Value: shown(p), Problem: "expected a mapping of profile names to settings"}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(p.Content); i += 2 {
		k, v := p.Content[i], p.Content[i+1]
		field := ProfilesKey + "." + k.Value
		if k.Kind != yaml.ScalarNode || k.Value == "" {
			return nil, &FieldError{Source: source, Line: k.Line, Field: ProfilesKey, Problem: "a profile name must be a non-empty string"}
		}
		if seen[k.Value] {
			return nil, &FieldError{Source: source, Line: k.Line, Field: field, Problem: "profile given twice"}
		}
		seen[k.Value] = true
		if v.Kind != yaml.MappingNode {
			return nil, &FieldError{Source: source, Line: v.Line, Field: field, Value: shown(v), Problem: "expected a mapping of dotted paths to values, such as dataset.n: 50000"}
		}
		paths := map[string]bool{}
		for j := 0; j+1 < len(v.Content); j += 2 {
			pk := v.Content[j]
			if pk.Kind != yaml.ScalarNode || pk.Value == "" || slices.Contains(strings.Split(pk.Value, "."), "") {
				return nil, &FieldError{Source: source, Line: pk.Line, Field: field, Value: shown(pk), Problem: "expected a dotted path such as dataset.n"}
			}
			if pk.Value == ProfilesKey || strings.HasPrefix(pk.Value, ProfilesKey+".") {
				return nil, &FieldError{Source: source, Line: pk.Line, Field: field + "." + pk.Value, Problem: "a profile cannot change the profiles"}
			}
			if paths[pk.Value] {
				return nil, &FieldError{Source: source, Line: pk.Line, Field: field + "." + pk.Value, Problem: "path given twice"}
			}
			paths[pk.Value] = true
		}
	}
	return p, nil
}

// lookup returns the value of key in the mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// setPath replaces the value at the dotted path in the mapping m by v,
// creating the mappings on the way that are not there. At each level the
// longest run of segments that is a key of the mapping is taken.
func setPath(m *yaml.Node, path string, v *yaml.Node) error {
	segs := strings.Split(path, ".")
	if slices.Contains(segs, "") {
		return fmt.Errorf("path %q: empty segment", path)
	}
	if segs[0] == ProfilesKey {
		return fmt.Errorf("path %q: the profiles cannot be changed", path)
	}
	for done := ""; ; {
		for m.Kind == yaml.AliasNode && m.Alias != nil {
			m = m.Alias
		}
		if m.Kind != yaml.MappingNode {
			return fmt.Errorf("path %q: %s is not a mapping", path, done)
		}
		j := len(segs)
		for ; j > 0 && lookup(m, strings.Join(segs[:j], ".")) == nil; j-- {
		}
		if j == 0 { // not there: create the rest, one mapping per segment
			for _, s := range segs[:len(segs)-1] {
				child := &yaml.Node{Kind: yaml.MappingNode}
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: s}, child)
				m = child
			}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: segs[len(segs)-1]}, v)
			return nil
		}
		key := strings.Join(segs[:j], ".")
		if j == len(segs) {
			for i := 0; i+1 < len(m.Content); i += 2 {
				if m.Content[i].Value == key {
					m.Content[i+1] = v
				}
			}
			return nil
		}
		m, segs = lookup(m, key), segs[j:]
		done = strings.TrimPrefix(done+"."+key, ".")
	}
}

// unplace clears the line numbers of a node tree that does not come from the
// file, so that errors do not cite a line of the file for it.
func unplace(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	for _, c := range n.Content {
		unplace(c)
	}
}
