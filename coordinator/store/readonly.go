package store

import (
	"errors"
	"fmt"
	"io"
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
// A database of an earlier schema version is migrated on a temporary copy
// (removed by Close); the file itself is not touched.
//
// It returns an error wrapping fs.ErrNotExist when the file does not exist,
// ErrLocked when it is locked, ErrDamaged when it is shorter than its pages
// reach or has no valid meta page (see Check), and ErrSchema when it is not
// a flatsweep database of a schema version this binary reads.
func OpenReadOnly(path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	if err := checkFile(path); err != nil {
		return nil, fmt.Errorf("open database %s read-only: %w", path, err)
	}
	s, err := openReadOnly(path)
	if !errors.Is(err, errOldSchema) {
		return s, err
	}
	tmp, err := migratedCopy(path)
	if err != nil {
		return nil, fmt.Errorf("open database %s read-only: migrate a copy: %w", path, err)
	}
	if s, err = openReadOnly(tmp); err != nil {
		_ = os.Remove(tmp)
		return nil, err
	}
	s.removeOnClose = tmp
	return s, nil
}

// errOldSchema reports a database of an earlier schema version.
var errOldSchema = errors.New("earlier schema version")

// migratedCopy copies the database at path to a temporary file and opens it
// read-write once, which migrates it; it returns the copy's path.
func migratedCopy(path string) (string, error) {
	src, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer src.Close()
	dst, err := os.CreateTemp("", "flatsweep-migrated-*.db")
	if err != nil {
		return "", err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(dst.Name())
		return "", err
	}
	if err := dst.Close(); err != nil {
		os.Remove(dst.Name())
		return "", err
	}
	st, err := Open(dst.Name())
	if err != nil {
		os.Remove(dst.Name())
		return "", err
	}
	if err := st.Close(); err != nil {
		os.Remove(dst.Name())
		return "", err
	}
	return dst.Name(), nil
}

// openReadOnly opens a database of this schema version read-only; it fails
// with errOldSchema for an earlier version.
func openReadOnly(path string) (*Store, error) {
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
		if errors.Is(err, errOldSchema) {
			return nil, err
		}
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
		v, err := strconv.Atoi(string(meta.Get(keySchema)))
		switch {
		case err != nil || v < 1 || v > SchemaVersion:
			return fmt.Errorf("%w: version %q, this binary reads versions 1 to %d", ErrSchema, meta.Get(keySchema), SchemaVersion)
		case v < SchemaVersion:
			return errOldSchema
		}
		return nil
	})
}
