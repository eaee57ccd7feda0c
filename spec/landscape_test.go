package spec_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestLandscapeValidation: every bad setting is a *FieldError naming its
// field under curvature.landscape; good settings pass.
func TestLandscapeValidation(t *testing.T) {
	bad := []struct {
		l    spec.LandscapeSettings
		want string
	}{
		{spec.LandscapeSettings{Points: 11}, "curvature.landscape.dims: required"},
		{spec.LandscapeSettings{Dims: 3}, "curvature.landscape.dims = 3: must be 1 or 2"},
		{spec.LandscapeSettings{Dims: -1}, "curvature.landscape.dims = -1"},
		{spec.LandscapeSettings{Dims: 1, Points: 1}, "curvature.landscape.points = 1"},
		{spec.LandscapeSettings{Dims: 1, Points: -5}, "curvature.landscape.points = -5"},
		{spec.LandscapeSettings{Dims: 2, Points: spec.MaxLandscapePoints + 1}, "curvature.landscape.points = 202"},
		{spec.LandscapeSettings{Dims: 1, Extent: -1}, "curvature.landscape.extent = -1: must be finite and > 0: a grid of zero or negative extent"},
		{spec.LandscapeSettings{Dims: 1, Extent: math.NaN()}, "curvature.landscape.extent = NaN"},
		{spec.LandscapeSettings{Dims: 1, Extent: math.Inf(1)}, "curvature.landscape.extent = +Inf"},
		{spec.LandscapeSettings{Dims: 1, Examples: 257}, "curvature.landscape.examples = 257: must be in 0…dataset.n (256)"},
		{spec.LandscapeSettings{Dims: 1, Examples: -1}, "curvature.landscape.examples = -1"},
		{spec.LandscapeSettings{Dims: 1, TestExamples: 129}, "curvature.landscape.test_examples = 129"},
		{spec.LandscapeSettings{Dims: 1, Bias: "one"}, `curvature.landscape.bias = "one": must be "zero" or "normalize"`},
	}
	for _, c := range bad {
		s := smallSpec()
		s.Curvature.Landscape = c.l
		err := s.Validate()
		if fieldError(t, "landscape", err) == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.l, err, c.want)
		}
	}
	for _, l := range []spec.LandscapeSettings{
		{},
		{Dims: 1},
		{Dims: 2, Points: 5, Extent: 0.5, Examples: 256, TestExamples: 128, Bias: spec.BiasNormalize},
	} {
		s := smallSpec()
		s.Curvature.Landscape = l
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", l, err)
		}
	}
}

// TestLandscapeJSON: the block round-trips through the trial JSON, is left
// out when zero (so specs without it keep their canonical form and ID), and
// settings written with their default values do not change the identity.
func TestLandscapeJSON(t *testing.T) {
	base := smallSpec()
	plain, err := spec.Canonical(base.Resolved())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "landscape") {
		t.Errorf("canonical form without a landscape mentions it: %s", plain)
	}
	s := base
	s.Curvature.Landscape = spec.LandscapeSettings{Dims: 2, Points: 7, Extent: 0.5, Examples: 64, TestExamples: 32, Bias: spec.BiasNormalize}
	js, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"landscape":{"dims":2,"points":7,"extent":0.5,"examples":64,"test_examples":32,"bias":"normalize"}`) {
		t.Errorf("encoding %s", js)
	}
	back, err := spec.DecodeTrial(js)
	if err != nil {
		t.Fatal(err)
	}
	if back.Curvature.Landscape != s.Curvature.Landscape {
		t.Errorf("round trip: %+v, want %+v", back.Curvature.Landscape, s.Curvature.Landscape)
	}
	if spec.ID(back) != spec.ID(s) || spec.ID(s) == spec.ID(base) {
		t.Errorf("IDs: back %s, spec %s, base %s", spec.ID(back), spec.ID(s), spec.ID(base))
	}
	// Defaults written out are the defaults left out.
	short, long := base, base
	short.Curvature.Landscape = spec.LandscapeSettings{Dims: 2}
	long.Curvature.Landscape = spec.LandscapeSettings{Dims: 2, Points: spec.DefaultLandscapePoints2D, Extent: 1,
		Examples: 1000, TestExamples: 1000, Bias: spec.BiasZero}
	if spec.ID(short.Resolved()) != spec.ID(long.Resolved()) {
		t.Errorf("defaults written out change the ID")
	}
	if got := long.Curvature.Landscape.WithDefaults(); got != short.Curvature.Landscape.WithDefaults() {
		t.Errorf("defaults %+v", got)
	}
	if d := (spec.LandscapeSettings{Dims: 1}).WithDefaults(); d.Points != 51 || d.Extent != 1 || d.Examples != 1000 || d.Bias != "zero" {
		t.Errorf("1-D defaults %+v", d)
	}
	// Unknown keys inside the block are errors naming it.
	_, err = spec.DecodeTrial([]byte(strings.Replace(string(js), `"dims":2`, `"dims":2,"size":3`, 1)))
	if err == nil || !strings.Contains(err.Error(), "curvature.landscape") {
		t.Errorf("unknown key: %v", err)
	}
}
