package sweeps

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

const profiled = `name: prof
dataset: {name: synthetic, n: 256, n_test: 64}
model: {arch: mlp}
train: {epochs: 2}
grid:
  batch_size: [16, 32]
  lr: [0.1]
  seed: [1]
  axes:
    model.hidden: [[8], [16]]
profiles:
  paper:
    dataset.n: 512
    grid.seed: [1, 2, 3]
    grid.axes.model.hidden: [[32], [64, 64]]
  renamed:
    name: other
    train.epochs: 3
  bad:
    dataset.n: -5
`

// TestProfileApplied: a profile replaces the values at its paths (the
// longest existing key first, so an axis named model.hidden is reached),
// renames the sweep NAME-PROFILE unless it sets name, and the file without
// --profile is the sweep without the profiles section.
func TestProfileApplied(t *testing.T) {
	base, err := Parse([]byte(profiled), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	without, err := Parse([]byte(profiled[:strings.Index(profiled, "profiles:")]), "p.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := Expand(base), Expand(without); len(a) != len(b) || a[0].ID != b[0].ID || base.Name != "prof" {
		t.Fatalf("the profiles section changed the sweep: %d trials (%s) against %d (%s), name %q", len(a), a[0].ID, len(b), b[0].ID, base.Name)
	}
	s, text, err := ParseWith([]byte(profiled), "p.yaml", Overrides{Profile: "paper"})
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if s.Name != "prof-paper" || s.Dataset.N != 512 || len(trials) != 2*2*3 {
		t.Fatalf("paper profile: name %q, n %d, %d trials", s.Name, s.Dataset.N, len(trials))
	}
	var hidden [][]int
	for _, tr := range trials {
		if !slices.ContainsFunc(hidden, func(h []int) bool { return slices.Equal(h, tr.Spec.Model.Hidden) }) {
			hidden = append(hidden, tr.Spec.Model.Hidden)
		}
	}
	if len(hidden) != 2 || !slices.Equal(hidden[0], []int{32}) || !slices.Equal(hidden[1], []int{64, 64}) {
		t.Errorf("paper profile: hidden layers %v, want [32] and [64 64]", hidden)
	}
	// The effective text is the sweep: parsing it again gives the same trials.
	again, err := Parse(text, "effective.yaml")
	if err != nil {
		t.Fatalf("effective text: %v\n%s", err, text)
	}
	if b := Expand(again); len(b) != len(trials) || b[5].ID != trials[5].ID || again.Name != s.Name {
		t.Errorf("effective text gives %d trials named %q, want %d named %q", len(b), again.Name, len(trials), s.Name)
	}
	r, _, err := ParseWith([]byte(profiled), "p.yaml", Overrides{Profile: "renamed"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "other" || r.Train.Epochs != 3 {
		t.Errorf("renamed profile: name %q epochs %d, want other and 3", r.Name, r.Train.Epochs)
	}
}

// TestSetOverrides: --set values are YAML, applied after the profile,
// creating paths that are not there; without a profile the name stays.
func TestSetOverrides(t *testing.T) {
	s, _, err := ParseWith([]byte(profiled), "p.yaml", Overrides{Profile: "paper", Set: []string{
		"grid.seed=[7]", "curvature.examples=64", "dataset.n = 1024",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Dataset.N != 1024 || s.Curvature.Examples != 64 || !slices.Equal(s.Grid.Seed, []int64{7}) || s.Name != "prof-paper" {
		t.Errorf("got n %d, curvature.examples %d, seeds %v, name %q", s.Dataset.N, s.Curvature.Examples, s.Grid.Seed, s.Name)
	}
	s, _, err = ParseWith([]byte(profiled), "p.yaml", Overrides{Set: []string{"name=x", "grid.lr=[0.2, 0.4]"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "x" || len(Expand(s)) != 2*2*2 {
		t.Errorf("got name %q and %d trials", s.Name, len(Expand(s)))
	}
}

// TestOverrideErrors: each bad override is an ErrInvalid error naming what
// is wrong — the profile, the --set flag, the field — and a bad value in a
// profile cites the profile's line.
func TestOverrideErrors(t *testing.T) {
	badLine := 1 + strings.Count(profiled[:strings.Index(profiled, "dataset.n: -5")], "\n")
	cases := []struct {
		name string
		doc  string
		o    Overrides
		want []string
	}{
		{"unknown profile", profiled, Overrides{Profile: "huge"}, []string{"--profile huge", "paper, renamed, bad"}},
		{"no profiles", profiled[:strings.Index(profiled, "profiles:")], Overrides{Profile: "paper"}, []string{"no such profile", "no profiles"}},
		{"bad value in a profile", profiled, Overrides{Profile: "bad"}, []string{fmt.Sprintf("p.yaml:%d", badLine), "dataset.n", "must be > 0"}},
		{"set without =", profiled, Overrides{Set: []string{"dataset.n"}}, []string{"--set", "PATH=VALUE"}},
		{"set into a scalar", profiled, Overrides{Set: []string{"dataset.n.x=1"}}, []string{"dataset.n is not a mapping"}},
		{"set of the profiles", profiled, Overrides{Set: []string{"profiles.paper=1"}}, []string{"profiles cannot be changed"}},
		{"set bad YAML", profiled, Overrides{Set: []string{"grid.lr=[1,"}}, []string{"--set", "not YAML"}},
		{"set unknown field", profiled, Overrides{Set: []string{"dataset.size=3"}}, []string{"dataset.size"}},
		{"profiles not a mapping", profiled[:strings.Index(profiled, "profiles:")] + "profiles: [a]\n", Overrides{}, []string{"profiles", "mapping of profile names"}},
		{"profile not a mapping", profiled[:strings.Index(profiled, "profiles:")] + "profiles:\n  paper: 3\n", Overrides{}, []string{"profiles.paper", "dotted paths"}},
		{"profile path empty segment", profiled[:strings.Index(profiled, "profiles:")] + "profiles:\n  paper:\n    dataset..n: 3\n", Overrides{}, []string{"dotted path"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ParseWith([]byte(c.doc), "p.yaml", c.o)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}
