package spec_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestArchitectureBatchNormDropout: batch norm after each hidden dense layer
// and convolution (2 parameters per feature or channel), dropout after each
// hidden dense activation only.
func TestArchitectureBatchNormDropout(t *testing.T) {
	type L = spec.ArchLayer
	const (
		dense = spec.LayerDense
		relu  = spec.LayerReLU
		conv  = spec.LayerConv
		pool  = spec.LayerMaxPool
		bn    = spec.LayerBatchNorm
		drop  = spec.LayerDropout
	)
	mlp := smallSpec() // 16 features, 4 classes
	mlp.Model.BatchNorm, mlp.Model.Dropout = true, 0.5
	resmlp := smallSpec()
	resmlp.Model = spec.Model{Arch: "resmlp", Width: 12, Blocks: 2, BatchNorm: true, Dropout: 0.5}
	cnn := idxSpec("d") // 1×28×28, conv [3], hidden [8], 10 classes
	cnn.Model.BatchNorm, cnn.Model.Dropout = true, 0.25
	for _, c := range []struct {
		name   string
		t      spec.Trial
		layers []L
		params int
	}{
		{"mlp", mlp, []L{{dense, 16, 16, 272}, {bn, 16, 16, 32}, {relu, 16, 16, 0}, {drop, 16, 16, 0},
			{dense, 16, 16, 272}, {bn, 16, 16, 32}, {relu, 16, 16, 0}, {drop, 16, 16, 0}, {dense, 16, 4, 68}}, 676},
		{"resmlp", resmlp, []L{{dense, 16, 12, 204}, {bn, 12, 12, 24}, {relu, 12, 12, 0}, {drop, 12, 12, 0},
			{spec.LayerResidual, 12, 12, 336}, {spec.LayerResidual, 12, 12, 336}, {dense, 12, 4, 52}}, 952},
		{"cnn", cnn, []L{{conv, 784, 3 * 784, 78}, {bn, 3 * 784, 3 * 784, 6}, {relu, 3 * 784, 3 * 784, 0}, {pool, 3 * 784, 3 * 196, 0},
			{dense, 588, 8, 4712}, {bn, 8, 8, 16}, {relu, 8, 8, 0}, {drop, 8, 8, 0}, {dense, 8, 10, 90}}, 4902},
	} {
		a, err := c.t.Architecture()
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(a.Layers, c.layers) || a.Params != c.params {
			t.Errorf("%s:\n got %v, P = %d\nwant %v, P = %d", c.name, a.Layers, a.Params, c.layers, c.params)
		}
		if err := c.t.Validate(); err != nil {
			t.Errorf("%s: valid spec rejected: %v", c.name, err)
		}
	}
	swa := mlp
	swa.SWA.Start = 2
	if err := swa.Validate(); err != nil {
		t.Errorf("batch norm with swa rejected: %v", err)
	}
}

// TestValidateBatchNormDropout: the errors name model.dropout and
// model.batchnorm.
func TestValidateBatchNormDropout(t *testing.T) {
	for _, c := range []struct {
		field, problem string
		mutate         func(*spec.Trial)
	}{
		{"model.dropout", "[0, 1)", func(s *spec.Trial) { s.Model.Dropout = 1 }},
		{"model.dropout", "[0, 1)", func(s *spec.Trial) { s.Model.Dropout = -0.1 }},
		{"model.dropout", "[0, 1)", func(s *spec.Trial) { s.Model.Dropout = math.NaN() }},
		{"model.batchnorm", "batch_size ≥ 2", func(s *spec.Trial) { s.Model.BatchNorm, s.BatchSize = true, 1 }},
	} {
		s := smallSpec()
		c.mutate(&s)
		err := s.Validate()
		checkField(t, c.field, c.field, err)
		if err != nil && !strings.Contains(err.Error(), c.problem) {
			t.Errorf("%s: error %q does not say %q", c.field, err, c.problem)
		}
	}
}

// TestModelJSONKeys: the keys are model.batchnorm and model.dropout, left
// out when off (so that the identity of existing specs is unchanged).
func TestModelJSONKeys(t *testing.T) {
	b, err := json.Marshal(spec.Model{Arch: "mlp", Hidden: []int{4}, BatchNorm: true, Dropout: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"batchnorm":true`) || !strings.Contains(string(b), `"dropout":0.5`) {
		t.Errorf("JSON %s lacks the keys", b)
	}
	b, _ = json.Marshal(spec.Model{Arch: "mlp", Hidden: []int{4}})
	if strings.Contains(string(b), "batchnorm") || strings.Contains(string(b), "dropout") {
		t.Errorf("JSON %s has keys for off options", b)
	}
}
