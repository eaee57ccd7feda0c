package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/analysis"
	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// engineSweep varies momentum and batch size, with three seeds: 12 trials.
const engineSweep = `name: engine
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {momentum: [0, 0.9], batch_size: [8, 16], lr: [0.1], seed: [1, 2, 3]}
`

// engineOutcome is what the test does with a trial of engineSweep: its
// result (nil to fail it or leave it running) and whether to fail it.
func engineOutcome(st spec.Trial) (res *pb.TrialResult, fail bool) {
	m, b, seed := st.Optimizer.Momentum, float64(st.BatchSize), float64(st.Seed)
	switch {
	case m == 0 && st.BatchSize == 16 && st.Seed == 2:
		return nil, true // failed
	case m == 0 && st.BatchSize == 8 && st.Seed == 3:
		return nil, false // left running
	}
	acc := 0.5 + b/100 + m/10 + seed/1000 + 0.003*seed*seed
	r := spec.Result{TrainAcc: acc + 0.01*seed, TestAcc: acc, TrainLoss: 0.1 * seed, TestLoss: 0.3 + b/1000 + 0.07*seed,
		LambdaMax: b*(1+m) + seed*seed, Measures: map[string]float64{"trace": b * seed * (1 + m), "sharp": math.Sqrt(b + seed)}}
	if (m == 0.9 && st.BatchSize == 8 && st.Seed == 3) || (m == 0.9 && st.BatchSize == 16 && st.Seed == 1) {
		r.Diverged, r.TrainLoss, r.TestLoss = true, 1e3, 2e3 // finite, as compute.Run reports a divergence
	}
	// Durations as a worker measures them (whole nanoseconds), some of
	// whose float seconds do not survive a truncating conversion.
	d := time.Duration(st.Seed)*time.Duration(st.BatchSize)*time.Millisecond + 3*time.Nanosecond
	return wire.ResultToProto(r, d), false
}

// TestOneEngine: the coordinator's AggregateResults, which groups its row
// cache, and results.Summarize of the records read back from the store give
// the same groups — keys, counts, g and every metric summary — and
// analysis.Analyze's grid points agree with them.
func TestOneEngine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flatsweep.db")
	b := setup(t, path)
	if _, err := b.sweeps.SubmitSweep(context.Background(), submitRequest(t, engineSweep, "engine.yaml", 0)); err != nil {
		t.Fatal(err)
	}
	// Build the row cache first, so that the transitions below must keep it
	// current.
	if _, err := b.sweeps.AggregateResults(context.Background(), &pb.AggregateResultsRequest{SweepId: "engine"}); err != nil {
		t.Fatal(err)
	}
	w := b.register(t)
	var done, failed, running int
	for {
		l := b.acquire(t, w)
		if l == nil {
			break
		}
		st, err := spec.DecodeTrial([]byte(l.SpecJson))
		if err != nil {
			t.Fatal(err)
		}
		res, fail := engineOutcome(st)
		switch {
		case fail:
			if _, err := b.work.FailTrial(context.Background(), &pb.FailTrialRequest{WorkerId: w, SweepId: l.SweepId,
				TrialId: l.TrialId, Token: l.Token, Error: "boom"}); err != nil {
				t.Fatal(err)
			}
			failed++
		case res == nil:
			running++
		default:
			if _, err := b.work.CompleteTrial(context.Background(), &pb.CompleteTrialRequest{WorkerId: w, SweepId: l.SweepId,
				TrialId: l.TrialId, Token: l.Token, Result: res}); err != nil {
				t.Fatal(err)
			}
			done++
		}
	}
	if done != 10 || failed != 1 || running != 1 {
		t.Fatalf("%d completed, %d failed, %d running; want 10, 1, 1", done, failed, running)
	}

	want := checkOneEngine(t, b)
	// The groups expected, by hand: 4 of 3 trials each, keyed by momentum
	// and batch size, with g = ε(N/B − 1)/(1 − m).
	if !slices.Equal(want.By, []string{"momentum", "batch_size"}) || len(want.Groups) != 4 {
		t.Fatalf("by %v, %d groups; want momentum, batch_size and 4", want.By, len(want.Groups))
	}
	for i, w := range []struct {
		key    []string
		g      float64
		counts results.Counts
	}{
		{[]string{"0", "8"}, 0.7, results.Counts{Trials: 3, OK: 2, Unfinished: 1}},
		{[]string{"0", "16"}, 0.3, results.Counts{Trials: 3, OK: 2, Failed: 1}},
		{[]string{"0.9", "8"}, 7, results.Counts{Trials: 3, OK: 2, Diverged: 1}},
		{[]string{"0.9", "16"}, 3, results.Counts{Trials: 3, OK: 2, Diverged: 1}},
	} {
		g := want.Groups[i]
		if !slices.Equal(g.Key, w.key) || g.Counts != w.counts || math.Abs(g.NoiseScale-w.g) > 1e-12 {
			t.Errorf("group %d: %v %+v g %v; want %v %+v g %v", i, g.Key, g.Counts, g.NoiseScale, w.key, w.counts, w.g)
		}
	}

	// After a restart the coordinator builds its rows from the store: the
	// same groups again.
	b.stop()
	b = setup(t, path)
	checkOneEngine(t, b)
}

