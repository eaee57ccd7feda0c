package sweeps

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestExampleSweeps: the shipped paper sweeps parse, expand as documented and
// every trial validates.
func TestExampleSweeps(t *testing.T) {
	for file, want := range map[string]int{"smith-le-mnist.yaml": 21, "keskar-f1.yaml": 10, "sam-mnist.yaml": 9, "edge-of-stability.yaml": 6} {
		s, err := Load(file)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		trials := Expand(s)
		if len(trials) != want {
			t.Errorf("%s: %d trials, want %d", file, len(trials), want)
		}
		for _, tr := range trials {
			if err := tr.Spec.Validate(); err != nil {
				t.Errorf("%s: trial %d: %v", file, tr.Index, err)
			}
		}
	}
	k, _ := Load("keskar-f1.yaml")
	if o := k.Train.Optimizer; o.Name != "adam" || o.Beta1 != 0.9 || k.Grid.BatchSize[1] != k.Dataset.N/10 {
		t.Errorf("keskar-f1: optimizer %+v, LB %d for N %d", o, k.Grid.BatchSize[1], k.Dataset.N)
	}
	sam, _ := Load("sam-mnist.yaml")
	if tr := Expand(sam); len(tr) != 9 || tr[0].Spec.SAM.Rho != 0 || tr[3].Spec.SAM.Rho != 0.05 || tr[8].Spec.SAM.Rho != 0.1 ||
		tr[8].Spec.Optimizer.Momentum != 0.9 || tr[8].Spec.Dataset.Dir != "data/mnist" {
		t.Errorf("sam-mnist: %d trials %+v", len(tr), tr)
	}
	eos, _ := Load("edge-of-stability.yaml")
	for _, tr := range Expand(eos) {
		if s := tr.Spec; s.BatchSize != s.Dataset.N || s.Curvature.Track != (spec.Track{Every: 50, Unit: spec.TrackStep, Examples: -1, LanczosSteps: 20, Tol: 1e-3}) {
			t.Errorf("edge-of-stability: trial %d is not full-batch gradient descent tracked every 50 updates: B = %d, N = %d, track %+v",
				tr.Index, s.BatchSize, s.Dataset.N, s.Curvature.Track)
		}
	}
	s, _ := Load("smith-le-mnist.yaml")
	if m := s.Model; m.Arch != "mlp" || len(m.Hidden) != 1 || m.Hidden[0] != 800 || m.Activation != "relu" || s.Dataset.Dir != "data/mnist" {
		t.Errorf("smith-le-mnist: %+v %+v", m, s.Dataset)
	}
}

// full is a sweep using every new field.
const full = `
name: full
dataset: {name: synthetic, n_test: 64, standardize: true}
model: {arch: resmlp, width: 8, blocks: 2, activation: tanh, loss: mse}
train:
  steps: 30
  optimizer: {name: sgd, nesterov: true}
  schedule:
    lr: {kind: step, milestones: [1, 2], gamma: 0.5}
    batch: {milestones: [1], factor: 2}
grid:
  n: [128, 256]
  momentum: [0.5, 0.9]
  weight_decay: [0, 1e-4]
  batch_size: [16, 32]
  lr: [0.1]
  seed: [1, 2]
`

