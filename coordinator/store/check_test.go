package store

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
)

// alphaSweep has 600 trials, enough for branch pages in its bucket.
const alphaSweep = `name: alpha
dataset: {name: synthetic, n: 256, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {batch_size: [8, 16, 32, 64, 128, 256], lr: [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.1], seed: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]}
`

// betaSweep has two trials: its bucket is inline.
const betaSweep = `name: beta
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {batch_size: [8, 16], lr: [0.1], seed: [1]}
`

// submit stores a sweep file's trials as the coordinator does: one base
// (the sweep's spec with its swept axes zeroed) and each trial's axis
// values.
func submit(t *testing.T, st *Store, yaml string) []*pb.Trial {
	t.Helper()
	s, js := parsed(t, yaml)
	trials, bid, bjs := expandTrials(t, s, true)
	sw := &pb.Sweep{Id: s.Name, SpecYaml: yaml, SpecJson: js, CreateTime: timestamppb.Now(), Priority: 3}
	if _, _, err := st.PutSweep(sw, trials, map[string][]byte{bid: bjs}); err != nil {
		t.Fatal(err)
	}
	return trials
}

// finish records a result with a curve of n epochs.
func finish(tr *pb.Trial, n int) {
	tr.State = pb.TrialState_TRIAL_STATE_SUCCEEDED
	tr.Result = &pb.TrialResult{TrainAcc: 0.9, TestAcc: 0.8, LambdaMax: float64(tr.Index), DurationSeconds: 1.5}
	for i := range n {
		tr.Result.Curve = append(tr.Result.Curve, &pb.EpochMetrics{Epoch: int32(i + 1), TestAcc: 0.5 + float64(i)/1e4})
	}
}

