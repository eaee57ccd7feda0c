package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// runCmd runs `flatsweep args...` in process and returns its standard output.
func runCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), err
}

// trialRec is a trial to store: its spec, state and result (nil for none).
type trialRec struct {
	spec   spec.Trial
	state  pb.TrialState
	result *spec.Result
}

// specOf returns a synthetic trial spec at (B, ε, N, seed).
func specOf(b int, lr float64, n int, seed int64) spec.Trial {
	return spec.Trial{
		Dataset:   spec.Dataset{Name: spec.DatasetSynthetic, N: n, NTest: 100, Seed: 1},
		Model:     spec.Model{Arch: spec.ArchMLP, Hidden: []int{8}, Activation: "relu"},
		BatchSize: b, LR: lr, Epochs: 2, Seed: seed,
		Curvature: spec.Curvature{LanczosSteps: 5, Tol: 1e-3},
	}
}

// writeDB stores the trials as sweep in a new bbolt file with the store
// package, as a coordinator would, and returns its path.
func writeDB(t *testing.T, sweep string, trials []trialRec) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "coordinator.db")
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pts := make([]*pb.Trial, len(trials))
	for i, tr := range trials {
		js, err := json.Marshal(tr.spec)
		if err != nil {
			t.Fatal(err)
		}
		pt := &pb.Trial{SweepId: sweep, Id: trialID(i), SpecJson: string(js), State: tr.state, Index: int32(i),
			UpdateTime: timestamppb.New(time.Unix(0, 0))}
		if tr.result != nil {
			pt.Result = wire.ResultToProto(*tr.result, time.Second)
		}
		pts[i] = pt
	}
	if _, _, err := st.PutSweep(&pb.Sweep{Id: sweep, SpecYaml: "name: " + sweep + "\n"}, pts, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func trialID(i int) string { return fmt.Sprintf("t%04d", i) }

// plantedC is the constant of the planted optimum B_opt = plantedC·ε·N/1000.
const plantedC = 2000.0

// plantedTrials is a noise-free sweep whose test accuracy is a parabola in
// ln B peaked at B_opt = 2000·ε·N/1000 (inside the batch sweep 4…8192), so
// the refined optima are exact and B_opt ∝ ε¹ and ∝ N¹; train accuracy is
// 1, so gap = 1 − test_acc, and the measure "sharp" = 2·gap (exact, so strictly monotone) is a perfect
// predictor (τ with the gap 1, with test accuracy −1, Ψ 1). Every trial
// carries a 3-epoch curve. Three more trials are diverged, failed and
// pending.
func plantedTrials() []trialRec {
	var out []trialRec
	for b := 4; b <= 8192; b *= 2 {
		for _, lr := range []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.5} {
			for _, n := range []int{1000, 2000} {
				d := math.Log(float64(b)) - math.Log(plantedC*lr*float64(n)/1000)
				acc := 0.9 - 0.05*d*d
				gap := 1 - acc
				res := &spec.Result{TrainAcc: 1, TestAcc: acc, TrainLoss: 0.01, TestLoss: 0.01 + gap,
					LambdaMax: float64(b) * 0.1, LambdaConverged: true, Params: 100, Steps: 10,
					Measures: map[string]float64{"sharp": 2 * gap, "trace": float64(b)}}
				for e := 1; e <= 3; e++ {
					res.Curve = append(res.Curve, spec.EpochMetrics{Epoch: e, TrainAcc: 1 - 0.1/float64(e),
						TestAcc: acc * (1 - 0.1/float64(e)), TrainLoss: 1 / float64(e), TestLoss: 1.2 / float64(e)})
				}
				out = append(out, trialRec{specOf(b, lr, n, 1), pb.TrialState_TRIAL_STATE_SUCCEEDED, res})
			}
		}
	}
	out = append(out,
		trialRec{specOf(64, 0.5, 1000, 2), pb.TrialState_TRIAL_STATE_SUCCEEDED,
			&spec.Result{Diverged: true, TrainAcc: 0.1, TestAcc: 0.1, TrainLoss: 2.3, TestLoss: 2.3}},
		trialRec{specOf(64, 0.5, 1000, 3), pb.TrialState_TRIAL_STATE_FAILED, nil},
		trialRec{specOf(64, 0.5, 1000, 4), pb.TrialState_TRIAL_STATE_PENDING, nil})
	return out
}

