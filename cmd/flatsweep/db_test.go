package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// dbBigSweep has 600 trials, which nothing runs: enough pages for a
// truncation to cut through the trials.
const dbBigSweep = `name: big
dataset: {name: synthetic, n: 512, n_test: 256, seed: 3}
model: {arch: mlp, hidden: [8]}
train: {epochs: 1}
grid: {batch_size: [8, 16, 32, 64, 128, 256], lr: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1], seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
`

// coordinatorDB returns a database written by a real coordinator: the
// 8-trial e2e sweep run to the end by a worker, then the 600 trials of
// dbBigSweep submitted and left pending; the coordinator stopped.
func coordinatorDB(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "c.db")
	coord, addr := startCoordinator(t, db, "")
	worker := start(t, "worker", "--coordinator", addr, "--name", "w")
	if _, errs, code := runCLI(t, "submit", writeSweep(t, fmt.Sprintf(e2eSweep, 1)), "--coordinator", addr); code != 0 {
		t.Fatal(errs)
	}
	waitDone(t, client(t, addr), "e2e", 2*time.Minute)
	if err := worker.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-worker.done
	if _, errs, code := runCLI(t, "submit", writeSweep(t, dbBigSweep), "--coordinator", addr); code != 0 {
		t.Fatal(errs)
	}
	if err := coord.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-coord.done
	_ = coord.cmd.Wait()
	return db
}

// extentOf returns the length a database's pages reach and one stored
// trial of sweep e2e (its ID and stored bytes).
func extentOf(t *testing.T, path string) (extent int64, id string, value []byte) {
	t.Helper()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_ = db.View(func(tx *bolt.Tx) error {
		extent = tx.Size()
		k, v := tx.Bucket([]byte("trials")).Bucket([]byte("e2e")).Cursor().First()
		id, value = string(k), bytes.Clone(v)
		return nil
	})
	return extent, id, value
}

