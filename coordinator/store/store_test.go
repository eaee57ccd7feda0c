package store

import (
	"errors"
	"path/filepath"
	"testing"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
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
	added, created, err := st.PutSweep(sw, trials("s", "1", "2"))
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
	added, created, err = st.PutSweep(sw, trials("s", "1", "2", "3"))
	if err != nil || created || len(added) != 1 || added[0].Id != "3" {
		t.Fatalf("second put: added %v created %v err %v", added, created, err)
	}
	got, err := st.GetSweep("s")
	if err != nil {
		t.Fatal(err)
	}
	if got.TrialCount != 3 || got.StateCounts["succeeded"] != 1 || got.StateCounts["pending"] != 2 {
		t.Fatalf("sweep counts: %d trials, %v", got.TrialCount, got.StateCounts)
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
	if _, _, err := st.PutSweep(&pb.Sweep{Id: "s"}, trials("s", "a", "b")); err != nil {
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
	if _, _, err := st.PutSweep(&pb.Sweep{Id: "s"}, trials("s", "a")); err != nil {
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
	if _, _, err := st.PutSweep(&pb.Sweep{Id: "s"}, trials("s", "c", "a", "b", "d")); err != nil {
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
