package spec_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestArchitecture: the layers of each architecture, with reference widths
// and parameter counts. (Package compute's TestArchitectureMatchesNetwork
// checks that the networks it builds have these layers.)
func TestArchitecture(t *testing.T) {
	type L = spec.ArchLayer
	const (
		dense = spec.LayerDense
		relu  = spec.LayerReLU
		tanh  = spec.LayerTanh
		conv  = spec.LayerConv
		pool  = spec.LayerMaxPool
		res   = spec.LayerResidual
	)
	mlp := smallSpec() // 16 features, 4 classes
	resmlp := smallSpec()
	resmlp.Model = spec.Model{Arch: "resmlp", Width: 12, Blocks: 2, Activation: "tanh", Loss: "mse"}
	cnn := idxSpec("d") // 1×28×28, 10 classes
	cnn.Model.Conv = []int{3, 4}
	cifar := idxSpec("d")
	cifar.Dataset.Name = "cifar10"
	for _, c := range []struct {
		name        string
		t           spec.Trial
		layers      []L
		params      int
		dense, dinh []int
	}{
		{"mlp", mlp, []L{{dense, 16, 16, 272}, {relu, 16, 16, 0}, {dense, 16, 16, 272}, {relu, 16, 16, 0}, {dense, 16, 4, 68}},
			612, []int{0, 2, 4}, []int{0, 2}},
		{"resmlp", resmlp, []L{{dense, 16, 12, 204}, {tanh, 12, 12, 0}, {res, 12, 12, 312}, {res, 12, 12, 312}, {dense, 12, 4, 52}},
			880, []int{0, 4}, nil},
		{"cnn", cnn, []L{{conv, 784, 3 * 784, 78}, {relu, 3 * 784, 3 * 784, 0}, {pool, 3 * 784, 3 * 196, 0},
			{conv, 3 * 196, 4 * 196, 304}, {relu, 4 * 196, 4 * 196, 0}, {pool, 4 * 196, 4 * 49, 0},
			{dense, 196, 8, 1576}, {relu, 8, 8, 0}, {dense, 8, 10, 90}}, 2048, []int{6, 8}, []int{6}},
		{"cnn cifar10", cifar, []L{{conv, 3072, 3 * 1024, 228}, {relu, 3072, 3072, 0}, {pool, 3072, 768, 0},
			{dense, 768, 8, 6152}, {relu, 8, 8, 0}, {dense, 8, 10, 90}}, 6470, []int{3, 5}, []int{3}},
	} {
		a, err := c.t.Architecture()
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !reflect.DeepEqual(a.Layers, c.layers) || a.Params != c.params {
			t.Errorf("%s:\n got %v, P = %d\nwant %v, P = %d", c.name, a.Layers, a.Params, c.layers, c.params)
		}
		sum := 0
		for _, l := range a.Layers {
			sum += l.Params
		}
		if sum != a.Params {
			t.Errorf("%s: layer parameters sum to %d, P = %d", c.name, sum, a.Params)
		}
		if !slices.Equal(a.DenseLayers(), c.dense) || !slices.Equal(a.DinhPairs(), c.dinh) {
			t.Errorf("%s: dense layers %v (want %v), Dinh pairs %v (want %v)", c.name, a.DenseLayers(), c.dense, a.DinhPairs(), c.dinh)
		}
		if a.Arch != c.t.Model.Arch {
			t.Errorf("%s: Arch %q", c.name, a.Arch)
		}
	}
	if a, _ := resmlp.Architecture(); a.Loss != "mse" {
		t.Errorf("resmlp loss %q", a.Loss)
	}
	if a, _ := mlp.Architecture(); a.Loss != "ce" || !slices.Equal(a.Kinds(), []spec.LayerKind{dense, relu, dense, relu, dense}) {
		t.Errorf("mlp loss %q, kinds %v", a.Loss, a.Kinds())
	}
	// A resmlp without blocks has one Dense–ReLU–Dense pair.
	resmlp.Model = spec.Model{Arch: "resmlp", Width: 5}
	if a, _ := resmlp.Architecture(); !slices.Equal(a.DinhPairs(), []int{0}) || a.Params != 16*5+5+5*4+4 {
		t.Errorf("resmlp without blocks: %v, P = %d", a.DinhPairs(), a.Params)
	}

	// Inputs.
	for _, c := range []struct {
		d    spec.Dataset
		want spec.Input
	}{
		{spec.Dataset{Name: "synthetic"}, spec.Input{Features: 16, Classes: 4}},
		{spec.Dataset{Name: "synthetic", Features: 3, Classes: 7}, spec.Input{Features: 3, Classes: 7}},
		{spec.Dataset{Name: "kmnist"}, spec.Input{Features: 784, Classes: 10, Image: spec.Image{C: 1, H: 28, W: 28}}},
		{spec.Dataset{Name: "cifar10"}, spec.Input{Features: 3072, Classes: 10, Image: spec.Image{C: 3, H: 32, W: 32}}},
	} {
		if got := (spec.Trial{Dataset: c.d}).Input(); got != c.want {
			t.Errorf("Input(%+v) = %+v, want %+v", c.d, got, c.want)
		}
	}

	// Too small an image, too many parameters.
	small := idxSpec("d")
	small.Model.Conv = []int{2, 2, 2, 2, 2, 2}
	_, err := small.Architecture()
	if fe := fieldError(t, "too many pooling stages", err); fe != nil && (fe.Field != "model.conv[4]" || fe.Value != "2") {
		t.Errorf("too many pooling stages: %v", fe)
	}
	huge := smallSpec()
	huge.Model.Hidden = []int{65536, 65536, 65536}
	_, err = huge.Architecture()
	if fe := fieldError(t, "too many parameters", err); fe != nil && (fe.Field != "model.hidden" || fe.Value != "[65536 65536 65536]") {
		t.Errorf("too many parameters: %v", fe)
	}
}
