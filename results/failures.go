package results

import (
	"cmp"
	"slices"
	"strings"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// Failure counts the trials without a result — failed, discarded or
// cancelled — that share a state and a last error message: what a summary
// reports so that its failed column says why.
type Failure struct {
	// State is the trials' state: "failed" (to be retried), "discarded" or
	// "cancelled" (or "succeeded" for a success without a result).
	State string `json:"state"`
	// Reason is the last error message.
	Reason string `json:"reason"`
	// Trials is how many trials share the state and reason.
	Trials int `json:"trials"`
	// Permanent reports an error of the trials' input (an invalid spec,
	// missing or malformed data), which retrying cannot mend.
	Permanent bool `json:"permanent,omitempty"`
	// Example is one of the trials, the first by ID among those seen.
	Example string `json:"example_trial_id"`
}

// Reasons of failures that record no error message.
const (
	reasonCancelled = "cancelled with its sweep"
	reasonNoResult  = "succeeded without a recorded result"
	reasonUnknown   = "no error message recorded"
)

// FailureReason returns the reason a summary gives for a trial that has no
// result in the given state with the given last error: the error, or what
// the state says when it records none.
func FailureReason(state, lastError string) string {
	switch {
	case lastError != "":
		return lastError
	case state == StateCancelled:
		return reasonCancelled
	case state == StateSucceeded:
		return reasonNoResult
	}
	return reasonUnknown
}

// FailureTally counts failures by state and reason.
type FailureTally struct {
	byKey map[failureKey]*Failure
}

type failureKey struct {
	state, reason string
	permanent     bool
}

// Add counts one trial that ended without a result.
func (t *FailureTally) Add(state, reason string, permanent bool, trialID string) {
	if t.byKey == nil {
		t.byKey = map[failureKey]*Failure{}
	}
	k := failureKey{state, reason, permanent}
	f := t.byKey[k]
	if f == nil {
		f = &Failure{State: state, Reason: reason, Permanent: permanent, Example: trialID}
		t.byKey[k] = f
	}
	f.Trials++
	if trialID < f.Example {
		f.Example = trialID
	}
}

// Failures returns the tallied failures, most frequent first (ties by state
// and reason), at most limit of them (all when limit ≤ 0).
func (t *FailureTally) Failures(limit int) []Failure {
	out := make([]Failure, 0, len(t.byKey))
	for _, f := range t.byKey {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b Failure) int {
		return cmp.Or(cmp.Compare(b.Trials, a.Trials), strings.Compare(a.State, b.State), strings.Compare(a.Reason, b.Reason))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
}

// FailuresOf tallies the records that count as failed (see Classify).
func FailuresOf(recs []Record) []Failure {
	var t FailureTally
	for _, r := range recs {
		if Classify(r) == StatusFailed {
			t.Add(r.State, FailureReason(r.State, r.Error), r.Permanent, r.TrialID)
		}
	}
	return t.Failures(0)
}

// FailuresToProto converts failures.
func FailuresToProto(fs []Failure) []*pb.FailureReason {
	out := make([]*pb.FailureReason, len(fs))
	for i, f := range fs {
		out[i] = &pb.FailureReason{State: f.State, Reason: f.Reason, Trials: int32(f.Trials), Permanent: f.Permanent, ExampleTrialId: f.Example}
	}
	return out
}

// FailuresFromProto converts failures back.
func FailuresFromProto(ps []*pb.FailureReason) []Failure {
	out := make([]Failure, len(ps))
	for i, p := range ps {
		out[i] = Failure{State: p.State, Reason: p.Reason, Trials: int(p.Trials), Permanent: p.Permanent, Example: p.ExampleTrialId}
	}
	return out
}

// FirstLine returns the first line of a reason, cut to n bytes, for tables.
func FirstLine(reason string, n int) string {
	line, _, more := strings.Cut(reason, "\n")
	if len(line) > n {
		cut := n
		for cut > 0 && line[cut]&0xC0 == 0x80 {
			cut--
		}
		line, more = line[:cut], true
	}
	if more {
		line += " …"
	}
	return line
}
