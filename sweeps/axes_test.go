package sweeps

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// nestedLinked sweeps list values (hidden widths), strings (the
// optimizer, with its default "sgd" written out) and a linked pair of the
// learning rate and the batch size at a matched noise scale εN/B.
const nestedLinked = `name: nested
dataset: {name: synthetic, n: 512, n_test: 128, seed: 1}
model: {arch: mlp}
train: {epochs: 2}
grid:
  seed: [1, 2]
  axes:
    model.hidden: [[8, 8], [16]]
    optimizer.name: [sgd, adam]
  linked:
    - lr: [0.05, 0.1]
      batch_size: [32, 64]
`

// nestedLinkedRef is the expansion of nestedLinked: IDs and points, in
// order. It pins the expansion order (field axes in the order written,
// then each linked group, then the named axes; the last varies fastest)
// and the IDs (the hash of each trial's canonical spec).
var nestedLinkedRef = [][2]string{
	{"t-668fea6f382d7d00c3e77ed4e30fc91c", "model.hidden=[8,8] optimizer.name=\"\" lr=0.05 batch_size=32 seed=1"},
	{"t-88f05d6cfcd9cf83e349b819cb029077", "model.hidden=[8,8] optimizer.name=\"\" lr=0.05 batch_size=32 seed=2"},
	{"t-c73ab4ace7a0ab483b402709123235e2", "model.hidden=[8,8] optimizer.name=\"\" lr=0.1 batch_size=64 seed=1"},
	{"t-4a0481661f8e730c98e36ce2bcab6f23", "model.hidden=[8,8] optimizer.name=\"\" lr=0.1 batch_size=64 seed=2"},
	{"t-fa17e84b76ce0c6ee8e6a2963ff741b3", "model.hidden=[8,8] optimizer.name=\"adam\" lr=0.05 batch_size=32 seed=1"},
	{"t-985af290f58e7bdae13255080b5c28df", "model.hidden=[8,8] optimizer.name=\"adam\" lr=0.05 batch_size=32 seed=2"},
	{"t-f0b984d51102ff3bd607e1d8c4aac5cf", "model.hidden=[8,8] optimizer.name=\"adam\" lr=0.1 batch_size=64 seed=1"},
	{"t-0416a7c3425bbba745397b1737773551", "model.hidden=[8,8] optimizer.name=\"adam\" lr=0.1 batch_size=64 seed=2"},
	{"t-2a6e785bc5779b3972e3e2b86fc209af", "model.hidden=[16] optimizer.name=\"\" lr=0.05 batch_size=32 seed=1"},
	{"t-49c9ab607d6dfbf7dc72bef2b475ce22", "model.hidden=[16] optimizer.name=\"\" lr=0.05 batch_size=32 seed=2"},
	{"t-5ec8bd2aec3d6fde7f3ddb2f862bf5c4", "model.hidden=[16] optimizer.name=\"\" lr=0.1 batch_size=64 seed=1"},
	{"t-612c1a6aac21dc5bfb1d73bbb5798e09", "model.hidden=[16] optimizer.name=\"\" lr=0.1 batch_size=64 seed=2"},
	{"t-e75796a290356dd7bf458e388ec3c046", "model.hidden=[16] optimizer.name=\"adam\" lr=0.05 batch_size=32 seed=1"},
	{"t-4ce4a46b859363003509cff934a0baec", "model.hidden=[16] optimizer.name=\"adam\" lr=0.05 batch_size=32 seed=2"},
	{"t-f869076e15fed7ab49c0ed457219a414", "model.hidden=[16] optimizer.name=\"adam\" lr=0.1 batch_size=64 seed=1"},
	{"t-2c737974094fb08453fad349e9fa39c0", "model.hidden=[16] optimizer.name=\"adam\" lr=0.1 batch_size=64 seed=2"},
}

