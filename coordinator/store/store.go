// Package store is the coordinator's durable state in a bbolt database: sweeps,
// their trials with state and lease, and the trials' results and curves.
//
// Layout (schema version 3):
//
//	meta                       "schema_version" → "3"
//	sweeps                     sweep ID → flatsweep.v1.Sweep (protobuf)
//	bases                      base ID → a Base as JSON (a trial spec and the paths of its axes)
//	trials/<sweep ID>          trial ID → flatsweep.v1.Trial (protobuf, with result and curve)
//	invalidated/<sweep ID>     trial ID → a trial the migration to version 3 took out (see migrations.go)
//
// A stored trial does not repeat its spec: it names the Base its sweep
// submission shared and carries the canonical JSON of its value on each
// axis; reads rebuild spec_json from them, exactly (spec.Canonical of the
// trial's spec). Version 1 stored spec_json in every trial, version 2 the
// axis values as doubles; Open migrates either in place (see migrations.go).
//
// Every state transition is one bbolt Update transaction, so a crash leaves each
// trial either before or after a transition, never between: a recorded result is
// never lost.
package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"google.golang.org/protobuf/proto"

	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/results"
	"github.com/flatsweep/flatsweep/spec"
)

// SchemaVersion is the version of the on-disk layout this package writes.
const SchemaVersion = 3

var (
	bucketMeta   = []byte("meta")
	bucketSweeps = []byte("sweeps")
	bucketTrials = []byte("trials")
	bucketBases  = []byte("bases")
	bucketGone   = []byte("invalidated")
	keySchema    = []byte("schema_version")
)

var (
	// ErrNotFound is returned when a sweep or trial does not exist.
	ErrNotFound = errors.New("not found")
	// ErrSchema is returned when the database was written by an incompatible
	// version of flatsweep.
	ErrSchema = errors.New("unsupported database schema")
)

// Store is an open flatsweep database. It is safe for concurrent use.
type Store struct {
	db *bolt.DB

	basesMu sync.RWMutex
	bases   map[string]Base // decoded bases (immutable)

	ops           chan *op
	committerDone chan struct{}
	closeMu       sync.RWMutex
	closed        bool

	removeOnClose string // a temporary migrated copy (see OpenReadOnly)

	damage damageLog // records the reads skipped as unreadable (see BadRecords)
}

// Open opens (creating if needed) the database at path. It fails fast with a
// clear error when another process holds the file, and with an error
// wrapping ErrDamaged when the file is shorter than its pages reach or has
// no valid meta page (see Check).
func Open(path string) (*Store, error) {
	if err := checkFile(path); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	// A large initial mapping (address space, not memory) spares bbolt the
	// remaps a growing database would otherwise cost on big submissions.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second, InitialMmapSize: 1 << 30})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open database %s: locked by another process: %w", path, err)
		}
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	s := newStore(db)
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	go s.committer()
	return s, nil
}

// newStore wraps an open bbolt database; the caller starts the committer.
func newStore(db *bolt.DB) *Store {
	return &Store{db: db, ops: make(chan *op, maxGroup), committerDone: make(chan struct{}), bases: map[string]Base{}}
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		for _, b := range [][]byte{bucketSweeps, bucketTrials, bucketBases, bucketGone} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		version := SchemaVersion
		if v := meta.Get(keySchema); v != nil {
			if version, err = strconv.Atoi(string(v)); err != nil || version < 1 || version > SchemaVersion {
				return fmt.Errorf("%w: version %q, this binary reads versions 1 to %d", ErrSchema, v, SchemaVersion)
			}
		}
		for ; version < SchemaVersion; version++ {
			if err := migration(version)(tx); err != nil {
				return fmt.Errorf("migrate schema %d to %d: %w", version, version+1, err)
			}
		}
		return meta.Put(keySchema, []byte(strconv.Itoa(SchemaVersion)))
	})
}

