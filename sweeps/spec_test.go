package sweeps

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// reference returns testdata/reference.yaml, the fixed sweep these tests are
// written against (the shipped quickstart may change; this file does not).
func reference() []byte {
	b, err := os.ReadFile("testdata/reference.yaml")
	if err != nil {
		panic(err)
	}
	return b
}

// referenceSpec parses reference().
func referenceSpec() (spec.Sweep, error) { return Parse(reference(), "reference.yaml") }

// TestShippedQuickstart checks the embedded default sweep: valid, at least
// 3 batch sizes × 2 learning rates × 2 seeds, distinct trial IDs.
func TestShippedQuickstart(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	g := s.Grid
	if len(g.BatchSize) < 3 || len(g.LR) < 2 || len(g.Seed) < 2 {
		t.Errorf("quickstart grid %d×%d×%d, want at least 3×2×2", len(g.BatchSize), len(g.LR), len(g.Seed))
	}
	ids := map[string]bool{}
	for _, tr := range Expand(s) {
		ids[tr.ID] = true
	}
	if len(ids) != g.Len() {
		t.Errorf("%d distinct IDs for %d trials", len(ids), g.Len())
	}
	onDisk, err := os.ReadFile("quickstart.yaml")
	if err != nil || string(onDisk) != string(Quickstart()) {
		t.Errorf("embedded quickstart differs from quickstart.yaml (%v)", err)
	}
}

// replace returns the reference file with old replaced by new, failing the
// test if old does not occur exactly once.
func replace(t *testing.T, old, repl string) []byte {
	t.Helper()
	src := string(reference())
	if n := strings.Count(src, old); n != 1 {
		t.Fatalf("quickstart.yaml contains %q %d times, want 1", old, n)
	}
	return []byte(strings.Replace(src, old, repl, 1))
}

func TestQuickstartParses(t *testing.T) {
	s, err := referenceSpec()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	want := spec.Sweep{
		Name: "quickstart",
		Dataset: spec.Dataset{Name: "synthetic", N: 1024, NTest: 1024, Features: 16,
			Classes: 4, LabelNoise: 0.2, Seed: 1},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{64, 64}, Activation: "relu"},
		Train:     spec.Train{Epochs: 20},
		Curvature: spec.Curvature{Examples: 512, LanczosSteps: 20, Tol: 1e-3},
		Grid:      spec.Grid{BatchSize: []int{16, 64, 256}, LR: []float64{0.05, 0.2}, Seed: []int64{1, 2}},
	}
	got, _ := json.Marshal(s)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("quickstart spec\n got %s\nwant %s", got, exp)
	}
}

func TestExpandOrderAndIDs(t *testing.T) {
	s, err := referenceSpec()
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if len(trials) != 12 || s.Grid.Len() != 12 {
		t.Fatalf("got %d trials (Grid.Len %d), want 12", len(trials), s.Grid.Len())
	}
	var want []spec.Point
	for _, b := range []string{"16", "64", "256"} {
		for _, lr := range []string{"0.05", "0.2"} {
			for _, seed := range []string{"1", "2"} {
				want = append(want, spec.Point{{Axis: "batch_size", Value: b}, {Axis: "lr", Value: lr}, {Axis: "seed", Value: seed}})
			}
		}
	}
	ids := map[string]int{}
	for i, tr := range trials {
		if tr.Index != i || !reflect.DeepEqual(tr.Point, want[i]) {
			t.Errorf("trial %d: index %d point %v, want %v", i, tr.Index, tr.Point, want[i])
		}
		sp := tr.Spec
		if fmt.Sprint(sp.BatchSize) != want[i][0].Value || fmt.Sprint(sp.LR) != want[i][1].Value || fmt.Sprint(sp.Seed) != want[i][2].Value {
			t.Errorf("trial %d: spec (B=%d, lr=%g, seed=%d) disagrees with point %v", i, sp.BatchSize, sp.LR, sp.Seed, want[i])
		}
		if sp.Epochs != 20 || !reflect.DeepEqual(sp.Dataset, s.Dataset) || !reflect.DeepEqual(sp.Curvature, s.Curvature) || sp.Model.Activation != "relu" {
			t.Errorf("trial %d: shared settings not copied: %+v", i, sp)
		}
		if tr.ID != spec.ID(sp) || !strings.HasPrefix(tr.ID, "t-") || len(tr.ID) != 34 {
			t.Errorf("trial %d: ID %q, want TrialID of its spec (t- + 32 hex)", i, tr.ID)
		}
		if j, dup := ids[tr.ID]; dup {
			t.Errorf("trials %d and %d share ID %s", j, i, tr.ID)
		}
		ids[tr.ID] = i
	}
	// Expansion is deterministic.
	again := Expand(s)
	for i := range again {
		if again[i].ID != trials[i].ID {
			t.Errorf("trial %d: ID changed between expansions", i)
		}
	}
}