// TestOptionalAxes: the optional axes expand outermost, in the order n,
// momentum, weight_decay, and every field reaches the trial specs.
func TestOptionalAxes(t *testing.T) {
	s, err := Parse([]byte(full), "full.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := Expand(s)
	if len(trials) != 32 || s.Grid.Len() != 32 {
		t.Fatalf("%d trials, Len %d, want 32", len(trials), s.Grid.Len())
	}
	i := 0
	for _, n := range []int{128, 256} {
		for _, m := range []float64{0.5, 0.9} {
			for _, wd := range []float64{0, 1e-4} {
				for _, b := range []int{16, 32} {
					for _, seed := range []int64{1, 2} {
						want := fmt.Sprintf("n=%d momentum=%v weight_decay=%v batch_size=%d lr=0.1 seed=%d", n, m, wd, b, seed)
						tr := trials[i]
						sp := tr.Spec
						if tr.Point.String() != want || sp.Dataset.N != n || sp.Optimizer.Momentum != m || sp.WeightDecay != wd ||
							sp.BatchSize != b || sp.Seed != seed {
							t.Errorf("trial %d: point %v spec %+v, want %v", i, tr.Point, sp, want)
						}
						i++
					}
				}
			}
		}
	}
	sp := trials[0].Spec
	if sp.Steps != 30 || sp.Epochs != 0 || sp.Optimizer.Name != "" || !sp.Optimizer.Nesterov ||
		sp.Model.Loss != "mse" || sp.Model.Width != 8 || !sp.Dataset.Standardize || sp.Dataset.Features != 16 ||
		sp.Schedule.LR.Gamma != 0.5 || sp.Schedule.Batch.Factor != 2 {
		t.Errorf("trial spec %+v", sp)
	}
	if got := trials[5].Point.String(); got != "n=128 momentum=0.5 weight_decay=0.0001 batch_size=16 lr=0.1 seed=2" {
		t.Errorf("String = %q", got)
	}
	// Spelled-out defaults keep the reference IDs.
	ref, _ := referenceSpec()
	spelled, err := Parse(replace(t, "  epochs: 20\n", "  epochs: 20\n  optimizer: {name: sgd}\n  schedule: {lr: {kind: constant}}\n"), "spelled.yaml")
	if err != nil {
		t.Fatal(err)
	}
	withLoss, _ := Parse(replace(t, "  activation: relu\n", "  activation: relu\n  loss: ce\n"), "loss.yaml")
	for i, tr := range Expand(ref) {
		if Expand(spelled)[i].ID != tr.ID || Expand(withLoss)[i].ID != tr.ID {
			t.Errorf("trial %d: spelled-out defaults change the ID", i)
		}
	}
	if c, _ := json.Marshal(ref); strings.Contains(string(c), "optimizer") || strings.Contains(string(c), `"n":null`) {
		t.Errorf("canonical form of the reference gained fields: %s", c)
	}
}

func TestFileDatasetDefaults(t *testing.T) {
	s, err := Parse([]byte(`
name: m
dataset: {name: mnist, dir: data, n: 100, n_test: 50}
model: {arch: cnn, conv: [4], hidden: [16]}
train: {epochs: 1, augment: {shift: 2}}
grid: {batch_size: [10], lr: [0.1], seed: [1]}
`), "m.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if d := s.Dataset; d.Features != 0 || d.Classes != 0 {
		t.Errorf("synthetic defaults applied to a file dataset: %+v", d)
	}
	if err := Expand(s)[0].Spec.Validate(); err != nil {
		t.Error(err)
	}
}

func TestHashWarmStart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.safetensors")
	if err := os.WriteFile(path, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Parse(replace(t, "  epochs: 20\n", "  epochs: 20\n  warm_start: {path: "+path+"}\n"), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ResolveFiles(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("weights"))
	if got := Expand(s)[0].Spec.WarmStart; got.Path != path || got.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("warm start %+v", got)
	}
	s.Train.WarmStart.Path, s.Train.WarmStart.SHA256 = filepath.Join(t.TempDir(), "missing"), ""
	if err := s.ResolveFiles(); err == nil || errors.Is(err, ErrInvalid) {
		t.Errorf("missing file: %v", err)
	}
}

// TestBadNewFields: the new fields are checked with field path, value and line.
func TestBadNewFields(t *testing.T) {
	after := func(old, add string) []byte { return replace(t, old, old+add) }
	cases := []struct {
		name     string
		yaml     []byte
		contains []string
	}{
		{"steps and epochs", after("  epochs: 20\n", "  steps: 100\n"), []string{"bad.yaml:19:", "train.steps = 100", "not both"}},
		{"zero steps", replace(t, "  epochs: 20\n", "  steps: 0\n"), []string{"train.steps = 0", "must be > 0"}},
		{"bool as string", after("  seed: 1\n", "  standardize: \"yes\"\n"), []string{"bad.yaml:13:", `dataset.standardize = "yes"`, "expected true or false"}},
		{"unknown optimizer field", after("  epochs: 20\n", "  optimizer: {name: sgd, mometum: 0.9}\n"), []string{"bad.yaml:19:", "train.optimizer.mometum", "unknown field"}},
		{"unknown optimizer", after("  epochs: 20\n", "  optimizer: {name: rmsprop}\n"), []string{"bad.yaml:19:", `train.optimizer.name = "rmsprop"`, `"sgd" or "adam"`}},
		{"momentum 1", after("  epochs: 20\n", "  optimizer: {momentum: 1}\n"), []string{"bad.yaml:19:", "train.optimizer.momentum = 1", "[0, 1)"}},
		{"nesterov without momentum", after("  epochs: 20\n", "  optimizer: {nesterov: true}\n"), []string{"train.optimizer.nesterov = true", "momentum > 0"}},
		{"adam with momentum", after("  epochs: 20\n", "  optimizer: {name: adam, momentum: 0.5}\n"), []string{"train.optimizer.momentum = 0.5", "only for sgd"}},
		{"sgd with beta1", after("  epochs: 20\n", "  optimizer: {beta1: 0.9}\n"), []string{"train.optimizer.beta1 = 0.9", "only for adam"}},
		{"schedule kind", after("  epochs: 20\n", "  schedule: {lr: {kind: exp}}\n"), []string{"bad.yaml:19:", `train.schedule.lr.kind = "exp"`}},
		{"milestones unsorted", after("  epochs: 20\n", "  schedule:\n    lr: {kind: step, milestones: [5, 3], gamma: 0.1}\n"), []string{"bad.yaml:20:", "train.schedule.lr.milestones[1] = 3", "strictly increasing"}},
		{"gamma missing", after("  epochs: 20\n", "  schedule: {lr: {kind: step, milestones: [5]}}\n"), []string{"train.schedule.lr.gamma", "finite and > 0"}},
		{"floor", after("  epochs: 20\n", "  schedule: {lr: {kind: cosine, floor: 2}}\n"), []string{"train.schedule.lr.floor = 2"}},
		{"batch factor", after("  epochs: 20\n", "  schedule: {batch: {milestones: [2], factor: 1}}\n"), []string{"train.schedule.batch.factor = 1"}},
		{"augment synthetic", after("  epochs: 20\n", "  augment: {shift: 2}\n"), []string{"bad.yaml:19:", "train.augment.shift = 2", "image dataset"}},
		{"warm start without path", after("  epochs: 20\n", "  warm_start: {sha256: abc}\n"), []string{"train.warm_start.path: required field is missing"}},
		{"bad digest", after("  epochs: 20\n", "  warm_start: {path: w, sha256: abc}\n"), []string{`train.warm_start.sha256 = "abc"`, "64 lowercase hex"}},
		{"negative weight decay", after("  epochs: 20\n", "  weight_decay: -1\n"), []string{"train.weight_decay = -1", "finite and ≥ 0"}},
		{"loss", after("  activation: relu\n", "  loss: hinge\n"), []string{"bad.yaml:17:", `model.loss = "hinge"`}},
		{"resmlp hidden", replace(t, "  arch: mlp\n", "  arch: resmlp\n  width: 8\n"), []string{"model.hidden = […]", "not used by resmlp"}},
		{"resmlp width missing", replace(t, "  arch: mlp\n  hidden: [64, 64]\n", "  arch: resmlp\n"), []string{"model.width: required field is missing"}},
		{"cnn on synthetic", replace(t, "  arch: mlp\n  hidden: [64, 64]\n", "  arch: cnn\n  conv: [4]\n"), []string{`model.arch = "cnn"`, "image dataset"}},
		{"features for mnist", replace(t, "  name: synthetic\n", "  name: mnist\n  dir: d\n"), []string{"dataset.features = 16", "only for the synthetic dataset"}},
		{"dir for synthetic", after("  seed: 1\n", "  dir: data\n"), []string{"bad.yaml:13:", `dataset.dir = "data"`, "only for file datasets"}},
		{"n twice", after("  seed: [1, 2]\n", "  n: [100, 200]\n"), []string{"dataset.n = 1024", "not both"}},
		{"grid n too small for B", append(replace(t, "  n: 1024\n", ""), "  n: [100, 200]\n"...), []string{"grid.batch_size[2] = 256", "1…dataset.n (100)"}},
		{"grid momentum", after("  seed: [1, 2]\n", "  momentum: [0, 1]\n"), []string{"bad.yaml:27:", "grid.momentum[1] = 1", "[0, 1)"}},
		{"grid momentum twice", append(replace(t, "  epochs: 20\n", "  epochs: 20\n  optimizer: {momentum: 0.9}\n"), "  momentum: [0.5]\n"...), []string{"grid.momentum = […]", "not both"}},
		{"grid momentum with adam", append(replace(t, "  epochs: 20\n", "  epochs: 20\n  optimizer: {name: adam}\n"), "  momentum: [0.5]\n"...), []string{"grid.momentum = […]", "only for sgd"}},
		{"grid weight decay", after("  seed: [1, 2]\n", "  weight_decay: [0, .nan]\n"), []string{"grid.weight_decay[1] = .nan"}},
		{"grid weight decay duplicate", after("  seed: [1, 2]\n", "  weight_decay: [0, 0.0]\n"), []string{"grid.weight_decay[1] = 0.0", "duplicate"}},
		{"grid n empty", after("  seed: [1, 2]\n", "  n: []\n"), []string{"grid.n = []", "empty list"}},
		{"grid too large", []byte(strings.Replace(gridOf(1000, 350, 1), "n: 100000, ", "", 1) + "  n: [100000, 99999, 99998, 99997, 99996, 99995]\n"), []string{"expands to 2100000 trials", "× 6 training-set sizes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.yaml, "bad.yaml")
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			for _, sub := range c.contains {
				if !strings.Contains(err.Error(), sub) {
					t.Errorf("error %q does not contain %q", err, sub)
				}
			}
		})
	}
}