// Close waits for queued writes and closes the database.
func (s *Store) Close() error {
	s.closeMu.Lock()
	if !s.closed {
		s.closed = true
		close(s.ops)
	}
	s.closeMu.Unlock()
	<-s.committerDone
	err := s.db.Close()
	if s.removeOnClose != "" {
		_ = os.Remove(s.removeOnClose)
	}
	return err
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.db.Path() }

// putChunk bounds the trials PutSweep writes per transaction.
const putChunk = 1 << 16

// PutSweep stores a sweep and those of its trials that are not stored yet.
// An existing sweep keeps its creation time and its trials' states and
// results: resubmitting never duplicates work. It returns the trials added
// and whether the sweep is new.
//
// The trials are written in key order, putChunk to a transaction, and the
// sweep record with the last of them, so that a large submission neither
// holds up other writes (results, leases) for its whole length nor grows
// bbolt's in-memory nodes without bound. A new sweep's trials are invisible
// until its record is written (readers find trials through their sweep),
// and a submission cut short by a crash or an error is taken up by the next
// submission of the sweep, which starts the sweep's trials afresh. On an
// error, added holds the trials of an existing sweep that were stored
// before it (they stay stored); for a new sweep it is empty.
//
// bases maps the base IDs the trials name to the bases' stored form (see
// Base.Encode).
func (s *Store) PutSweep(sw *pb.Sweep, trials []*pb.Trial, bases map[string][]byte) (added []*pb.Trial, created bool, err error) {
	chunks, stop := encodeChunks(trials)
	defer stop()
	for i := 0; ; i += putChunk {
		c := <-chunks
		if c.err != nil {
			return nil, false, fmt.Errorf("store sweep %s: %w", sw.Id, c.err)
		}
		last := i+putChunk >= len(trials)
		n0 := len(added)
		err = s.db.Update(func(tx *bolt.Tx) error {
			if i == 0 {
				var err error
				if created, err = startSweep(tx, sw.Id, bases); err != nil {
					return err
				}
			}
			tb := tx.Bucket(bucketTrials).Bucket([]byte(sw.Id))
			for _, k := range c.trials {
				// A new sweep's bucket holds only what this call wrote, all
				// of it before k in key order.
				if !created && tb.Get(k.key) != nil {
					continue
				}
				if err := tb.Put(k.key, k.enc); err != nil {
					return err
				}
				added = append(added, k.t)
			}
			if !last {
				return nil
			}
			return putSweepRecord(tx, sw, created, len(added))
		})
		if err != nil {
			if created {
				added = nil
			} else {
				added = added[:n0]
			}
			return added, created, fmt.Errorf("store sweep %s: %w", sw.Id, err)
		}
		if last {
			return added, created, nil
		}
	}
}

// startSweep stores bases not stored yet and readies a sweep's trials
// bucket, empty for a sweep that has no record yet (a previous submission
// of it may have been cut short); created reports whether the sweep is new.
func startSweep(tx *bolt.Tx, id string, bases map[string][]byte) (created bool, err error) {
	bb := tx.Bucket(bucketBases)
	for bid, js := range bases {
		if bb.Get([]byte(bid)) == nil {
			if err := bb.Put([]byte(bid), js); err != nil {
				return false, err
			}
		}
	}
	created = tx.Bucket(bucketSweeps).Get([]byte(id)) == nil
	tr := tx.Bucket(bucketTrials)
	if created && tr.Bucket([]byte(id)) != nil {
		if err := tr.DeleteBucket([]byte(id)); err != nil {
			return false, err
		}
	}
	_, err = tr.CreateBucketIfNotExists([]byte(id))
	return created, err
}

