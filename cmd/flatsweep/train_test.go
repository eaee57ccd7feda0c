package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

const oneTrial = `
name: one
dataset: {name: synthetic, n: 256, n_test: 128, seed: 2}
model: {arch: mlp, hidden: [12]}
train:
  epochs: 3
  optimizer: {momentum: 0.9}
curvature: {lanczos_steps: 5}
grid: {batch_size: [32], lr: [0.05], seed: [1]}
`

// runTrain runs `flatsweep train args...` in process.
func runTrain(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(append([]string{"train"}, args...))
	err = root.ExecuteContext(context.Background())
	return out.String(), err
}

func writeTrainSweep(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sweep.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTrainCommand runs one synthetic trial and loads its weights back: they
// are the parameters compute.Run produces for the same spec.
func TestTrainCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	stdout, err := runTrain(t, writeTrainSweep(t, oneTrial), "--out", out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout, "done: train acc") {
		t.Errorf("stdout %q", stdout)
	}
	var res spec.Result
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil || json.Unmarshal(b, &res) != nil || len(res.Curve) != 3 || res.Params != 16*12+12+12*4+4 {
		t.Fatalf("result.json: %v %s", err, b)
	}
	var trial sweeps.Trial
	b, err = os.ReadFile(filepath.Join(out, "trial.json"))
	if err != nil || json.Unmarshal(b, &trial) != nil || trial.ID != spec.ID(trial.Spec) {
		t.Fatalf("trial.json: %v %s", err, b)
	}
	// The grid point is written as "point", every swept axis exactly.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil || raw["point"] == nil || raw["axes"] != nil ||
		trial.Point.String() != "batch_size=32 lr=0.05 seed=1" {
		t.Errorf("trial.json point %s (%v): %s", trial.Point, err, b)
	}
	net, err := nn.NewMLP(16, []int{12}, 4, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(out, "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	theta, meta, err := compute.ReadWeights(f, net)
	if err != nil {
		t.Fatal(err)
	}
	want, trained, err := compute.Run(context.Background(), trial.Spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(theta, trained.Theta) || meta["flatsweep.trial_id"] != trial.ID || want.TestAcc != res.TestAcc {
		t.Errorf("weights or result differ from compute.Run (meta %v)", meta)
	}
	// A warm start from the written weights is hashed into the spec.
	warm := strings.Replace(oneTrial, "  epochs: 3\n", "  epochs: 1\n  warm_start: {path: "+filepath.Join(out, "weights.safetensors")+"}\n", 1)
	out2 := filepath.Join(t.TempDir(), "warm")
	if _, err := runTrain(t, writeTrainSweep(t, warm), "--out", out2); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(filepath.Join(out2, "trial.json"))
	if err := json.Unmarshal(b, &trial); err != nil || len(trial.Spec.WarmStart.SHA256) != 64 {
		t.Errorf("warm-start trial: %v %s", err, b)
	}
}

// TestTrainBadInput: bad input is a usage error (exit status 2).
func TestTrainBadInput(t *testing.T) {
	good := writeTrainSweep(t, oneTrial)
	out := t.TempDir()
	notIDX := filepath.Join(out, "not-idx")
	if err := os.Mkdir(notIDX, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte"} {
		if err := os.WriteFile(filepath.Join(notIDX, f), []byte(strings.Repeat("not idx ", 400)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	badWarm := filepath.Join(out, "bad.safetensors")
	if err := os.WriteFile(badWarm, []byte("not safetensors"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"data not IDX":               {writeTrainSweep(t, strings.Replace(oneTrial, "name: synthetic, n: 256, n_test: 128", "name: mnist, dir: "+notIDX+", n: 256, n_test: 128", 1)), "--out", out},
		"warm start not safetensors": {writeTrainSweep(t, strings.Replace(oneTrial, "  epochs: 3\n", "  epochs: 3\n  warm_start: {path: "+badWarm+"}\n", 1)), "--out", out},
		"no out":                     {good},
		"no file":                    {filepath.Join(out, "missing.yaml"), "--out", out},
		"two points":                 {writeTrainSweep(t, strings.Replace(oneTrial, "seed: [1]", "seed: [1, 2]", 1)), "--out", out},
		"trial index":                {writeTrainSweep(t, strings.Replace(oneTrial, "seed: [1]", "seed: [1, 2]", 1)), "--out", out, "--trial", "2"},
		"invalid sweep":              {writeTrainSweep(t, strings.Replace(oneTrial, "momentum: 0.9", "momentum: 1.5", 1)), "--out", out},
		"missing data":               {writeTrainSweep(t, strings.Replace(oneTrial, "name: synthetic, n: 256, n_test: 128", "name: mnist, dir: "+out+", n: 256, n_test: 128", 1)), "--out", out},
		"no warm start":              {writeTrainSweep(t, strings.Replace(oneTrial, "  epochs: 3\n", "  epochs: 3\n  warm_start: {path: "+filepath.Join(out, "nope")+"}\n", 1)), "--out", out},
		"two args":                   {good, good, "--out", out},
		"trial not an index or ID":   {writeTrainSweep(t, strings.Replace(oneTrial, "seed: [1]", "seed: [1, 2]", 1)), "--out", out, "--trial", "t-nope"},
	} {
		_, err := runTrain(t, args...)
		if err == nil || exitCode(err) != 2 {
			t.Errorf("%s: err %v (exit %d), want a usage error", name, err, exitCode(err))
		}
	}
	// --trial picks a grid point of a larger grid.
	two := writeTrainSweep(t, strings.Replace(oneTrial, "seed: [1]", "seed: [1, 2]", 1))
	if _, err := runTrain(t, two, "--out", filepath.Join(out, "t1"), "--trial", "1"); err != nil {
		t.Errorf("--trial 1: %v", err)
	}
	// The error for a larger grid says how to pick and where the list is;
	// grid lists the trials, and --trial takes an ID from it.
	_, err := runTrain(t, two, "--out", out)
	if err == nil || !strings.Contains(err.Error(), "the grid has 2 trials and train runs one: give --trial with an index (0…1) or a trial ID; `flatsweep grid "+two+"` lists them (first: 0 = t-") {
		t.Errorf("two points without --trial: %v", err)
	}
	listing, errs, code := runCLI(t, "grid", two)
	lines := strings.Split(strings.TrimSpace(listing), "\n")
	if code != 0 || len(lines) != 3 || !regexpLine(listing, `^INDEX\s+TRIAL\s+batch_size\s+lr\s+seed\s+STEPS/EPOCH\s+DROPPED$`) || !regexpLine(listing, `^1\s+t-[0-9a-f]+\s+32\s+0.05\s+2\s+8\s+0$`) || errs != "" {
		t.Fatalf("grid: exit %d\n%s%s", code, listing, errs)
	}
	id := strings.Fields(lines[2])[1]
	if _, err := runTrain(t, two, "--out", filepath.Join(out, "byid"), "--trial", id); err != nil {
		t.Errorf("--trial %s: %v", id, err)
	}
	a, _ := os.ReadFile(filepath.Join(out, "t1", "trial.json"))
	b, _ := os.ReadFile(filepath.Join(out, "byid", "trial.json"))
	if len(a) == 0 || !bytes.Equal(a, b) {
		t.Errorf("--trial 1 and --trial %s ran different trials", id)
	}
	// The process exits with status 2.
	cmd := exec.Command(binary, "train", good)
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("exit status: %v", err)
	}
}

// TestRunEvalEvery: a sweep with train.eval_every stores a curve with gaps
// (epochs 2 and 4 of 4) and its trial succeeds; the coordinator once
// refused such a result ("result.curve[0].epoch: 2, want 1").
func TestRunEvalEvery(t *testing.T) {
	sweep := writeTrainSweep(t, strings.Replace(oneTrial, "  epochs: 3\n", "  epochs: 4\n  eval_every: 2\n", 1))
	db := filepath.Join(t.TempDir(), "run.db")
	if stdout, errs, code := runCLI(t, "run", sweep, "--db", db); code != 0 || !strings.Contains(errs, "[  1/1]") {
		t.Fatalf("run: code %d:\n%s%s", code, stdout, errs)
	}
	out, errs, code := runCLI(t, "analyze", "one", "--db", db, "--format", "json")
	var a struct {
		GridPoints []struct{ Counts struct{ Trials, OK int } } `json:"grid_points"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || len(a.GridPoints) != 1 || a.GridPoints[0].Counts.OK != 1 {
		t.Fatalf("analyze: code %d, %s%s", code, out, errs)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := runTrain(t, sweep, "--out", dir); err != nil {
		t.Fatal(err)
	}
	var res spec.Result
	b, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil || json.Unmarshal(b, &res) != nil {
		t.Fatalf("result.json: %v %s", err, b)
	}
	var epochs []int
	for _, m := range res.Curve {
		epochs = append(epochs, m.Epoch)
	}
	if !slices.Equal(epochs, []int{2, 4}) {
		t.Errorf("curve epochs %v, want [2 4]", epochs)
	}
}
