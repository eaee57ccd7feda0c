package spec_test

import (
	"math"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestValidateSAM: every sam and swa setting is checked, and the error names
// the field and its value (smallSpec: N = 256, B = 32, 3 epochs).
func TestValidateSAM(t *testing.T) {
	for _, c := range []struct {
		field, want string
		mutate      func(*spec.Trial)
	}{
		{"sam.rho", "must be finite and ≥ 0", func(s *spec.Trial) { s.SAM.Rho = -1 }},
		{"sam.rho", "must be finite and ≥ 0", func(s *spec.Trial) { s.SAM.Rho = math.NaN() }},
		{"sam.rho", "must be finite and ≥ 0", func(s *spec.Trial) { s.SAM.Rho = math.Inf(1) }},
		{"sam.eta", "must be finite and > 0", func(s *spec.Trial) { s.SAM = spec.SAM{Rho: 1, Adaptive: true, Eta: -0.01} }},
		{"sam.eta", "must be finite and > 0", func(s *spec.Trial) { s.SAM = spec.SAM{Rho: 1, Adaptive: true, Eta: math.NaN()} }},
		{"sam.eta", "only for adaptive SAM", func(s *spec.Trial) { s.SAM = spec.SAM{Rho: 1, Eta: 0.1} }},
		{"sam.adaptive", "needs sam.rho > 0", func(s *spec.Trial) { s.SAM.Adaptive = true }},
		{"sam.m", "must be ≥ 0", func(s *spec.Trial) { s.SAM = spec.SAM{Rho: 0.05, M: -2} }},
		{"sam.m", "needs sam.rho > 0", func(s *spec.Trial) { s.SAM.M = 8 }},
		{"sam.m", "does not divide the batch size 32", func(s *spec.Trial) { s.SAM = spec.SAM{Rho: 0.05, M: 5} }},
		{"sam.m", "does not divide the batch size 32", func(s *spec.Trial) { s.SAM = spec.SAM{Rho: 0.05, M: 64} }},
		// B = 32, then 32·10 = 320 clamped to N = 240, which m = 32 does
		// not divide.
		{"sam.m", "does not divide the batch size 240 (batch_size 32 under schedule.batch)", func(s *spec.Trial) {
			s.Dataset.N, s.SAM = 240, spec.SAM{Rho: 0.05, M: 32}
			s.Schedule.Batch = spec.BatchSchedule{Milestones: []int{1}, Factor: 10}
		}},
		{"swa.start", "must be ≥ 1", func(s *spec.Trial) { s.SWA.Start = -1 }},
		{"swa.start", "must be ≤ epochs (3)", func(s *spec.Trial) { s.SWA.Start = 4 }},
		// 256/32 = 8 steps per epoch: 20 steps are 3 epochs, the last partial.
		{"swa.start", "must be ≤ 3, the number of epochs 20 steps take", func(s *spec.Trial) { s.Epochs, s.Steps, s.SWA.Start = 0, 20, 4 }},
		// 2 epochs of 8 steps at B = 32, then 2 steps per epoch at B = 128:
		// 19 steps are 4 epochs.
		{"swa.start", "must be ≤ 4, the number of epochs 19 steps take", func(s *spec.Trial) {
			s.Epochs, s.Steps, s.SWA.Start = 0, 19, 5
			s.Schedule.Batch = spec.BatchSchedule{Milestones: []int{2}, Factor: 4}
		}},
	} {
		s := smallSpec()
		c.mutate(&s)
		err := s.Validate()
		checkField(t, c.field, c.field, err)
		if err != nil && !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.field, err, c.want)
		}
	}
	for name, mutate := range map[string]func(*spec.Trial){
		"sam":              func(s *spec.Trial) { s.SAM.Rho = 0.05 },
		"asam":             func(s *spec.Trial) { s.SAM = spec.SAM{Rho: 1, Adaptive: true, Eta: 0.1} },
		"m dividing B":     func(s *spec.Trial) { s.SAM = spec.SAM{Rho: 0.05, M: 8} },
		"m = B":            func(s *spec.Trial) { s.SAM = spec.SAM{Rho: 0.05, M: 32} },
		"swa last epoch":   func(s *spec.Trial) { s.SWA.Start = 3 },
		"swa partial last": func(s *spec.Trial) { s.Epochs, s.Steps, s.SWA.Start = 0, 17, 3 },
		"swa after schedule": func(s *spec.Trial) {
			s.Epochs, s.Steps, s.SWA.Start = 0, 19, 4
			s.Schedule.Batch = spec.BatchSchedule{Milestones: []int{2}, Factor: 4}
		},
		"m dividing every scheduled B": func(s *spec.Trial) {
			s.SAM = spec.SAM{Rho: 0.05, M: 16}
			s.Schedule.Batch = spec.BatchSchedule{Milestones: []int{1, 2}, Factor: 4} // 32, 128, 256
		},
	} {
		s := smallSpec()
		mutate(&s)
		if err := s.Validate(); err != nil {
			t.Errorf("%s: valid spec rejected: %v", name, err)
		}
	}
}

