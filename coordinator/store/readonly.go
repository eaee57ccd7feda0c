package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrLocked is returned by OpenReadOnly when another process holds the
// database file's exclusive lock (a running coordinator).
var ErrLocked = errors.New("database locked by another process")

// readOnlyTimeout bounds the wait for the file lock in OpenReadOnly.
const readOnlyTimeout = 2 * time.Second

// OpenReadOnly opens an existing database for reading only, for offline
// analysis of a copy of a coordinator's file: it never creates the file,
// never writes to it, and checks the schema version without upgrading it.
// Every write method of the returned Store fails.
//
// bbolt takes a shared lock on a read-only file, which a running coordinator's
// exclusive lock excludes: open a copy of a live coordinator's database
// (cp coordinator.db /tmp/copy.db), not the file itself. A copy taken while
// the coordinator writes may be torn; bbolt then usually falls back to the
// previous transaction, and a copy that fails to open should be retaken.
// It returns an error wrapping fs.ErrNotExist when the file does not exist,
// ErrLocked when it is locked, and ErrSchema when it is not a flatsweep
// database of this schema version.
func OpenReadOnly(path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: readOnlyTimeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("open database %s read-only: %w (a running coordinator holds it: open a copy of the file instead)", path, ErrLocked)
		}
		return nil, fmt.Errorf("open database %s read-only: %w", path, err)
	}
	// Built as Open builds it, so that Close and the write path behave the
	// same (writes fail with bbolt's ErrDatabaseReadOnly).
	s := newStore(db)
	if err := s.checkSchema(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open database %s read-only: %w", path, err)
	}
	go s.committer()
	return s, nil
}

// checkSchema verifies, without writing, that the database has this
// package's buckets and schema version.
func (s *Store) checkSchema() error {
	return s.db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil || tx.Bucket(bucketSweeps) == nil || tx.Bucket(bucketTrials) == nil {
			return fmt.Errorf("%w: not a flatsweep database (no meta, sweeps or trials bucket)", ErrSchema)
		}
		// Older versions read as they are (no migration without writing):
		// version-1 trials carry their spec_json.
		if v, err := strconv.Atoi(string(meta.Get(keySchema))); err != nil || v < 1 || v > SchemaVersion {
			return fmt.Errorf("%w: version %q, this binary reads versions 1 to %d", ErrSchema, meta.Get(keySchema), SchemaVersion)
		}
		return nil
	})
}
