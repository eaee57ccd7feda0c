package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// bigSeed is 2^53 + 1, which a float64 rounds to roundedSeed (2^53).
const bigSeed, roundedSeed = int64(9007199254740993), int64(9007199254740992)

// v2Sweep is the sweep of the version-2 database: half its trials have a
// seed that the version-2 stored form (axis values as doubles) rounded.
const v2Sweep = `name: old
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {batch_size: [8, 16], lr: [0.1], seed: [1, 9007199254740993]}
`

// v2FullSweep is a sweep that version 2 stored with full specs, as it did
// for the sweeps whose trials its doubles could not hold (when it noticed).
const v2FullSweep = `name: full
dataset: {name: synthetic, n: 64, n_test: 32, seed: 1}
model: {arch: mlp, hidden: [4]}
train: {epochs: 1}
grid: {batch_size: [4], lr: [0.2], seed: [9007199254740993]}
`

// v2Base returns the version-2 base of a trial spec: the canonical JSON of
// the spec with its six axes zeroed, and its ID.
func v2Base(t *testing.T, st spec.Trial) (id string, js []byte) {
	t.Helper()
	st.BatchSize, st.LR, st.Seed = 0, 0, 0
	st.Dataset.N, st.Optimizer.Momentum, st.WeightDecay = 0, 0, 0
	js, err := spec.Canonical(st)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(js)
	return "b-" + hex.EncodeToString(sum[:16]), js
}

// v2Doubles returns a trial spec's version-2 axis values: batch_size, lr,
// seed, n, momentum and weight_decay as doubles.
func v2Doubles(st spec.Trial) []float64 {
	return []float64{float64(st.BatchSize), st.LR, float64(st.Seed), float64(st.Dataset.N), st.Optimizer.Momentum, st.WeightDecay}
}

// parsed parses a sweep file and returns the sweep and its JSON.
func parsed(t *testing.T, yaml string) (spec.Sweep, string) {
	t.Helper()
	s, err := sweeps.Parse([]byte(yaml), "")
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return s, string(js)
}