// TestSAMIdentity: the zero SAM and SWA leave the JSON (hence every existing
// ID) unchanged; set, they are written under "sam" and "swa"; ASAM's
// default η written out is the same trial as η omitted.
func TestSAMIdentity(t *testing.T) {
	plain := smallSpec()
	c, err := spec.Canonical(plain)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(c), "sam") || strings.Contains(string(c), "swa") {
		t.Errorf("zero SAM/SWA written: %s", c)
	}
	s := smallSpec()
	s.SAM, s.SWA = spec.SAM{Rho: 0.5, Adaptive: true, M: 8}, spec.SWA{Start: 2}
	c, _ = spec.Canonical(s)
	if !strings.HasSuffix(string(c), `"sam":{"rho":0.5,"adaptive":true,"m":8},"swa":{"start":2}}`) {
		t.Errorf("canonical: %s", c)
	}
	if spec.ID(s) == spec.ID(plain) {
		t.Error("SAM does not change the ID")
	}
	explicit := s
	explicit.SAM.Eta = spec.DefaultSAMEta
	if spec.ID(explicit.Resolved()) != spec.ID(s.Resolved()) {
		t.Error("writing ASAM's default η changes the ID")
	}
	if got := s.WithDefaults().SAM.Eta; got != spec.DefaultSAMEta {
		t.Errorf("WithDefaults: η = %v", got)
	}
	if got := (spec.Trial{}).WithDefaults().SAM; got != (spec.SAM{}) {
		t.Errorf("WithDefaults of no SAM: %+v", got)
	}
	d, err := spec.DecodeTrial(c)
	if err != nil || d.SAM != s.SAM || d.SWA != s.SWA {
		t.Errorf("round trip: %+v %+v, %v", d.SAM, d.SWA, err)
	}
}

// TestSAMAxes: sam_rho and sam_m are optional grid axes after weight_decay,
// setting sam.rho and sam.m.
func TestSAMAxes(t *testing.T) {
	names := spec.AxisNames()
	want := []string{"n", "momentum", "weight_decay", "sam_rho", "sam_m", "batch_size", "lr", "seed"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("axes %v, want %v", names, want)
	}
	for axis, path := range map[string]string{"sam_rho": "sam.rho", "sam_m": "sam.m"} {
		if p, ok := spec.AxisPath(axis); !ok || p != path {
			t.Errorf("%s: path %q, %v", axis, p, ok)
		}
	}
	g := spec.Grid{BatchSize: []int{8}, LR: []float64{0.1}, Seed: []int64{1}, SAMRho: []float64{0, 0.05}, SAMM: []int{0, 4}}
	if g.Len() != 4 || len(g.Swept()) != 5 {
		t.Errorf("%d points, %d swept axes", g.Len(), len(g.Swept()))
	}
}
