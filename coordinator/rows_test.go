package coordinator

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// rowsSweep varies five axes, among them nested fields (optimizer.momentum,
// dataset.n), so that a row's axis values come from the trials' stored
// values and from the base's spec.
const rowsSweep = `name: rows
dataset: {name: synthetic, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {momentum: [0, 0.9], batch_size: [8, 16], lr: [0.1, 0.05], n: [64, 128], seed: [1, 2]}
`

// TestRowAxesFromStoredValues: the rows built from the store, which take a
// trial's axis values from its stored values and its base, hold the same
// canonical JSON as encoding each trial's spec.
func TestRowAxesFromStoredValues(t *testing.T) {
	b := setup(t, filepath.Join(t.TempDir(), "flatsweep.db"))
	if _, err := b.sweeps.SubmitSweep(context.Background(), submitRequest(t, rowsSweep, "rows.yaml", 0)); err != nil {
		t.Fatal(err)
	}
	rc, err := b.c.rows.sweepRows("rows")
	if err != nil {
		t.Fatal(err)
	}
	if len(rc.rows) != 32 {
		t.Fatalf("%d rows, want 32", len(rc.rows))
	}
	n := 0
	err = b.st.Trials("rows", "", func(tr *pb.Trial) bool {
		if tr.BaseId == "" {
			t.Errorf("trial %s has no base: the test checks nothing", tr.Id)
		} else if base, err := b.st.Base(tr.BaseId); err != nil {
			t.Errorf("trial %s: base: %v: the rows encoded each spec", tr.Id, err)
		} else if ba, err := newBaseAxes(base, rc.axes); err != nil {
			t.Errorf("trial %s: base axes: %v: the rows encoded each spec", tr.Id, err)
		} else if !slices.Contains(ba.from, -1) || !slices.ContainsFunc(ba.from, func(j int) bool { return j >= 0 }) {
			t.Errorf("trial %s: axes taken from %v: want some from the stored values and some from the base", tr.Id, ba.from)
		}
		st, err := spec.DecodeTrial([]byte(tr.SpecJson))
		if err != nil {
			t.Fatal(err)
		}
		r := rc.rows[tr.Id]
		for i, name := range axisNames {
			path, _ := spec.AxisPath(name)
			want, err := spec.GetJSON(st, path)
			if err != nil {
				t.Fatal(err)
			}
			if r.axes[i] != want {
				t.Errorf("trial %s axis %s: row holds %s, spec encodes %s", tr.Id, name, r.axes[i], want)
			}
		}
		n++
		return true
	})
	if err != nil || n != 32 {
		t.Fatalf("trials: %v, %d", err, n)
	}
}
