package store

import (
	"errors"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds how many operations share one transaction.
const maxGroup = 4096

// ErrClosed is returned for writes submitted after Close.
var ErrClosed = errors.New("store is closed")

// op is one write waiting for the group committer. fn runs inside the shared
// transaction; its error is reported to its caller alone (a failed fn must
// not have written anything).
type op struct {
	fn    func(*bolt.Tx) error
	after func(error) // run by the committer, in commit order, before done
	done  chan error
}

// committer runs group commit: it takes every write queued while the previous
// transaction was being committed and applies them in one transaction, with
// one fsync. Under load a batch grows to the number of concurrent writers; an
// idle store commits a lone write at once, so latency stays near one fsync.
func (s *Store) committer() {
	defer close(s.committerDone)
	for first := range s.ops {
		batch := []*op{first}
	fill:
		for len(batch) < maxGroup {
			select {
			case o, ok := <-s.ops:
				if !ok {
					break fill
				}
				batch = append(batch, o)
			default:
				break fill
			}
		}
		s.commitBatch(batch)
	}
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
	o, err := s.enqueue(fn, after)
	if err != nil {
		return err
	}
	return <-o.done
}

// enqueue submits fn to the group committer without waiting. Writes are
// applied in the order they were enqueued, and their after hooks run in that
// order too, on the committer, so hooks that mirror the stored state in
// memory see the transitions in the order they were stored. A hook must not
// wait for a store write.
func (s *Store) enqueue(fn func(*bolt.Tx) error, after func(error)) (*op, error) {
	o := &op{fn: fn, after: after, done: make(chan error, 1)}
	s.closeMu.RLock()
	defer s.closeMu.RUnlock()
	if s.closed {
		return nil, ErrClosed
	}
	s.ops <- o
	return o, nil
}
