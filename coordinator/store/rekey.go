package store

import (
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

// bucketAliases maps, per sweep, the ID a trial had before content identity
// to the ID it has now: aliases/<sweep ID>, old trial ID → new trial ID.
var bucketAliases = []byte("aliases")

// Rekeyed reports what MigrateContentIdentity did to one sweep.
type Rekeyed struct {
	// Sweep is the sweep's ID.
	Sweep string
	// Trials is the number of trials given their content identity.
	Trials int
	// Merged is the number of those whose new ID was taken already (the
	// sweep was resubmitted after its files moved): the more advanced of
	// the two records stays, the other moves to the invalidated bucket.
	Merged int
	// Unresolved is the number of trials whose files could not be read, and
	// Err the first such error; they keep their path identity.
	Unresolved int
	Err        error
}

// MigrateContentIdentity gives their content identity to the trials stored
// before files were identified by content: a file dataset without a digest,
// or a warm start without one, whose trial ID hashes the paths (see
// spec.LegacyIdentity). For each such trial, resolve fills in the digests
// (it reads the files: spec.Trial.ResolveFiles, or a variant that looks for
// them under another root); the trial is then stored under spec.ID of the
// resolved spec, with its state, attempts and result, and its old ID is
// recorded in the aliases bucket. The sweep's stored spec gets the digests
// too, so that resubmitting the sweep finds the trials instead of adding them
// again. The migration assumes the files are those the trials ran on: it
// cannot know what they held then. A trial whose files cannot be read keeps
// its identity and is counted in Unresolved. Each sweep is migrated in one
// transaction: a crash leaves it before or after, never between.
func (s *Store) MigrateContentIdentity(resolve func(*spec.Trial) error) ([]Rekeyed, error) {
	sweeps, err := s.ListSweeps()
	if err != nil {
		return nil, err
	}
	var out []Rekeyed
	for _, sw := range sweeps {
		r := Rekeyed{Sweep: sw.Id}
		err := s.db.Update(func(tx *bolt.Tx) error {
			r = Rekeyed{Sweep: sw.Id}
			return s.rekeySweep(tx, sw.Id, resolve, &r)
		})
		if err != nil {
			return out, fmt.Errorf("sweep %s: %w", sw.Id, err)
		}
		if r.Trials > 0 || r.Unresolved > 0 {
			out = append(out, r)
		}
	}
	s.basesMu.Lock()
	s.bases = map[string]Base{}
	s.basesMu.Unlock()
	return out, nil
}

// legacyFiles reports whether t reads a file that its identity names by path.
func legacyFiles(t spec.Trial) bool {
	return (t.Dataset.Name != spec.DatasetSynthetic && t.Dataset.SHA256 == "") || (t.WarmStart.Path != "" && t.WarmStart.SHA256 == "")
}

// rekeySweep migrates the trials of one sweep inside tx.
func (s *Store) rekeySweep(tx *bolt.Tx, sweepID string, resolve func(*spec.Trial) error, r *Rekeyed) error {
	tb, err := trialBucket(tx, sweepID)
	if err != nil {
		return err
	}
	type moved struct {
		old string
		t   *pb.Trial
	}
	var todo []moved
	newBases := map[string]string{} // old base ID → new base ID
	var resolved *spec.Trial        // the first resolved spec, for the sweep record
	err = tb.ForEach(func(k, v []byte) error {
		t := new(pb.Trial)
		if err := proto.Unmarshal(v, t); err != nil {
			s.skip(trialsBucketName(sweepID), k, fmt.Errorf("decode trial %s/%s: %w", sweepID, k, err))
			return nil // one unreadable record does not hold back the others
		}
		st, err := s.trialSpec(func(id string) (Base, error) { return s.base(tx, id) }, t)
		if err != nil {
			s.skip(trialsBucketName(sweepID), k, err)
			return nil
		}
		if !legacyFiles(st) {
			return nil
		}
		if err := resolve(&st); err != nil {
			r.Unresolved++
			if r.Err == nil {
				r.Err = err
			}
			return nil
		}
		if resolved == nil {
			resolved = &st
		}
		if t.BaseId != "" {
			nb, ok := newBases[t.BaseId]
			if !ok {
				b, err := s.base(tx, t.BaseId)
				if err != nil {
					return err
				}
				b.Spec.Dataset.SHA256, b.Spec.WarmStart.SHA256 = st.Dataset.SHA256, st.WarmStart.SHA256
				id, js, err := b.Encode()
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketBases).Put([]byte(id), js); err != nil {
					return err
				}
				newBases[t.BaseId], nb = id, id
			}
			t.BaseId = nb
		} else {
			js, err := spec.Canonical(st)
			if err != nil {
				return err
			}
			t.SpecJson = string(js)
		}
		old := t.Id
		t.Id = spec.ID(st)
		todo = append(todo, moved{old, t})
		return nil
	})
	if err != nil {
		return err
	}
	if len(todo) == 0 {
		return nil
	}
	aliases, err := tx.CreateBucketIfNotExists(bucketAliases)
	if err != nil {
		return err
	}
	ab, err := aliases.CreateBucketIfNotExists([]byte(sweepID))
	if err != nil {
		return err
	}
	removed := 0
	for _, m := range todo {
		if err := tb.Delete([]byte(m.old)); err != nil {
			return err
		}
		if err := ab.Put([]byte(m.old), []byte(m.t.Id)); err != nil {
			return err
		}
		keep := m.t
		if v := tb.Get([]byte(m.t.Id)); v != nil {
			other := new(pb.Trial)
			if err := proto.Unmarshal(v, other); err != nil {
				// The record under the new ID cannot be read: the
				// readable one takes its place.
				s.skip(trialsBucketName(sweepID), []byte(m.t.Id), fmt.Errorf("decode trial %s/%s: %w", sweepID, m.t.Id, err))
				if err := putProto(tb, keep.Id, keep); err != nil {
					return err
				}
				r.Trials++
				continue
			}
			r.Merged++
			removed++
			loser := other
			if rank(other) > rank(m.t) {
				keep, loser = other, m.t
			}
			if err := s.invalidate(tx, sweepID, loser); err != nil {
				return err
			}
		}
		if err := putProto(tb, keep.Id, keep); err != nil {
			return err
		}
		r.Trials++
	}
	return updateSweepSpec(tx, sweepID, *resolved, -removed)
}

