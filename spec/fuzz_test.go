package spec_test

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// goldenSpecs returns the sweep JSON and trial canonical JSON of the
// trial-identity corpus (sweeps/testdata/identity.golden.json).
func goldenSpecs(f *testing.F) (sweeps, trials [][]byte) {
	b, err := os.ReadFile("../sweeps/testdata/identity.golden.json")
	if err != nil {
		f.Fatal(err)
	}
	var golden map[string]struct {
		Sweep  string `json:"sweep"`
		Trials []struct {
			Canonical string `json:"canonical"`
		} `json:"trials"`
	}
	if err := json.Unmarshal(b, &golden); err != nil {
		f.Fatal(err)
	}
	for _, g := range golden {
		sweeps = append(sweeps, []byte(g.Sweep))
		for _, t := range g.Trials {
			trials = append(trials, []byte(t.Canonical))
		}
	}
	if len(sweeps) == 0 || len(trials) == 0 {
		f.Fatal("empty identity corpus")
	}
	return sweeps, trials
}

// FuzzDecodeTrial requires DecodeTrial never to panic, and every decoded
// trial that validates to have a canonical form that decodes to itself, and
// a resolved form that validates and is its own resolved form.
func FuzzDecodeTrial(f *testing.F) {
	_, trials := goldenSpecs(f)
	for _, b := range trials {
		f.Add(b)
	}
	for _, t := range []spec.Trial{smallSpec(), idxSpec("data/mnist"), measureSpec(), dinhSpec()} {
		b, err := spec.Canonical(t)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"dataset":{"name":"synthetic","n":1e400}}`))
	f.Add([]byte(`{"unknown":1}`))
	f.Add([]byte(`{} {}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := spec.DecodeTrial(b)
		if err != nil || tr.Validate() != nil {
			return
		}
		roundTrip(t, tr)
		r := tr.Resolved()
		if err := r.Validate(); err != nil {
			t.Fatalf("the resolved form of a valid trial is invalid: %v\n%s", err, b)
		}
		c, _ := spec.Canonical(r)
		c2, _ := spec.Canonical(r.Resolved())
		if !bytes.Equal(c, c2) {
			t.Fatalf("resolving twice changes the trial:\n%s\n%s", c, c2)
		}
		roundTrip(t, r)
	})
}

// roundTrip fails t unless tr's canonical form decodes to a trial with the
// same canonical form and ID.
func roundTrip(t *testing.T, tr spec.Trial) {
	t.Helper()
	c, err := spec.Canonical(tr)
	if err != nil {
		t.Fatalf("a valid trial has no canonical form: %v", err)
	}
	tr2, err := spec.DecodeTrial(c)
	if err != nil {
		t.Fatalf("the canonical form does not decode: %v\n%s", err, c)
	}
	c2, err := spec.Canonical(tr2)
	if err != nil || !bytes.Equal(c, c2) {
		t.Fatalf("the canonical form does not round-trip (%v):\n%s\n%s", err, c, c2)
	}
	if spec.ID(tr) != spec.ID(tr2) {
		t.Fatalf("the ID changes in a round trip: %s, %s", spec.ID(tr), spec.ID(tr2))
	}
}

// FuzzDecodeSweep covers the coordinator's validation of a SubmitSweep
// request: spec_json decoded by DecodeSweep, then validated and resolved,
// its canonical JSON stored (and decoded again when the coordinator
// restarts). It requires no panic, and every sweep that validates to resolve
// to a sweep that validates and whose JSON round-trips through DecodeSweep.
func FuzzDecodeSweep(f *testing.F) {
	sweeps, _ := goldenSpecs(f)
	for _, b := range sweeps {
		f.Add(b)
	}
	f.Add([]byte(`{"name":"x","grid":{"batch_size":[1],"lr":[1],"seed":[1],"n":[0]}}`))
	f.Add([]byte(`{"name":"x","train":{"epochs":1,"steps":1}}`))
	f.Add([]byte(`{"name":"g","dataset":{"name":"synthetic","n":64,"n_test":8,"seed":1},"model":{"arch":"mlp","hidden":null,"activation":"relu"},` +
		`"train":{"epochs":1},"curvature":{"lanczos_steps":20,"tol":0.001},"grid":{"batch_size":[8],"lr":null,"seed":[1],` +
		`"axes":{"model.hidden":[[4],[8,8]]},"linked":[{"lr":[0.1,0.2],"optimizer.name":["","adam"]}]},` +
		`"random":{"seed":3,"count":2,"draws":{"weight_decay":{"dist":"log_uniform","low":0.0001,"high":0.01}}}}`))
	f.Add([]byte(`{"name":1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := spec.DecodeSweep(b)
		if err != nil || s.Validate() != nil {
			return
		}
		r := s.Resolved()
		if err := r.Validate(); err != nil {
			t.Fatalf("the resolved form of a valid sweep is invalid: %v\n%s", err, b)
		}
		canon, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("a valid sweep has no JSON form: %v", err)
		}
		r2, err := spec.DecodeSweep(canon)
		if err != nil {
			t.Fatalf("the stored form does not decode: %v\n%s", err, canon)
		}
		if err := r2.Validate(); err != nil {
			t.Fatalf("the stored form is invalid: %v\n%s", err, canon)
		}
		canon2, err := json.Marshal(r2)
		if err != nil || !bytes.Equal(canon, canon2) {
			t.Fatalf("the stored form does not round-trip (%v):\n%s\n%s", err, canon, canon2)
		}
		if c3, _ := json.Marshal(r2.Resolved()); !bytes.Equal(canon, c3) {
			t.Fatalf("resolving twice changes the sweep:\n%s\n%s", canon, c3)
		}
	})
}