// putSweepRecord writes a sweep's record after n trials were added to it.
func putSweepRecord(tx *bolt.Tx, sw *pb.Sweep, created bool, n int) error {
	sweeps := tx.Bucket(bucketSweeps)
	stored := new(pb.Sweep)
	if created {
		stored.CreateTime = sw.CreateTime
	} else if err := proto.Unmarshal(sweeps.Get([]byte(sw.Id)), stored); err != nil {
		return fmt.Errorf("decode sweep %s: %w", sw.Id, err)
	}
	stored.Id, stored.SpecYaml, stored.SpecJson, stored.Priority = sw.Id, sw.SpecYaml, sw.SpecJson, sw.Priority
	stored.TrialCount += int32(n)
	return putProto(sweeps, sw.Id, stored)
}

// encodedTrial is a trial with its stored encoding.
type encodedTrial struct {
	key []byte // the trial ID
	t   *pb.Trial
	enc []byte
}

// encodedChunk is up to putChunk consecutive trials in key order, encoded,
// or the error that stopped the encoding.
type encodedChunk struct {
	trials []encodedTrial
	err    error
}

// encodeChunk encodes trials on all cores.
func encodeChunk(trials []*pb.Trial) encodedChunk {
	c := encodedChunk{trials: make([]encodedTrial, len(trials))}
	workers := max(1, min(runtime.GOMAXPROCS(0), len(trials)/1024))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(trials); i += workers {
				enc, err := encodeTrial(trials[i])
				if err != nil {
					errs[w] = err
					return
				}
				c.trials[i] = encodedTrial{[]byte(trials[i].Id), trials[i], enc}
			}
		}()
	}
	wg.Wait()
	c.err = errors.Join(errs...)
	return c
}

// encodeChunks sorts trials by ID and encodes them putChunk at a time (see
// encodeChunk) on a goroutine of its own, one chunk ahead of the caller, who
// receives at least one chunk (empty for no trials) and calls stop when
// done.
func encodeChunks(trials []*pb.Trial) (chunks <-chan encodedChunk, stop func()) {
	sorted := slices.Clone(trials)
	slices.SortFunc(sorted, func(a, b *pb.Trial) int { return strings.Compare(a.Id, b.Id) })
	out := make(chan encodedChunk, 1)
	done := make(chan struct{})
	go func() {
		for i := 0; i == 0 || i < len(sorted); i += putChunk {
			c := encodeChunk(sorted[i:min(i+putChunk, len(sorted))])
			select {
			case out <- c:
			case <-done:
				return
			}
			if c.err != nil {
				return
			}
		}
	}()
	return out, func() { close(done) }
}

// Backup writes a consistent copy of the database to w from one read
// transaction, calling size first with the copy's length. Writers are not
// blocked meanwhile.
func (s *Store) Backup(size func(int64), w io.Writer) error {
	return s.db.View(func(tx *bolt.Tx) error {
		size(tx.Size())
		_, err := tx.WriteTo(w)
		return err
	})
}

// GetSweep returns a stored sweep (its counts by state are the
// coordinator's, kept in memory).
func (s *Store) GetSweep(id string) (*pb.Sweep, error) {
	sw := new(pb.Sweep)
	err := s.view("read sweep "+id, func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSweeps).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("sweep %q: %w", id, ErrNotFound)
		}
		return proto.Unmarshal(v, sw)
	})
	if err != nil {
		return nil, err
	}
	return sw, nil
}

// ListSweeps returns every stored sweep, ordered by ID. A sweep record that
// does not decode is skipped (see BadRecords).
func (s *Store) ListSweeps() ([]*pb.Sweep, error) {
	var out []*pb.Sweep
	err := s.view("list the sweeps", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSweeps).ForEach(func(k, v []byte) error {
			sw := new(pb.Sweep)
			if err := proto.Unmarshal(v, sw); err != nil {
				s.skip(string(bucketSweeps), k, fmt.Errorf("decode sweep: %w", err))
				return nil
			}
			out = append(out, sw)
			return nil
		})
	})
	return out, err
}

// StateName is the short lower-case name of a trial state ("pending", ...).
func StateName(st pb.TrialState) string { return wire.StateName(st) }