// analysisJSON is the part of analyze --format json the tests read.
type analysisJSON struct {
	Sweep  string `json:"sweep"`
	Counts struct {
		Trials, OK, Diverged, Failed, Unfinished int
	} `json:"counts"`
	Notes    []string `json:"notes"`
	Measures []string `json:"measures"`
	Optima   []struct {
		Axes       map[string]float64 `json:"axes"`
		B          *float64           `json:"b"`
		Refinement string             `json:"refinement"`
	} `json:"optima"`
	OptimaError string `json:"optima_error"`
	Fits        []struct {
		Axis string `json:"axis"`
		Fit  struct {
			Slope, R2 *float64
			N         int `json:"n"`
		} `json:"fit"`
		Error string `json:"error"`
	} `json:"fits"`
	Collapse struct {
		Points   int      `json:"points"`
		Excluded int      `json:"excluded"`
		Ratio    *float64 `json:"ratio"`
	} `json:"collapse"`
	CollapseError string `json:"collapse_error"`
	Scores        []struct {
		Measure    string   `json:"measure"`
		TauGap     *float64 `json:"tau_gap"`
		TauTestAcc *float64 `json:"tau_test_acc"`
		Granulated struct {
			Psi *float64 `json:"psi"`
		} `json:"granulated"`
	} `json:"scores"`
	GridPoints []struct {
		Axes   map[string]float64 `json:"axes"`
		Counts struct {
			Trials, OK, Diverged, Failed, Unfinished int
		} `json:"counts"`
		Metrics map[string]struct {
			Mean  *float64 `json:"mean"`
			Count int      `json:"count"`
		} `json:"metrics"`
	} `json:"grid_points"`
}

func analyzeJSON(t *testing.T, args ...string) analysisJSON {
	t.Helper()
	out, err := runCmd(t, append([]string{"analyze", "--format", "json"}, args...)...)
	if err != nil {
		t.Fatalf("analyze %v: %v", args, err)
	}
	var a analysisJSON
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("analyze json: %v\n%s", err, out)
	}
	return a
}

func within(a *float64, want, tol float64) bool { return a != nil && math.Abs(*a-want) <= tol }

