package results_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// TestFromTrial converts trial messages, as the store returns them, into
// records: the spec, the state name, the result and the worker's duration
// exactly (a duration d is sent as d.Seconds()).
func TestFromTrial(t *testing.T) {
	st := trialAt(1000, 10, 0.1, 3)
	st.Optimizer.Momentum = 0.9
	js, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	res := spec.Result{TrainAcc: 0.9, TestAcc: 0.8, LambdaMax: 4, Measures: map[string]float64{"trace": 7}}
	// Durations whose float seconds times 1e9 fall just below the whole
	// nanoseconds (15 ns, 120 ns, 1.000000007 s), and ordinary ones.
	for _, d := range []time.Duration{15, 120, 960, time.Second + 7, 8*time.Millisecond + 3, 1500 * time.Millisecond, 0} {
		r, err := results.FromTrial(&pb.Trial{Id: "t1", SpecJson: string(js), State: pb.TrialState_TRIAL_STATE_SUCCEEDED,
			Result: wire.ResultToProto(res, d)})
		if err != nil {
			t.Fatal(err)
		}
		if r.TrialID != "t1" || r.State != results.StateSucceeded || r.Duration != d || r.Result == nil ||
			r.Result.TestAcc != 0.8 || r.Result.Measures["trace"] != 7 || r.Spec.Optimizer.Momentum != 0.9 || r.Spec.BatchSize != 10 {
			t.Errorf("d = %v: record %+v (duration %v)", d, r, r.Duration)
		}
		if got := r.Scalars().Duration; got != d.Seconds() {
			t.Errorf("d = %v: duration metric %v, want %v", d, got, d.Seconds())
		}
		if results.Classify(r) != results.StatusOK {
			t.Errorf("d = %v: status %v", d, results.Classify(r))
		}
	}
	r, err := results.FromTrial(&pb.Trial{Id: "t2", SpecJson: string(js), State: pb.TrialState_TRIAL_STATE_PENDING})
	if err != nil || r.Result != nil || r.Duration != 0 || r.State != results.StatePending || !reflect.DeepEqual(r.Spec, st) {
		t.Errorf("pending: %+v, %v", r, err)
	}
	if _, err := results.FromTrial(&pb.Trial{Id: "bad", SpecJson: "{"}); err == nil {
		t.Error("bad spec_json accepted")
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		state            string
		result, diverged bool
		want             results.Status
		wantName         string
	}{
		{results.StateSucceeded, true, false, results.StatusOK, "ok"},
		{results.StateSucceeded, true, true, results.StatusDiverged, "diverged"},
		{results.StateSucceeded, false, false, results.StatusFailed, "failed"},
		{results.StateFailed, false, false, results.StatusFailed, "failed"},
		{results.StateDiscarded, false, false, results.StatusFailed, "failed"},
		{results.StateCancelled, false, false, results.StatusFailed, "failed"},
		{results.StatePending, false, false, results.StatusUnfinished, "unfinished"},
		{results.StateRunning, false, false, results.StatusUnfinished, "unfinished"},
	} {
		if got := results.ClassifyState(c.state, c.result, c.diverged); got != c.want || got.String() != c.wantName {
			t.Errorf("ClassifyState(%s, %v, %v) = %v, want %v", c.state, c.result, c.diverged, got, c.want)
		}
	}
	var counts results.Counts
	for _, r := range fixture() {
		counts.Add(results.Classify(r))
	}
	if want := (results.Counts{Trials: 13, OK: 7, Diverged: 3, Failed: 2, Unfinished: 1}); counts != want {
		t.Errorf("fixture counts %+v, want %+v", counts, want)
	}
	if got := counts.String(); got != "13 trials: 7 ok, 3 diverged, 2 failed, 1 unfinished" {
		t.Errorf("counts %q", got)
	}
}
