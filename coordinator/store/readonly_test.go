package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

func TestOpenReadOnly(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenReadOnly(filepath.Join(dir, "missing.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("OpenReadOnly created the file")
	}
	path := filepath.Join(dir, "c.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.PutSweep(&pb.Sweep{Id: "sw"}, []*pb.Trial{{SweepId: "sw", Id: "t1"}}, nil); err != nil {
		t.Fatal(err)
	}
	// A live coordinator's exclusive lock excludes a reader.
	if _, err := OpenReadOnly(path); !errors.Is(err, ErrLocked) {
		t.Errorf("locked file: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	var n int
	if err := ro.Trials("sw", "", func(*pb.Trial) bool { n++; return true }); err != nil || n != 1 {
		t.Errorf("trials %d, %v", n, err)
	}
	if _, err := ro.UpdateSweep("sw", func(*pb.Sweep) error { return nil }); err == nil {
		t.Error("a write succeeded on a read-only store")
	}
	other := filepath.Join(dir, "other.db")
	if err := os.WriteFile(other, make([]byte, 8192), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenReadOnly(other); err == nil {
		t.Error("opened a file that is not a database")
	}
}
