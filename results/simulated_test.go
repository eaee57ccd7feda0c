package results_test

import (
	"encoding/json"
	"testing"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
)

// TestFromTrialSimulated: a record keeps the simulated mark of its stored
// result, and a real result is not marked.
func TestFromTrialSimulated(t *testing.T) {
	js, err := json.Marshal(trialAt(1000, 10, 0.1, 3))
	if err != nil {
		t.Fatal(err)
	}
	for _, sim := range []bool{true, false} {
		r, err := results.FromTrial(&pb.Trial{Id: "t", SpecJson: string(js), State: pb.TrialState_TRIAL_STATE_SUCCEEDED,
			Result: &pb.TrialResult{Simulated: sim, DurationSeconds: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Simulated != sim {
			t.Errorf("stored simulated = %v: record says %v", sim, r.Simulated)
		}
	}
	r, err := results.FromTrial(&pb.Trial{Id: "p", SpecJson: string(js), State: pb.TrialState_TRIAL_STATE_PENDING})
	if err != nil || r.Simulated {
		t.Errorf("pending trial: %v, simulated %v", err, r.Simulated)
	}
}
