package store

import (
	"bytes"
	"os"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/flatsweep/flatsweep/proto/flatsweep/v1"
	"github.com/flatsweep/flatsweep/spec"
	"github.com/flatsweep/flatsweep/sweeps"
)

// FuzzDecodeTrialRecord decodes a stored trial record (a pb.Trial, which
// carries its spec as spec_json or as a base ID and axis values) and a
// stored base, as the store does when it reads a trial's spec. It requires
// no panic, and a spec rebuilt from a base to give its values back: the
// values the base reads from it rebuild the same spec.
func FuzzDecodeTrialRecord(f *testing.F) {
	y, err := os.ReadFile("../../sweeps/testdata/identity/axes.yaml")
	if err != nil {
		f.Fatal(err)
	}
	s, err := sweeps.Parse(y, "axes.yaml")
	if err != nil {
		f.Fatal(err)
	}
	e := sweeps.NewExpander(s)
	base := Base{Spec: s.Base()}
	for _, a := range e.Axes {
		base.Axes = append(base.Axes, a.Path)
	}
	id, js, err := base.Encode()
	if err != nil {
		f.Fatal(err)
	}
	e.Each(func(tr *sweeps.Trial) {
		if tr.Index > 3 {
			return
		}
		vals := make([]string, len(e.Axes))
		for j := range e.Axes {
			vals[j] = e.Value(j)
		}
		rec := &pb.Trial{SweepId: s.Name, Id: tr.ID, State: pb.TrialState_TRIAL_STATE_SUCCEEDED,
			Index: int32(tr.Index), BaseId: id, AxisValues: vals, Result: &pb.TrialResult{TestAcc: 0.5}}
		b, err := proto.Marshal(rec)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, js)
		canon, err := spec.Canonical(tr.Spec)
		if err != nil {
			f.Fatal(err)
		}
		b, err = proto.Marshal(&pb.Trial{SweepId: s.Name, Id: tr.ID, SpecJson: string(canon), V2Axes: []float64{1, 2}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, []byte(`{"axes":["lr"],"spec":`+string(canon)+`}`))
	})
	f.Add([]byte{}, []byte(`{"axes":["dataset","model.hidden","curvature.measures"],"spec":{}}`))
	f.Add([]byte{0x0a, 0xff}, []byte(`{"axes":[""],"spec":null}`))
	f.Fuzz(func(t *testing.T, record, baseJSON []byte) {
		tr := new(pb.Trial)
		if err := proto.Unmarshal(record, tr); err != nil {
			return
		}
		get := func(string) (Base, error) { return DecodeBase(baseJSON) }
		st, err := (&Store{}).trialSpec(get, tr)
		if err != nil || tr.BaseId == "" {
			return
		}
		b, _ := get(tr.BaseId)
		vals, err := b.Values(st)
		if err != nil {
			t.Fatalf("the base cannot read back the values it set: %v", err)
		}
		st2, err := b.Trial(vals)
		if err != nil {
			t.Fatalf("the values read back (%q) do not rebuild the spec: %v", vals, err)
		}
		c, err := spec.Canonical(st)
		if err != nil {
			return // a value JSON cannot encode, which only validation would catch
		}
		if c2, err := spec.Canonical(st2); err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("rebuilding from the values read back changes the spec (%v):\n%s\n%s", err, c, c2)
		}
	})
}
