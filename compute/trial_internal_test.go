package compute

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/spec"
)

// TestWarmStart: a warm-started trial starts from exactly the saved weights,
// records their digest, checks a given digest, and is deterministic.
func TestWarmStart(t *testing.T) {
	ts := spec.Trial{
		Dataset:   spec.Dataset{Name: "synthetic", N: 128, NTest: 64, Seed: 3},
		Model:     spec.Model{Arch: "resmlp", Width: 8, Blocks: 1, Activation: "relu"},
		BatchSize: 16, LR: 0.05, Epochs: 2, Seed: 4,
		Curvature: spec.Curvature{LanczosSteps: 4},
	}
	_, first, err := Run(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "w.safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteWeights(f, first.Net, first.Theta, nil); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, _ := os.ReadFile(path)
	sum := sha256.Sum256(b)
	digest := hex.EncodeToString(sum[:])

	warm := ts
	warm.WarmStart = spec.WarmStart{Path: path, SHA256: digest}
	theta0, got, err := initialParams(warm, first.Net)
	if err != nil || got != digest || !slices.Equal(theta0, first.Theta) {
		t.Fatalf("initial params: err %v, digest %s (want %s), equal %v", err, got, digest, slices.Equal(theta0, first.Theta))
	}
	a, err := RunTrial(context.Background(), warm, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := RunTrial(context.Background(), warm, nil)
	if a.WarmStartSHA256 != digest || !reflect.DeepEqual(a.WithoutTimes(), again.WithoutTimes()) {
		t.Errorf("warm start: digest %q, deterministic %v", a.WarmStartSHA256, reflect.DeepEqual(a.WithoutTimes(), again.WithoutTimes()))
	}
	fresh, _ := RunTrial(context.Background(), ts, nil)
	if fresh.Curve[0].TrainLoss == a.Curve[0].TrainLoss {
		t.Error("warm start made no difference")
	}
	warm.WarmStart.SHA256 = strings.Repeat("0", 64)
	if _, err := RunTrial(context.Background(), warm, nil); !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), "warm_start.sha256") {
		t.Errorf("digest mismatch: %v", err)
	}
	warm.WarmStart = spec.WarmStart{Path: filepath.Join(t.TempDir(), "missing")}
	if _, err := RunTrial(context.Background(), warm, nil); err == nil || !strings.Contains(err.Error(), "warm_start.path") {
		t.Errorf("missing file: %v", err)
	}
	other := ts
	other.Model.Width = 9
	other.WarmStart = spec.WarmStart{Path: path}
	if _, err := RunTrial(context.Background(), other, nil); err == nil {
		t.Error("weights of another network accepted")
	}
}

// archSpecs is a varied set of trial specs for TestArchitectureMatchesNetwork.
func archSpecs() map[string]spec.Trial {
	base := func(m spec.Model) spec.Trial {
		return spec.Trial{
			Dataset: spec.Dataset{Name: "synthetic", N: 64, NTest: 32, Features: 7, Classes: 3, Seed: 1},
			Model:   m, BatchSize: 8, LR: 0.1, Epochs: 1, Seed: 1,
		}
	}
	mnist := func(m spec.Model) spec.Trial {
		t := base(m)
		t.Dataset = spec.Dataset{Name: "mnist", Dir: "d", N: 64, NTest: 32, Seed: 1}
		return t
	}
	out := map[string]spec.Trial{}
	for _, act := range []string{"relu", "tanh"} {
		for _, hidden := range [][]int{{5}, {6, 4}, {3, 8, 2}} {
			out[fmt.Sprintf("mlp %s %v", act, hidden)] = base(spec.Model{Arch: "mlp", Hidden: hidden, Activation: act})
		}
		for blocks := range 4 {
			out[fmt.Sprintf("resmlp %s %d blocks", act, blocks)] = base(spec.Model{Arch: "resmlp", Width: 6, Blocks: blocks, Activation: act})
		}
		for _, c := range []struct{ conv, hidden []int }{{[]int{2}, nil}, {[]int{3}, []int{8}}, {[]int{2, 4}, []int{5, 3}}} {
			out[fmt.Sprintf("cnn %s %v %v", act, c.conv, c.hidden)] = mnist(spec.Model{Arch: "cnn", Conv: c.conv, Hidden: c.hidden, Activation: act})
		}
	}
	mse := base(spec.Model{Arch: "mlp", Hidden: []int{4, 4}, Loss: "mse"})
	mse.Dataset.Features, mse.Dataset.Classes = 0, 0 // the default input
	out["mlp mse default activation"] = mse
	out["resmlp mse"] = base(spec.Model{Arch: "resmlp", Width: 5, Blocks: 2, Activation: "tanh", Loss: "mse"})
	out["cnn mse"] = mnist(spec.Model{Arch: "cnn", Conv: []int{2}, Hidden: []int{4}, Loss: "mse"})
	cifar := mnist(spec.Model{Arch: "cnn", Conv: []int{2, 3}, Hidden: []int{4}, Activation: "relu"})
	cifar.Dataset.Name = "cifar10"
	out["cnn cifar10"] = cifar
	out["mlp batchnorm dropout"] = base(spec.Model{Arch: "mlp", Hidden: []int{6, 4}, Activation: "relu", BatchNorm: true, Dropout: 0.5})
	out["mlp dropout"] = base(spec.Model{Arch: "mlp", Hidden: []int{5}, Activation: "tanh", Dropout: 0.2})
	out["cnn batchnorm dropout"] = mnist(spec.Model{Arch: "cnn", Conv: []int{2, 3}, Hidden: []int{4}, BatchNorm: true, Dropout: 0.5})
	out["resmlp batchnorm dropout"] = base(spec.Model{Arch: "resmlp", Width: 6, Blocks: 2, Activation: "tanh", BatchNorm: true, Dropout: 0.2})
	out["resmlp batchnorm"] = base(spec.Model{Arch: "resmlp", Width: 5, Blocks: 1, BatchNorm: true})
	out["cnn batchnorm"] = mnist(spec.Model{Arch: "cnn", Conv: []int{2}, Activation: "tanh", BatchNorm: true})
	return out
}