func TestFieldAndLinkedAxesReference(t *testing.T) {
	s, err := Parse([]byte(nestedLinked), "nested.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if len(trials) != len(nestedLinkedRef) || s.Len() != 16 {
		t.Fatalf("%d trials (Len %d), want %d", len(trials), s.Len(), len(nestedLinkedRef))
	}
	for i, tr := range trials {
		if tr.ID != nestedLinkedRef[i][0] || tr.Point.String() != nestedLinkedRef[i][1] {
			t.Errorf("trial %d: %s %s, want %s %s", i, tr.ID, tr.Point, nestedLinkedRef[i][0], nestedLinkedRef[i][1])
		}
	}
}

// TestFieldAxesSameAsFixed: a trial made by field axes has the ID of the
// same trial written with fixed settings ("sgd" written out is the
// default, left out of the canonical form).
func TestFieldAxesSameAsFixed(t *testing.T) {
	fixed := `name: fixed
dataset: {name: synthetic, n: 512, n_test: 128, seed: 1}
model: {arch: mlp, hidden: [8, 8]}
train: {epochs: 2}
grid: {batch_size: [32], lr: [0.05], seed: [1]}
`
	s, err := Parse([]byte(fixed), "fixed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if id := Expand(s)[0].ID; id != nestedLinkedRef[0][0] {
		t.Errorf("fixed settings give %s, the field axes %s", id, nestedLinkedRef[0][0])
	}
	adam := strings.Replace(strings.Replace(fixed, "train: {epochs: 2}", "train: {epochs: 2, optimizer: {name: adam}}", 1), "hidden: [8, 8]", "hidden: [16]", 1)
	adam = strings.Replace(strings.Replace(adam, "[32]", "[64]", 1), "[0.05]", "[0.1]", 1)
	s, err = Parse([]byte(strings.Replace(adam, "seed: [1]}", "seed: [2]}", 1)), "adam.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if id := Expand(s)[0].ID; id != nestedLinkedRef[15][0] {
		t.Errorf("fixed settings give %s, the field axes %s", id, nestedLinkedRef[15][0])
	}
}

// genericSweeps are sweeps with field axes, linked axes and random draws
// of every kind, for the checks that hold for every sweep.
var genericSweeps = map[string]string{
	"nested": nestedLinked,
	"sample": sampleSweep,
	"schedules": `name: schedules
dataset: {name: synthetic, n: 512, n_test: 128, seed: 1}
model: {arch: mlp, hidden: [8]}
train: {epochs: 4}
grid:
  lr: [0.1]
  batch_size: [16]
  seed: [1, 2, 3]
  axes:
    curvature.examples: [0, 64]
    weight_decay: [0, 0.001]
  linked:
    - schedule.lr: [{kind: step, milestones: [2], gamma: 0.2}, {kind: constant}]
      schedule.batch: [{}, {milestones: [2], factor: 5}]
`,
	"random": `name: random
dataset: {name: synthetic, n: 512, n_test: 128, seed: 1}
model: {arch: mlp}
train: {epochs: 2}
grid:
  seed: [1, 2]
  axes:
    model.activation: [relu, tanh]
random:
  seed: 11
  count: 20
  draws:
    lr: {dist: log_uniform, low: 0.001, high: 1}
    batch_size: {dist: int, low: 8, high: 128, log: true}
    optimizer.momentum: {dist: uniform, low: 0, high: 0.9, digits: 3}
    model.hidden: {dist: choice, values: [[8], [16, 16], [32]]}
    curvature.examples: {dist: int, low: 0, high: 3}
`,
}

