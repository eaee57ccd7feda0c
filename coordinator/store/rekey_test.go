package store

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// idxDir writes a directory with the four MNIST file names (the migration
// only hashes them, so any bytes do).
func idxDir(t *testing.T, content string) string {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(name+content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func fileSweep(t *testing.T, dir string) spec.Sweep {
	t.Helper()
	s, err := sweeps.Parse([]byte(`name: files
dataset: {name: mnist, dir: `+dir+`, n: 100, n_test: 50}
model: {arch: mlp, hidden: [8]}
train: {epochs: 1}
grid: {batch_size: [10, 20], lr: [0.1], seed: [1, 2]}
`), "files.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// putLegacy stores a sweep as flatsweep stored it before content identity:
// its trials keyed by the hash of their specs with the dataset's path and
// no digest. It returns the stored trials.
func putLegacy(t *testing.T, st *Store, s spec.Sweep) []*pb.Trial {
	t.Helper()
	trials, id, js := expandTrials(t, s, false)
	canon, _ := json.Marshal(s)
	if _, _, err := st.PutSweep(&pb.Sweep{Id: s.Name, SpecJson: string(canon)}, trials, map[string][]byte{id: js}); err != nil {
		t.Fatal(err)
	}
	for _, tr := range trials {
		if tr.Id != spec.LegacyID(mustSpec(t, st, tr)) {
			t.Fatalf("trial %s is not keyed by its legacy identity", tr.Id)
		}
	}
	return trials
}

func mustSpec(t *testing.T, st *Store, tr *pb.Trial) spec.Trial {
	t.Helper()
	sp, err := st.Spec(tr)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// contentIDs returns the trial IDs a submission of s with the files at dir
// gives today (the client resolves the digests).
func contentIDs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	s := fileSweep(t, dir)
	if err := s.ResolveFiles(); err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, tr := range sweeps.Expand(s) {
		ids[tr.ID] = true
	}
	return ids
}

// TestMigrateContentIdentity: trials stored with path identity get the IDs
// a submission gives them today, keep their state and result, and stay
// found when the files move; the old IDs are kept as aliases, and a second
// run changes nothing.
func TestMigrateContentIdentity(t *testing.T) {
	dir := idxDir(t, "v1")
	st, err := Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	legacy := putLegacy(t, st, fileSweep(t, dir))
	res := &pb.TrialResult{TestAcc: 0.75, LambdaMax: 3, DurationSeconds: 2}
	if _, err := st.UpdateTrial("files", legacy[0].Id, func(tr *pb.Trial) error {
		tr.State, tr.Result, tr.Attempt = pb.TrialState_TRIAL_STATE_SUCCEEDED, res, 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	done, err := st.MigrateContentIdentity(func(tr *spec.Trial) error { return tr.ResolveFiles() })
	if err != nil || len(done) != 1 || done[0].Trials != 4 || done[0].Unresolved != 0 || done[0].Merged != 0 {
		t.Fatalf("migrate: %+v, %v", done, err)
	}
	moved := t.TempDir() // the same files somewhere else
	for _, name := range []string{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if err := os.WriteFile(filepath.Join(moved, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := contentIDs(t, moved)
	aliases, err := st.Aliases("files")
	if err != nil || len(aliases) != 4 {
		t.Fatalf("aliases %v, %v", aliases, err)
	}
	n := 0
	err = st.Trials("files", "", func(tr *pb.Trial) bool {
		n++
		sp := mustSpec(t, st, tr)
		if !want[tr.Id] || spec.ID(sp) != tr.Id || sp.Dataset.SHA256 == "" || sp.Dataset.Dir != dir {
			t.Errorf("trial %s: not its content ID (spec %s, digest %q, dir %q)", tr.Id, spec.ID(sp), sp.Dataset.SHA256, sp.Dataset.Dir)
		}
		if tr.Id == aliases[legacy[0].Id] && (tr.State != pb.TrialState_TRIAL_STATE_SUCCEEDED || tr.Result.TestAcc != 0.75 || tr.Attempt != 1) {
			t.Errorf("the finished trial lost its state: %v %v", tr.State, tr.Result)
		}
		return true
	})
	if err != nil || n != 4 {
		t.Fatalf("%d trials, %v", n, err)
	}
	sw, _ := st.GetSweep("files")
	if s, err := spec.DecodeSweep([]byte(sw.SpecJson)); err != nil || s.Dataset.SHA256 == "" || sw.TrialCount != 4 {
		t.Errorf("sweep record: digest %q, count %d, %v", s.Dataset.SHA256, sw.TrialCount, err)
	}
	if again, err := st.MigrateContentIdentity(func(tr *spec.Trial) error { return tr.ResolveFiles() }); err != nil || len(again) != 0 {
		t.Errorf("second run: %+v, %v", again, err)
	}
	if changed := contentIDs(t, idxDir(t, "v2")); changed[aliases[legacy[0].Id]] {
		t.Error("files with another content give the same IDs")
	}
}

// TestMigrateContentIdentityMerges: when the sweep was resubmitted (with
// content identity) before the migration, the more advanced record of each
// trial stays and the other moves to the invalidated bucket; trials whose
// files cannot be read keep their identity.
func TestMigrateContentIdentityMerges(t *testing.T) {
	dir := idxDir(t, "v1")
	st, err := Open(filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	legacy := putLegacy(t, st, fileSweep(t, dir))
	if _, err := st.UpdateTrial("files", legacy[1].Id, func(tr *pb.Trial) error {
		tr.State, tr.Result = pb.TrialState_TRIAL_STATE_SUCCEEDED, &pb.TrialResult{TestAcc: 0.5}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// The resubmission stored the four trials again under their content IDs.
	s := fileSweep(t, dir)
	if err := s.ResolveFiles(); err != nil {
		t.Fatal(err)
	}
	var fresh []*pb.Trial
	for _, tr := range sweeps.Expand(s) {
		js, _ := spec.Canonical(tr.Spec)
		fresh = append(fresh, &pb.Trial{SweepId: "files", Id: tr.ID, SpecJson: string(js), State: pb.TrialState_TRIAL_STATE_PENDING})
	}
	if _, _, err := st.PutSweep(&pb.Sweep{Id: "files"}, fresh, nil); err != nil {
		t.Fatal(err)
	}
	done, err := st.MigrateContentIdentity(func(tr *spec.Trial) error { return tr.ResolveFiles() })
	if err != nil || len(done) != 1 || done[0].Trials != 4 || done[0].Merged != 4 {
		t.Fatalf("migrate: %+v, %v", done, err)
	}
	n, succeeded := 0, 0
	_ = st.Trials("files", "", func(tr *pb.Trial) bool {
		n++
		if tr.State == pb.TrialState_TRIAL_STATE_SUCCEEDED && tr.Result.TestAcc == 0.5 {
			succeeded++
		}
		return true
	})
	if sw, _ := st.GetSweep("files"); n != 4 || succeeded != 1 || sw.TrialCount != 4 {
		t.Errorf("%d trials (%d succeeded), count %d; want 4 trials, the result kept", n, succeeded, sw.TrialCount)
	}

	// Unreadable files: nothing changes.
	st2, err := Open(filepath.Join(t.TempDir(), "db2"))
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	gone := idxDir(t, "x")
	putLegacy(t, st2, fileSweep(t, gone))
	os.RemoveAll(gone)
	done, err = st2.MigrateContentIdentity(func(tr *spec.Trial) error { return tr.ResolveFiles() })
	if err != nil || len(done) != 1 || done[0].Trials != 0 || done[0].Unresolved != 4 || !strings.Contains(done[0].Err.Error(), "dataset.dir") {
		t.Fatalf("unreadable files: %+v, %v", done, err)
	}
}

// expandTrials returns a sweep's trials as pending records over one base —
// the sweep's spec with the paths of its swept axes, those fields set to 0
// when zeroAxes (as the coordinator stores them) — with the base's ID and
// encoding.
func expandTrials(tb testing.TB, s spec.Sweep, zeroAxes bool) (trials []*pb.Trial, baseID string, baseJSON []byte) {
	tb.Helper()
	e := sweeps.NewExpander(s)
	base := Base{Spec: s.Base()}
	for _, a := range e.Axes {
		base.Axes = append(base.Axes, a.Path)
		if zeroAxes {
			if err := spec.SetJSON(&base.Spec, a.Path, "0"); err != nil {
				tb.Fatal(err)
			}
		}
	}
	baseID, baseJSON, err := base.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	e.Each(func(tr *sweeps.Trial) {
		vals := make([]string, len(e.Axes))
		for j := range e.Axes {
			vals[j] = e.Value(j)
		}
		trials = append(trials, &pb.Trial{SweepId: s.Name, Id: tr.ID, State: pb.TrialState_TRIAL_STATE_PENDING,
			Index: int32(tr.Index), BaseId: baseID, AxisValues: vals, UpdateTime: timestamppb.Now()})
	})
	return trials, baseID, baseJSON
}
