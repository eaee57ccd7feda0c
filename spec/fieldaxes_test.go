package spec_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestFieldAxesJSON: field axes and draws keep the order written through
// their JSON form, a key given twice is an error, and null is none.
func TestFieldAxesJSON(t *testing.T) {
	const in = `{"model.hidden":[[512,512],[1024]],"epochs":[2,1],"optimizer.name":["adam","sgd"]}`
	var fa spec.FieldAxes
	if err := json.Unmarshal([]byte(in), &fa); err != nil {
		t.Fatal(err)
	}
	if len(fa) != 3 || fa[0].Path != "model.hidden" || fa[1].Path != "epochs" || string(fa[0].Values[1]) != "[1024]" {
		t.Fatalf("%+v", fa)
	}
	if out, err := json.Marshal(fa); err != nil || string(out) != in {
		t.Errorf("%s (%v), want %s", out, err, in)
	}
	if err := json.Unmarshal([]byte(`{"lr":[1],"lr":[2]}`), &fa); err == nil || !strings.Contains(err.Error(), `"lr" given twice`) {
		t.Errorf("duplicate key: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"lr":1}`), &fa); err == nil {
		t.Error("a value that is not a list was accepted")
	}
	const din = `{"lr":{"dist":"log_uniform","low":0.001,"high":1},"model.hidden":{"dist":"choice","values":[[8],[16]]}}`
	var d spec.Draws
	if err := json.Unmarshal([]byte(din), &d); err != nil {
		t.Fatal(err)
	}
	if out, err := json.Marshal(d); err != nil || string(out) != din {
		t.Errorf("%s (%v), want %s", out, err, din)
	}
	if err := json.Unmarshal([]byte(`{"lr":{"dist":"uniform","lo":1}}`), &d); err == nil {
		t.Error("an unknown distribution key was accepted")
	}
	if err := json.Unmarshal([]byte(`null`), &d); err != nil || d != nil {
		t.Errorf("null: %v %v", d, err)
	}
}

// TestSweepJSONUnchanged: a sweep without field axes, linked axes or random
// search has the JSON form it had (no new keys).
func TestSweepJSONUnchanged(t *testing.T) {
	s := spec.Sweep{Name: "x", Grid: spec.Grid{BatchSize: []int{1}, LR: []float64{0.1}, Seed: []int64{1}}}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"axes"`, `"linked"`, `"random"`} {
		if strings.Contains(string(js), k) {
			t.Errorf("%s in %s", k, js)
		}
	}
}

// TestAxisFieldType: any trial field may be an axis but the data set's
// files and a warm start's digest alone.
func TestAxisFieldType(t *testing.T) {
	for path, kind := range map[string]string{"model.hidden": "[]int", "optimizer.name": "string", "schedule.lr": "spec.LRSchedule",
		"epochs": "int", "sam.adaptive": "bool", "curvature.tol": "float64", "dataset.label_noise": "float64", "warm_start.path": "string"} {
		typ, err := spec.AxisFieldType(path)
		if err != nil || typ.String() != kind {
			t.Errorf("%s: %v %v, want %s", path, typ, err, kind)
		}
	}
	for _, path := range []string{"model.hiden", "dataset.dir", "warm_start.sha256", "dataset", "curvature.measures", "model.hidden.x", ""} {
		if _, err := spec.AxisFieldType(path); err == nil {
			t.Errorf("%s accepted", path)
		}
	}
}
