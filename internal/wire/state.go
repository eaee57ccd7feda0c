package wire

import pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"

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
