package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// TestFiltersShared: analyze, report and export take the same --where and
// --exclude as results; the analysis says which filters selected its
// trials; a value no trial takes, or an unknown axis, is a usage error.
func TestFiltersShared(t *testing.T) {
	db := writeDB(t, "planted", plantedTrials())
	a := analyzeJSON(t, "planted", "--db", db, "--exclude", "lr=0.5")
	// 24 successful trials at ε = 0.5 and the diverged, failed and pending
	// ones (all at ε = 0.5) are left out.
	if c := a.Counts; c.Trials != 147-27 || c.OK != 120 || c.Diverged != 0 || c.Failed != 0 {
		t.Errorf("--exclude lr=0.5: counts %+v", c)
	}
	for _, o := range a.Optima {
		if o.Axes["lr"] == 0.5 {
			t.Errorf("optimum at excluded ε = 0.5: %+v", o)
		}
	}
	if len(a.Notes) == 0 || !strings.Contains(a.Notes[0], "--exclude lr=0.5: 27 of 147 trials") {
		t.Errorf("notes %q do not say which trials the filter left out", a.Notes)
	}
	w := analyzeJSON(t, "planted", "--db", db, "--where", "lr=0.01,0.02", "--where", "n=1000")
	if len(w.Optima) != 2 || w.Counts.Trials != 2*12 {
		t.Errorf("--where: %d optima, counts %+v", len(w.Optima), w.Counts)
	}
	out := filepath.Join(t.TempDir(), "r")
	if _, err := runCmd(t, "report", "planted", "--db", db, "--out", out, "--exclude", "lr=0.5,0.2"); err != nil {
		t.Fatal(err)
	}
	if html, _ := os.ReadFile(filepath.Join(out, "report.html")); !strings.Contains(string(html), "--exclude lr=0.5,0.2") {
		t.Error("report does not name its filter")
	}
	csv := filepath.Join(t.TempDir(), "t.csv")
	if _, err := runCmd(t, "export", "planted", "--db", db, "--out", csv, "--exclude", "lr=0.5"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(csv); strings.Count(string(b), "\n") != 1+120 {
		t.Errorf("export --exclude: %d lines, want a header and 120 rows", strings.Count(string(b), "\n"))
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"analyze", "planted", "--db", db, "--exclude", "lr=7"}, "no trial has lr 7"},
		{[]string{"analyze", "planted", "--db", db, "--where", "bogus=1"}, "--where"},
		{[]string{"report", "planted", "--db", db, "--out", out, "--exclude", "lr"}, "--exclude"},
		{[]string{"export", "planted", "--db", db, "--out", csv, "--where", "n=3"}, "no trial has n 3"},
	} {
		_, err := runCmd(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != 2 {
			t.Errorf("%v: err %v (exit %d), want a usage error containing %q", c.args, err, exitCodeOf(err), c.want)
		}
	}
}

// TestReportDegenerateInBrowser: the reports of one trial, of a sweep whose
// trials all diverged, of a single learning rate and of Adam open in
// headless Chromium with every figure loaded, and say what they cannot
// show.
func TestReportDegenerateInBrowser(t *testing.T) {
	res := func(b int, seed int64) *spec.Result {
		acc := 0.9 - 0.001*float64((b-32)*(b-32))/64 + 0.002*float64(seed)
		return &spec.Result{TrainAcc: 0.99, TestAcc: acc, TrainLoss: 0.05, TestLoss: 0.3, LambdaMax: float64(b) / 4,
			Curve: []spec.EpochMetrics{{Epoch: 1, TestAcc: acc - 0.1, TrainLoss: 0.5}, {Epoch: 2, TestAcc: acc, TrainLoss: 0.1}}}
	}
	var singleLR, adam []trialRec
	for _, b := range []int{8, 16, 32, 64, 128} {
		for seed := int64(1); seed <= 2; seed++ {
			singleLR = append(singleLR, trialRec{specOf(b, 0.1, 1000, seed), pb.TrialState_TRIAL_STATE_SUCCEEDED, res(b, seed)})
			for _, lr := range []float64{1e-3, 3e-3} {
				s := specOf(b, lr, 1000, seed)
				s.Optimizer = spec.Optimizer{Name: spec.OptimizerAdam, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
				adam = append(adam, trialRec{s, pb.TrialState_TRIAL_STATE_SUCCEEDED, res(b, seed)})
			}
		}
	}
	div := func(b int) trialRec {
		return trialRec{specOf(b, 0.1, 1000, 1), pb.TrialState_TRIAL_STATE_SUCCEEDED,
			&spec.Result{Diverged: true, TrainAcc: 0.1, TestAcc: 0.1, TrainLoss: 2.3, TestLoss: 2.3}}
	}
	bin := chromium(t)
	for _, c := range []struct {
		name   string
		trials []trialRec
		says   []string
	}{
		{"one", singleLR[:1], []string{"single grid point"}},
		{"diverged", []trialRec{div(8), div(32)}, []string{"All 2 trials diverged"}},
		{"singlelr", singleLR, []string{"No verdict: not enough data: 1 setting(s) of (ε, N, m)", "Fit against lr: not applicable: ε takes 1 value(s)"}},
		{"adam", adam, []string{"it does not apply to these trials (Adam)", "test accuracy is drawn against B instead of g"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := runReport(t, c.name, writeDB(t, c.name, c.trials))
			html, err := os.ReadFile(filepath.Join(dir, "report.html"))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range c.says {
				if !strings.Contains(string(html), s) {
					t.Errorf("report does not say %q", s)
				}
			}
			for _, leak := range []string{"analysis: ", "too few points"} {
				if strings.Contains(string(html), leak) {
					t.Errorf("report leaks %q", leak)
				}
			}
			want := len(imgTag.FindAllIndex(html, -1))
			if got := loadInChromium(t, bin, filepath.Join(dir, "report.html")); got.Images != want || got.Loaded != want || want < 5 {
				t.Errorf("chromium: %+v, want %d images loaded", got, want)
			}
		})
	}
}
