package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
)

func trials(sweep string, ids ...string) []*pb.Trial {
	out := make([]*pb.Trial, len(ids))
	for i, id := range ids {
		out[i] = &pb.Trial{SweepId: sweep, Id: id, SpecJson: `{"x":` + id + `}`, State: pb.TrialState_TRIAL_STATE_PENDING}
	}
	return out
}

func TestPutSweepIsIdempotentAndGrows(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sw := &pb.Sweep{Id: "s", SpecYaml: "a"}
	added, created, err := st.PutSweep(sw, trials("s", "1", "2"), nil)
	if err != nil || !created || len(added) != 2 {
		t.Fatalf("first put: added %d created %v err %v", len(added), created, err)
	}
	if _, err := st.UpdateTrial("s", "1", func(tr *pb.Trial) error {
		tr.State = pb.TrialState_TRIAL_STATE_SUCCEEDED
		tr.Result = &pb.TrialResult{TestAcc: 0.5}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	added, created, err = st.PutSweep(sw, trials("s", "1", "2", "3"), nil)
	if err != nil || created || len(added) != 1 || added[0].Id != "3" {
		t.Fatalf("second put: added %v created %v err %v", added, created, err)
	}
	got, err := st.GetSweep("s")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[pb.TrialState]int{}
	if err := st.Trials("s", "", func(tr *pb.Trial) bool { counts[tr.State]++; return true }); err != nil {
		t.Fatal(err)
	}
	if got.TrialCount != 3 || counts[pb.TrialState_TRIAL_STATE_SUCCEEDED] != 1 || counts[pb.TrialState_TRIAL_STATE_PENDING] != 2 {
		t.Fatalf("sweep counts: %d trials, %v", got.TrialCount, counts)
	}
	tr, err := st.GetTrial("s", "1")
	if err != nil || tr.State != pb.TrialState_TRIAL_STATE_SUCCEEDED || tr.Result.GetTestAcc() != 0.5 {
		t.Fatalf("resubmission touched a finished trial: %v %v", tr, err)
	}
}

func TestResultsSurviveReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PutSweep(&pb.Sweep{Id: "s"}, trials("s", "a", "b"), nil); err != nil {
		t.Fatal(err)
	}
	want := &pb.TrialResult{TrainAcc: 0.9, TestAcc: 0.8, LambdaMax: 12.5, Curve: []*pb.EpochMetrics{{Epoch: 1, TestAcc: 0.7}}}
	if _, err := st.UpdateTrial("s", "b", func(tr *pb.Trial) error {
		tr.State, tr.Result = pb.TrialState_TRIAL_STATE_SUCCEEDED, want
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tr, err := st.GetTrial("s", "b")
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(tr.Result, want) {
		t.Fatalf("after reopen: %v, want %v", tr.Result, want)
	}
}

func TestUpdateTrialErrorWritesNothing(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := st.PutSweep(&pb.Sweep{Id: "s"}, trials("s", "a"), nil); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err = st.UpdateTrial("s", "a", func(tr *pb.Trial) error {
		tr.State = pb.TrialState_TRIAL_STATE_RUNNING
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	tr, _ := st.GetTrial("s", "a")
	if tr.State != pb.TrialState_TRIAL_STATE_PENDING {
		t.Fatalf("state %v written despite error", tr.State)
	}
	if _, err := st.GetTrial("s", "zz"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing trial: err = %v, want ErrNotFound", err)
	}
	if _, err := st.GetSweep("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing sweep: err = %v, want ErrNotFound", err)
	}
}

func TestTrialsPaging(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, err := st.PutSweep(&pb.Sweep{Id: "s"}, trials("s", "c", "a", "b", "d"), nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := st.Trials("s", "b", func(tr *pb.Trial) bool { got = append(got, tr.Id); return true }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0] != "c" || got[1] != "d" {
		t.Fatalf("after b: %v, want [c d]", got)
	}
}

func TestRejectsOtherSchemaVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		return b.Put(keySchema, []byte("99"))
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path); !errors.Is(err, ErrSchema) {
		t.Fatalf("Open = %v, want ErrSchema", err)
	}
}

// v1Spec is a version-1 stored trial spec (canonical JSON).
const v1Spec = `{"dataset":{"name":"synthetic","n":1024,"n_test":1024,"features":16,"classes":4,"label_noise":0.2,"seed":1},"model":{"arch":"mlp","hidden":[64,64],"activation":"relu"},"batch_size":16,"lr":0.05,"epochs":20,"seed":1,"curvature":{"examples":512,"lanczos_steps":20,"tol":0.001}}`

// v1HugeSpec is v1Spec with a seed beyond 2^53, which a version-1 trial
// held exactly in its spec JSON.
const v1HugeSpec = `{"dataset":{"name":"synthetic","n":1024,"n_test":1024,"features":16,"classes":4,"label_noise":0.2,"seed":1},"model":{"arch":"mlp","hidden":[64,64],"activation":"relu"},"batch_size":16,"lr":0.05,"epochs":20,"seed":9007199254740993,"curvature":{"examples":512,"lanczos_steps":20,"tol":0.001}}`

// TestMigrateV1ToV3 opens a version-1 database, whose trials carry their
// spec JSON and no base: each trial is stored as a base and its exact axis
// values, its spec rebuilds byte for byte, and its result stays.
func TestMigrateV1ToV3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	hugeID := spec.IDOf([]byte(v1HugeSpec))
	// A version-1 database: every trial carries its spec JSON.
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		if err := meta.Put(keySchema, []byte("1")); err != nil {
			return err
		}
		sw, _ := tx.CreateBucket(bucketSweeps)
		if err := putProto(sw, "s", &pb.Sweep{Id: "s", TrialCount: 2}); err != nil {
			return err
		}
		trials, _ := tx.CreateBucket(bucketTrials)
		tb, _ := trials.CreateBucket([]byte("s"))
		if err := putProto(tb, hugeID, &pb.Trial{SweepId: "s", Id: hugeID, SpecJson: v1HugeSpec,
			State: pb.TrialState_TRIAL_STATE_SUCCEEDED, Result: &pb.TrialResult{TestAcc: 0.6}}); err != nil {
			return err
		}
		return putProto(tb, "t1", &pb.Trial{SweepId: "s", Id: "t1", SpecJson: v1Spec,
			State: pb.TrialState_TRIAL_STATE_SUCCEEDED, Result: &pb.TrialResult{TestAcc: 0.7}})
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct {
		id, spec string
		values   string
		acc      float64
	}{
		{"t1", v1Spec, "[16 0.05 1 1024 0 0]", 0.7},
		{hugeID, v1HugeSpec, "[16 0.05 9007199254740993 1024 0 0]", 0.6},
	} {
		tr, err := st.GetTrial("s", c.id)
		if err != nil {
			t.Fatal(err)
		}
		if tr.SpecJson != c.spec {
			t.Fatalf("rebuilt spec differs:\n got %s\nwant %s", tr.SpecJson, c.spec)
		}
		if tr.BaseId == "" || fmt.Sprint(tr.AxisValues) != c.values || len(tr.V2Axes) != 0 || tr.Result.GetTestAcc() != c.acc ||
			tr.State != pb.TrialState_TRIAL_STATE_SUCCEEDED {
			t.Fatalf("migrated trial %v, want axis values %s", tr, c.values)
		}
		var raw []byte
		_ = st.db.View(func(tx *bbolt.Tx) error {
			raw = append(raw, tx.Bucket(bucketTrials).Bucket([]byte("s")).Get([]byte(c.id))...)
			if v := string(tx.Bucket(bucketMeta).Get(keySchema)); v != "3" {
				t.Errorf("schema version %s after migration, want 3", v)
			}
			return nil
		})
		stored := new(pb.Trial)
		if err := proto.Unmarshal(raw, stored); err != nil || stored.SpecJson != "" {
			t.Fatalf("stored trial still carries its spec (%v)", err)
		}
	}
	if sw, err := st.GetSweep("s"); err != nil || sw.TrialCount != 2 {
		t.Fatalf("sweep after migration: %v, %v", sw, err)
	}
}

// TestPutSweepInChunks stores a sweep larger than one transaction's share
// (putChunk) and grows it across chunk boundaries: every trial is stored
// once, in key order, and added reports exactly the new ones.
func TestPutSweepInChunks(t *testing.T) {
	st, err := Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, fmt.Sprintf("t%07d", i))
		}
		return out
	}
	n := 2*putChunk + 17
	sw := &pb.Sweep{Id: "big"}
	added, created, err := st.PutSweep(sw, trials("big", ids(0, n)...), nil)
	if err != nil || !created || len(added) != n {
		t.Fatalf("put %d trials: added %d, created %v, err %v", n, len(added), created, err)
	}
	// Grow it with trials on both sides of what is stored.
	more := append(ids(0, n+putChunk), "a", "u")
	added, created, err = st.PutSweep(sw, trials("big", more...), nil)
	if err != nil || created || len(added) != putChunk+2 {
		t.Fatalf("grow: added %d, created %v, err %v", len(added), created, err)
	}
	got, err := st.GetSweep("big")
	if err != nil || got.TrialCount != int32(n+putChunk+2) {
		t.Fatalf("sweep record: %v, %v", got, err)
	}
	count, prev := 0, ""
	if err := st.RawTrials("big", func(tr *pb.Trial) bool {
		if tr.Id <= prev {
			t.Fatalf("trial %s after %s", tr.Id, prev)
		}
		prev = tr.Id
		count++
		return true
	}); err != nil {
		t.Fatal(err)
	}
	if count != n+putChunk+2 {
		t.Fatalf("%d trials stored, want %d", count, n+putChunk+2)
	}
}

// TestPutSweepDiscardsACutShortSubmission checks that trials a submission
// left without a sweep record (a crash between its transactions) are
// invisible and replaced by the next submission of the sweep.
func TestPutSweepDiscardsACutShortSubmission(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// What the first transactions of a cut-short submission leave behind.
	if err := st.db.Update(func(tx *bbolt.Tx) error {
		tb, err := tx.Bucket(bucketTrials).CreateBucket([]byte("s"))
		if err != nil {
			return err
		}
		for _, id := range []string{"a", "stale"} {
			if err := tb.Put([]byte(id), []byte{}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if sws, err := st.ListSweeps(); err != nil || len(sws) != 0 {
		t.Fatalf("sweeps before the submission: %v, %v", sws, err)
	}
	added, created, err := st.PutSweep(&pb.Sweep{Id: "s"}, trials("s", "a", "b"), nil)
	if err != nil || !created || len(added) != 2 {
		t.Fatalf("put: added %d, created %v, err %v", len(added), created, err)
	}
	var got []string
	if err := st.RawTrials("s", func(tr *pb.Trial) bool { got = append(got, tr.Id); return true }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[a b]" {
		t.Fatalf("trials after the submission: %v, want [a b]", got)
	}
	st.Close()
}