// GetTrial returns one trial, with its spec_json.
func (s *Store) GetTrial(sweepID, trialID string) (*pb.Trial, error) {
	var t *pb.Trial
	err := s.view("read trial "+sweepID+"/"+trialID, func(tx *bolt.Tx) error {
		var err error
		if t, err = getTrial(tx, sweepID, trialID); err != nil {
			return err
		}
		return s.fillSpec(tx, t)
	})
	return t, err
}

// base returns the decoded base with the given ID.
func (s *Store) base(tx *bolt.Tx, id string) (Base, error) {
	s.basesMu.RLock()
	b, ok := s.bases[id]
	s.basesMu.RUnlock()
	if ok {
		return b, nil
	}
	js := tx.Bucket(bucketBases).Get([]byte(id))
	if js == nil {
		return b, fmt.Errorf("base %s: %w", id, ErrNotFound)
	}
	b, err := DecodeBase(js)
	if err != nil {
		return b, fmt.Errorf("base %s: %w", id, err)
	}
	s.basesMu.Lock()
	s.bases[id] = b
	s.basesMu.Unlock()
	return b, nil
}

// Base returns the decoded base with the given ID, opening a read
// transaction only when it is not cached yet.
func (s *Store) Base(id string) (Base, error) {
	s.basesMu.RLock()
	b, ok := s.bases[id]
	s.basesMu.RUnlock()
	if ok {
		return b, nil
	}
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		b, err = s.base(tx, id)
		return err
	})
	return b, err
}

// fillSpec sets t.SpecJson from its base and axis values.
func (s *Store) fillSpec(tx *bolt.Tx, t *pb.Trial) error {
	if t.SpecJson != "" || t.BaseId == "" {
		return nil
	}
	st, err := s.trialSpec(func(id string) (Base, error) { return s.base(tx, id) }, t)
	if err != nil {
		return fmt.Errorf("trial %s/%s: %w", t.SweepId, t.Id, err)
	}
	js, err := spec.Canonical(st)
	if err != nil {
		return fmt.Errorf("trial %s/%s: %w", t.SweepId, t.Id, err)
	}
	t.SpecJson = string(js)
	return nil
}

// Spec returns a trial's spec, from its spec_json or from its base and axis
// values.
func (s *Store) Spec(t *pb.Trial) (spec.Trial, error) {
	if t.SpecJson != "" {
		return spec.DecodeTrial([]byte(t.SpecJson))
	}
	return s.trialSpec(s.Base, t)
}

// trialsBucketName names the bucket of a sweep's trials ("trials/<sweep ID>").
func trialsBucketName(sweepID string) string { return string(bucketTrials) + "/" + sweepID }

func trialBucket(tx *bolt.Tx, sweepID string) (*bolt.Bucket, error) {
	tb := tx.Bucket(bucketTrials).Bucket([]byte(sweepID))
	if tb == nil {
		return nil, fmt.Errorf("sweep %q: %w", sweepID, ErrNotFound)
	}
	return tb, nil
}

func getTrial(tx *bolt.Tx, sweepID, trialID string) (*pb.Trial, error) {
	tb, err := trialBucket(tx, sweepID)
	if err != nil {
		return nil, err
	}
	v := tb.Get([]byte(trialID))
	if v == nil {
		return nil, fmt.Errorf("trial %s/%s: %w", sweepID, trialID, ErrNotFound)
	}
	t := new(pb.Trial)
	if err := proto.Unmarshal(v, t); err != nil {
		return nil, fmt.Errorf("decode trial %s/%s: %w", sweepID, trialID, err)
	}
	return t, nil
}

