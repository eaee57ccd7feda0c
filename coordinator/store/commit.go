package store

import (
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many operations share one transaction.
const maxGroup = 4096

// laterDelay bounds how long a write that need not be durable at once (see
// UpdateTrialLater) waits for a durable write to share its transaction with.
const laterDelay = 5 * time.Millisecond

// ErrClosed is returned for writes submitted after Close.
var ErrClosed = errors.New("store is closed")

// op is one write waiting for the group committer. fn runs inside the shared
// transaction; its error is reported to its caller alone (a failed fn must
// not have written anything).
type op struct {
	fn    func(*bolt.Tx) error
	after func(error) // run by the committer, in commit order, before done
	done  chan error
	later bool // nobody waits for durability: the write may wait for company
}

// committer runs group commit: it takes every write queued while the previous
// transaction was being committed and applies them in one transaction, with
// one commit (bbolt's two fdatasyncs). Under load a batch grows to the number
// of concurrent writers; an idle store commits a lone durable write at once,
// so latency stays near one commit. A batch of writes nobody waits for (lease
// grants) waits up to laterDelay for a durable write to join it: a lease and
// the result that follows it then cost one commit, not two.
func (s *Store) committer() {
	defer close(s.committerDone)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for first := range s.ops {
		batch, open := s.fill([]*op{first})
		if open && allLater(batch) {
			batch = s.awaitDurable(batch, timer)
		}
		s.commitBatch(batch)
	}
}

// awaitDurable adds to a batch of writes nobody waits for those that arrive
// within laterDelay, up to the first durable one, then whatever is queued
// by then (or what it has when the queue closes).
func (s *Store) awaitDurable(batch []*op, timer *time.Timer) []*op {
	timer.Reset(laterDelay)
	defer timer.Stop()
	for len(batch) < maxGroup {
		select {
		case o, ok := <-s.ops:
			if !ok {
				return batch
			}
			batch = append(batch, o)
			if !o.later {
				batch, _ = s.fill(batch)
				return batch
			}
		case <-timer.C:
			batch, _ = s.fill(batch)
			return batch
		}
	}
	return batch
}

// fill adds the writes queued now to batch, up to maxGroup; open is false
// once the queue is closed.
func (s *Store) fill(batch []*op) (_ []*op, open bool) {
	for len(batch) < maxGroup {
		select {
		case o, ok := <-s.ops:
			if !ok {
				return batch, false
			}
			batch = append(batch, o)
		default:
			return batch, true
		}
	}
	return batch, true
}

// allLater reports whether no write of batch waits for durability.
func allLater(batch []*op) bool {
	for _, o := range batch {
		if !o.later {
			return false
		}
	}
	return true
}

// commitBatch applies a batch in one transaction. Ops write only after their
// checks pass, so an op that returns an error leaves the transaction as it
// found it and the other ops of the batch still commit.
func (s *Store) commitBatch(batch []*op) {
	errs := make([]error, len(batch))
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, o := range batch {
			errs[i] = o.fn(tx)
		}
		return nil
	})
	for i, o := range batch {
		e := errs[i]
		if err != nil {
			e = err
		}
		if o.after != nil {
			o.after(e)
		}
		o.done <- e
	}
}

// write submits fn to the group committer and waits until its transaction
// is durable.
func (s *Store) write(fn func(*bolt.Tx) error, after func(error)) error {
	o, err := s.enqueue(fn, after, false)
	if err != nil {
		return err
	}
	return <-o.done
}

// enqueue submits fn to the group committer without waiting. Writes are
// applied in the order they were enqueued, and their after hooks run in that
// order too, on the committer, so hooks that mirror the stored state in
// memory see the transitions in the order they were stored. A hook must not
// wait for a store write. later marks a write whose caller does not wait for
// it (see committer).
func (s *Store) enqueue(fn func(*bolt.Tx) error, after func(error), later bool) (*op, error) {
	o := &op{fn: fn, after: after, done: make(chan error, 1), later: later}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.ops <- o
	return o, nil
}