// TestAnalyzeJSONPlanted runs `analyze --db` on the planted sweep and checks
// the known answer: the exact optima, slope 1 against ε and N, perfect rank
// correlations of "sharp", and the counts of the trials left out.
func TestAnalyzeJSONPlanted(t *testing.T) {
	db := writeDB(t, "planted", plantedTrials())
	a := analyzeJSON(t, "planted", "--db", db)
	if c := a.Counts; c.Trials != 147 || c.OK != 144 || c.Diverged != 1 || c.Failed != 1 || c.Unfinished != 1 {
		t.Errorf("counts %+v", c)
	}
	if len(a.Optima) != 12 {
		t.Fatalf("%d optima, want 12 (6 ε × 2 N): %s", len(a.Optima), a.OptimaError)
	}
	for _, o := range a.Optima {
		want := plantedC * o.Axes["lr"] * o.Axes["n"] / 1000
		if o.Refinement != "parabola" || !within(o.B, want, 1e-6*want) {
			t.Errorf("optimum at %v: B = %v (%s), want %v", o.Axes, deref(o.B), o.Refinement, want)
		}
	}
	if len(a.Fits) != 2 {
		t.Fatalf("fits %+v", a.Fits)
	}
	for _, f := range a.Fits {
		if !within(f.Fit.Slope, 1, 1e-9) || !within(f.Fit.R2, 1, 1e-9) || f.Fit.N != 12 {
			t.Errorf("fit against %s: slope %v, R² %v, n %d (%s)", f.Axis, deref(f.Fit.Slope), deref(f.Fit.R2), f.Fit.N, f.Error)
		}
	}
	// Grid points with B ≥ N have g ≤ 0 and cannot enter the fit in ln g.
	if a.Collapse.Points != 102 || a.Collapse.Excluded != 42 || a.CollapseError != "" {
		t.Errorf("collapse over %d points, %d excluded: %s", a.Collapse.Points, a.Collapse.Excluded, a.CollapseError)
	}
	var sharp bool
	for _, s := range a.Scores {
		if s.Measure == "sharp" {
			sharp = true
			if !within(s.TauGap, 1, 1e-12) || !within(s.TauTestAcc, -1, 1e-12) || !within(s.Granulated.Psi, 1, 1e-12) {
				t.Errorf("sharp: τ gap %v, τ acc %v, Ψ %v", deref(s.TauGap), deref(s.TauTestAcc), deref(s.Granulated.Psi))
			}
		}
	}
	if !sharp || strings.Join(a.Measures, ",") != "lambda_max,sharp,trace" {
		t.Errorf("measures %v, scores %+v", a.Measures, a.Scores)
	}
	// The grid point with the diverged, failed and pending trials keeps its
	// one good seed in the means and counts the others.
	found := false
	for _, g := range a.GridPoints {
		if g.Axes["batch_size"] == 64 && g.Axes["lr"] == 0.5 && g.Axes["n"] == 1000 {
			found = true
			if m := g.Metrics["test_acc"]; m.Count != 1 || !within(m.Mean, 0.9-0.05*math.Pow(math.Log(64)-math.Log(plantedC*0.5), 2), 1e-12) {
				t.Errorf("B=64, ε=0.5: test_acc %v over %d trials, want the good seed's alone", deref(m.Mean), m.Count)
			}
			if g.Counts.Trials != 4 || g.Counts.OK != 1 || g.Counts.Diverged != 1 || g.Counts.Failed != 1 || g.Counts.Unfinished != 1 {
				t.Errorf("B=64, ε=0.5: counts %+v", g.Counts)
			}
		}
	}
	if !found || len(a.GridPoints) != 144 {
		t.Errorf("%d grid points (B=64, ε=0.5, N=1000 found: %v), want 144", len(a.GridPoints), found)
	}
	if !hasNote(a.Notes, "3 of 147 trials are left out") {
		t.Errorf("notes %q", a.Notes)
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func hasNote(notes []string, part string) bool {
	for _, n := range notes {
		if strings.Contains(n, part) {
			return true
		}
	}
	return false
}

// degenerateSweeps are sweeps an analysis cannot do much with, and the note
// each must produce.
func degenerateSweeps() map[string]struct {
	trials []trialRec
	note   string
} {
	ok := func(b int, lr float64, seed int64, measures map[string]float64) trialRec {
		return trialRec{specOf(b, lr, 1000, seed), pb.TrialState_TRIAL_STATE_SUCCEEDED,
			&spec.Result{TrainAcc: 0.9, TestAcc: 0.8 + 0.01*float64(seed), TrainLoss: 0.2, TestLoss: 0.4, LambdaMax: 3,
				Measures: measures, Curve: []spec.EpochMetrics{{Epoch: 1, TestAcc: 0.5}, {Epoch: 2, TestAcc: 0.8}}}}
	}
	div := func(b int, lr float64, seed int64) trialRec {
		return trialRec{specOf(b, lr, 1000, seed), pb.TrialState_TRIAL_STATE_SUCCEEDED,
			&spec.Result{Diverged: true, TrainAcc: 0.1, TestAcc: 0.1, TrainLoss: 2.3, TestLoss: 2.3,
				Curve: []spec.EpochMetrics{{Epoch: 1, TestAcc: 0.2, TrainLoss: 2}}}}
	}
	return map[string]struct {
		trials []trialRec
		note   string
	}{
		"empty":    {nil, "no trials"},
		"single":   {[]trialRec{ok(32, 0.1, 1, map[string]float64{"trace": 5}), ok(32, 0.1, 2, map[string]float64{"trace": 6})}, "single grid point"},
		"diverged": {[]trialRec{div(32, 0.1, 1), div(64, 0.1, 1), div(32, 0.2, 1)}, "All 3 trials diverged"},
		"missing":  {[]trialRec{ok(32, 0.1, 1, map[string]float64{"trace": 5}), ok(64, 0.1, 1, nil), ok(128, 0.2, 1, nil)}, "Metric trace is missing or not finite in 2 of 3"},
		"nomeasure": {[]trialRec{ok(32, 0.1, 1, nil), ok(64, 0.2, 1, nil)},
			"Only λ₁ (lambda_max) was recorded"},
	}
}

// TestAnalyzeDegenerate: degenerate sweeps are explained, not errors, in
// both formats.
func TestAnalyzeDegenerate(t *testing.T) {
	for name, c := range degenerateSweeps() {
		t.Run(name, func(t *testing.T) {
			db := writeDB(t, name, c.trials)
			a := analyzeJSON(t, name, "--db", db)
			if !hasNote(a.Notes, c.note) {
				t.Errorf("notes %q, want one containing %q", a.Notes, c.note)
			}
			out, err := runCmd(t, "analyze", name, "--db", db)
			if err != nil || !strings.Contains(out, c.note) {
				t.Errorf("table: %v\n%s", err, out)
			}
		})
	}
}

// TestAnalyzeBadInput: bad input is a usage error (exit status 2) with a
// clear message.
func TestAnalyzeBadInput(t *testing.T) {
	db := writeDB(t, "planted", plantedTrials()[:3])
	junk := filepath.Join(t.TempDir(), "junk.db")
	if err := os.WriteFile(junk, []byte("not a database, just some text that is long enough"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"analyze", "nosuch", "--db", db}, `sweep "nosuch" not found (sweeps: planted)`},
		{[]string{"analyze", "planted", "--db", filepath.Join(t.TempDir(), "missing.db")}, "no such file"},
		{[]string{"analyze", "planted", "--db", junk}, "--db"},
		{[]string{"analyze", "planted", "--db", db, "--format", "xml"}, "--format: want table or json"},
		{[]string{"analyze", "planted", "--db", db, "--coordinator", "127.0.0.1:1"}, "give one source"},
		{[]string{"analyze"}, "want one sweep name"},
		{[]string{"report", "planted", "--db", db}, "--out"},
		{[]string{"export", "planted", "--db", db, "--out", "x", "--format", "xlsx"}, "--format: want csv or parquet"},
		{[]string{"export", "nosuch", "--db", db, "--out", filepath.Join(t.TempDir(), "x.csv")}, "not found"},
	} {
		_, err := runCmd(t, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != 2 {
			t.Errorf("%v: err %v (exit %d), want a usage error containing %q", c.args, err, exitCodeOf(err), c.want)
		}
	}
}

func exitCodeOf(err error) int {
	if err == nil {
		return 0
	}
	return exitCode(err)
}

// TestAnalyzeOpensReadOnly: --db never writes: a read-only file is analysed
// and left byte-identical.
func TestAnalyzeOpensReadOnly(t *testing.T) {
	db := writeDB(t, "planted", plantedTrials()[:6])
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(db, 0o444); err != nil {
		t.Fatal(err)
	}
	if _, err := runCmd(t, "analyze", "planted", "--db", db); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(db)
	if !bytes.Equal(before, after) {
		t.Error("the database file changed")
	}
}