// TestGenericExpansion: for every generic sweep, each trial's spliced ID
// is the ID of its encoded spec, trial i computed alone (spec.Sweep.Trial
// and Expander.At) is the expanded trial i, the point is the spec's value
// at each axis's path, every trial is valid, the IDs are distinct, and the
// spec rebuilt from the stored base (the sweep's base, its axes zeroed)
// and the trial's axis values is the trial's.
func TestGenericExpansion(t *testing.T) {
	for name, y := range genericSweeps {
		t.Run(name, func(t *testing.T) {
			s, err := Parse([]byte(y), name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			trials := Expand(s)
			if len(trials) != s.Len() || len(trials) == 0 {
				t.Fatalf("%d trials, Len %d", len(trials), s.Len())
			}
			base := s.Base()
			axes := s.Swept()
			for _, a := range axes {
				if err := spec.SetJSON(&base, a.Path, "null"); err != nil {
					t.Fatal(err)
				}
			}
			e := NewExpander(s)
			ids := map[string]bool{}
			for i, tr := range trials {
				if want := spec.ID(tr.Spec); tr.ID != want {
					t.Errorf("trial %d: spliced ID %s, encoded %s", i, tr.ID, want)
				}
				ids[tr.ID] = true
				alone, p := s.Trial(i)
				if !reflect.DeepEqual(alone, tr.Spec) || p.String() != tr.Point.String() {
					t.Errorf("trial %d alone: %+v %s, expanded %+v %s", i, alone, p, tr.Spec, tr.Point)
				}
				var at Trial
				e.At(i, &at)
				if at.ID != tr.ID || !reflect.DeepEqual(at.Spec, tr.Spec) {
					t.Errorf("trial %d: At gives %s, Expand %s", i, at.ID, tr.ID)
				}
				rebuilt := base
				for k, a := range axes {
					v, _ := spec.GetJSON(tr.Spec, a.Path)
					if tr.Point[k].Value != v || e.Value(k) != v {
						t.Errorf("trial %d axis %s: point %s, Value %s, spec %s", i, a.Name, tr.Point[k].Value, e.Value(k), v)
					}
					if err := spec.SetJSON(&rebuilt, a.Path, v); err != nil {
						t.Fatal(err)
					}
				}
				if spec.ID(rebuilt) != tr.ID {
					t.Errorf("trial %d: rebuilt from the base, %s", i, spec.ID(rebuilt))
				}
				if err := tr.Spec.Validate(); err != nil {
					t.Errorf("trial %d (%s): %v", i, tr.Point, err)
				}
				if c, _ := spec.Canonical(tr.Spec); string(c) != string(mustCanonical(t, tr.Spec.Resolved())) {
					t.Errorf("trial %d is not in resolved form: %s", i, c)
				}
			}
			if len(ids) != len(trials) {
				t.Errorf("%d distinct IDs for %d trials", len(ids), len(trials))
			}
			// The sweep's JSON (what the coordinator receives) decodes to
			// the same sweep, with the same trials.
			js, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			s2, err := spec.DecodeSweep(js)
			if err != nil {
				t.Fatalf("%v\n%s", err, js)
			}
			if err := s2.Validate(); err != nil {
				t.Fatal(err)
			}
			for i, tr := range Expand(s2) {
				if tr.ID != trials[i].ID {
					t.Fatalf("trial %d after a JSON round trip: %s, want %s", i, tr.ID, trials[i].ID)
				}
			}
		})
	}
}

func mustCanonical(t *testing.T, tr spec.Trial) []byte {
	t.Helper()
	c, err := spec.Canonical(tr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRandomReproducible: the same file gives the same trials and IDs,
// pinned here (so on any machine); another seed gives others; a larger
// count keeps the configurations drawn before.
func TestRandomReproducible(t *testing.T) {
	y := genericSweeps["random"]
	s, err := Parse([]byte(y), "random.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if len(trials) != 80 {
		t.Fatalf("%d trials, want 20 configurations × 2 activations × 2 seeds", len(trials))
	}
	want := map[int]string{
		0:  "t-4d3f59e8b2a91c4e388ce777b439d541 lr=0.00417045 batch_size=19 optimizer.momentum=0.385 model.hidden=[8] curvature.examples=2 model.activation=\"relu\" seed=1",
		1:  "t-8e473204ae6eeb1b65374c4161e52523 lr=0.00417045 batch_size=19 optimizer.momentum=0.385 model.hidden=[8] curvature.examples=2 model.activation=\"relu\" seed=2",
		79: "t-f8f9c133ebbd7e6a6ff8e19a19dabdf3 lr=0.256665 batch_size=9 optimizer.momentum=0.724 model.hidden=[32] curvature.examples=2 model.activation=\"tanh\" seed=2",
	}
	for i, w := range want {
		if got := trials[i].ID + " " + trials[i].Point.String(); got != w {
			t.Errorf("trial %d: %s\nwant %s", i, got, w)
		}
	}
	more, err := Parse([]byte(strings.Replace(y, "count: 20", "count: 25", 1)), "more.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for i, tr := range Expand(more)[:80] {
		if tr.ID != trials[i].ID {
			t.Fatalf("count 25: trial %d is %s, with count 20 %s", i, tr.ID, trials[i].ID)
		}
	}
	other, err := Parse([]byte(strings.Replace(y, "seed: 11", "seed: 12", 1)), "other.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if Expand(other)[0].ID == trials[0].ID {
		t.Error("another seed draws the same first configuration")
	}
}

// TestAxesBadInput: each mistake is reported naming the file, the line, the
// field path and what was expected.
func TestAxesBadInput(t *testing.T) {
	base := "name: bad\ndataset: {name: synthetic, n: 512, n_test: 128, seed: 1}\nmodel: {arch: mlp, hidden: [8]}\ntrain: {epochs: 2}\n"
	grid := "grid: {batch_size: [16], lr: [0.1], seed: [1]}\n"
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown field", base + "grid:\n  batch_size: [16]\n  lr: [0.1]\n  seed: [1]\n  axes:\n    model.hiden: [[8]]\n",
			[]string{`bad.yaml:10: grid.axes.model.hiden: no trial field "model.hiden"; expected the JSON path of a trial field`}},
		{"wrong type in a list value", strings.Replace(base, "hidden: [8]", "", 1) + "grid:\n  batch_size: [16]\n  lr: [0.1]\n  seed: [1]\n  axes:\n    model.hidden: [512, \"x\"]\n",
			[]string{`bad.yaml:10: grid.axes.model.hidden[0] = 512: expected a list such as [1, 2], got an integer`,
				`bad.yaml:10: grid.axes.model.hidden[1] = "x": expected a list such as [1, 2], got a string`}},
		{"wrong type inside a list value", strings.Replace(base, "hidden: [8]", "", 1) + "grid:\n  batch_size: [16]\n  lr: [0.1]\n  seed: [1]\n  axes:\n    model.hidden: [[512, \"x\"]]\n",
			[]string{`bad.yaml:10: grid.axes.model.hidden[0][1] = "x": expected an integer, got a string`}},
		{"string for lr", base + "grid:\n  batch_size: [16]\n  seed: [1]\n  linked:\n    - lr: [\"fast\", 0.1]\n      epochs: [1, 2]\n",
			[]string{`bad.yaml:9: grid.linked[0].lr[0] = "fast": expected a number, got a string`}},
		{"linked lengths", strings.Replace(base, "train: {epochs: 2}", "train: {}", 1) + "grid:\n  seed: [1]\n  linked:\n    - lr: [0.1, 0.2, 0.4]\n      batch_size: [16, 32]\n      epochs: [1, 2, 3]\n",
			[]string{`bad.yaml:9: grid.linked[0].batch_size = […]: 2 values, but grid.linked[0].lr has 3: linked axes vary together`}},
		{"axis and fixed setting", base + "grid:\n  batch_size: [16]\n  lr: [0.1]\n  seed: [1]\n  axes:\n    model.hidden: [[8], [16]]\n",
			[]string{`bad.yaml:10: grid.axes.model.hidden = […]: model.hidden is also a fixed setting; give it as a fixed setting or as an axis, not both`}},
		{"axis and named axis", base + "grid:\n  batch_size: [16]\n  lr: [0.1]\n  seed: [1]\n  axes:\n    lr: [0.2]\n",
			[]string{`bad.yaml:10: grid.axes.lr = […]: grid.lr sets lr already; give its values in one place`}},
		{"file field", base + grid + "random:\n  count: 2\n  draws:\n    dataset.dir: {dist: choice, values: [a, b]}\n",
			[]string{`bad.yaml:9: random.draws.dataset.dir: dataset.dir cannot be an axis`}},
		{"duplicate values", base + grid[:len(grid)-2] + ", axes: {optimizer.name: [sgd, \"\"]}}\n",
			[]string{`grid.axes.optimizer.name[1] = "": duplicate of grid.axes.optimizer.name[0] (once defaults are applied)`}},
		{"invalid trial", base + grid[:len(grid)-2] + ", axes: {optimizer.momentum: [0.5, 1.5]}}\n",
			[]string{`bad.yaml:5: grid.axes.optimizer.momentum[1] = 1.5: invalid optimizer.momentum = 1.5: momentum must be in [0, 1)`}},
		{"invalid combination", strings.Replace(base, "arch: mlp, ", "", 1) + grid[:len(grid)-2] + ", axes: {model.arch: [mlp, resmlp]}}\n",
			[]string{`grid.axes.model.arch[1] = "resmlp": makes an invalid trial: model.hidden = [8]: not used by resmlp`}},
		{"low ≥ high", base + grid + "random:\n  count: 2\n  draws:\n    weight_decay: {dist: uniform, low: 0.1, high: 0.1}\n",
			[]string{`bad.yaml:9: random.draws.weight_decay.high = 0.1: must be > low (0.1)`}},
		{"log-uniform low ≤ 0", base + "grid: {batch_size: [16], seed: [1]}\nrandom:\n  count: 2\n  draws:\n    lr: {dist: log_uniform, low: 0, high: 1}\n",
			[]string{`bad.yaml:9: random.draws.lr.low = 0: must be > 0: log_uniform draws ln x uniformly`}},
		{"count ≤ 0", base + "grid: {batch_size: [16], seed: [1]}\nrandom:\n  count: 0\n  draws:\n    lr: {dist: log_uniform, low: 0.01, high: 1}\n",
			[]string{`bad.yaml:7: random.count = 0: must be ≥ 1 (the number of configurations drawn)`}},
		{"unknown distribution", base + "grid: {batch_size: [16], seed: [1]}\nrandom:\n  count: 2\n  draws:\n    lr: {dist: normal, low: 0.01, high: 1}\n",
			[]string{`random.draws.lr.dist = "normal": unknown distribution; expected "uniform", "log_uniform", "int" or "choice"`}},
		{"int for a float", base + "grid: {batch_size: [16], seed: [1]}\nrandom:\n  count: 2\n  draws:\n    lr: {dist: int, low: 1, high: 3}\n",
			[]string{`random.draws.lr.dist = "int": draws an integer, but lr is a number`}},
		{"choice of the wrong type", base + grid + "random:\n  count: 2\n  draws:\n    model.activation: {dist: choice, values: [relu, 3]}\n",
			[]string{`bad.yaml:9: random.draws.model.activation.values[1] = 3: expected a string, got an integer`}},
		{"invalid draw bound", base + "grid: {batch_size: [16], seed: [1]}\nrandom:\n  count: 2\n  draws:\n    lr: {dist: uniform, low: -1, high: 1}\n",
			[]string{`random.draws.lr.low = -1: invalid lr = -1: learning rate must be finite and > 0`}},
		{"duplicate configurations", base + "grid: {batch_size: [16], lr: [0.1]}\nrandom:\n  count: 3\n  draws:\n    seed: {dist: int, low: 1, high: 2}\n",
			[]string{`random.count = 3: configurations`, `draw the same values (seed=`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.yaml), "bad.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", c.yaml)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\nlacks %q", err, w)
				}
			}
		})
	}
}