// TestExpandTemplateIDs checks the spliced IDs against a full encoding of
// every trial, on values whose JSON takes unusual forms (exponents, large and
// negative integers) and with optional axes.
func TestExpandTemplateIDs(t *testing.T) {
	src := strings.Replace(string(reference()), "  batch_size: [16, 64, 256]\n  lr: [0.05, 0.2]\n  seed: [1, 2]\n",
		"  batch_size: [1, 16, 1024]\n  lr: [1e-7, 0.05, 3, 1e21, 123456.789]\n  seed: [-5, 0, 9007199254740993]\n  momentum: [0, 0.9]\n  weight_decay: [0, 1e-4]\n", 1)
	s, err := Parse([]byte(src), "tricky.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if len(trials) != 3*5*3*2*2 {
		t.Fatalf("%d trials", len(trials))
	}
	for i, tr := range trials {
		if want := spec.ID(tr.Spec); tr.ID != want {
			t.Fatalf("trial %d (%v): spliced ID %s, full encoding gives %s", i, tr.Point, tr.ID, want)
		}
	}
}

// goldenSpec is a fixed trial spec whose ID is pinned by TestTrialIDGolden.
var goldenSpec = spec.Trial{
	Dataset:   spec.Dataset{Name: "synthetic", N: 1024, NTest: 1024, Features: 16, Classes: 4, LabelNoise: 0.2, Seed: 1},
	Model:     spec.Model{Arch: "mlp", Hidden: []int{64, 64}, Activation: "relu"},
	BatchSize: 16,
	LR:        0.05,
	Epochs:    20,
	Seed:      1,
	Curvature: spec.Curvature{Examples: 512, LanczosSteps: 20, Tol: 1e-3},
}

// TestTrialIDGolden pins the canonical form and the ID of one spec: if this
// test fails, trial IDs changed and resubmitted sweeps would rerun finished
// work. Change the golden values only deliberately.
func TestTrialIDGolden(t *testing.T) {
	const canon = `{"dataset":{"name":"synthetic","n":1024,"n_test":1024,"features":16,"classes":4,"label_noise":0.2,"seed":1},"model":{"arch":"mlp","hidden":[64,64],"activation":"relu"},"batch_size":16,"lr":0.05,"epochs":20,"seed":1,"curvature":{"examples":512,"lanczos_steps":20,"tol":0.001}}`
	const golden = "t-d42b32c99966934f165b344d54923494"
	b, err := spec.Canonical(goldenSpec)
	if err != nil || string(b) != canon {
		t.Fatalf("CanonicalTrial = %s, %v\nwant %s", b, err, canon)
	}
	if got := spec.ID(goldenSpec); got != golden {
		t.Errorf("TrialID = %q, want %q", got, golden)
	}
	s, err := referenceSpec()
	if err != nil {
		t.Fatal(err)
	}
	if got := Expand(s)[0].ID; got != golden {
		t.Errorf("quickstart trial 0 ID = %q, want %q", got, golden)
	}
}

