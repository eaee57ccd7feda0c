package results

import (
	"cmp"
	"strconv"

	"github.com/flatsweep/flatsweep/spec"
)

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
	// StatusNotFitted is a trial that finished with a finite result but did
	// not fit its training set: it missed its fit target (spec.Stop), or its
	// training accuracy stayed within ChanceMargin of chance (see Fit).
	StatusNotFitted
)

// String returns "ok", "diverged", "not_fitted", "failed" or "unfinished".
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
	case StatusNotFitted:
		return "not_fitted"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// Classify returns the Status of a trial in the given state with or without
// a result: a diverged result first, then a succeeded one with a result,
// ok when it fits its training set (Fit.Fitted) and not fitted otherwise;
// failed, discarded, cancelled or a result-less success count as failed,
// anything else as unfinished.
func Classify(r Record) Status {
	if r.Result == nil {
		return ClassifyState(r.State, false, false)
	}
	return FitOf(r.Spec).Classify(r.State, r.Result.Diverged, r.Result.TrainAcc, r.Result.TargetReached)
}

// Classify is Classify for a trial with a result, given its state, whether
// the result diverged, its training accuracy and whether it reached its fit
// target.
func (f Fit) Classify(state string, diverged bool, trainAcc float64, targetReached bool) Status {
	s := ClassifyState(state, true, diverged)
	if s == StatusOK && !f.Fitted(trainAcc, targetReached) {
		return StatusNotFitted
	}
	return s
}

// ClassifyState is Classify for a state name and whether the trial has a
// result and whether that result diverged, without the fit test (a
// succeeded trial with a finite result is ok).
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

// ChanceMargin is how far above chance (1/classes) a trial's final training
// accuracy must be for the trial to count as fitted: a run whose training
// accuracy is at most 1/C + ChanceMargin never learned its training set,
// and its curvature describes the initialization's neighbourhood, not a
// minimum (its λ₁ reads as "flat").
const ChanceMargin = 0.05

// Fit is what classifying a trial's result needs of its spec.
type Fit struct {
	// Target reports a fit target (spec.Stop) that training had to reach.
	Target bool
	// Chance is the training accuracy of guessing, 1/classes.
	Chance float64
}

// FitOf returns the Fit of a trial spec: its Stop target, and chance as one
// over its number of classes (the synthetic task's classes, 10 for the
// MNIST-format and CIFAR-10 data sets).
func FitOf(t spec.Trial) Fit {
	classes := 10
	if t.Dataset.Name == spec.DatasetSynthetic {
		classes = cmp.Or(t.Dataset.Classes, spec.DefaultClasses)
	}
	return Fit{Target: t.Stop.Enabled(), Chance: 1 / float64(classes)}
}

// Fitted reports whether a finished, finite result fits its training set:
// it reached its fit target when it had one, and its final training
// accuracy exceeds chance by more than ChanceMargin.
func (f Fit) Fitted(trainAcc float64, targetReached bool) bool {
	return (!f.Target || targetReached) && trainAcc > f.Chance+ChanceMargin
}
