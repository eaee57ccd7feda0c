package spec_test

import (
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestValidatePrecision: precision takes "float64" and "float32", and
// float32 is refused, naming the field and what it does not support, for
// every setting the float32 trainer does not implement.
func TestValidatePrecision(t *testing.T) {
	for _, p := range []string{"", "float64", "float32"} {
		s := smallSpec()
		s.Precision = p
		if err := s.Validate(); err != nil {
			t.Errorf("precision %q rejected: %v", p, err)
		}
	}
	for _, c := range []struct {
		want   string
		mutate func(*spec.Trial)
	}{
		{"unknown precision", func(s *spec.Trial) { s.Precision = "float16" }},
		{`"mlp" only, not "resmlp"`, func(s *spec.Trial) {
			s.Precision, s.Model = "float32", spec.Model{Arch: "resmlp", Width: 8, Blocks: 1}
		}},
		{"model.batchnorm", func(s *spec.Trial) { s.Precision, s.Model.BatchNorm = "float32", true }},
		{"model.dropout", func(s *spec.Trial) { s.Precision, s.Model.Dropout = "float32", 0.1 }},
		{"sam", func(s *spec.Trial) { s.Precision, s.SAM.Rho = "float32", 0.05 }},
	} {
		s := smallSpec()
		c.mutate(&s)
		err := s.Validate()
		checkField(t, c.want, "precision", err)
		if err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not say %q", c.want, err, c.want)
		}
	}
	// A command trial's program trains the model: the precision is its
	// placeholder, not checked against the model.
	s := smallSpec()
	s.Precision, s.Model.BatchNorm = "float32", true
	s.Command = spec.Command{Argv: []string{"train.py", "--precision", "{precision}"}}
	if err := s.Validate(); err != nil {
		t.Errorf("command trial with float32: %v", err)
	}
}

// TestPrecisionResolved: "float64" written out is the default, left out of
// the canonical form (so the trial ID is that of a spec without it), and
// "float32" is kept.
func TestPrecisionResolved(t *testing.T) {
	s := smallSpec()
	id := spec.ID(s.Resolved())
	s.Precision = "float64"
	if r := s.Resolved(); r.Precision != "" || spec.ID(r) != id {
		t.Errorf("float64 resolves to %q, ID %s (want %s)", r.Precision, spec.ID(r), id)
	}
	s.Precision = "float32"
	if r := s.Resolved(); r.Precision != "float32" || spec.ID(r) == id {
		t.Errorf("float32 resolves to %q, ID %s", r.Precision, spec.ID(r))
	}
	b, err := spec.Canonical(s)
	if err != nil || !strings.Contains(string(b), `"precision":"float32"`) {
		t.Errorf("canonical form %s, %v", b, err)
	}
}
