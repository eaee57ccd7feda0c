package wire

import (
	"fmt"

	"github.com/flatsweep/flatsweep/analysis"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// StateName is the short lower-case name of a trial state ("pending", ...).
func StateName(st pb.TrialState) string {
	switch st {
	case pb.TrialState_TRIAL_STATE_PENDING:
		return "pending"
	case pb.TrialState_TRIAL_STATE_RUNNING:
		return "running"
	case pb.TrialState_TRIAL_STATE_SUCCEEDED:
		return "succeeded"
	case pb.TrialState_TRIAL_STATE_FAILED:
		return "failed"
	case pb.TrialState_TRIAL_STATE_DISCARDED:
		return "discarded"
	case pb.TrialState_TRIAL_STATE_CANCELLED:
		return "cancelled"
	}
	return "unspecified"
}

// Record converts a trial (with its spec_json) for the analysis package.
func Record(t *pb.Trial) (analysis.Record, error) {
	spec, err := DecodeSpec(t.SpecJson)
	if err != nil {
		return analysis.Record{}, fmt.Errorf("trial %s: %w", t.Id, err)
	}
	return analysis.Record{TrialID: t.Id, Spec: spec, State: StateName(t.State), Result: ResultFromProto(t.Result)}, nil
}