// damagedCopy writes a copy of the file at path, changed by edit.
func damagedCopy(t *testing.T, path string, edit func([]byte) []byte) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "damaged.db")
	if err := os.WriteFile(out, edit(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// crashed reports whether a process's stderr shows a Go crash.
func crashed(stderr string) bool {
	for _, s := range []string{"fatal error", "SIGBUS", "SIGSEGV", "panic:", "goroutine "} {
		if strings.Contains(stderr, s) {
			return true
		}
	}
	return false
}

// TestDamagedDatabaseProcesses runs the flatsweep binary on damaged copies
// of a coordinator's database: a truncated file is refused with a clear
// error by the coordinator and by export --db (where bbolt's memory map
// used to kill the process with SIGBUS), db check reports it (exit 1), db
// salvage recovers what it can into a file the coordinator serves; a trial
// record with one byte changed no longer stops export, which leaves it out
// and names it, and salvage leaves only it out.
func TestDamagedDatabaseProcesses(t *testing.T) {
	db := coordinatorDB(t)
	extent, badID, badValue := extentOf(t, db)

	out, errs, code := runCLI(t, "db", "check", "--db", db)
	if code != 0 || !regexp.MustCompile(`clean: 61\d records`).MatchString(out) {
		t.Fatalf("db check of the coordinator's file: exit %d\n%s%s", code, out, errs)
	}

	t.Run("truncated", func(t *testing.T) {
		size := extent / 2
		cut := damagedCopy(t, db, func(b []byte) []byte { return b[:size] })
		want := fmt.Sprintf("database file damaged: file is %d bytes but its pages reach %d: truncated; run flatsweep db salvage --db %s --out NEW.db", size, extent, cut)
		p := start(t, "coordinator", "--listen", "127.0.0.1:0", "--db", cut)
		<-p.done
		if err := p.cmd.Wait(); err == nil || p.cmd.ProcessState.ExitCode() != 1 || !strings.Contains(p.output(), want) || crashed(p.output()) {
			t.Errorf("coordinator on a truncated file: %v\n%s", err, p.output())
		}
		_, errs, code := runCLI(t, "export", "e2e", "--db", cut, "--out", filepath.Join(t.TempDir(), "x.csv"))
		if code != 2 || !strings.Contains(errs, want) || crashed(errs) {
			t.Errorf("export --db of a truncated file: exit %d\n%s", code, errs)
		}
		out, errs, code = runCLI(t, "db", "check", "--db", cut)
		if code != 1 || !strings.Contains(out, fmt.Sprintf("file is %d bytes but its pages reach %d: truncated", size, extent)) ||
			!strings.Contains(out, "damaged:") || crashed(errs) {
			t.Errorf("db check: exit %d\n%s%s", code, out, errs)
		}
		salvaged := filepath.Join(t.TempDir(), "salvaged.db")
		out, errs, code = runCLI(t, "db", "salvage", "--db", cut, "--out", salvaged)
		m := regexp.MustCompile(`kept (\d+) records`).FindStringSubmatch(out)
		if code != 0 || m == nil || crashed(errs) {
			t.Fatalf("db salvage: exit %d\n%s%s", code, out, errs)
		}
		t.Logf("salvage of a file cut in half:\n%s", out)
		if out, errs, code := runCLI(t, "db", "check", "--db", salvaged); code != 0 {
			t.Errorf("db check of the salvaged file: exit %d\n%s%s", code, out, errs)
		}
		startCoordinator(t, salvaged, "")
		// --out exists now: refused.
		if _, errs, code := runCLI(t, "db", "salvage", "--db", cut, "--out", salvaged); code != 2 || !strings.Contains(errs, "the file exists") {
			t.Errorf("salvage over an existing file: exit %d\n%s", code, errs)
		}
	})

	t.Run("flipped byte", func(t *testing.T) {
		flipped := damagedCopy(t, db, func(b []byte) []byte {
			i := bytes.Index(b, badValue)
			if i < 0 {
				t.Fatal("the trial's record is not in the file")
			}
			b[i] = 0x07 // its first tag now names field 0: it no longer decodes
			return b
		})
		csvPath := filepath.Join(t.TempDir(), "x.csv")
		_, errs, code := runCLI(t, "export", "e2e", "--db", flipped, "--out", csvPath)
		if code != 0 || !strings.Contains(errs, "stored record cannot be read") || !strings.Contains(errs, badID) {
			t.Fatalf("export --db with one bad trial: exit %d\n%s", code, errs)
		}
		f, err := os.Open(csvPath)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil || len(rows) != 1+7 {
			t.Errorf("export wrote %d rows (%v), want a header and the 7 other trials", len(rows), err)
		}
		// The coordinator starts, names the bad record and serves the others
		// (on a copy of its own: opened for writing, the file loses the
		// previous transaction salvage falls back to).
		served := filepath.Join(t.TempDir(), "served.db")
		if b, err := os.ReadFile(flipped); err != nil || os.WriteFile(served, b, 0o600) != nil {
			t.Fatal(err)
		}
		p, addr := startCoordinator(t, served, "")
		if rec := p.waitLog(t, "stored record cannot be read; skipped (flatsweep db check lists the damage, flatsweep db salvage copies the rest)", 10*time.Second); rec["key"] != badID {
			t.Errorf("coordinator logged the bad record as %v, want %s", rec["key"], badID)
		}
		if n := len(allTrials(t, client(t, addr), "e2e")); n != 7 {
			t.Errorf("coordinator serves %d trials, want the 7 readable ones", n)
		}
		out, errs, code := runCLI(t, "db", "check", "--db", flipped)
		if code != 1 || !strings.Contains(out, "trials/e2e "+badID+": decode trial") {
			t.Errorf("db check: exit %d\n%s%s", code, out, errs)
		}
		salvaged := filepath.Join(t.TempDir(), "salvaged.db")
		out, errs, code = runCLI(t, "db", "salvage", "--db", flipped, "--out", salvaged)
		if code != 0 || !strings.Contains(out, "lost 1 bad records") {
			t.Errorf("db salvage: exit %d\n%s%s", code, out, errs)
		}
		startCoordinator(t, salvaged, "")
	})

	t.Run("usage", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"db", "check"}, "--db: the database file to check is required"},
			{[]string{"db", "check", "--db", filepath.Join(t.TempDir(), "missing.db")}, "no such file"},
			{[]string{"db", "salvage", "--db", db}, "--out: the new database file is required"},
			{[]string{"db", "salvage", "--out", "x.db"}, "--db: the damaged database file is required"},
			{[]string{"db", "salvage", "--db", db, "--out", db}, "the file exists"},
			{[]string{"db", "salvage", "--db", db, "--out", filepath.Join(t.TempDir(), "no", "dir.db")}, "--out"},
			{[]string{"db", "frobnicate"}, "want check or salvage"},
		} {
			_, errs, code := runCLI(t, c.args...)
			if code != 2 || !strings.Contains(errs, c.want) {
				t.Errorf("%v: exit %d, want 2 with %q:\n%s", c.args, code, c.want, errs)
			}
		}
	})
}
