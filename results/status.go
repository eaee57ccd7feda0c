package results

import "strconv"

// States of a Record, as stored.
const (
	StatePending   = "pending"
	StateRunning   = "running"
	StateSucceeded = "succeeded"
	StateFailed    = "failed"
	StateDiscarded = "discarded"
	StateCancelled = "cancelled"
)

// Status classifies a trial for summaries and analyses. Only StatusOK trials
// enter means, fits and correlations; the others are counted (see Counts).
type Status int

const (
	// StatusOK is a trial that succeeded without diverging.
	StatusOK Status = iota
	// StatusDiverged is a trial whose training loss became NaN or ±Inf.
	StatusDiverged
	// StatusFailed is a trial that ended without a result: failed, discarded,
	// cancelled, or succeeded with no result recorded.
	StatusFailed
	// StatusUnfinished is a trial not yet finished (pending, running, …).
	StatusUnfinished
)

// String returns "ok", "diverged", "failed" or "unfinished".
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusDiverged:
		return "diverged"
	case StatusFailed:
		return "failed"
	case StatusUnfinished:
		return "unfinished"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Classify returns the Status of a trial in the given state with or without
// a result: a diverged result first, then a succeeded one with a result;
// failed, discarded, cancelled or a result-less success count as failed,
// anything else as unfinished.
func Classify(r Record) Status {
	return ClassifyState(r.State, r.Result != nil, r.Result != nil && r.Result.Diverged)
}

// ClassifyState is Classify for a state name and whether the trial has a
// result and whether that result diverged.
func ClassifyState(state string, hasResult, diverged bool) Status {
	switch {
	case hasResult && diverged:
		return StatusDiverged
	case state == StateSucceeded && hasResult:
		return StatusOK
	case state == StateSucceeded, state == StateFailed, state == StateDiscarded, state == StateCancelled:
		return StatusFailed
	}
	return StatusUnfinished
}