// fixture is a database a coordinator could have written: two sweeps (one
// whose trials need branch pages, one whose bucket is inline), results
// with curves (one long enough for overflow pages), written over many
// transactions so that pages are reused. last is the trial of the last
// transaction.
type fixture struct {
	path  string
	alpha []*pb.Trial
	last  string
	// records holds every record as stored: bucket path → key → value.
	records map[string]map[string][]byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "coordinator.db")}
	st, err := Open(f.path)
	if err != nil {
		t.Fatal(err)
	}
	f.alpha = submit(t, st, alphaSweep)
	submit(t, st, betaSweep)
	if err := st.UpdateTrials("alpha", func(tr *pb.Trial) bool {
		if tr.Index%2 == 0 {
			finish(tr, 5)
		}
		return tr.Index%2 == 0
	}); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{7, 99, 301, 555} {
		if _, err := st.UpdateTrial("alpha", f.alpha[i].Id, func(tr *pb.Trial) error { finish(tr, 3); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// A curve longer than a page: an overflow page.
	if _, err := st.UpdateTrial("alpha", f.alpha[11].Id, func(tr *pb.Trial) error { finish(tr, 400); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	// An alias, as MigrateContentIdentity leaves for a trial it re-keyed.
	db, err := bolt.Open(f.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		ab, err := tx.CreateBucketIfNotExists(bucketAliases)
		if err == nil {
			ab, err = ab.CreateBucketIfNotExists([]byte("alpha"))
		}
		if err != nil {
			return err
		}
		if err := ab.Put([]byte("t-legacy"), []byte(f.alpha[5].Id)); err != nil {
			return err
		}
		// And a trial record the migration to version 3 took out.
		gb, err := tx.Bucket(bucketGone).CreateBucketIfNotExists([]byte("alpha"))
		if err != nil {
			return err
		}
		return putProto(gb, "t-gone", &pb.Trial{SweepId: "alpha", Id: "t-gone", State: pb.TrialState_TRIAL_STATE_SUCCEEDED})
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if st, err = Open(f.path); err != nil {
		t.Fatal(err)
	}
	f.last = f.alpha[123].Id
	if _, err := st.UpdateTrial("alpha", f.last, func(tr *pb.Trial) error { finish(tr, 2); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	f.records = readAll(t, f.path)
	return f
}

// readAll reads every record of a database with bbolt: bucket path → key →
// value.
func readAll(t *testing.T, path string) map[string]map[string][]byte {
	t.Helper()
	db, err := bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]map[string][]byte{}
	var walk func(name string, b *bolt.Bucket) error
	walk = func(name string, b *bolt.Bucket) error {
		return b.ForEach(func(k, v []byte) error {
			if v == nil {
				sub := string(k)
				if name != "" {
					sub = name + "/" + sub
				}
				if out[sub] == nil {
					out[sub] = map[string][]byte{}
				}
				return walk(sub, b.Bucket(k))
			}
			out[name][string(k)] = bytes.Clone(v)
			return nil
		})
	}
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			out[string(name)] = map[string][]byte{}
			return walk(string(name), b)
		})
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(recs map[string]map[string][]byte) int {
	n := 0
	for _, b := range recs {
		n += len(b)
	}
	return n
}

// copyFile copies the fixture's file to a new path, cut to size bytes (-1:
// whole), and returns the path.
func copyFile(t *testing.T, path string, size int64) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if size >= 0 {
		data = data[:size]
	}
	out := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(out, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}

// metaOf returns the meta page bbolt uses in the file at path.
func metaOf(t *testing.T, path string) fileMeta {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	use := chooseMetas(readMetas(f, fi.Size()), false)
	if len(use) == 0 {
		t.Fatal("no valid meta page")
	}
	return use[0]
}

// TestCheckCleanDatabase: a database without damage checks clean, every
// bucket's count right, and its salvage holds the same records, byte for
// byte: the page walk reads what bbolt reads (inline buckets, branch and
// overflow pages included).
func TestCheckCleanDatabase(t *testing.T) {
	f := newFixture(t)
	rep, err := Check(f.path)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := rep.WriteText(&text, false); err != nil {
		t.Fatal(err)
	}
	if rep.Damaged() || !strings.Contains(text.String(), "clean: 609 records") {
		t.Fatalf("clean database reported damaged:\n%s", text.String())
	}
	want := map[string]int{"aliases/alpha": 1, "invalidated/alpha": 1, "meta": 1, "sweeps": 2, "bases": 2, "trials/alpha": 600, "trials/beta": 2}
	for _, b := range rep.Buckets {
		if b.Records != want[b.Bucket] || b.Bad != 0 {
			t.Errorf("%s: %d records, %d bad; want %d", b.Bucket, b.Records, b.Bad, want[b.Bucket])
		}
		delete(want, b.Bucket)
	}
	if len(want) != 0 {
		t.Errorf("buckets not reported: %v", want)
	}
	m := metaOf(t, f.path)
	if rep.Extent != m.extent() || rep.PageSize != m.pageSize || rep.TxID != m.txid || rep.Schema != SchemaVersion {
		t.Errorf("report %+v, meta %+v", rep, m)
	}

	out := filepath.Join(t.TempDir(), "salvaged.db")
	srep, err := Salvage(f.path, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, kept := srep.Records(); kept != 609 || srep.Damaged() || srep.Previous != 0 {
		t.Fatalf("salvage of a clean database kept %d records: %+v", kept, srep)
	}
	got := readAll(t, out)
	for name, recs := range f.records {
		for k, v := range recs {
			g, ok := got[name][k]
			switch {
			case !ok:
				t.Errorf("%s %s: not copied", name, k)
			case name == "sweeps":
				a, b := new(pb.Sweep), new(pb.Sweep)
				if proto.Unmarshal(v, a) != nil || proto.Unmarshal(g, b) != nil || !proto.Equal(a, b) {
					t.Errorf("sweep %s copied as %v, want %v", k, b, a)
				}
			case !bytes.Equal(g, v):
				t.Errorf("%s %s: copied bytes differ", name, k)
			}
		}
	}
	if count(got) != count(f.records) {
		t.Errorf("salvaged database holds %d records, the original %d", count(got), count(f.records))
	}
	if _, err := Salvage(f.path, out); !errors.Is(err, fs.ErrExist) {
		t.Errorf("salvage over an existing file: %v", err)
	}
}

// TestTruncatedDatabase cuts a real database at several lengths: every
// open path refuses it with ErrDamaged instead of faulting in bbolt's
// memory map (a fault would kill the test binary), leaves the file as it
// is, Check reports it, and Salvage keeps only records that are whole.
func TestTruncatedDatabase(t *testing.T) {
	f := newFixture(t)
	m := metaOf(t, f.path)
	ps := m.pageSize
	for _, c := range []struct {
		name string
		size int64
		want string
	}{
		{"empty", 0, "empty (0 bytes)"},
		{"one page", ps, "truncated"},
		{"two pages", 2 * ps, "truncated"},
		{"mid-page", m.extent()/2 + 100, "truncated"},
		{"last page cut", m.extent() - ps, "truncated"},
		{"one byte short", m.extent() - 1, "truncated"},
		{"meta page cut", ps + 40, "truncated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := copyFile(t, f.path, c.size)
			for name, open := range map[string]func(string) (*Store, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
				st, err := open(path)
				if err == nil {
					st.Close()
					t.Fatalf("%s opened a file cut to %d of %d bytes", name, c.size, m.extent())
				}
				if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
					t.Errorf("%s: %v; want ErrDamaged saying %q", name, err, c.want)
				}
				if c.size > 0 && c.want == "truncated" &&
					!strings.Contains(err.Error(), fmt.Sprintf("file is %d bytes but its pages reach %d: truncated; run flatsweep db salvage", c.size, m.extent())) {
					t.Errorf("%s: %v", name, err)
				}
				if fi, err := os.Stat(path); err != nil || fi.Size() != c.size {
					t.Errorf("%s changed the file: %v, %v", name, fi.Size(), err)
				}
			}
			rep, err := Check(path)
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Damaged() || !strings.Contains(strings.Join(rep.Damage, "\n"), c.want) {
				t.Errorf("Check: damage %q", rep.Damage)
			}
			out := filepath.Join(t.TempDir(), "salvaged.db")
			srep, err := Salvage(path, out)
			if c.size == 0 {
				if !errors.Is(err, ErrDamaged) {
					t.Errorf("Salvage of an empty file: %v", err)
				}
				if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("a failed salvage left %s", out)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkSalvaged(t, f, out, srep)
		})
	}
}

// checkSalvaged checks that a salvaged database opens, and holds only whole
// records of the original: each as it was stored, or (for a trial read
// from the transaction before the last) the trial it was before it.
func checkSalvaged(t *testing.T, f *fixture, out string, rep *Report) {
	t.Helper()
	st, err := Open(out)
	if err != nil {
		t.Fatalf("salvaged database does not open: %v", err)
	}
	n := 0
	if err := st.AllTrials(func(tr *pb.Trial) {
		n++
		want, ok := f.records["trials/"+tr.SweepId][tr.Id]
		if !ok {
			t.Errorf("salvaged trial %s/%s is not in the original", tr.SweepId, tr.Id)
			return
		}
		if v, _ := encodeTrial(tr); !bytes.Equal(v, want) && tr.Id != f.last {
			t.Errorf("salvaged trial %s/%s differs from the original", tr.SweepId, tr.Id)
		}
		if _, err := st.Spec(tr); err != nil {
			t.Errorf("salvaged trial %s/%s: %v", tr.SweepId, tr.Id, err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if bad := st.BadRecords(); len(bad) > 0 {
		t.Errorf("salvaged database has bad records: %v", bad)
	}
	sws, err := st.ListSweeps()
	if err != nil {
		t.Fatal(err)
	}
	for _, sw := range sws {
		var k int
		_ = st.RawTrials(sw.Id, func(*pb.Trial) bool { k++; return true })
		if int(sw.TrialCount) != k {
			t.Errorf("salvaged sweep %s counts %d trials, holds %d", sw.Id, sw.TrialCount, k)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	whole, _, kept := rep.Records()
	t.Logf("kept %d records (%d trials visible) of %d; %d from the previous transaction; damage %q", kept, n, count(f.records), rep.Previous, rep.Damage)
	if kept > whole+2 || whole > count(f.records) {
		t.Errorf("kept %d, whole %d, original %d", kept, whole, count(f.records))
	}
}

// storedAt returns the offset of a record's stored value in the file.
func storedAt(t *testing.T, data, value []byte) int {
	t.Helper()
	i := bytes.Index(data, value)
	if i < 0 || bytes.Contains(data[i+1:], value) {
		t.Fatal("the record's value is not stored exactly once in the file")
	}
	return i
}

// flipByte returns a copy of the fixture whose trial record has one byte
// changed so that it no longer decodes (its first tag names field 0).
func flipByte(t *testing.T, f *fixture, sweep, id string) string {
	t.Helper()
	data, err := os.ReadFile(f.path)
	if err != nil {
		t.Fatal(err)
	}
	v := f.records["trials/"+sweep][id]
	data[storedAt(t, data, v)] = 0x07
	path := filepath.Join(t.TempDir(), "flipped.db")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFlippedByteInATrial: one trial record that does not decode blocks
// neither the store's reads (they skip it and list it) nor the others, and
// Check and Salvage name it.
func TestFlippedByteInATrial(t *testing.T) {
	f := newFixture(t)
	bad := f.alpha[42].Id
	path := flipByte(t, f, "alpha", bad)

	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := st.AllTrials(func(tr *pb.Trial) {
		n++
		if tr.Id == bad {
			t.Error("AllTrials delivered the damaged trial")
		}
	}); err != nil {
		t.Fatalf("AllTrials: %v", err)
	}
	if n != 601 {
		t.Errorf("AllTrials delivered %d trials, want 601", n)
	}
	k := 0
	if err := st.Trials("alpha", "", func(tr *pb.Trial) bool { k++; return tr.SpecJson != "" }); err != nil || k != 599 {
		t.Errorf("Trials: %d trials, %v", k, err)
	}
	recs, err := st.Records("alpha")
	if err != nil || len(recs) != 599 {
		t.Errorf("Records: %d, %v", len(recs), err)
	}
	if err := st.UpdateTrials("alpha", func(*pb.Trial) bool { return false }); err != nil {
		t.Errorf("UpdateTrials: %v", err)
	}
	if _, err := st.GetTrial("alpha", bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("GetTrial of the damaged trial: %v", err)
	}
	got := st.BadRecords()
	if len(got) != 1 || got[0].Bucket != "trials/alpha" || got[0].Key != bad || !strings.Contains(got[0].Err.Error(), "decode trial") {
		t.Errorf("BadRecords = %v", got)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	rep, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Bad) != 1 || rep.Bad[0].Key != bad || rep.Bad[0].Bucket != "trials/alpha" || len(rep.Damage) != 0 {
		t.Fatalf("Check: bad %v, damage %q", rep.Bad, rep.Damage)
	}
	var text strings.Builder
	_ = rep.WriteText(&text, false)
	if !strings.Contains(text.String(), "trials/alpha "+bad+": decode trial") || !strings.Contains(text.String(), "damaged:") {
		t.Errorf("report:\n%s", text.String())
	}

	out := filepath.Join(t.TempDir(), "salvaged.db")
	srep, err := Salvage(path, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, nbad, kept := srep.Records(); kept != 608 || nbad != 1 {
		t.Errorf("salvage kept %d, lost %d", kept, nbad)
	}
	checkSalvaged(t, f, out, srep)
	// Submitting the sweep again adds the lost trial afresh.
	st, err = Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sw, _ := st.GetSweep("alpha")
	if sw.TrialCount != 599 || sw.Priority != 3 {
		t.Errorf("salvaged sweep record %v", sw)
	}
	added, created, err := st.PutSweep(sw, f.alpha, map[string][]byte{f.alpha[0].BaseId: f.records["bases"][f.alpha[0].BaseId]})
	if err != nil || created || len(added) != 1 || added[0].Id != bad {
		t.Errorf("resubmission added %d trials (created %v): %v", len(added), created, err)
	}
}

// TestRecordsThatAreNotProtobuf: a trial, a sweep and a base that are not
// what their bucket holds are each skipped and listed; Salvage keeps the
// rest, rebuilds the base from its sweep's spec and keeps the trials of
// the sweep whose record is lost under a placeholder.
func TestRecordsThatAreNotProtobuf(t *testing.T) {
	f := newFixture(t)
	path := copyFile(t, f.path, -1)
	baseID := f.alpha[0].BaseId
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		junk := []byte("this is not protobuf \xff\xff\xff")
		if err := tx.Bucket(bucketTrials).Bucket([]byte("alpha")).Put([]byte("t-junk"), junk); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSweeps).Put([]byte("beta"), junk); err != nil {
			return err
		}
		// One changed byte in the base's JSON that still parses.
		b := bytes.Clone(tx.Bucket(bucketBases).Get([]byte(baseID)))
		i := bytes.Index(b, []byte(`"n_test":32`))
		b[i+len(`"n_test":3`)] = '3'
		return tx.Bucket(bucketBases).Put([]byte(baseID), b)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()

	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	sws, err := st.ListSweeps()
	if err != nil || len(sws) != 1 || sws[0].Id != "alpha" {
		t.Errorf("ListSweeps: %v, %v", sws, err)
	}
	n := 0
	if err := st.RawTrials("alpha", func(*pb.Trial) bool { n++; return true }); err != nil || n != 600 {
		t.Errorf("RawTrials: %d, %v", n, err)
	}
	var keys []string
	for _, b := range st.BadRecords() {
		keys = append(keys, b.Bucket+" "+b.Key)
	}
	if fmt.Sprint(keys) != "[sweeps beta trials/alpha t-junk]" {
		t.Errorf("BadRecords: %v", keys)
	}
	st.Close()

	rep, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	keys = nil
	for _, b := range rep.Bad {
		keys = append(keys, b.Bucket+" "+b.Key)
	}
	// The altered base is rebuilt from its sweep's spec: the trials are whole.
	if len(rep.Bad) != 3 || keys[0] != "bases "+baseID || keys[1] != "sweeps beta" || !strings.Contains(rep.Bad[0].Err.Error(), "does not match its ID") {
		t.Errorf("Check: %d bad: %v", len(rep.Bad), keys[:min(4, len(keys))])
	}

	out := filepath.Join(t.TempDir(), "salvaged.db")
	srep, err := Salvage(path, out)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	_ = srep.WriteText(&text, true)
	t.Log(text.String())
	for _, want := range []string{"rebuilt from the spec of sweep alpha, which yields the same ID", "sweeps beta: its record is lost; a placeholder", "lost 3 bad records"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("salvage report lacks %q", want)
		}
	}
	got := readAll(t, out)
	if !bytes.Equal(got["bases"][baseID], f.records["bases"][baseID]) {
		t.Error("the rebuilt base differs from the original")
	}
	if len(got["trials/alpha"]) != 600 || len(got["trials/beta"]) != 2 || len(got["sweeps"]) != 2 {
		t.Errorf("salvaged %d alpha trials, %d beta trials, %d sweeps", len(got["trials/alpha"]), len(got["trials/beta"]), len(got["sweeps"]))
	}
	checkSalvaged(t, f, out, srep)
}

// TestLostBase: a base that is gone, and a sweep record that cannot
// rebuild it, make every trial of the sweep bad: the reads skip them and
// log a bounded number, the report lists a bounded number and counts the
// rest.
func TestLostBase(t *testing.T) {
	f := newFixture(t)
	path := copyFile(t, f.path, -1)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketBases).Delete([]byte(f.alpha[0].BaseId)); err != nil {
			return err
		}
		sw := new(pb.Sweep)
		if err := proto.Unmarshal(tx.Bucket(bucketSweeps).Get([]byte("alpha")), sw); err != nil {
			return err
		}
		sw.SpecJson = ""
		return putProto(tx.Bucket(bucketSweeps), "alpha", sw)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(prev)
	st, err := Open(copyFile(t, path, -1))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := st.Trials("alpha", "", func(*pb.Trial) bool { n++; return true }); err != nil || n != 0 {
		t.Errorf("Trials: %d, %v", n, err)
	}
	if err := st.RawTrials("alpha", func(*pb.Trial) bool { n++; return true }); err != nil || n != 600 {
		t.Errorf("RawTrials: %d, %v", n, err)
	}
	if bad := st.BadRecords(); len(bad) != 600 || !strings.Contains(bad[0].Err.Error(), "not found") {
		t.Errorf("%d bad records: %v", len(bad), bad[:min(1, len(bad))])
	}
	st.Close()
	if lines := strings.Count(logs.String(), "\n"); lines != maxLogged+1 || !strings.Contains(logs.String(), "no longer logged one by one") {
		t.Errorf("%d lines logged:\n%s", lines, logs.String())
	}
	rep, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	_ = rep.WriteText(&text, false)
	if len(rep.Bad) != 600 || !strings.Contains(text.String(), "is lost: its spec cannot be rebuilt") ||
		!strings.Contains(text.String(), fmt.Sprintf("trials/alpha: %d more", 600-maxListed)) {
		t.Errorf("%d bad records; report:\n%s", len(rep.Bad), text.String())
	}
}

// pageOf returns the leaf page of the latest tree holding a key of a
// sweep's trials.
func pageOf(t *testing.T, path, sweep, key string) uint64 {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	fi, _ := fh.Stat()
	m := metaOf(t, path)
	tr := &tree{meta: m, buckets: map[string]*nested{}, pages: &pageFile{r: fh, size: fi.Size(), pageSize: m.pageSize, hwm: m.hwm}}
	ref, ok, _ := tr.lookup([]string{"trials", sweep})
	if !ok || ref.root == 0 {
		t.Fatal("no paged bucket")
	}
	var find func(id uint64) uint64
	find = func(id uint64) uint64 {
		buf, err := tr.pages.read(id)
		if err != nil {
			t.Fatal(err)
		}
		if native.Uint16(buf[8:]) == leafPage {
			found := false
			(&walker{p: tr.pages, seen: map[uint64]bool{}, fn: func(e entry) { found = found || string(e.key) == key }}).leaf(buf, "")
			if found {
				return id
			}
			return 0
		}
		for i := range int(native.Uint16(buf[10:])) {
			if p := find(native.Uint64(buf[pageHeaderSize+i*elementSize+8:])); p != 0 {
				return p
			}
		}
		return 0
	}
	return find(ref.root)
}

// TestGarbledPage: a leaf page of the last transaction zeroed, then filled
// with garbage. Check reports the page, and Salvage takes its records from
// the transaction before, whose copy of the page bbolt left whole.
func TestGarbledPage(t *testing.T) {
	f := newFixture(t)
	page := pageOf(t, f.path, "alpha", f.last)
	m := metaOf(t, f.path)
	for _, fill := range []byte{0, 0xA5} {
		t.Run(fmt.Sprintf("fill %#x", fill), func(t *testing.T) {
			path := copyFile(t, f.path, -1)
			data, _ := os.ReadFile(path)
			copy(data[int64(page)*m.pageSize:], bytes.Repeat([]byte{fill}, int(m.pageSize)))
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			// The file is whole, so it opens; bbolt's panic on the page
			// becomes an error of the read, the other reads unharmed. (On a
			// copy: Open writes a transaction, which would replace the
			// previous one that Salvage reads below.)
			st, err := Open(copyFile(t, path, -1))
			if err != nil {
				t.Fatal(err)
			}
			err = st.AllTrials(func(*pb.Trial) {})
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "read the trials of sweep alpha") {
				t.Errorf("AllTrials over a garbled page: %v", err)
			}
			if sws, err := st.ListSweeps(); err != nil || len(sws) != 2 {
				t.Errorf("ListSweeps: %v, %v", sws, err)
			}
			st.Close()
			rep, err := Check(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(rep.Damage, "\n"), fmt.Sprintf("trials/alpha: page %d:", page)) {
				t.Errorf("Check damage %q", rep.Damage)
			}
			out := filepath.Join(t.TempDir(), "salvaged.db")
			srep, err := Salvage(path, out)
			if err != nil {
				t.Fatal(err)
			}
			checkSalvaged(t, f, out, srep)
			got := readAll(t, out)
			if len(got["trials/alpha"]) != 600 || srep.Previous == 0 {
				t.Errorf("salvage kept %d alpha trials, %d from the previous transaction", len(got["trials/alpha"]), srep.Previous)
			}
			// The last transaction's trial comes back as it was before it.
			prev := new(pb.Trial)
			if err := proto.Unmarshal(got["trials/alpha"][f.last], prev); err != nil || prev.State != pb.TrialState_TRIAL_STATE_PENDING {
				t.Errorf("trial of the last transaction: %v, %v", prev, err)
			}
		})
	}
}

// TestBranchPastTheFile: a branch page whose child lies past the end of
// the file but inside bbolt's memory map, where reading it faults (SIGBUS).
// The read fails with ErrDamaged; the process lives on.
func TestBranchPastTheFile(t *testing.T) {
	f := newFixture(t)
	m := metaOf(t, f.path)
	path := copyFile(t, f.path, -1)
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := fh.Stat()
	tr := &tree{meta: m, buckets: map[string]*nested{}, pages: &pageFile{r: fh, size: fi.Size(), pageSize: m.pageSize, hwm: m.hwm}}
	ref, ok, _ := tr.lookup([]string{"trials", "alpha"})
	fh.Close()
	if !ok || ref.root == 0 {
		t.Fatal("no paged bucket")
	}
	data, _ := os.ReadFile(path)
	root := data[int64(ref.root)*m.pageSize:]
	if native.Uint16(root[8:]) != branchPage {
		t.Fatal("the bucket's root is not a branch page")
	}
	// Past the end of the file (its pages and bbolt's preallocation), inside
	// the memory map of either open path.
	past := uint64(fi.Size()/m.pageSize) + 100
	native.PutUint64(root[pageHeaderSize+8:], past)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, open := range map[string]func(string) (*Store, error){"Open": Open, "OpenReadOnly": OpenReadOnly} {
		st, err := open(path)
		if err != nil {
			t.Fatal(err)
		}
		err = st.RawTrials("alpha", func(*pb.Trial) bool { return true })
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "reading its pages faulted") {
			t.Errorf("%s: RawTrials over a page past the file: %v", name, err)
		}
		st.Close()
	}
	rep, err := Check(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(rep.Damage, "\n"), fmt.Sprintf("trials/alpha: page %d: outside the file's pages", past)) {
		t.Errorf("Check damage %q", rep.Damage)
	}
}

// TestSalvageOldSchema salvages a version-1 database (trials carrying
// their spec JSON) with one trial that is not protobuf: the copy keeps the
// others and is migrated to this version when it is written.
func TestSalvageOldSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		if err := meta.Put(keySchema, []byte("1")); err != nil {
			return err
		}
		sw, _ := tx.CreateBucket(bucketSweeps)
		if err := putProto(sw, "s", &pb.Sweep{Id: "s", TrialCount: 3}); err != nil {
			return err
		}
		trials, _ := tx.CreateBucket(bucketTrials)
		tb, _ := trials.CreateBucket([]byte("s"))
		for _, id := range []string{"t1", "t2"} {
			if err := putProto(tb, id, &pb.Trial{SweepId: "s", Id: id, SpecJson: v1Spec,
				State: pb.TrialState_TRIAL_STATE_SUCCEEDED, Result: &pb.TrialResult{TestAcc: 0.7}}); err != nil {
				return err
			}
		}
		return tb.Put([]byte("t3"), []byte("\xff\xff not protobuf"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	rep, err := Check(path)
	if err != nil || len(rep.Bad) != 1 || rep.Bad[0].Key != "t3" || rep.Schema != 1 {
		t.Fatalf("Check: %+v, %v", rep, err)
	}
	out := filepath.Join(t.TempDir(), "salvaged.db")
	if _, err := Salvage(path, out); err != nil {
		t.Fatal(err)
	}
	st, err := Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var ids []string
	if err := st.Trials("s", "", func(tr *pb.Trial) bool {
		ids = append(ids, tr.Id)
		if tr.SpecJson != v1Spec || tr.BaseId == "" || tr.Result.GetTestAcc() != 0.7 {
			t.Errorf("salvaged trial %v", tr)
		}
		return true
	}); err != nil || fmt.Sprint(ids) != "[t1 t2]" {
		t.Errorf("salvaged trials %v, %v", ids, err)
	}
	if sw, err := st.GetSweep("s"); err != nil || sw.TrialCount != 2 {
		t.Errorf("salvaged sweep %v, %v", sw, err)
	}
}

// TestMetaPages: with the latest meta page damaged, bbolt uses the other
// one, and so does the check: the file opens. With both damaged the file
// is refused, and Salvage still reads it by the meta page whose fields
// hold (its checksum aside).
func TestMetaPages(t *testing.T) {
	f := newFixture(t)
	m := metaOf(t, f.path)
	sum := func(page int64) int64 { return page*m.pageSize + pageHeaderSize + metaSumOffset }
	path := copyFile(t, f.path, -1)
	data, _ := os.ReadFile(path)
	data[sum(int64(m.page))] ^= 1
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if other := metaOf(t, path); other.page == m.page || other.txid != m.txid-1 {
		t.Fatalf("meta page used: %d (txid %d); the damaged one was %d (txid %d)", other.page, other.txid, m.page, m.txid)
	}
	st, err := Open(copyFile(t, path, -1))
	if err != nil {
		t.Fatalf("Open with one meta page damaged: %v", err)
	}
	st.Close()

	data[sum(int64(1-m.page))] ^= 1
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path)
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "neither meta page is valid (page 0: checksum mismatch; page 1: checksum mismatch)") ||
		!strings.Contains(err.Error(), "run flatsweep db salvage") {
		t.Errorf("Open with both meta pages damaged: %v", err)
	}
	out := filepath.Join(t.TempDir(), "salvaged.db")
	rep, err := Salvage(path, out)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, kept := rep.Records(); kept != 609 || !strings.Contains(strings.Join(rep.Notes, "\n"), "whose checksum is wrong") {
		t.Errorf("salvage kept %d records; notes %q", kept, rep.Notes)
	}
	checkSalvaged(t, f, out, rep)
}

// TestNotADatabase: files that are not bbolt databases are refused by
// every open path and reported by Check.
func TestNotADatabase(t *testing.T) {
	dir := t.TempDir()
	for name, data := range map[string][]byte{
		"zeros": make([]byte, 16384),
		"text":  []byte("name: alpha\ngrid: {}\n"),
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "neither meta page is valid") {
			t.Errorf("%s: Open: %v", name, err)
		}
		if _, err := OpenReadOnly(path); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: OpenReadOnly: %v", name, err)
		}
		rep, err := Check(path)
		if err != nil || !rep.Damaged() {
			t.Errorf("%s: Check: %v, %v", name, rep, err)
		}
		if _, err := Salvage(path, filepath.Join(dir, name+".out")); !errors.Is(err, ErrDamaged) {
			t.Errorf("%s: Salvage: %v", name, err)
		}
	}
}

// TestCheckLockedDatabase: Check refuses a file a running coordinator holds.
func TestCheckLockedDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := Check(path); !errors.Is(err, ErrLocked) {
		t.Errorf("Check of a locked file: %v", err)
	}
	if _, err := Check(filepath.Join(t.TempDir(), "missing.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check of a missing file: %v", err)
	}
}
