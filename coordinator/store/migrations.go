package store

import (
	"fmt"
	"log/slog"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// migration returns the step that upgrades a database from schema version v
// to v+1 inside the transaction that opens it; Open applies them in order, so
// a database of any earlier version reaches SchemaVersion atomically.
func migration(v int) func(*bolt.Tx) error {
	switch v {
	case 1:
		// Version 2 added the bases bucket (init creates it); the version-1
		// trials, which hold their spec_json, are converted to version 3
		// like the others.
		return func(*bolt.Tx) error { return nil }
	case 2:
		return migrateV2toV3
	}
	return func(*bolt.Tx) error { return fmt.Errorf("no migration from version %d", v) }
}

// v2Axes are the trial fields a version-2 trial stored as doubles, in order.
var v2Axes = []string{"batch_size", "lr", "seed", "dataset.n", "optimizer.momentum", "weight_decay"}

// migrateV2toV3 stores every trial as a Base and the exact canonical JSON of
// its axis values. A version-2 trial stored its axis values as doubles,
// which rounded integers beyond 2⁵³: a seed of 2⁵³ + 1 was stored, leased and
// run as 2⁵³. Such a trial's rebuilt spec does not hash to its ID; the
// migration recovers its exact spec from the expansion of its sweep's stored
// spec. If it had run (with the rounded value, so its result belongs to
// another spec), its record moves to the invalidated bucket and the trial
// starts afresh as pending; a trial whose spec cannot be recovered moves
// there too and leaves its sweep. Nothing is deleted.
func migrateV2toV3(tx *bolt.Tx) error {
	trials, bases, gone := tx.Bucket(bucketTrials), tx.Bucket(bucketBases), tx.Bucket(bucketGone)
	oldBases := map[string]spec.Trial{}
	var oldBaseIDs [][]byte
	err := bases.ForEach(func(k, v []byte) error {
		t, err := spec.DecodeTrial(v)
		if err != nil {
			return fmt.Errorf("base %s: %w", k, err)
		}
		oldBases[string(k)] = t
		oldBaseIDs = append(oldBaseIDs, append([]byte(nil), k...))
		return nil
	})
	if err != nil {
		return err
	}
	newBases := map[string][]byte{}
	err = trials.ForEachBucket(func(sweep []byte) error {
		m := &sweepMigration{tx: tx, sweep: string(sweep), oldBases: oldBases, newBases: newBases}
		return m.run(trials.Bucket(sweep), gone)
	})
	if err != nil {
		return err
	}
	for _, k := range oldBaseIDs {
		if err := bases.Delete(k); err != nil {
			return err
		}
	}
	for id, js := range newBases {
		if err := bases.Put([]byte(id), js); err != nil {
			return err
		}
	}
	return nil
}

// sweepMigration converts the trials of one sweep to version 3.
type sweepMigration struct {
	tx       *bolt.Tx
	sweep    string
	oldBases map[string]spec.Trial
	newBases map[string][]byte
	exact    map[string]spec.Trial // legacy trial ID → spec, from the sweep's expansion
}

func (m *sweepMigration) run(tb, gone *bolt.Bucket) error {
	var changed, removed []*pb.Trial
	err := tb.ForEach(func(k, v []byte) error {
		t := new(pb.Trial)
		if err := proto.Unmarshal(v, t); err != nil {
			return fmt.Errorf("decode trial %s/%s: %w", m.sweep, k, err)
		}
		st, ok, err := m.spec(t)
		if err != nil {
			return err
		}
		if !ok {
			removed = append(removed, t)
			return nil
		}
		b := Base{Axes: v2Axes, Spec: st}
		values, err := b.Values(st)
		if err != nil {
			return err
		}
		for _, p := range v2Axes {
			_ = spec.SetJSON(&b.Spec, p, "0")
		}
		id, js, err := b.Encode()
		if err != nil {
			return err
		}
		m.newBases[id] = js
		t.BaseId, t.AxisValues, t.V2Axes, t.SpecJson = id, values, nil, ""
		changed = append(changed, t)
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
	if len(removed) == 0 {
		return nil
	}
	if len(changed) == 0 {
		// Not one trial of the sweep could be verified: the specs this
		// binary rebuilds differ from those the IDs hash, which is a bug of
		// the migration, not of the data. Refuse rather than set every
		// result aside.
		return fmt.Errorf("sweep %s: none of its %d trials rebuilds to the spec its ID names; the database is left unchanged", m.sweep, len(removed))
	}
	gb, err := gone.CreateBucketIfNotExists([]byte(m.sweep))
	if err != nil {
		return err
	}
	for _, t := range removed {
		if err := putProto(gb, t.Id, t); err != nil {
			return err
		}
		if err := tb.Delete([]byte(t.Id)); err != nil {
			return err
		}
	}
	slog.Warn("schema migration: trials whose spec could not be recovered moved to the invalidated bucket",
		"sweep", m.sweep, "trials", len(removed))
	return m.recount(-len(removed))
}

// spec returns a trial's exact spec, and false when it cannot be recovered.
// A trial that ran with a rounded spec is reset to pending (its record kept
// in the invalidated bucket).
func (m *sweepMigration) spec(t *pb.Trial) (spec.Trial, bool, error) {
	if t.SpecJson != "" {
		st, err := spec.DecodeTrial([]byte(t.SpecJson))
		return st, err == nil, err
	}
	base, ok := m.oldBases[t.BaseId]
	if !ok || len(t.V2Axes) != len(v2Axes) {
		return spec.Trial{}, false, fmt.Errorf("trial %s/%s: base %q or axes %v not found", m.sweep, t.Id, t.BaseId, t.V2Axes)
	}
	st := base
	st.BatchSize, st.LR, st.Seed = int(t.V2Axes[0]), t.V2Axes[1], int64(t.V2Axes[2])
	st.Dataset.N, st.Optimizer.Momentum, st.WeightDecay = int(t.V2Axes[3]), t.V2Axes[4], t.V2Axes[5]
	if spec.LegacyID(st) == t.Id {
		return st, true, nil
	}
	exact, found, err := m.lookup(t.Id)
	if err != nil || !found {
		return spec.Trial{}, false, err
	}
	// A trial ran (with the rounded spec) if it has had an attempt; one
	// that has not, pending or cancelled, has nothing to invalidate.
	if t.Attempt > 0 || (t.State != pb.TrialState_TRIAL_STATE_PENDING && t.State != pb.TrialState_TRIAL_STATE_CANCELLED) {
		if err := m.invalidate(t, st, exact); err != nil {
			return spec.Trial{}, false, err
		}
	}
	return exact, true, nil
}

// lookup returns the exact spec of the trial with the given (legacy) ID
// from the expansion of the sweep's stored spec.
func (m *sweepMigration) lookup(id string) (spec.Trial, bool, error) {
	if m.exact == nil {
		m.exact = map[string]spec.Trial{}
		v := m.tx.Bucket(bucketSweeps).Get([]byte(m.sweep))
		sw := new(pb.Sweep)
		if v == nil || proto.Unmarshal(v, sw) != nil {
			return spec.Trial{}, false, nil
		}
		s, err := spec.DecodeSweep([]byte(sw.SpecJson))
		if err != nil {
			return spec.Trial{}, false, nil
		}
		sweeps.ForEachTrial(s, func(tr *sweeps.Trial) { m.exact[spec.LegacyID(tr.Spec)] = tr.Spec })
	}
	st, ok := m.exact[id]
	return st, ok, nil
}

// invalidate keeps the record of a trial that ran with the rounded spec
// in the invalidated bucket and makes the trial pending again (a cancelled
// trial stays cancelled, without its attempts: its sweep was cancelled).
func (m *sweepMigration) invalidate(t *pb.Trial, ran, exact spec.Trial) error {
	gb, err := m.tx.Bucket(bucketGone).CreateBucketIfNotExists([]byte(m.sweep))
	if err != nil {
		return err
	}
	if err := putProto(gb, t.Id, t); err != nil {
		return err
	}
	from := t.State
	t.State, t.Attempt, t.WorkerId, t.LeaseToken = pb.TrialState_TRIAL_STATE_PENDING, 0, "", ""
	if from == pb.TrialState_TRIAL_STATE_CANCELLED {
		t.State = from
	}
	t.LeaseExpireTime, t.RetryTime, t.Result, t.Curve = nil, nil, nil, nil
	t.LastError = fmt.Sprintf("reset by the schema migration: it ran as seed %d, batch size %d, n %d (a rounded copy of its spec), not seed %d, batch size %d, n %d",
		ran.Seed, ran.BatchSize, ran.Dataset.N, exact.Seed, exact.BatchSize, exact.Dataset.N)
	slog.Warn("schema migration: trial ran with a rounded spec; its record moved to the invalidated bucket and it runs again",
		"sweep", m.sweep, "trial", t.Id, "state", StateName(from))
	return nil
}

// recount adds delta to the sweep's trial count.
func (m *sweepMigration) recount(delta int) error {
	sweeps := m.tx.Bucket(bucketSweeps)
	v := sweeps.Get([]byte(m.sweep))
	if v == nil {
		return nil
	}
	sw := new(pb.Sweep)
	if err := proto.Unmarshal(v, sw); err != nil {
		return err
	}
	sw.TrialCount += int32(delta)
	return putProto(sweeps, m.sweep, sw)
}