// checkOneEngine compares AggregateResults with results.Summarize of the
// sweep's records (default grouping, named grouping and filters) and with
// analysis.Analyze, and returns Summarize's default groups.
func checkOneEngine(t *testing.T, b *bundle) results.Groups {
	t.Helper()
	recs, err := b.st.Records("engine")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 12 {
		t.Fatalf("%d records, want 12", len(recs))
	}
	// QueryResults and results.FromTrial read the same records.
	var queried []results.Record
	for token := ""; ; {
		resp, err := b.sweeps.QueryResults(context.Background(), &pb.QueryResultsRequest{SweepId: "engine", PageSize: 5, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range resp.Trials {
			r, err := results.FromTrial(tr)
			if err != nil {
				t.Fatal(err)
			}
			queried = append(queried, r)
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if len(queried) != len(recs) {
		t.Fatalf("QueryResults: %d records, the store %d", len(queried), len(recs))
	}
	for i, q := range queried {
		r := recs[i]
		if q.TrialID != r.TrialID || q.State != r.State || q.Duration != r.Duration || !reflect.DeepEqual(q.Spec, r.Spec) ||
			(q.Result == nil) != (r.Result == nil) || (q.Result != nil && fmt.Sprintf("%+v", *q.Result) != fmt.Sprintf("%+v", *r.Result)) { // %v: NaN losses compare equal
			t.Errorf("QueryResults record %d differs from the store's:\n%+v\n%+v", i, q, r)
		}
	}

	seed12 := results.Filter{Axis: "seed", Values: []string{"1", "2"}}
	b8 := results.Filter{Axis: "batch_size", Values: []string{"8"}}
	var def results.Groups
	for _, c := range []struct {
		name    string
		by      []string
		filters []results.Filter
	}{
		{"default", nil, nil},
		{"by batch_size", []string{"batch_size"}, nil},
		{"by seed, momentum", []string{"seed", "momentum"}, nil},
		{"seeds 1, 2", nil, []results.Filter{seed12}},
		{"batch size 8", nil, []results.Filter{b8}},
	} {
		req := &pb.AggregateResultsRequest{SweepId: "engine", GroupBy: c.by}
		for _, f := range c.filters {
			req.Filters = append(req.Filters, f.ToProto())
		}
		resp, err := b.sweeps.AggregateResults(context.Background(), req)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := results.GroupsFromProto(resp)
		want, err := results.Summarize(recs, c.by, c.filters...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		sameGroups(t, c.name, got, want)
		if c.name == "default" {
			def = want
		}
	}

	// analysis.Analyze's grid points: the same axes, counts, g and means.
	a := analysis.Analyze("engine", analysis.PointsFromRecords(recs))
	if !slices.Equal(a.VaryingAxes, slices.Sorted(slices.Values(def.By))) {
		t.Errorf("analysis varying axes %v, groups by %v", a.VaryingAxes, def.By)
	}
	if len(a.GridPoints) != len(def.Groups) {
		t.Fatalf("%d grid points, %d groups", len(a.GridPoints), len(def.Groups))
	}
	for i, g := range def.Groups {
		var gp *analysis.GridPoint
		for k := range a.GridPoints {
			match := true
			for j, axis := range def.By {
				js, _ := json.Marshal(a.GridPoints[k].Axes[axis])
				match = match && string(js) == g.Key[j]
			}
			if match {
				gp = &a.GridPoints[k]
			}
		}
		if gp == nil {
			t.Errorf("group %v has no grid point", g.Key)
			continue
		}
		if want := []string{"batch_size", "lr", "momentum", "n", "sam_m", "sam_rho", "weight_decay"}; !slices.Equal(slices.Sorted(maps.Keys(gp.Axes)), want) {
			t.Errorf("grid point %v: axes %v, want %v", g.Key, slices.Sorted(maps.Keys(gp.Axes)), want)
		}
		if gp.Counts != g.Counts || !sameFloat(gp.G, g.NoiseScale) {
			t.Errorf("grid point %v: %+v g %v; group %+v g %v", gp.Axes, gp.Counts, gp.G, g.Counts, g.NoiseScale)
		}
		for _, m := range []string{results.MetricTestAcc, results.MetricGap, results.MetricLambdaMax} {
			s, _ := def.Metric(i, m)
			if got := gp.Metric(m); got.Count != s.Count || !sameFloat(got.Mean, s.Mean) {
				t.Errorf("grid point %v %s: %+v; group %+v", gp.Axes, m, got, s)
			}
		}
	}
	return def
}

// sameFloat reports whether a and b are the same number, bit for bit (the
// coordinator adds the values in trial-ID order, as Summarize does), or both
// NaN.
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b
}

// sameGroups checks that the coordinator's groups equal Summarize's.
func sameGroups(t *testing.T, what string, got, want results.Groups) {
	t.Helper()
	if !slices.Equal(got.By, want.By) {
		t.Errorf("%s: by %v, Summarize %v", what, got.By, want.By)
	}
	if !maps.Equal(got.Fixed, want.Fixed) {
		t.Errorf("%s: fixed %v, Summarize %v", what, got.Fixed, want.Fixed)
	}
	if g, w := slices.Sorted(slices.Values(got.Metrics)), slices.Sorted(slices.Values(want.Metrics)); !slices.Equal(g, w) {
		t.Errorf("%s: metrics %v, Summarize %v", what, g, w)
	}
	if len(got.Groups) != len(want.Groups) {
		t.Fatalf("%s: %d groups, Summarize %d:\n%+v\n%+v", what, len(got.Groups), len(want.Groups), got.Groups, want.Groups)
	}
	for i, wg := range want.Groups {
		gg := got.Groups[i]
		if !slices.Equal(gg.Key, wg.Key) || gg.Counts != wg.Counts || !sameFloat(gg.NoiseScale, wg.NoiseScale) {
			t.Errorf("%s: group %d: %v %+v g %v; Summarize %v %+v g %v", what, i, gg.Key, gg.Counts, gg.NoiseScale, wg.Key, wg.Counts, wg.NoiseScale)
			continue
		}
		for _, m := range want.Metrics {
			ws, _ := want.Metric(i, m)
			gs, found := got.Metric(i, m)
			if !found {
				t.Errorf("%s: group %v lacks metric %s", what, gg.Key, m)
				continue
			}
			if gs.Count != ws.Count || !sameFloat(gs.Mean, ws.Mean) || !sameFloat(gs.Std, ws.Std) || !sameFloat(gs.Min, ws.Min) ||
				!sameFloat(gs.Max, ws.Max) || !sameFloat(gs.Lo, ws.Lo) || !sameFloat(gs.Hi, ws.Hi) {
				t.Errorf("%s: group %v %s = %+v, Summarize %+v", what, gg.Key, m, gs, ws)
			}
		}
	}
}
