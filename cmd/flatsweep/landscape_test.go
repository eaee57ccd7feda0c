package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// runLandscapeCmd runs `flatsweep landscape args...` in process.
func runLandscapeCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return runCmd(t, append([]string{"landscape"}, args...)...)
}

func landscapeJSON(t *testing.T, args ...string) landscapeReport {
	t.Helper()
	stdout, err := runLandscapeCmd(t, append(args, "--format", "json")...)
	if err != nil {
		t.Fatal(err)
	}
	var rep landscapeReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	return rep
}

// TestLandscapeLineCommand: the line between two trained models gives, at
// α = 0 and α = 1, the two models' losses over the evaluated subsets (here
// the whole sets: 256 and 128 examples), which are the trials' final
// metrics; --out writes landscape.json and the figures; the table shows the
// cost and the wall time.
func TestLandscapeLineCommand(t *testing.T) {
	a := trainOut(t, oneTrial)
	b := trainOut(t, strings.Replace(oneTrial, "lr: [0.05]", "lr: [0.2]", 1))
	results := [2]spec.Result{}
	for i, dir := range []string{a, b} {
		raw, err := os.ReadFile(filepath.Join(dir, "result.json"))
		if err != nil || json.Unmarshal(raw, &results[i]) != nil {
			t.Fatalf("result.json: %v", err)
		}
	}
	out := filepath.Join(t.TempDir(), "line")
	rep := landscapeJSON(t, "--weights", filepath.Join(a, "weights.safetensors"), "--to", filepath.Join(b, "weights.safetensors"),
		"--points", "7", "--out", out)
	l := rep.Landscape
	if l == nil || l.Kind != "line" || len(l.A) != 7 || l.A[0] != -1 || l.A[2] != 0 || l.A[4] != 1 || l.A[6] != 2 || l.Evaluations != 7 ||
		l.Examples != 256 || l.TestExamples != 128 {
		t.Fatalf("line %+v", l)
	}
	for i, k := range []int{2, 4} {
		r := results[i]
		if math.Abs(l.TrainLoss[k]-r.TrainLoss) > 1e-12*r.TrainLoss || math.Abs(l.TestLoss[k]-r.TestLoss) > 1e-12*r.TestLoss ||
			l.TrainAcc[k] != r.TrainAcc || l.TestAcc[k] != r.TestAcc {
			t.Errorf("α = %g: %v %v %v %v, model %v %v %v %v", l.A[k], l.TrainLoss[k], l.TrainAcc[k], l.TestLoss[k], l.TestAcc[k],
				r.TrainLoss, r.TrainAcc, r.TestLoss, r.TestAcc)
		}
	}
	var stored spec.Landscape
	raw, err := os.ReadFile(filepath.Join(out, "landscape.json"))
	if err != nil || json.Unmarshal(raw, &stored) != nil || stored.TrainLoss[4] != l.TrainLoss[4] {
		t.Errorf("landscape.json: %v", err)
	}
	for _, name := range []string{"landscape-loss.png", "landscape-loss.svg", "landscape-accuracy.svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	table, err := runLandscapeCmd(t, "--weights", filepath.Join(a, "weights.safetensors"), "--to", filepath.Join(b, "weights.safetensors"), "--points", "4")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"line", "evaluations", "4 grid points × 384 examples", "wall time", "train loss"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	t.Logf("table:\n%s", table)
}

// TestLandscapeSliceCommand: a 2-D slice has the asked-for shape, its
// centre is the model (the trial's final training loss), it is
// deterministic for a seed and changes with it, the contour figures are
// written, and the spec's curvature.landscape block gives the defaults.
func TestLandscapeSliceCommand(t *testing.T) {
	dir := trainOut(t, oneTrial)
	w := filepath.Join(dir, "weights.safetensors")
	var res spec.Result
	raw, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil || json.Unmarshal(raw, &res) != nil {
		t.Fatalf("result.json: %v", err)
	}
	out := filepath.Join(t.TempDir(), "plane")
	rep := landscapeJSON(t, "--weights", w, "--dims", "2", "--points", "5", "--extent", "0.5", "--out", out)
	l := rep.Landscape
	if l.Kind != "2d" || len(l.A) != 5 || len(l.B) != 5 || len(l.TrainLoss) != 25 || l.Evaluations != 25 || rep.Extent != 0.5 || rep.Bias != "zero" {
		t.Fatalf("plane %+v", rep)
	}
	if c := l.TrainLoss[12]; math.Abs(c-res.TrainLoss) > 1e-12*res.TrainLoss {
		t.Errorf("centre %v, model %v", c, res.TrainLoss)
	}
	for _, name := range []string{"landscape-train-contour.png", "landscape-test-contour.svg"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	again := landscapeJSON(t, "--weights", w, "--dims", "2", "--points", "5", "--extent", "0.5")
	other := landscapeJSON(t, "--weights", w, "--dims", "2", "--points", "5", "--extent", "0.5", "--seed", "99")
	if again.Landscape.TrainLoss[0] != l.TrainLoss[0] || other.Landscape.TrainLoss[0] == l.TrainLoss[0] || other.Seed != 99 {
		t.Errorf("seed: %v, again %v, seed 99 %v", l.TrainLoss[0], again.Landscape.TrainLoss[0], other.Landscape.TrainLoss[0])
	}
	// 1-D default: 51 points over [−1, 1].
	one := landscapeJSON(t, "--weights", w, "--bias", "normalize")
	if one.Landscape.Kind != "1d" || len(one.Landscape.A) != 51 || one.Landscape.A[0] != -1 || one.Bias != "normalize" {
		t.Errorf("1-D defaults: %+v", one.Landscape)
	}
	// The spec's block gives the settings.
	var tr struct {
		Spec json.RawMessage `json:"spec"`
	}
	raw, err = os.ReadFile(filepath.Join(dir, "trial.json"))
	if err != nil || json.Unmarshal(raw, &tr) != nil {
		t.Fatal(err)
	}
	ts, err := spec.DecodeTrial(tr.Spec)
	if err != nil {
		t.Fatal(err)
	}
	ts.Curvature.Landscape = spec.LandscapeSettings{Dims: 2, Points: 3, TestExamples: 50}
	js, _ := json.Marshal(ts)
	specFile := filepath.Join(t.TempDir(), "spec.json")
	if err := os.WriteFile(specFile, js, 0o644); err != nil {
		t.Fatal(err)
	}
	fromSpec := landscapeJSON(t, "--weights", w, "--spec", specFile)
	if l := fromSpec.Landscape; l.Kind != "2d" || len(l.A) != 3 || l.TestExamples != 50 {
		t.Errorf("from the spec: %+v", l)
	}
}

// TestLandscapeBadInput: bad input is a usage error with exit status 2
// whose message names the flag.
func TestLandscapeBadInput(t *testing.T) {
	a := trainOut(t, oneTrial)
	wa := filepath.Join(a, "weights.safetensors")
	other := trainOut(t, strings.Replace(oneTrial, "hidden: [12]", "hidden: [13]", 1))
	wo := filepath.Join(other, "weights.safetensors")
	tanh := trainOut(t, strings.Replace(oneTrial, "hidden: [12]", "hidden: [12], activation: tanh", 1))
	wt := filepath.Join(tanh, "weights.safetensors")
	for name, c := range map[string]struct {
		args []string
		msg  string
	}{
		"no weights":          {[]string{"--dims", "2"}, "--weights"},
		"missing weights":     {[]string{"--weights", filepath.Join(a, "nope.safetensors")}, "no such file"},
		"missing to":          {[]string{"--weights", wa, "--to", filepath.Join(a, "nope.safetensors")}, "--to"},
		"other architecture":  {[]string{"--weights", wa, "--to", wo}, "--to"},
		"other activation":    {[]string{"--weights", wa, "--to", wt}, "another network"},
		"zero extent":         {[]string{"--weights", wa, "--extent", "0"}, "--extent: 0: a grid of zero or negative extent"},
		"negative extent":     {[]string{"--weights", wa, "--extent", "-1"}, "--extent"},
		"nan extent":          {[]string{"--weights", wa, "--extent", "NaN"}, "--extent"},
		"one point":           {[]string{"--weights", wa, "--points", "1"}, "--points"},
		"negative points":     {[]string{"--weights", wa, "--dims", "2", "--points", "-3"}, "--points"},
		"dims 3":              {[]string{"--weights", wa, "--dims", "3"}, "--dims"},
		"dims 0":              {[]string{"--weights", wa, "--dims", "0"}, "--dims"},
		"bias":                {[]string{"--weights", wa, "--bias", "one"}, "--bias"},
		"too many examples":   {[]string{"--weights", wa, "--examples", "300"}, "--examples: curvature.landscape.examples = 300"},
		"zero test examples":  {[]string{"--weights", wa, "--test-examples", "0"}, "--test-examples"},
		"dims with to":        {[]string{"--weights", wa, "--to", wa, "--dims", "2"}, "--dims: only for a slice"},
		"from without to":     {[]string{"--weights", wa, "--from", "0"}, "--from: only for the line"},
		"until before from":   {[]string{"--weights", wa, "--to", wa, "--from", "1", "--until", "0"}, "--until"},
		"line with one point": {[]string{"--weights", wa, "--to", wa, "--points", "1"}, "--points"},
		"format":              {[]string{"--weights", wa, "--format", "xml"}, "--format"},
		"argument":            {[]string{"--weights", wa, "extra"}, "no arguments"},
	} {
		_, err := runLandscapeCmd(t, c.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err %v (exit %d), want a usage error mentioning %q", name, err, exitCode(err), c.msg)
		}
	}
	// The process exits with status 2.
	for _, args := range [][]string{{"--weights", wa, "--extent", "-0.5"}, {"--weights", wa, "--to", wo}} {
		cmd := exec.Command(binary, append([]string{"landscape"}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%v: exit status %v (%s)", args, err, stderr.String())
		}
	}
}

// TestLandscapeSweepZeroExtent: a sweep file whose curvature.landscape has a
// zero or negative extent is refused by run (and train) with exit status 2.
func TestLandscapeSweepZeroExtent(t *testing.T) {
	for _, extent := range []string{"0", "-1"} {
		text := strings.Replace(oneTrial, "curvature: {lanczos_steps: 5}", "curvature: {lanczos_steps: 5, landscape: {dims: 2, extent: "+extent+"}}", 1)
		_, err := runTrain(t, writeTrainSweep(t, text), "--out", t.TempDir())
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "curvature.landscape.extent") {
			t.Errorf("extent %s: err %v (exit %d)", extent, err, exitCode(err))
		}
		cmd := exec.Command(binary, "run", writeTrainSweep(t, text), "--db", filepath.Join(t.TempDir(), "s.db"))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err = cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "extent") {
			t.Errorf("run, extent %s: %v (%s)", extent, err, stderr.String())
		}
	}
}