// archDiff returns the differences between two architectures' layers and
// parameter counts, "" when they agree.
func archDiff(want, got spec.Architecture) string {
	var diffs []string
	if len(want.Layers) != len(got.Layers) {
		diffs = append(diffs, fmt.Sprintf("%d layers, want %d (%v vs %v)", len(got.Layers), len(want.Layers), got.Kinds(), want.Kinds()))
	}
	for i := range min(len(want.Layers), len(got.Layers)) {
		if w, g := want.Layers[i], got.Layers[i]; w != g {
			diffs = append(diffs, fmt.Sprintf("layer %d is %+v, want %+v", i, g, w))
		}
	}
	if want.Params != got.Params {
		diffs = append(diffs, fmt.Sprintf("P = %d, want %d", got.Params, want.Params))
	}
	if !slices.Equal(want.DenseLayers(), got.DenseLayers()) || !slices.Equal(want.DinhPairs(), got.DinhPairs()) {
		diffs = append(diffs, fmt.Sprintf("dense layers %v and Dinh pairs %v, want %v and %v",
			got.DenseLayers(), got.DinhPairs(), want.DenseLayers(), want.DinhPairs()))
	}
	return strings.Join(diffs, "; ")
}

// TestArchitectureMatchesNetwork: spec.Trial.Architecture, which validation
// and the measures' checks rely on, describes exactly the network that
// buildNetwork builds: the same top-level layers (kinds, widths, parameters)
// and the same P.
func TestArchitectureMatchesNetwork(t *testing.T) {
	for name, ts := range archSpecs() {
		if err := ts.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		want, err := ts.Architecture()
		if err != nil {
			t.Errorf("%s: Architecture: %v", name, err)
			continue
		}
		in := ts.Input()
		net, err := buildNetwork(ts.Model, in.Features, in.Classes, in.Image)
		if err != nil {
			t.Errorf("%s: buildNetwork: %v", name, err)
			continue
		}
		got := architectureOf(net)
		if d := archDiff(want, got); d != "" {
			t.Errorf("%s: the built network differs from spec.Architecture: %s", name, d)
		}
		sum := 0
		for _, l := range got.Layers {
			sum += l.Params
		}
		if sum != net.NumParams() || net.InSize() != in.Features || net.OutSize() != in.Classes {
			t.Errorf("%s: layers hold %d of P = %d parameters; network %d → %d, want %d → %d",
				name, sum, net.NumParams(), net.InSize(), net.OutSize(), in.Features, in.Classes)
		}
		if wantLoss := cmp.Or(ts.Model.Loss, spec.LossCE); want.Loss != wantLoss {
			t.Errorf("%s: Architecture.Loss %q, want %q", name, want.Loss, wantLoss)
		}
	}
	// The comparison sees a difference in any of kinds, widths, parameters
	// and P.
	ts := archSpecs()["cnn relu [2 4] [5 3]"]
	a, err := ts.Architecture()
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func(*spec.Architecture){
		"kind":   func(a *spec.Architecture) { a.Layers[1].Kind = spec.LayerTanh },
		"in":     func(a *spec.Architecture) { a.Layers[3].In++ },
		"out":    func(a *spec.Architecture) { a.Layers[5].Out-- },
		"params": func(a *spec.Architecture) { a.Layers[0].Params++ },
		"P":      func(a *spec.Architecture) { a.Params++ },
		"layers": func(a *spec.Architecture) { a.Layers = a.Layers[:len(a.Layers)-1] },
	} {
		b := a
		b.Layers = slices.Clone(a.Layers)
		mutate(&b)
		if archDiff(a, b) == "" {
			t.Errorf("a change of %s goes unnoticed", name)
		}
	}
}
