// Package lease is the coordinator's core: the state machine of trials and
// their leases over the durable store, without any transport. It submits
// sweeps, leases trials to workers, renews and records, fails and retries,
// hands back, cancels, pauses and rescues, and reports every outcome as a
// value or a typed error (ErrLeaseLost, ErrUnknownWorker, ErrConflict,
// ErrInvalid, ErrStopped, store.ErrNotFound); the gRPC services of package
// coordinator only translate requests and errors. A Clock is injected, so
// the lease logic is tested without sleeping.
//
// The state machine (pb.TrialState):
//
//	pending → running → succeeded
//	               └──→ failed → (after a jittered exponential backoff) pending
//	               └──→ discarded (after MaxAttempts attempts)
//	running → pending            (handed back, or the lease expired with attempts left)
//	pending | failed | running → cancelled (the sweep was cancelled)
//
// A lease is (trial, attempt, worker, token, expiry). A heartbeat renews it
// only under the current token; a result is accepted only under the current
// token and once (a repeat is acknowledged as a duplicate, a different one
// refused); the rescuer returns expired leases to pending. Every transition
// is one store write, validated against the stored trial, so a crash leaves
// each trial before or after a transition and no result is lost or counted
// twice. Leases are granted from memory and written behind (see
// Core.TryAcquire); results are durable before they are acknowledged.
package lease
