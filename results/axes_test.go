package results_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// TestShowValue: table cells of axis values read as written in a sweep
// file, and distinct values stay distinct.
func TestShowValue(t *testing.T) {
	for js, want := range map[string]string{
		`16`: "16", `0.05`: "0.05", `[512,512]`: "[512,512]", `"adam"`: "adam", `""`: "(default)",
		`"true"`: `"true"`, `"a b"`: `"a b"`, `"1e3"`: `"1e3"`,
		`{"kind":"step","milestones":[10,20],"gamma":0.1}`: "{kind:step,milestones:[10,20],gamma:0.1}",
		`{}`: "{}", `[[1],[2,3]]`: "[[1],[2,3]]", `true`: "true",
	} {
		if got := results.ShowValue(js); got != want {
			t.Errorf("ShowValue(%s) = %s, want %s", js, got, want)
		}
	}
}

// TestGroupByFieldAxis: trials that differ in a field axis (list values,
// strings) are told apart by Varying, grouped by it by default and on
// request, and printed readably.
func TestGroupByFieldAxis(t *testing.T) {
	var recs []results.Record
	for i, h := range [][]int{{512, 512}, {1024}} {
		for _, opt := range []string{"", "adam"} {
			for seed := int64(1); seed <= 2; seed++ {
				sp := spec.Trial{Dataset: spec.Dataset{Name: "synthetic", N: 256, NTest: 64}, Model: spec.Model{Arch: "mlp", Hidden: h},
					BatchSize: 16, LR: 0.1, Epochs: 1, Seed: seed}
				sp.Optimizer.Name = opt
				acc := 0.5 + 0.1*float64(i)
				recs = append(recs, results.Record{TrialID: spec.ID(sp), Spec: sp, State: "succeeded",
					Result: &spec.Result{TestAcc: acc, TrainAcc: acc}})
			}
		}
	}
	varying, _ := results.Varying(recs)
	if !slices.Equal(varying, []string{"seed", "model.hidden", "optimizer.name"}) {
		t.Fatalf("varying %v", varying)
	}
	g, err := results.Summarize(recs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(g.By, []string{"model.hidden", "optimizer.name"}) || len(g.Groups) != 4 {
		t.Fatalf("by %v, %d groups", g.By, len(g.Groups))
	}
	g, err = results.Summarize(recs, []string{"model.hidden"})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Groups) != 2 || g.Groups[0].Key[0] != "[512,512]" && g.Groups[1].Key[0] != "[512,512]" || g.Groups[0].Counts.OK != 4 {
		t.Fatalf("groups %+v", g.Groups)
	}
	var b bytes.Buffer
	if err := results.WriteTable(&b, g); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\n[512,512]  ") || !strings.Contains(b.String(), "\n[1024]  ") {
		t.Errorf("table:\n%s", b.String())
	}
	f, err := results.ParseFilter("model.hidden=[1024]")
	if err != nil {
		t.Fatal(err)
	}
	if g, err := results.Summarize(recs, []string{"optimizer.name"}, f); err != nil || len(g.Groups) != 2 || g.Groups[0].Counts.OK != 2 {
		t.Fatalf("filtered: %v %+v", err, g.Groups)
	}
}

// TestParseFilterValues: list values keep their commas, strings need no
// quotes.
func TestParseFilterValues(t *testing.T) {
	for in, want := range map[string][]string{
		"model.hidden=[512, 512],[1024]": {"[512,512]", "[1024]"},
		"optimizer.name=adam,\"sgd\"":    {`"adam"`, `"sgd"`},
		"lr=1e-1,0.2":                    {"0.1", "0.2"},
		`schedule.lr={"kind":"step","milestones":[1,2],"gamma":0.5}`: {`{"kind":"step","milestones":[1,2],"gamma":0.5}`},
	} {
		f, err := results.ParseFilter(in)
		if err != nil || !slices.Equal(f.Values, want) {
			t.Errorf("%s: %v (%v), want %v", in, f.Values, err, want)
		}
	}
	if _, err := results.ParseFilter("model.hidden=[1,x]"); err == nil {
		t.Error("a bad list value was accepted")
	}
}
