package store

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/flatsweep/flatsweep/internal/wire"
	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// migration returns the step that upgrades a database from schema version v
// to v+1 inside the transaction that opens it; Open applies them in order, so
// a database of any earlier version reaches SchemaVersion atomically.
func migration(v int) func(*bolt.Tx) error {
	switch v {
	case 1:
		return migrateV1toV2
	}
	return func(*bolt.Tx) error { return fmt.Errorf("no migration from version %d", v) }
}

// migrateV1toV2 replaces the spec_json of every stored trial by the ID of its
// base spec (stored once in the bases bucket) and its axis values.
func migrateV1toV2(tx *bolt.Tx) error {
	trials := tx.Bucket(bucketTrials)
	bases := tx.Bucket(bucketBases)
	return trials.ForEachBucket(func(sweep []byte) error {
		tb := trials.Bucket(sweep)
		var changed []*pb.Trial
		err := tb.ForEach(func(k, v []byte) error {
			t := new(pb.Trial)
			if err := proto.Unmarshal(v, t); err != nil {
				return fmt.Errorf("decode trial %s/%s: %w", sweep, k, err)
			}
			if t.SpecJson == "" {
				return nil
			}
			baseJSON, axes, err := wire.SplitSpec(t.SpecJson)
			if err != nil {
				return fmt.Errorf("trial %s/%s: %w", sweep, k, err)
			}
			id := wire.BaseID(baseJSON)
			if bases.Get([]byte(id)) == nil {
				if err := bases.Put([]byte(id), baseJSON); err != nil {
					return err
				}
			}
			t.BaseId, t.Axes, t.SpecJson = id, axes[:], ""
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
		return nil
	})
}