// TestShippedSweepFiles: every sweep file of the repository parses,
// validates and expands to trials with distinct IDs (the example files of
// linked axes and random search among them).
func TestShippedSweepFiles(t *testing.T) {
	files, err := filepath.Glob("*.yaml")
	if err != nil || len(files) < 7 {
		t.Fatalf("%d sweep files (%v)", len(files), err)
	}
	for _, want := range []string{"matched-noise.yaml", "random-search.yaml"} {
		if !slices.Contains(files, want) {
			t.Errorf("no %s", want)
		}
	}
	for _, f := range files {
		s, err := Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		ids := map[string]bool{}
		for _, tr := range Expand(s) {
			ids[tr.ID] = true
		}
		if len(ids) != s.Len() || len(ids) == 0 {
			t.Errorf("%s: %d distinct IDs for %d trials", f, len(ids), s.Len())
		}
	}
}

// sampleSweep is a 3 × 3 × 3 × 3 grid (81 points) besides its two seeds.
const sampleSweep = `name: sample
dataset: {name: synthetic, n: 512, n_test: 64, seed: 1}
model: {arch: mlp}
train: {epochs: 1}
grid:
  batch_size: [16, 32, 64]
  lr: [0.05, 0.1, 0.2]
  seed: [1, 2]
  axes:
    model.hidden: [[8], [16], [32]]
    weight_decay: [0, 0.0001, 0.001]
random:
  seed: 4
  sample: 5
`

