package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/weights"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// normTrial is oneTrial with batch normalization and dropout.
var normTrial = strings.Replace(oneTrial, "model: {arch: mlp, hidden: [12]}",
	"model: {arch: mlp, hidden: [12], batchnorm: true, dropout: 0.5}", 1)

// TestTrainBatchNormDropout: `flatsweep train` runs a trial with
// model.batchnorm and model.dropout and reports λ₁; its weights file holds
// the PyTorch BatchNorm1d tensors (num_batches_tracked as I64, equal to the
// updates) and reads back, with its running statistics, to the parameters
// and statistics of compute.Run; `flatsweep run` runs the same sweep to the
// same result; a dropout of 1 is a usage error naming model.dropout.
func TestTrainBatchNormDropout(t *testing.T) {
	sweep := writeTrainSweep(t, normTrial)
	out := filepath.Join(t.TempDir(), "out")
	if _, err := runTrain(t, sweep, "--out", out); err != nil {
		t.Fatal(err)
	}
	var res spec.Result
	b, err := os.ReadFile(filepath.Join(out, "result.json"))
	if err != nil || json.Unmarshal(b, &res) != nil || !(res.LambdaMax > 0) || res.Diverged {
		t.Fatalf("result.json: %v %s", err, b)
	}
	var trial sweeps.Trial
	b, err = os.ReadFile(filepath.Join(out, "trial.json"))
	if err != nil || json.Unmarshal(b, &trial) != nil || !trial.Spec.Model.BatchNorm || trial.Spec.Model.Dropout != 0.5 {
		t.Fatalf("trial.json: %v %s", err, b)
	}
	wb, err := os.ReadFile(filepath.Join(out, "weights.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ts, _, err := weights.Read(bytes.NewReader(wb))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]weights.Tensor{}
	for _, x := range ts {
		names[x.Name] = x
	}
	nbt := names["1.num_batches_tracked"]
	if _, ok := names["1.running_var"]; !ok || nbt.Dtype != weights.I64 || len(nbt.Shape) != 0 || nbt.Data[0] != float64(res.Steps) {
		t.Errorf("tensors %v; num_batches_tracked %+v, want I64 scalar %d", slices.Sorted(maps.Keys(names)), nbt, res.Steps)
	}
	want, trained, err := compute.Run(context.Background(), trial.Spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	theta, bufs, _, err := compute.ReadState(bytes.NewReader(wb), trained.Net)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(theta, trained.Theta) || !slices.Equal(bufs, trained.Net.Buffers()) || want.LambdaMax != res.LambdaMax {
		t.Errorf("weights, statistics or λ₁ (%v vs %v) differ from compute.Run", res.LambdaMax, want.LambdaMax)
	}
	// flatsweep run: the same trial, the same result.
	db := filepath.Join(t.TempDir(), "run.db")
	if stdout, errs, code := runCLI(t, "run", sweep, "--db", db); code != 0 || !strings.Contains(errs, "[  1/1]") {
		t.Fatalf("run: code %d:\n%s%s", code, stdout, errs)
	}
	offline, errs, code := runCLI(t, "analyze", "one", "--db", db, "--format", "json")
	var a struct {
		GridPoints []struct{ Counts struct{ Trials, OK int } } `json:"grid_points"`
	}
	if code != 0 || json.Unmarshal([]byte(offline), &a) != nil || len(a.GridPoints) != 1 || a.GridPoints[0].Counts.Trials != 1 {
		t.Errorf("analyze: code %d, %s%s", code, offline, errs)
	}
	// The hessian of the saved model is the trial's λ₁, bit for bit (its
	// running statistics come with it); a landscape line between two
	// models with batch norm is a usage error naming --to.
	stdout, err := runCmd(t, "hessian", "--weights", filepath.Join(out, "weights.safetensors"), "--measures", "none", "--format", "json")
	var hr struct {
		LambdaMax float64 `json:"lambda_max"`
	}
	if err != nil || json.Unmarshal([]byte(stdout), &hr) != nil || hr.LambdaMax != res.LambdaMax {
		t.Errorf("hessian: λ₁ %v (err %v), the trial's %v", hr.LambdaMax, err, res.LambdaMax)
	}
	w := filepath.Join(out, "weights.safetensors")
	if _, err := runLandscapeCmd(t, "--weights", w, "--to", w); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--to") {
		t.Errorf("landscape --to with batch norm: err %v (exit %d), want a usage error naming --to", err, exitCode(err))
	}
	// Bad input: exit status 2 and the field named.
	bad := writeTrainSweep(t, strings.Replace(normTrial, "dropout: 0.5", "dropout: 1", 1))
	if _, err := runTrain(t, bad, "--out", t.TempDir()); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "model.dropout") {
		t.Errorf("dropout 1: err %v (exit %d), want a usage error naming model.dropout", err, exitCode(err))
	}
}

// TestKeskarF1BatchNormSweep: the shipped sweep with Keskar et al.'s batch
// normalization and dropout expands to its 10 trials, each valid, with the
// architecture Linear → BatchNorm → ReLU → Dropout per hidden layer.
func TestKeskarF1BatchNormSweep(t *testing.T) {
	s, err := sweeps.Load("../../sweeps/keskar-f1-bn.yaml")
	if err != nil {
		t.Fatal(err)
	}
	trials := sweeps.Expand(s)
	if len(trials) != 10 {
		t.Fatalf("%d trials, want 10", len(trials))
	}
	for _, tr := range trials {
		if err := tr.Spec.Validate(); err != nil {
			t.Errorf("trial %d: %v", tr.Index, err)
		}
	}
	a, err := trials[0].Spec.Architecture()
	if err != nil {
		t.Fatal(err)
	}
	want := []spec.LayerKind{spec.LayerDense, spec.LayerBatchNorm, spec.LayerReLU, spec.LayerDropout,
		spec.LayerDense, spec.LayerBatchNorm, spec.LayerReLU, spec.LayerDropout, spec.LayerDense}
	if !slices.Equal(a.Kinds(), want) || a.Params != 784*512+512+2*512+512*512+512+2*512+512*10+10 {
		t.Errorf("layers %v, P = %d", a.Kinds(), a.Params)
	}
}