func TestTrialIDSensitivity(t *testing.T) {
	base := spec.ID(goldenSpec)
	muts := map[string]func(*spec.Trial){
		"dataset.name":     func(s *spec.Trial) { s.Dataset.Name = "other" },
		"dataset.n":        func(s *spec.Trial) { s.Dataset.N++ },
		"dataset.n_test":   func(s *spec.Trial) { s.Dataset.NTest++ },
		"dataset.features": func(s *spec.Trial) { s.Dataset.Features++ },
		"dataset.classes":  func(s *spec.Trial) { s.Dataset.Classes++ },
		"label_noise":      func(s *spec.Trial) { s.Dataset.LabelNoise = 0.2000000001 },
		"dataset.seed":     func(s *spec.Trial) { s.Dataset.Seed++ },
		"arch":             func(s *spec.Trial) { s.Model.Arch = "cnn" },
		"hidden":           func(s *spec.Trial) { s.Model.Hidden = []int{64, 65} },
		"hidden depth":     func(s *spec.Trial) { s.Model.Hidden = []int{64, 64, 64} },
		"activation":       func(s *spec.Trial) { s.Model.Activation = "tanh" },
		"batch_size":       func(s *spec.Trial) { s.BatchSize++ },
		"lr":               func(s *spec.Trial) { s.LR = 0.05000000000000001 },
		"epochs":           func(s *spec.Trial) { s.Epochs++ },
		"seed":             func(s *spec.Trial) { s.Seed++ },
		"examples":         func(s *spec.Trial) { s.Curvature.Examples = 0 },
		"lanczos_steps":    func(s *spec.Trial) { s.Curvature.LanczosSteps++ },
		"tol":              func(s *spec.Trial) { s.Curvature.Tol = 1e-4 },
	}
	for name, mut := range muts {
		s := goldenSpec
		s.Model.Hidden = []int{64, 64}
		mut(&s)
		if id := spec.ID(s); id == base {
			t.Errorf("changing %s kept the ID %s", name, id)
		}
	}
	// A spec with no canonical form still gets a deterministic, distinct ID.
	nan := goldenSpec
	nan.LR = 0 / zero()
	if id := spec.ID(nan); !strings.HasPrefix(id, "x-") || id != spec.ID(nan) {
		t.Errorf("spec.ID(NaN lr) = %q, want a stable x- ID", id)
	}
}

func zero() float64 { return 0 }

// TestSameTrialAcrossSweeps: a trial's ID does not depend on the sweep's name,
// its other grid points, defaults written out or omitted, or formatting.
func TestSameTrialAcrossSweeps(t *testing.T) {
	other := `
name: another-sweep   # different name and grid
dataset: {name: synthetic, n: 1024, n_test: 1024, label_noise: 0.20, seed: 1}
model: {arch: mlp, hidden: [64, 64]}
train: {epochs: 20}
curvature: {examples: 512}
grid: {batch_size: [256, 16], lr: [5e-2], seed: [9, 1]}
`
	s, err := Parse([]byte(other), "other.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if got, want := trials[3].ID, spec.ID(goldenSpec); got != want {
		t.Errorf("B=16 lr=0.05 seed=1 in another sweep: ID %s, want %s", got, want)
	}
}

