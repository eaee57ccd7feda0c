package wire

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

// CancelledReason is the text by which a coordinator says that a lease
// ended because its sweep was cancelled: it is the reason of a
// pb.RevokedLease and is in the message of the FailedPrecondition status a
// heartbeat or report for such a lease gets (see IsCancelled).
const CancelledReason = "the trial's sweep was cancelled"

// IsCancelled reports whether err is a coordinator's answer that the lease
// ended because its sweep was cancelled — a deliberate stop, not a fault.
func IsCancelled(err error) bool {
	st, ok := status.FromError(err)
	return ok && st.Code() == codes.FailedPrecondition && strings.Contains(st.Message(), CancelledReason)
}

// StateNames returns the trial states' short names in the order they are
// shown: pending, running, succeeded, failed, discarded, cancelled.
func StateNames() []string {
	return []string{"pending", "running", "succeeded", "failed", "discarded", "cancelled"}
}

// Finished counts a sweep's trials that will not run again: succeeded,
// discarded and cancelled.
func Finished(sw *pb.Sweep) int32 {
	c := sw.StateCounts
	return c["succeeded"] + c["discarded"] + c["cancelled"]
}

// SweepState names where a sweep stands: "cancelled", "done" (every trial
// finished), "paused" or "active".
func SweepState(sw *pb.Sweep) string {
	switch {
	case sw.Cancelled:
		return "cancelled"
	case Finished(sw) == sw.TrialCount:
		return "done"
	case sw.Paused:
		return "paused"
	}
	return "active"
}

// SimulatedLabel is the worker label by which a worker that runs simulated
// trials (timed sleeps in place of training, for benchmarks of the
// coordinator) announces itself when it registers. A coordinator refuses
// such a worker, and any result marked simulated (pb.TrialResult.simulated),
// unless it was started to accept them.
const SimulatedLabel = "flatsweep.simulated"