// TestSampleGrid: random.sample runs that many distinct points of the grid,
// each at every seed, reproducibly (pinned IDs); sampling all 81 points is
// the whole grid in another order; more points than the grid has is an
// error.
func TestSampleGrid(t *testing.T) {
	whole, err := Parse([]byte(strings.Replace(sampleSweep, "random:\n  seed: 4\n  sample: 5\n", "", 1)), "whole.yaml")
	if err != nil {
		t.Fatal(err)
	}
	all := map[string]int{}
	for _, tr := range Expand(whole) {
		all[tr.ID] = tr.Index
	}
	s, err := Parse([]byte(sampleSweep), "sample.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if len(trials) != 10 {
		t.Fatalf("%d trials, want 5 points × 2 seeds", len(trials))
	}
	want := []string{
		"t-72bf412f2cb021c01d4ace3669d2b1a4 model.hidden=[8] weight_decay=0 batch_size=64 lr=0.05 seed=1",
		"t-550d311de1bfd31ae0ca2d7f6f733f7e model.hidden=[8] weight_decay=0 batch_size=64 lr=0.05 seed=2",
		"t-9d85b1c91110499a05a22fae76857434 model.hidden=[16] weight_decay=0.001 batch_size=64 lr=0.2 seed=1",
	}
	for i, w := range want {
		if got := trials[i].ID + " " + trials[i].Point.String(); got != w {
			t.Errorf("trial %d: %s, want %s", i, got, w)
		}
	}
	seen := map[string]bool{}
	for i, tr := range trials {
		if _, ok := all[tr.ID]; !ok || seen[tr.ID] {
			t.Errorf("trial %d (%s) is not a new point of the grid", i, tr.Point)
		}
		seen[tr.ID] = true
		if v, _ := tr.Point.Value("seed"); v != []string{"1", "2"}[i%2] {
			t.Errorf("trial %d: seed %s", i, v)
		}
		if i%2 == 1 && strings.TrimSuffix(tr.Point.String(), " seed=2") != strings.TrimSuffix(trials[i-1].Point.String(), " seed=1") {
			t.Errorf("trials %d and %d: %s, %s; want one point at both seeds", i-1, i, trials[i-1].Point, tr.Point)
		}
	}
	full, err := Parse([]byte(strings.Replace(sampleSweep, "sample: 5", "sample: 81", 1)), "full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, tr := range Expand(full) {
		got[tr.ID] = true
	}
	if len(got) != len(all) || len(all) != 162 {
		t.Errorf("sampling all 81 points gives %d distinct trials, the grid %d", len(got), len(all))
	}
	for id := range all {
		if !got[id] {
			t.Errorf("trial %s of the grid not sampled", id)
		}
	}
	for y, msg := range map[string]string{
		strings.Replace(sampleSweep, "sample: 5", "sample: 82", 1):                                                             "sample.yaml:14: random.sample = 82: the grid has 81 points besides the seed: at most that many can be drawn without replacement",
		strings.Replace(sampleSweep, "sample: 5", "sample: 5\n  count: 3\n  draws: {epochs: {dist: int, low: 1, high: 3}}", 1): "random.sample = 5: give random.sample (a sample of the grid) or random.count and random.draws (random search), not both",
	} {
		if _, err := Parse([]byte(y), "sample.yaml"); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("error %v, want %q", err, msg)
		}
	}
}