func TestCanonical(t *testing.T) {
	a, err := referenceSpec()
	if err != nil {
		t.Fatal(err)
	}
	// The same sweep, reformatted, with defaults omitted and comments added.
	b, err := Parse(replace(t, "  activation: relu\n", "  # relu is the default\n"), "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ca, err1 := json.Marshal(a)
	cb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil || string(ca) != string(cb) {
		t.Fatalf("canonical forms differ: %s (%v) vs %s (%v)", ca, err1, cb, err2)
	}
	back, err := spec.DecodeSweep(ca)
	if err != nil {
		t.Fatal(err)
	}
	if cc, _ := json.Marshal(back); string(cc) != string(ca) {
		t.Errorf("canonical form does not round-trip: %s vs %s", cc, ca)
	}
}

func TestAnchorsAndAliases(t *testing.T) {
	src := `
name: anchors
dataset: {name: synthetic, n: 100, n_test: &n 50}
model: {arch: mlp, hidden: &h [8, 16]}
train: {epochs: *n}
grid: {batch_size: *h, lr: [1], seed: [0]}
`
	s, err := Parse([]byte(src), "anchors.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Train.Epochs != 50 || len(s.Grid.BatchSize) != 2 {
		t.Errorf("aliases not resolved: %+v", s)
	}
}

func TestDefaults(t *testing.T) {
	src := `
name: minimal
dataset: {name: synthetic, n: 100, n_test: 50}
model: {arch: mlp, hidden: [8]}
train: {epochs: 1}
curvature: {tol: ~}
grid: {batch_size: [100], lr: [1], seed: [0]}
`
	s, err := Parse([]byte(src), "minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	d, m, c := s.Dataset, s.Model, s.Curvature
	if d.Features != 16 || d.Classes != 4 || d.LabelNoise != 0 || d.Seed != 0 || m.Activation != "relu" ||
		c.Examples != 0 || c.LanczosSteps != 20 || c.Tol != 1e-3 {
		t.Errorf("defaults not applied: %+v %+v %+v", d, m, c)
	}
}

func TestBadSpecs(t *testing.T) {
	cases := []struct {
		name     string
		yaml     []byte
		contains []string // substrings of the message: field path, value, line
	}{
		{"malformed YAML", replace(t, "  lr: [0.05, 0.2]", "  lr: [0.05, 0.2"), []string{"bad.yaml:", "malformed YAML"}},
		{"unknown field", replace(t, "  batch_size:", "  batchsize:"), []string{"bad.yaml:24:", "grid.batchsize", "unknown field", "batch_size, lr, seed"}},
		{"unknown top-level field", replace(t, "train:", "trian:"), []string{"bad.yaml:17:", "trian", "unknown field"}},
		{"zero batch size", replace(t, "[16, 64, 256]", "[16, 64, 0]"), []string{"bad.yaml:24:", "grid.batch_size[2] = 0", "1…dataset.n (1024)"}},
		{"negative batch size", replace(t, "[16, 64, 256]", "[-16, 64, 256]"), []string{"bad.yaml:24:", "grid.batch_size[0] = -16"}},
		{"batch size > n", replace(t, "[16, 64, 256]", "[16, 64, 2048]"), []string{"grid.batch_size[2] = 2048", "1…dataset.n (1024)"}},
		{"fractional batch size", replace(t, "[16, 64, 256]", "[16, 64.5, 256]"), []string{"grid.batch_size[1] = 64.5", "expected an integer"}},
		{"string batch size", replace(t, "[16, 64, 256]", "[16, sixty, 256]"), []string{"grid.batch_size[1] = \"sixty\"", "expected an integer"}},
		{"null batch size", replace(t, "[16, 64, 256]", "[16, ~, 256]"), []string{"grid.batch_size[1] = ~", "expected an integer, got null"}},
		{"huge batch size", replace(t, "[16, 64, 256]", "[16, 99999999999999999999, 256]"), []string{"grid.batch_size[1] = 99999999999999999999", "integer out of range"}},
		{"lr nan", replace(t, "[0.05, 0.2]", "[0.05, .nan]"), []string{"bad.yaml:25:", "grid.lr[1] = .nan", "finite"}},
		{"lr inf", replace(t, "[0.05, 0.2]", "[.inf, 0.2]"), []string{"grid.lr[0] = .inf", "finite"}},
		{"lr -inf", replace(t, "[0.05, 0.2]", "[0.05, -.inf]"), []string{"grid.lr[1] = -.inf"}},
		{"lr zero", replace(t, "[0.05, 0.2]", "[0, 0.2]"), []string{"grid.lr[0] = 0", "finite and > 0"}},
		{"lr negative", replace(t, "[0.05, 0.2]", "[0.05, -0.2]"), []string{"grid.lr[1] = -0.2"}},
		{"lr scalar not list", replace(t, "[0.05, 0.2]", "0.05"), []string{"grid.lr = 0.05", "expected a list"}},
		{"missing name", replace(t, "name: quickstart\n", ""), []string{"bad.yaml: name: required field is missing"}},
		{"empty name", replace(t, "name: quickstart", `name: ""`), []string{`name = ""`, "slug"}},
		{"name not a slug", replace(t, "name: quickstart", "name: Quick Start"), []string{`name = "Quick Start"`, "slug"}},
		{"duplicate seed", replace(t, "seed: [1, 2]", "seed: [1, 2, 1]"), []string{"bad.yaml:26:", "grid.seed[2] = 1", "duplicate of grid.seed[0]"}},
		{"duplicate lr", replace(t, "[0.05, 0.2]", "[0.05, 0.050]"), []string{"grid.lr[1] = 0.050", "duplicate of grid.lr[0]"}},
		{"duplicate batch size", replace(t, "[16, 64, 256]", "[16, 16, 256]"), []string{"grid.batch_size[1] = 16", "duplicate"}},
		{"empty axis", replace(t, "seed: [1, 2]", "seed: []"), []string{"bad.yaml:26:", "grid.seed = []", "empty list"}},
		{"missing axis", replace(t, "  seed: [1, 2]\n", ""), []string{"grid.seed: required field is missing"}},
		{"zero epochs", replace(t, "epochs: 20", "epochs: 0"), []string{"bad.yaml:18:", "train.epochs = 0", "must be > 0"}},
		{"missing epochs", replace(t, "train:\n  epochs: 20\n", "train: {}\n"), []string{"bad.yaml: train.epochs: required field is missing"}},
		{"zero n", replace(t, "n: 1024", "n: 0"), []string{"dataset.n = 0", "must be > 0"}},
		{"negative n_test", replace(t, "n_test: 1024", "n_test: -1"), []string{"dataset.n_test = -1"}},
		{"label noise 1", replace(t, "label_noise: 0.2", "label_noise: 1"), []string{"dataset.label_noise = 1", "[0, 1)"}},
		{"label noise nan", replace(t, "label_noise: 0.2", "label_noise: .NaN"), []string{"dataset.label_noise = .NaN"}},
		{"zero hidden width", replace(t, "[64, 64]", "[64, 0]"), []string{"model.hidden[1] = 0"}},
		{"unknown dataset", replace(t, "name: synthetic", "name: imagenet"), []string{`dataset.name = "imagenet"`, `expected "synthetic", "mnist"`}},
		{"unknown arch", replace(t, "arch: mlp", "arch: resnet"), []string{`model.arch = "resnet"`, `expected "mlp"`}},
		{"unknown activation", replace(t, "activation: relu", "activation: sigmoid"), []string{`model.activation = "sigmoid"`, `expected "relu" or "tanh"`}},
		{"zero lanczos steps", replace(t, "lanczos_steps: 20", "lanczos_steps: 0"), []string{"curvature.lanczos_steps = 0"}},
		{"tol inf", replace(t, "tol: 1e-3", "tol: .inf"), []string{"curvature.tol = .inf", "finite"}},
		{"tol zero", replace(t, "tol: 1e-3", "tol: 0"), []string{"curvature.tol = 0"}},
		{"examples > n", replace(t, "examples: 512", "examples: 2000"), []string{"curvature.examples = 2000", "0…dataset.n (1024)"}},
		{"duplicate key", replace(t, "  epochs: 20\n", "  epochs: 20\n  epochs: 30\n"), []string{"bad.yaml:19:", "train.epochs", "given twice (first at line 18)"}},
		{"section not a mapping", replace(t, "train:\n  epochs: 20\n", "train: 20\n"), []string{"train = 20", "expected a mapping"}},
		{"two documents", append(reference(), "---\nname: x\n"...), []string{"more than one YAML document"}},
		{"empty", []byte("# nothing\n"), []string{"bad.yaml: empty document"}},
		{"not a mapping", []byte("- 1\n- 2\n"), []string{"bad.yaml:1:", "expected a mapping"}},
		{"grid too large", []byte(gridOf(2000, 1001, 1)), []string{"bad.yaml:6: grid = {…}: expands to 2002000 trials", "at most 2000000"}},
		{"alias bomb", replace(t, "seed: [1, 2]", aliasBomb), []string{"grid.seed[0] = […]: expected an integer, got a list"}},
		{"many errors", []byte(strings.Replace(gridOf(100, 1, 1), "batch_size: [1,", "batch_size: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,", 1)), []string{"… and 6 more problems"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := Parse(c.yaml, "bad.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", s)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Errorf("error is not a *FieldError: %T %v", err, err)
			}
			for _, sub := range c.contains {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not contain %q", err, sub)
				}
			}
			t.Logf("%s", err)
		})
	}
}

