package main

import (
	"strings"
	"testing"
)

// TestGridPartialBatch: grid lists each trial's updates per epoch and the
// examples its partial last batch leaves out, and says on stderr when a
// batch size leaves out a tenth of the training set or more (B = 2048 with
// N = 4,000: one update per epoch), which it does not for a grid without.
func TestGridPartialBatch(t *testing.T) {
	body := `name: pb
dataset: {name: synthetic, n: 4000, n_test: 100, seed: 1}
model: {arch: mlp, hidden: [8]}
train: {epochs: 1}
curvature: {lanczos_steps: 2}
grid: {batch_size: [128, 2048], lr: [0.1], seed: [1]}
`
	out, errs, code := runCLI(t, "grid", writeSweep(t, body))
	if code != 0 || !regexpLine(out, `^1\s+t-[0-9a-f]+\s+2048\s+0.1\s+1\s+1\s+1952$`) || !regexpLine(out, `^0\s+t-[0-9a-f]+\s+128\s+0.1\s+1\s+31\s+32$`) {
		t.Fatalf("grid: exit %d\n%s", code, out)
	}
	if !strings.Contains(errs, "note: batch_size 2048 with n 4000 takes 1 update(s) per epoch and leaves 1952 examples out of each") || strings.Contains(errs, "batch_size 128") {
		t.Errorf("stderr: %q", errs)
	}
	if _, errs, _ := runCLI(t, "grid", writeSweep(t, strings.Replace(body, "2048", "1000", 1))); errs != "" {
		t.Errorf("a grid without large partial batches printed %q", errs)
	}
}
