package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// axesBase is a valid sweep head for the axis tests; a grid or random
// section is appended.
const axesBase = `name: axes-cli
dataset: {name: synthetic, n: 256, n_test: 64, seed: 1}
model: {arch: mlp}
train: {epochs: 1}
`

// TestAxesBadInputCLI: grid, run and submit refuse a sweep file with a bad
// field axis, linked axis or random draw with exit status 2 and a message
// naming the file, the field path and what was expected; run leaves no
// database behind and submit stores no sweep.
func TestAxesBadInputCLI(t *testing.T) {
	dir := t.TempDir()
	_, addr := startCoordinator(t, filepath.Join(dir, "c.db"), "")
	env := []string{"FLATSWEEP_COORDINATOR=" + addr}
	cases := []struct{ name, body, want string }{
		{"unknown field", "grid:\n  batch_size: [16]\n  lr: [0.1]\n  seed: [1]\n  axes:\n    model.hiden: [[8]]\n",
			`:10: grid.axes.model.hiden: no trial field "model.hiden"; expected the JSON path of a trial field`},
		{"linked lengths", "grid:\n  seed: [1]\n  axes: {model.hidden: [[8]]}\n  linked:\n    - lr: [0.1, 0.2]\n      batch_size: [16]\n",
			`:10: grid.linked[0].batch_size = […]: 1 value, but grid.linked[0].lr has 2`},
		{"wrong type", "grid:\n  batch_size: [16]\n  lr: [0.1]\n  seed: [1]\n  axes:\n    model.hidden: [512, \"x\"]\n",
			`:10: grid.axes.model.hidden[0] = 512: expected a list such as [1, 2], got an integer`},
		{"low ≥ high", "grid: {batch_size: [16], seed: [1], axes: {model.hidden: [[8]]}}\nrandom:\n  count: 3\n  draws:\n    lr: {dist: log_uniform, low: 1, high: 0.5}\n",
			`:9: random.draws.lr.high = 0.5: must be > low (1)`},
		{"count 0", "grid: {batch_size: [16], seed: [1], axes: {model.hidden: [[8]]}}\nrandom:\n  count: 0\n  draws:\n    lr: {dist: log_uniform, low: 0.01, high: 1}\n",
			`:7: random.count = 0: must be ≥ 1`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeSweep(t, axesBase+c.body)
			db := filepath.Join(t.TempDir(), "run.db")
			for _, args := range [][]string{{"grid", path}, {"run", path, "--db", db}, {"submit", path}} {
				out, errs, code := runCLIEnv(t, env, args...)
				if code != 2 || !strings.Contains(errs, path+c.want) {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 and %q", args[0], code, out, errs, path+c.want)
				}
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Errorf("run left a database behind (%v)", err)
			}
		})
	}
	if out, _, code := runCLIEnv(t, env, "status"); code != 0 || strings.Contains(out, "axes-cli") {
		t.Errorf("status after the refused submissions: exit %d\n%s", code, out)
	}
	// The same file, mended, is accepted.
	good := writeSweep(t, axesBase+"grid:\n  seed: [1]\n  axes: {model.hidden: [[8], [16]]}\n  linked:\n    - lr: [0.1, 0.2]\n      batch_size: [16, 32]\n")
	out, errs, code := runCLIEnv(t, env, "grid", good)
	if code != 0 || !strings.Contains(out, "model.hidden") || !strings.Contains(out, "[16]") {
		t.Errorf("grid of a good file: exit %d\n%s%s", code, out, errs)
	}
	if out, errs, code := runCLIEnv(t, env, "submit", good); code != 0 || !strings.Contains(out, "4 added") {
		t.Errorf("submit of a good file: exit %d\n%s%s", code, out, errs)
	}
}