// gridOf returns a valid sweep whose grid has the given axis lengths.
func gridOf(nb, nlr, nseed int) string {
	list := func(n int, f func(int) string) string {
		xs := make([]string, n)
		for i := range xs {
			xs[i] = f(i)
		}
		return "[" + strings.Join(xs, ", ") + "]"
	}
	return "name: big\ndataset: {name: synthetic, n: 100000, n_test: 1}\nmodel: {arch: mlp, hidden: [1]}\ntrain: {epochs: 1}\ngrid:\n" +
		"  batch_size: " + list(nb, func(i int) string { return strconv.Itoa(i + 1) }) + "\n" +
		"  lr: " + list(nlr, func(i int) string { return strconv.FormatFloat(float64(i+1)/1000, 'g', -1, 64) }) + "\n" +
		"  seed: " + list(nseed, strconv.Itoa) + "\n"
}

// aliasBomb is a seed axis whose anchors would expand to 10^5 scalars.
const aliasBomb = `seed:
    - &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    - &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
    - &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
    - &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
    - [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]`

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "sweep.yaml")
	if err := os.WriteFile(good, reference(), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := Load(good); err != nil || s.Name != "quickstart" {
		t.Errorf("Load(%s) = %v, %v", good, s, err)
	}

	missing := filepath.Join(dir, "nope.yaml")
	_, err := Load(missing)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(missing) error = %v; want a not-exist error naming %s, not ErrInvalid", err, missing)
	}
	t.Logf("%s", err)

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, replace(t, "epochs: 20", "epochs: -3"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), bad+":18: train.epochs = -3") {
		t.Errorf("Load(bad) error = %v", err)
	}

	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxSpecBytes+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); !errors.Is(err, ErrInvalid) {
		t.Errorf("Load(big) error = %v, want ErrInvalid", err)
	}
}

// TestMultipleErrors: all problems are reported at once, in document order.
func TestMultipleErrors(t *testing.T) {
	_, err := Parse(replace(t, "grid:\n  batch_size: [16, 64, 256]\n  lr: [0.05, 0.2]", "grid:\n  batch_size: [0, 64, 256]\n  lr: [.nan, 0.2]"), "x.yaml")
	msg := err.Error()
	i, j := strings.Index(msg, "grid.batch_size[0] = 0"), strings.Index(msg, "grid.lr[0] = .nan")
	if i < 0 || j < 0 || i > j {
		t.Errorf("want both errors in document order, got %q", msg)
	}
}