// encoded returns a message's deterministic encoding.
func encoded(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMigrateV2ToV3 opens a version-2 database by hand: trials stored as
// a base (a spec with its axes zeroed) and six doubles, which rounded a seed
// of 2^53 + 1 to 2^53. After the migration every trial's spec hashes to its
// key, the large seeds are exact, the trial that ran with the rounded seed
// runs again (its record kept in the invalidated bucket), a trial whose
// spec cannot be recovered leaves its sweep for that bucket, and the other
// trials keep their records, results included, byte for byte.
func TestMigrateV2ToV3(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	sw, swJSON := parsed(t, v2Sweep)
	exp := sweeps.Expand(sw) // (8, 1), (8, big), (16, 1), (16, big)
	if len(exp) != 4 || exp[1].Spec.Seed != bigSeed || exp[3].Spec.Seed != bigSeed {
		t.Fatalf("unexpected expansion %v", exp)
	}
	for _, tr := range exp {
		if spec.LegacyID(tr.Spec) != tr.ID {
			t.Fatalf("trial %s: legacy ID %s differs on synthetic data", tr.ID, spec.LegacyID(tr.Spec))
		}
	}
	baseID, baseJSON := v2Base(t, exp[0].Spec)
	at := timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	v2Trial := func(tr sweeps.Trial) *pb.Trial {
		return &pb.Trial{SweepId: "old", Id: tr.ID, Index: int32(tr.Index), BaseId: baseID, V2Axes: v2Doubles(tr.Spec),
			State: pb.TrialState_TRIAL_STATE_PENDING, UpdateTime: at}
	}
	succeeded := func(tr *pb.Trial, attempt int32, acc float64) *pb.Trial {
		tr.State, tr.Attempt, tr.WorkerId, tr.LeaseToken = pb.TrialState_TRIAL_STATE_SUCCEEDED, attempt, "w-1", "tok"
		tr.Result = &pb.TrialResult{TrainAcc: 0.9, TestAcc: acc, LambdaMax: 12.5, DurationSeconds: 3,
			Measures: map[string]float64{"trace": 41.25, "keskar_full_1e-3": 0.125},
			Curve:    []*pb.EpochMetrics{{Epoch: 1, TestAcc: acc - 0.1}}}
		tr.Curve = tr.Result.Curve
		return tr
	}
	normalA := succeeded(v2Trial(exp[0]), 1, 0.7)
	pendingBig := v2Trial(exp[1])
	normalB := succeeded(v2Trial(exp[2]), 2, 0.8)
	normalB.LastError = "an earlier attempt failed"
	ranRounded := succeeded(v2Trial(exp[3]), 1, 0.4)
	// A trial whose exact spec is not in its sweep's expansion (2^53 + 3,
	// which its doubles round too): it cannot be recovered.
	lost := exp[3].Spec
	lost.Seed = bigSeed + 2
	lostTrial := &pb.Trial{SweepId: "old", Id: spec.LegacyID(lost), Index: 4, BaseId: baseID, V2Axes: v2Doubles(lost),
		State: pb.TrialState_TRIAL_STATE_FAILED, Attempt: 1, LastError: "boom", RetryTime: at, UpdateTime: at}
	if int64(float64(lost.Seed)) == lost.Seed {
		t.Fatal("2^53 + 3 survives a float64")
	}
	oldTrials := []*pb.Trial{normalA, pendingBig, normalB, ranRounded, lostTrial}

	fullSw, fullJSON := parsed(t, v2FullSweep)
	fullExp := sweeps.Expand(fullSw)
	fullSpec, err := spec.Canonical(fullExp[0].Spec)
	if err != nil {
		t.Fatal(err)
	}
	fullTrial := succeeded(&pb.Trial{SweepId: "full", Id: fullExp[0].ID, SpecJson: string(fullSpec), UpdateTime: at}, 1, 0.55)

	// The version-2 database.
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		if err := meta.Put(keySchema, []byte("2")); err != nil {
			return err
		}
		sws, _ := tx.CreateBucket(bucketSweeps)
		if err := putProto(sws, "old", &pb.Sweep{Id: "old", SpecYaml: v2Sweep, SpecJson: swJSON, TrialCount: 5}); err != nil {
			return err
		}
		if err := putProto(sws, "full", &pb.Sweep{Id: "full", SpecYaml: v2FullSweep, SpecJson: fullJSON, TrialCount: 1}); err != nil {
			return err
		}
		bases, _ := tx.CreateBucket(bucketBases)
		if err := bases.Put([]byte(baseID), baseJSON); err != nil {
			return err
		}
		trials, _ := tx.CreateBucket(bucketTrials)
		tb, _ := trials.CreateBucket([]byte("old"))
		for _, tr := range oldTrials {
			if err := putProto(tb, tr.Id, tr); err != nil {
				return err
			}
		}
		fb, _ := trials.CreateBucket([]byte("full"))
		return putProto(fb, fullTrial.Id, fullTrial)
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	st, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Every trial's rebuilt spec hashes to its key.
	got := map[string]*pb.Trial{}
	for _, sweep := range []string{"old", "full"} {
		if err := st.Trials(sweep, "", func(tr *pb.Trial) bool {
			got[tr.Id] = tr
			return true
		}); err != nil {
			t.Fatal(err)
		}
	}
	for id, tr := range got {
		s, err := spec.DecodeTrial([]byte(tr.SpecJson))
		if err != nil {
			t.Fatalf("trial %s: %v", id, err)
		}
		if spec.LegacyID(s) != id || spec.ID(s) != id {
			t.Errorf("trial %s: migrated spec hashes to %s (legacy %s)", id, spec.ID(s), spec.LegacyID(s))
		}
		if tr.BaseId == "" || tr.BaseId == baseID || len(tr.AxisValues) != 6 || len(tr.V2Axes) != 0 {
			t.Errorf("trial %s: base %q, axis values %q, axes %v; want a new base and 6 exact values", id, tr.BaseId, tr.AxisValues, tr.V2Axes)
		}
	}
	if len(got) != 5 {
		t.Fatalf("%d trials after the migration, want 5", len(got))
	}
	for _, tr := range append(exp, fullExp...) {
		g := got[tr.ID]
		if g == nil {
			t.Fatalf("trial %s lost", tr.ID)
		}
		want, _ := spec.Canonical(tr.Spec)
		if g.SpecJson != string(want) {
			t.Errorf("trial %s: spec\n%s\nwant the expanded\n%s", tr.ID, g.SpecJson, want)
		}
		if s, _ := spec.DecodeTrial([]byte(g.SpecJson)); s.Seed != tr.Spec.Seed || s.Seed == roundedSeed {
			t.Errorf("trial %s: seed %d, want %d", tr.ID, s.Seed, tr.Spec.Seed)
		}
		if wantSeed := fmt.Sprint(tr.Spec.Seed); g.AxisValues[2] != wantSeed {
			t.Errorf("trial %s: seed stored as %q, want %q", tr.ID, g.AxisValues[2], wantSeed)
		}
	}
	// The trial that ran with the rounded seed runs again, afresh.
	if g := got[ranRounded.Id]; g.State != pb.TrialState_TRIAL_STATE_PENDING || g.Attempt != 0 || g.Result != nil ||
		g.Curve != nil || g.LeaseToken != "" || g.WorkerId != "" ||
		!strings.Contains(g.LastError, fmt.Sprint(roundedSeed)) || !strings.Contains(g.LastError, fmt.Sprint(bigSeed)) {
		t.Errorf("trial that ran with the rounded seed: %v; want pending, attempt 0, no result, a note of the reset", g)
	}
	if g := got[pendingBig.Id]; g.State != pb.TrialState_TRIAL_STATE_PENDING || g.Attempt != 0 || g.LastError != "" {
		t.Errorf("pending large-seed trial: %v", g)
	}
	if sw, err := st.GetSweep("old"); err != nil || sw.TrialCount != 4 {
		t.Errorf("sweep old after the migration: %v, %v; want 4 trials", sw, err)
	}
	if sw, err := st.GetSweep("full"); err != nil || sw.TrialCount != 1 {
		t.Errorf("sweep full after the migration: %v, %v; want 1 trial", sw, err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// What is on disk.
	db, err = bbolt.Open(path, 0o400, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	stored := func(tx *bbolt.Tx, bucket, sweep, id string) *pb.Trial {
		b := tx.Bucket([]byte(bucket)).Bucket([]byte(sweep))
		if b == nil {
			return nil
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		tr := new(pb.Trial)
		if err := proto.Unmarshal(v, tr); err != nil {
			t.Fatal(err)
		}
		return tr
	}
	err = db.View(func(tx *bbolt.Tx) error {
		if v := string(tx.Bucket(bucketMeta).Get(keySchema)); v != "3" {
			t.Errorf("schema version %q after the migration, want 3", v)
		}
		// The old base is gone; the new ones are version-3 bases.
		n := 0
		_ = tx.Bucket(bucketBases).ForEach(func(k, v []byte) error {
			n++
			b, err := DecodeBase(v)
			if err != nil || string(k) == baseID || fmt.Sprint(b.Axes) != fmt.Sprint(v2Axes) {
				t.Errorf("base %s after the migration: %+v, %v", k, b, err)
			}
			return nil
		})
		if n == 0 {
			t.Error("no bases after the migration")
		}
		// The records of the trials that ran with a rounded spec, or whose
		// spec was lost, are kept as they were.
		for _, old := range []*pb.Trial{ranRounded, lostTrial} {
			if g := stored(tx, "invalidated", "old", old.Id); g == nil || !proto.Equal(g, old) {
				t.Errorf("invalidated record of %s: %v, want %v", old.Id, g, old)
			}
		}
		if g := stored(tx, "trials", "old", lostTrial.Id); g != nil {
			t.Errorf("unrecoverable trial %s still in its sweep: %v", lostTrial.Id, g)
		}
		for _, tr := range []*pb.Trial{normalA, pendingBig, normalB} {
			if g := stored(tx, "invalidated", "old", tr.Id); g != nil {
				t.Errorf("trial %s invalidated: %v", tr.Id, g)
			}
		}
		if g := stored(tx, "invalidated", "full", fullTrial.Id); g != nil {
			t.Errorf("trial %s invalidated: %v", fullTrial.Id, g)
		}
		// The other trials keep their records, results included, byte for
		// byte; only their stored spec changes form.
		for _, c := range []struct {
			sweep string
			old   *pb.Trial
		}{{"old", normalA}, {"old", pendingBig}, {"old", normalB}, {"full", fullTrial}} {
			g := stored(tx, "trials", c.sweep, c.old.Id)
			if g == nil {
				t.Errorf("trial %s lost", c.old.Id)
				continue
			}
			if g.SpecJson != "" || len(g.V2Axes) != 0 || g.BaseId == "" || len(g.AxisValues) != 6 {
				t.Errorf("trial %s stored as %v; want a base and axis values only", c.old.Id, g)
			}
			want := proto.Clone(c.old).(*pb.Trial)
			want.SpecJson, want.V2Axes, want.BaseId, want.AxisValues = "", nil, g.BaseId, g.AxisValues
			if string(encoded(t, g)) != string(encoded(t, want)) {
				t.Errorf("trial %s: record\n%v\nwant\n%v", c.old.Id, g, want)
			}
			if c.old.Result != nil && string(encoded(t, g.Result)) != string(encoded(t, c.old.Result)) {
				t.Errorf("trial %s: result %v, want %v", c.old.Id, g.Result, c.old.Result)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Reopened, the database is read as version 3, unchanged.
	st, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for id, before := range got {
		after, err := st.GetTrial(before.SweepId, id)
		if err != nil || !proto.Equal(after, before) {
			t.Errorf("trial %s after reopening: %v, %v; want %v", id, after, err, before)
		}
	}
}

// TestMigrateV2ToV3KeepsCancelledTrialsCancelled checks the large-seed
// trials of a cancelled version-2 sweep: one never ran and is left as it
// is; one ran (with the rounded seed) before the sweep was cancelled, and
// its record is kept in the invalidated bucket. Both stay cancelled with
// their exact spec: a cancelled sweep gets no pending trial.
func TestMigrateV2ToV3KeepsCancelledTrialsCancelled(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v2.db")
	sw, swJSON := parsed(t, strings.Replace(v2Sweep, "seed: [1, 9007199254740993]", "seed: [9007199254740993]", 1))
	exp := sweeps.Expand(sw) // (8, big), (16, big)
	baseID, baseJSON := v2Base(t, exp[0].Spec)
	never := &pb.Trial{SweepId: "old", Id: exp[0].ID, BaseId: baseID, V2Axes: v2Doubles(exp[0].Spec),
		State: pb.TrialState_TRIAL_STATE_CANCELLED}
	ran := &pb.Trial{SweepId: "old", Id: exp[1].ID, Index: 1, BaseId: baseID, V2Axes: v2Doubles(exp[1].Spec),
		State: pb.TrialState_TRIAL_STATE_CANCELLED, Attempt: 1, WorkerId: "w-1", LeaseToken: "tok",
		Curve: []*pb.EpochMetrics{{Epoch: 1, TestAcc: 0.3}}}
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		meta, _ := tx.CreateBucket(bucketMeta)
		if err := meta.Put(keySchema, []byte("2")); err != nil {
			return err
		}
		sws, _ := tx.CreateBucket(bucketSweeps)
		if err := putProto(sws, "old", &pb.Sweep{Id: "old", SpecJson: swJSON, TrialCount: 2, Cancelled: true}); err != nil {
			return err
		}
		bases, _ := tx.CreateBucket(bucketBases)
		if err := bases.Put([]byte(baseID), baseJSON); err != nil {
			return err
		}
		trials, _ := tx.CreateBucket(bucketTrials)
		tb, _ := trials.CreateBucket([]byte("old"))
		for _, tr := range []*pb.Trial{never, ran} {
			if err := putProto(tb, tr.Id, tr); err != nil {
				return err
			}
		}
		return nil
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
	for _, old := range []*pb.Trial{never, ran} {
		g, err := st.GetTrial("old", old.Id)
		if err != nil {
			t.Fatal(err)
		}
		s, err := spec.DecodeTrial([]byte(g.SpecJson))
		if err != nil || s.Seed != bigSeed || spec.ID(s) != old.Id {
			t.Errorf("trial %s: spec %s (%v), want seed %d hashing to its ID", old.Id, g.SpecJson, err, bigSeed)
		}
		if g.State != pb.TrialState_TRIAL_STATE_CANCELLED {
			t.Errorf("cancelled trial %s is %s after the migration", old.Id, StateName(g.State))
		}
	}
	if g, _ := st.GetTrial("old", never.Id); g.LastError != "" || g.Attempt != 0 {
		t.Errorf("trial that never ran: %v; want it untouched", g)
	}
	if g, _ := st.GetTrial("old", ran.Id); g.Attempt != 0 || g.Curve != nil || g.LeaseToken != "" {
		t.Errorf("trial that ran with the rounded seed: %v; want its attempt and curve gone", g)
	}
	_ = st.db.View(func(tx *bbolt.Tx) error {
		gb := tx.Bucket(bucketGone).Bucket([]byte("old"))
		if gb == nil || gb.Get([]byte(ran.Id)) == nil {
			t.Errorf("the record of %s, which ran with the rounded seed, is not in the invalidated bucket", ran.Id)
		}
		if gb != nil && gb.Get([]byte(never.Id)) != nil {
			t.Errorf("%s, which never ran, was invalidated", never.Id)
		}
		return nil
	})
}