// TestWarmStartAxis: an axis over warm_start.path identifies each trial's
// warm start by its file's content: after ResolveFiles the axis is over
// warm_start with each file's digest, the IDs do not depend on where the
// files are, and a changed file changes its trials' IDs only.
func TestWarmStartAxis(t *testing.T) {
	write := func(dir, name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ids := func(a, b string) ([]string, spec.Sweep) {
		t.Helper()
		s, err := Parse([]byte("name: w\ndataset: {name: synthetic, n: 64, n_test: 16, seed: 1}\nmodel: {arch: mlp, hidden: [4]}\ntrain: {epochs: 1}\n"+
			"grid:\n  batch_size: [8]\n  lr: [0.1]\n  seed: [1]\n  axes:\n    warm_start.path: ["+a+", "+b+"]\n"), "w.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ResolveFiles(); err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, tr := range Expand(s) {
			if tr.Spec.WarmStart.SHA256 == "" || tr.ID != spec.ID(tr.Spec) {
				t.Fatalf("trial %d: warm start %+v", tr.Index, tr.Spec.WarmStart)
			}
			out = append(out, tr.ID)
		}
		return out, s
	}
	d1, d2 := t.TempDir(), t.TempDir()
	a1, b1 := write(d1, "a.safetensors", "a"), write(d1, "b.safetensors", "b")
	a2, b2 := write(d2, "a.safetensors", "a"), write(d2, "b.safetensors", "b")
	first, s := ids(a1, b1)
	if s.Grid.Fields[0].Path != "warm_start" || len(first) != 2 || first[0] == first[1] {
		t.Fatalf("axes %+v, IDs %v", s.Grid.Fields, first)
	}
	if moved, _ := ids(a2, b2); !slices.Equal(moved, first) {
		t.Errorf("moved files: %v, want %v", moved, first)
	}
	write(d2, "b.safetensors", "changed")
	if changed, _ := ids(a2, b2); changed[0] != first[0] || changed[1] == first[1] {
		t.Errorf("changed b: %v, was %v", changed, first)
	}
	s2, err := Parse([]byte("name: w\ndataset: {name: synthetic, n: 64, n_test: 16, seed: 1}\nmodel: {arch: mlp, hidden: [4]}\ntrain: {epochs: 1}\n"+
		"grid:\n  batch_size: [8]\n  lr: [0.1]\n  seed: [1]\n  axes:\n    warm_start.path: [missing.safetensors]\n"), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.ResolveFiles(); err == nil || !strings.Contains(err.Error(), "grid.axes.warm_start.path[0]") {
		t.Errorf("missing file: %v", err)
	}
}

// TestAxisAliasBomb: an axis over a list field whose values repeat an
// alias of a long list is refused once the walk passes its bound, quickly.
func TestAxisAliasBomb(t *testing.T) {
	long := "[" + strings.Repeat("1, ", 9999) + "1]"
	y := "name: bomb\ndataset: {name: synthetic, n: 64, n_test: 16}\nmodel: {arch: mlp}\ntrain: {epochs: 1}\n" +
		"grid:\n  batch_size: [8]\n  lr: [0.1]\n  seed: [1]\n  x: &a " + long + "\n  axes:\n    model.hidden: [" + strings.TrimSuffix(strings.Repeat("*a, ", 110), ", ") + "]\n"
	_, err := Parse([]byte(y), "bomb.yaml")
	if err == nil || !strings.Contains(err.Error(), "expands, through its aliases, to more than") {
		t.Fatalf("error %v", err)
	}
}
