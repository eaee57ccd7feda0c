package lease

import (
	"errors"
	"fmt"

	"github.com/flatsweep/flatsweep/coordinator/store"
	"github.com/flatsweep/flatsweep/internal/wire"
)

// Errors of the core. Every error it returns wraps one of them (or is a
// store error: store.ErrNotFound for an unknown sweep or trial), so that a
// transport maps it to its own codes.
var (
	// ErrLeaseLost is returned for a heartbeat or report whose token is not
	// the trial's current lease: the lease expired, was cancelled, or went
	// to another attempt.
	ErrLeaseLost = errors.New("lease lost")
	// ErrCancelled is the ErrLeaseLost of a trial whose sweep was
	// cancelled: the worker stops the trial and reports nothing.
	ErrCancelled = fmt.Errorf("%w: %s", ErrLeaseLost, wire.CancelledReason)
	// ErrUnknownWorker is returned when a worker ID was never registered or
	// was forgotten (the coordinator restarted): the worker registers again.
	ErrUnknownWorker = errors.New("worker not registered")
	// ErrConflict is returned for a result that differs from the one
	// already recorded for the same lease.
	ErrConflict = errors.New("conflicting result")
	// ErrInvalid is returned for a request that is malformed (a missing
	// result, an invalid sweep); the message says what is wrong.
	ErrInvalid = errors.New("invalid request")
	// ErrForbidden is returned for a call about a worker made with other
	// credentials than the worker registered with.
	ErrForbidden = errors.New("permission denied")
	// ErrStopped is returned by calls waiting for work when the core stops.
	ErrStopped = errors.New("coordinator is shutting down")
	// ErrNotFound is store.ErrNotFound: no such sweep or trial.
	ErrNotFound = store.ErrNotFound
)

// leaseLost returns ErrLeaseLost naming the trial — ErrCancelled when the
// trial's sweep is cancelled, so that its worker knows the stop was
// deliberate, whichever call found the lease gone.
func (c *Core) leaseLost(k Key) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leaseLostLocked(k)
}

// leaseLostLocked is leaseLost for a caller holding c.mu.
func (c *Core) leaseLostLocked(k Key) error {
	if s := c.sweeps[k.Sweep]; s != nil && s.cancelled {
		return fmt.Errorf("%w: trial %s/%s", ErrCancelled, k.Sweep, k.Trial)
	}
	return fmt.Errorf("%w: trial %s/%s is no longer leased under this token", ErrLeaseLost, k.Sweep, k.Trial)
}

// errSkip aborts a store update without writing.
var errSkip = errors.New("skip")