// UpdateTrial applies fn to a trial and stores the result, durably, before it
// returns. If fn returns an error nothing is written and the error is returned.
//
// Concurrent calls are group-committed: the writes queued while one
// transaction commits share the next transaction and its fsync, so throughput
// does not hinge on one fsync per event. after, if not nil, receives the
// stored trial once the write has committed, in commit order with every other
// write's hook (see enqueue).
func (s *Store) UpdateTrial(sweepID, trialID string, fn func(*pb.Trial) error, after ...func(*pb.Trial)) (*pb.Trial, error) {
	var t *pb.Trial
	err := s.write(updateTrial(sweepID, trialID, fn, &t), func(err error) {
		if err == nil {
			for _, f := range after {
				f(t)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// updateTrial returns the transaction step of a trial update: read the trial
// into *t, apply fn, and store it unless fn fails.
func updateTrial(sweepID, trialID string, fn func(*pb.Trial) error, t **pb.Trial) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		var err error
		if *t, err = getTrial(tx, sweepID, trialID); err != nil {
			return err
		}
		if err := fn(*t); err != nil {
			return err
		}
		tb, _ := trialBucket(tx, sweepID)
		return putProto(tb, trialID, *t)
	}
}

// UpdateTrialLater is UpdateTrial without waiting for durability: it queues
// the write (ordered before every write queued after it) and returns; done,
// if not nil, is called by the committer, in commit order, with the outcome
// once the write has committed or failed. The write may wait up to
// laterDelay for a durable write to share a commit with. Use it only where
// losing the write in a crash is harmless.
func (s *Store) UpdateTrialLater(sweepID, trialID string, fn func(*pb.Trial) error, done func(*pb.Trial, error)) error {
	var t *pb.Trial
	_, err := s.enqueue(updateTrial(sweepID, trialID, fn, &t), func(err error) {
		if done == nil {
			return
		}
		if err != nil {
			done(nil, err)
		} else {
			done(t, nil)
		}
	}, true)
	return err
}

// UpdateSweep applies fn to a stored sweep (its settings: priority, paused,
// cancelled) and stores it, in one transaction.
func (s *Store) UpdateSweep(id string, fn func(*pb.Sweep) error) (*pb.Sweep, error) {
	var sw *pb.Sweep
	err := s.db.Update(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketSweeps).Get([]byte(id))
		if v == nil {
			return fmt.Errorf("sweep %q: %w", id, ErrNotFound)
		}
		sw = new(pb.Sweep)
		if err := proto.Unmarshal(v, sw); err != nil {
			return fmt.Errorf("decode sweep %s: %w", id, err)
		}
		if err := fn(sw); err != nil {
			return err
		}
		return putProto(tx.Bucket(bucketSweeps), id, sw)
	})
	return sw, err
}

// UpdateTrials applies fn to every trial of a sweep in one transaction and
// stores those for which fn returns true. A trial that does not decode is
// skipped and left as it is (see BadRecords). The update goes through the
// group committer like every trial write: it sees the writes queued before
// it (UpdateTrialLater's included) and none queued after it lands first, so
// a lease granted just before a cancel is cancelled, not overwritten later.
func (s *Store) UpdateTrials(sweepID string, fn func(*pb.Trial) bool) error {
	return s.write(func(tx *bolt.Tx) error {
		tb, err := trialBucket(tx, sweepID)
		if err != nil {
			return err
		}
		var changed []*pb.Trial
		err = tb.ForEach(func(k, v []byte) error {
			t := new(pb.Trial)
			if err := proto.Unmarshal(v, t); err != nil {
				s.skip(trialsBucketName(sweepID), k, fmt.Errorf("decode trial: %w", err))
				return nil
			}
			if fn(t) {
				changed = append(changed, t)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, t := range changed {
			if err := putProto(tb, t.Id, t); err != nil {
				return err
			}
		}
		return nil
	}, nil)
}

// Trials calls fn for each trial of a sweep, with its spec_json, in trial-ID
// order, starting after the trial ID `after` (empty for the start). fn
// returns false to stop.
//
// One damaged record does not hide the others: a trial that does not decode,
// or whose spec does not rebuild (its base lost), is skipped, logged once and
// listed by BadRecords. The same holds for RawTrials (which only decodes),
// AllTrials, Records and ListSweeps.
func (s *Store) Trials(sweepID, after string, fn func(*pb.Trial) bool) error {
	return s.trials(sweepID, after, true, fn)
}

// RawTrials is Trials without spec_json (use Spec for a trial's spec): it
// skips rebuilding the JSON, for scans over many trials.
func (s *Store) RawTrials(sweepID string, fn func(*pb.Trial) bool) error {
	return s.trials(sweepID, "", false, fn)
}

func (s *Store) trials(sweepID, after string, fill bool, fn func(*pb.Trial) bool) error {
	// bbolt's reads are guarded (see guard); fn is not.
	what := "read the trials of sweep " + sweepID
	return s.db.View(func(tx *bolt.Tx) error {
		var tb *bolt.Bucket
		var err error
		if gerr := s.guard(what, func() { tb, err = trialBucket(tx, sweepID) }); gerr != nil {
			return gerr
		}
		if err != nil {
			return err
		}
		c := tb.Cursor()
		var k, v []byte
		err = s.guard(what, func() {
			k, v = c.First()
			if after != "" {
				k, v = c.Seek([]byte(after))
				if k != nil && string(k) == after {
					k, v = c.Next()
				}
			}
		})
		for ; err == nil && k != nil; err = s.guard(what, func() { k, v = c.Next() }) {
			t := new(pb.Trial)
			if err := proto.Unmarshal(v, t); err != nil {
				s.skip(trialsBucketName(sweepID), k, fmt.Errorf("decode trial: %w", err))
				continue
			}
			if fill {
				var ferr error
				if err := s.guard(what, func() { ferr = s.fillSpec(tx, t) }); err != nil {
					return err
				}
				if ferr != nil {
					s.skip(trialsBucketName(sweepID), k, ferr)
					continue
				}
			}
			if !fn(t) {
				return nil
			}
		}
		return err
	})
}

// Records returns every trial of a sweep as a results.Record, in trial-ID
// order: the one way a sweep's results are read from a database, by the
// coordinator and offline alike. Trials that cannot be read are left out
// (see Trials and BadRecords).
func (s *Store) Records(sweepID string) ([]results.Record, error) {
	var recs []results.Record
	err := s.Trials(sweepID, "", func(t *pb.Trial) bool {
		r, err := results.FromTrial(t)
		if err != nil {
			s.skip(trialsBucketName(sweepID), []byte(t.Id), err)
			return true
		}
		recs = append(recs, r)
		return true
	})
	return recs, err
}

// AllTrials calls fn for every trial of every sweep, sweeps in ID order,
// without spec_json (see RawTrials). Trials that do not decode are skipped:
// BadRecords lists them afterwards.
func (s *Store) AllTrials(fn func(*pb.Trial)) error {
	var ids []string
	err := s.view("list the sweeps", func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSweeps).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		})
	})
	if err != nil {
		return err
	}
	sort.Strings(ids)
	for _, id := range ids {
		if err := s.RawTrials(id, func(t *pb.Trial) bool { fn(t); return true }); err != nil {
			return err
		}
	}
	return nil
}

// encodeTrial returns a trial's stored encoding, which omits the spec_json
// that reads rebuild from base and axes.
func encodeTrial(t *pb.Trial) ([]byte, error) {
	if t.BaseId != "" && t.SpecJson != "" {
		c := proto.Clone(t).(*pb.Trial)
		c.SpecJson = ""
		t = c
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(t)
	if err != nil {
		return nil, fmt.Errorf("encode trial %s: %w", t.Id, err)
	}
	return v, nil
}

func putProto(b *bolt.Bucket, key string, m proto.Message) error {
	if t, ok := m.(*pb.Trial); ok {
		v, err := encodeTrial(t)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), v)
	}
	v, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put([]byte(key), v)
}