// rank orders trial states by how far a trial got: succeeded over failed
// and discarded over running over pending and cancelled.
func rank(t *pb.Trial) int {
	switch t.State {
	case pb.TrialState_TRIAL_STATE_SUCCEEDED:
		return 4
	case pb.TrialState_TRIAL_STATE_FAILED, pb.TrialState_TRIAL_STATE_DISCARDED:
		return 3
	case pb.TrialState_TRIAL_STATE_RUNNING:
		return 2
	}
	return 1
}

// invalidate keeps a trial record in the invalidated bucket.
func (s *Store) invalidate(tx *bolt.Tx, sweepID string, t *pb.Trial) error {
	gb, err := tx.Bucket(bucketGone).CreateBucketIfNotExists([]byte(sweepID))
	if err != nil {
		return err
	}
	return putProto(gb, t.Id, t)
}

// updateSweepSpec copies the digests of a resolved trial into the sweep's
// stored spec and adds delta to its trial count.
func updateSweepSpec(tx *bolt.Tx, sweepID string, resolved spec.Trial, delta int) error {
	sweeps := tx.Bucket(bucketSweeps)
	v := sweeps.Get([]byte(sweepID))
	if v == nil {
		return fmt.Errorf("sweep %q: %w", sweepID, ErrNotFound)
	}
	sw := new(pb.Sweep)
	if err := proto.Unmarshal(v, sw); err != nil {
		return err
	}
	// A sweep spec this version cannot read keeps its text; its trials are
	// migrated all the same.
	if s, err := spec.DecodeSweep([]byte(sw.SpecJson)); err == nil {
		s.Dataset.SHA256, s.Train.WarmStart.SHA256 = resolved.Dataset.SHA256, resolved.WarmStart.SHA256
		js, err := json.Marshal(s)
		if err != nil {
			return err
		}
		sw.SpecJson = string(js)
	}
	sw.TrialCount += int32(delta)
	return putProto(sweeps, sweepID, sw)
}

// Aliases returns the trial IDs that MigrateContentIdentity replaced in a
// sweep, old ID → new ID.
func (s *Store) Aliases(sweepID string) (map[string]string, error) {
	out := map[string]string{}
	err := s.db.View(func(tx *bolt.Tx) error {
		ab := tx.Bucket(bucketAliases)
		if ab == nil {
			return nil
		}
		b := ab.Bucket([]byte(sweepID))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	return out, err
}
