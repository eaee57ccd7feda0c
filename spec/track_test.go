package spec_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestTrackValidate: every tracking setting is checked, and the error names
// it and its value.
func TestTrackValidate(t *testing.T) {
	good := smallSpec()
	good.Curvature.Track = spec.Track{Every: 2, Unit: spec.TrackStep, Examples: -1, TopK: 3, TraceProbes: 4}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid tracking rejected: %v", err)
	}
	for _, c := range []struct {
		field string
		track spec.Track
	}{
		{"curvature.track.every", spec.Track{Every: 0, Unit: spec.TrackStep}},
		{"curvature.track.every", spec.Track{Every: -1}},
		{"curvature.track.unit", spec.Track{Every: 1, Unit: "epochs"}},
		{"curvature.track.examples", spec.Track{Every: 1, Examples: -2}},
		{"curvature.track.examples", spec.Track{Every: 1, Examples: 257}},
		{"curvature.track.lanczos_steps", spec.Track{Every: 1, LanczosSteps: -1}},
		{"curvature.track.tol", spec.Track{Every: 1, Tol: math.NaN()}},
		{"curvature.track.tol", spec.Track{Every: 1, Tol: -1e-3}},
		{"curvature.track.top_k", spec.Track{Every: 1, TopK: 1}},
		{"curvature.track.trace_probes", spec.Track{Every: 1, TraceProbes: -1}},
	} {
		s := smallSpec()
		s.Curvature.Track = c.track
		checkField(t, c.field, c.field, s.Validate())
	}
}

// TestTrackJSON: the track block round-trips, is left out when zero (so the
// identity of a trial without it is unchanged), changes the identity when
// given, and rejects unknown keys with the field named.
func TestTrackJSON(t *testing.T) {
	s := smallSpec()
	base, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(base), "track") {
		t.Errorf("zero track encoded: %s", base)
	}
	s.Curvature.Track = spec.Track{Every: 5, Unit: spec.TrackStep, TopK: 2}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"track":{"every":5,"unit":"step","top_k":2}`) {
		t.Errorf("track encoding: %s", b)
	}
	var back spec.Trial
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back.Curvature.Track, s.Curvature.Track) {
		t.Errorf("round trip: %v, %+v", err, back.Curvature.Track)
	}
	if spec.ID(smallSpec()) == spec.ID(s) {
		t.Error("tracking does not change the trial ID")
	}
	bad := strings.Replace(string(b), `"top_k":2`, `"topk":2`, 1)
	if err := json.Unmarshal([]byte(bad), &back); err == nil || !strings.Contains(err.Error(), "curvature.track") {
		t.Errorf("unknown track key: %v", err)
	}
}

// TestTrackDefaults: zero settings take their defaults, and the tracking
// subset is capped at the training set (-1: all of it).
func TestTrackDefaults(t *testing.T) {
	k := spec.Track{Every: 1}.WithDefaults(1000)
	if k.Unit != spec.TrackEpoch || k.Examples != spec.DefaultTrackExamples || k.LanczosSteps != spec.DefaultTrackLanczosSteps || k.Tol != spec.DefaultTrackTol {
		t.Errorf("defaults: %+v", k)
	}
	if n := (spec.Track{Every: 1}).WithDefaults(100).Examples; n != 100 {
		t.Errorf("default examples with N = 100: %d", n)
	}
	if n := (spec.Track{Every: 1, Examples: -1}).WithDefaults(5000).Examples; n != 5000 {
		t.Errorf("examples -1 with N = 5000: %d", n)
	}
}

// TestStopValidate: fit targets are checked, and the error names the field.
func TestStopValidate(t *testing.T) {
	s := smallSpec()
	s.Stop = spec.Stop{TrainLoss: 0.01, TrainAcc: 0.99}
	if err := s.Validate(); err != nil {
		t.Fatalf("valid targets rejected: %v", err)
	}
	for _, c := range []struct {
		field string
		stop  spec.Stop
	}{
		{"stop.train_loss", spec.Stop{TrainLoss: -1}},
		{"stop.train_loss", spec.Stop{TrainLoss: math.Inf(1)}},
		{"stop.train_acc", spec.Stop{TrainAcc: 1.01}},
		{"stop.train_acc", spec.Stop{TrainAcc: math.NaN()}},
	} {
		s := smallSpec()
		s.Stop = c.stop
		checkField(t, c.field, c.field, s.Validate())
	}
}

// TestPartialBatchAndEvalEvery: the settings are checked with the field
// named, and their defaults written out keep the trial's ID.
func TestPartialBatchAndEvalEvery(t *testing.T) {
	for _, c := range []struct {
		field string
		edit  func(*spec.Trial)
	}{
		{"partial_batch", func(s *spec.Trial) { s.PartialBatch = "pad" }},
		{"partial_batch", func(s *spec.Trial) { s.PartialBatch, s.SAM = spec.PartialKeep, spec.SAM{Rho: 0.05, M: 8} }},
		{"eval_every", func(s *spec.Trial) { s.EvalEvery = -2 }},
	} {
		s := smallSpec()
		c.edit(&s)
		checkField(t, c.field, c.field, s.Validate())
	}
	keep := smallSpec()
	keep.PartialBatch, keep.EvalEvery = spec.PartialKeep, 5
	if err := keep.Validate(); err != nil {
		t.Fatalf("valid settings rejected: %v", err)
	}
	written := smallSpec()
	written.PartialBatch, written.EvalEvery = spec.PartialDrop, 1
	if spec.ID(written.Resolved()) != spec.ID(smallSpec().Resolved()) {
		t.Error(`writing the defaults partial_batch "drop" and eval_every 1 changes the trial ID`)
	}
	if spec.ID(keep) == spec.ID(smallSpec()) {
		t.Error("partial_batch keep does not change the trial ID")
	}
}
