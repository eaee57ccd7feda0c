package analysis

import "github.com/flatsweep/flatsweep/results"

// Trial states of a Record (see results).
const (
	StateSucceeded = results.StateSucceeded
	StateFailed    = results.StateFailed
	StateDiscarded = results.StateDiscarded
	StateCancelled = results.StateCancelled
)

// Record is a trial of a sweep as stored (see results.Record).
type Record = results.Record
