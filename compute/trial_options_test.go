package compute_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/compute"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/weights"
	"github.com/flatsweep/flatsweep/spec"
)

// writeIDX writes an IDX pair of n images of size×size pixels to dir under the
// given prefix: class c ∈ {0, …, 9} is a bright c-th pixel column plus noise,
// so the task is learnable.
func writeIDX(t *testing.T, dir, prefix string, n, size int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var img, lab bytes.Buffer
	img.Write([]byte{0, 0, 8, 3})
	lab.Write([]byte{0, 0, 8, 1})
	for _, v := range []int{n, size, size} {
		binary.Write(&img, binary.BigEndian, uint32(v))
	}
	binary.Write(&lab, binary.BigEndian, uint32(n))
	for range n {
		c := rng.IntN(10)
		lab.WriteByte(byte(c))
		for y := range size {
			for x := range size {
				p := byte(rng.IntN(60))
				if x == c%size || y == c/size {
					p = 200 + byte(rng.IntN(50))
				}
				img.WriteByte(p)
			}
		}
	}
	for name, b := range map[string][]byte{prefix + "-images-idx3-ubyte": img.Bytes(), prefix + "-labels-idx1-ubyte": lab.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// idxSpec is a trial on a tiny 8×8 IDX dataset in dir (one t10k pair).
func idxSpec(dir string) spec.Trial {
	return spec.Trial{
		Dataset:   spec.Dataset{Name: "mnist", Dir: dir, N: 120, NTest: 60, Seed: 2},
		Model:     spec.Model{Arch: "cnn", Conv: []int{3}, Hidden: []int{8}, Activation: "relu"},
		BatchSize: 20, LR: 0.05, Epochs: 2, Seed: 5,
		Curvature: spec.Curvature{Examples: 40, LanczosSteps: 5},
	}
}

func tinyIDXDir(t *testing.T) string {
	dir := t.TempDir()
	writeIDX(t, dir, "t10k", 200, 8, 1)
	return dir
}

// TestDeterminismNewOptions: each new option runs, and twice gives the same
// bits.
func TestDeterminismNewOptions(t *testing.T) {
	dir := tinyIDXDir(t)
	specs := map[string]spec.Trial{}
	s := smallSpec()
	s.Optimizer = spec.Optimizer{Name: "sgd", Momentum: 0.9, Nesterov: true}
	s.Schedule = spec.Schedule{LR: spec.LRSchedule{Kind: "step", Milestones: []int{1}, Gamma: 0.5},
		Batch: spec.BatchSchedule{Milestones: []int{2}, Factor: 2}}
	s.WeightDecay = 1e-3
	s.Model.Loss = "mse"
	specs["mlp nesterov step schedule batch schedule wd mse"] = s
	s = smallSpec()
	s.Model = spec.Model{Arch: "resmlp", Width: 12, Blocks: 2, Activation: "tanh"}
	s.Optimizer = spec.Optimizer{Name: "adam"}
	s.Schedule.LR = spec.LRSchedule{Kind: "cosine", Floor: 0.1}
	s.Epochs, s.Steps, s.LR = 0, 13, 0.01
	s.Dataset.Standardize = true
	specs["resmlp adam cosine steps standardize"] = s
	s = idxSpec(dir)
	s.Augment.Shift = 2
	s.Dataset.LabelNoise = 0.1
	s.Dataset.Standardize = true
	specs["cnn idx augment label noise"] = s
	for name, ts := range specs {
		t.Run(name, func(t *testing.T) {
			var progress []spec.EpochMetrics
			a, err := compute.RunTrial(context.Background(), ts, func(m spec.EpochMetrics) { progress = append(progress, m) })
			if err != nil {
				t.Fatal(err)
			}
			b, err := compute.RunTrial(context.Background(), ts, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a.WithoutTimes(), b.WithoutTimes()) || math.Float64bits(a.LambdaMax) != math.Float64bits(b.LambdaMax) {
				t.Fatalf("results differ:\n%+v\n%+v", a, b)
			}
			if a.Diverged || !(a.LambdaMax != 0) || a.HVPs == 0 || !reflect.DeepEqual(progress, a.Curve) {
				t.Errorf("result %+v", a)
			}
			last := a.Curve[len(a.Curve)-1]
			if last.Step != a.Steps || last.BatchSize == 0 || !(last.LR > 0) {
				t.Errorf("last epoch %+v, steps %d", last, a.Steps)
			}
			t.Logf("train %.3f test %.3f λ₁ %.4g, %d steps, P=%d", a.TrainAcc, a.TestAcc, a.LambdaMax, a.Steps, a.Params)
		})
	}
	// The options take effect: the step schedule halves ε after epoch 1 and
	// the batch schedule doubles B after epoch 2; the step budget stops after
	// 13 updates of B = 32 on N = 256 (8 per epoch) inside epoch 2.
	a, _ := compute.RunTrial(context.Background(), specs["mlp nesterov step schedule batch schedule wd mse"], nil)
	if c := a.Curve; c[0].LR != 0.1 || c[1].LR != 0.05 || c[2].BatchSize != 64 || a.Steps != 8+8+4 {
		t.Errorf("schedules not applied: %+v", c)
	}
	r, _ := compute.RunTrial(context.Background(), specs["resmlp adam cosine steps standardize"], nil)
	if len(r.Curve) != 2 || r.Curve[1].Epoch != 2 || r.Curve[1].Step != 13 {
		t.Errorf("step budget curve %+v", r.Curve)
	}
	if want := 16*12 + 12 + 2*2*(12*12+12) + 12*4 + 4; r.Params != want {
		t.Errorf("resmlp params %d, want %d", r.Params, want)
	}
}

// TestIDXSources: a directory with one pair is split; explicit paths give the
// same data; too many examples are a spec error.
func TestIDXSources(t *testing.T) {
	dir := tinyIDXDir(t)
	ts := idxSpec(dir)
	ts.Model = spec.Model{Arch: "mlp", Hidden: []int{8}, Activation: "relu"}
	a, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := 64*8 + 8 + 8*10 + 10; a.Params != want {
		t.Errorf("params %d, want %d", a.Params, want)
	}
	ts.Dataset.Dir = ""
	ts.Dataset.TrainImages = filepath.Join(dir, "t10k-images-idx3-ubyte")
	ts.Dataset.TrainLabels = filepath.Join(dir, "t10k-labels-idx1-ubyte")
	b, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil || !reflect.DeepEqual(a.WithoutTimes(), b.WithoutTimes()) {
		t.Errorf("explicit paths: %v\n%+v\n%+v", err, a, b)
	}
	// A separate test pair.
	writeIDX(t, dir, "train", 150, 8, 3)
	ts = idxSpec(dir)
	ts.Model.Conv = []int{2, 2} // 8 → 4 → 2
	if _, err := compute.RunTrial(context.Background(), ts, nil); err != nil {
		t.Errorf("train and test pairs: %v", err)
	}
	ts.Dataset.N = 151
	if _, err := compute.RunTrial(context.Background(), ts, nil); !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), "dataset.n = 151") {
		t.Errorf("n too large: %v", err)
	}
	ts.Dataset.N, ts.Dataset.NTest = 100, 201
	if _, err := compute.RunTrial(context.Background(), ts, nil); !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), "dataset.n_test = 201") {
		t.Errorf("n_test too large: %v", err)
	}
	ts = idxSpec(t.TempDir())
	if _, err := compute.RunTrial(context.Background(), ts, nil); !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), "dataset.dir") {
		t.Errorf("empty dir: %v", err)
	}
	ts = idxSpec("")
	ts.Dataset.TrainImages, ts.Dataset.TrainLabels = filepath.Join(dir, "nope"), filepath.Join(dir, "nope2")
	if _, err := compute.RunTrial(context.Background(), ts, nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing file: %v", err)
	}
}

// TestMNIST trains on the shared MNIST split with a small N.
func TestMNIST(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "mnist")
	if _, err := os.Stat(filepath.Join(dir, "t10k-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("MNIST not available at %s (from the project root: ../shared/data/mnist): %v", dir, err)
	}
	ts := spec.Trial{
		Dataset:   spec.Dataset{Name: "mnist", Dir: dir, N: 1000, NTest: 500, Seed: 1},
		Model:     spec.Model{Arch: "mlp", Hidden: []int{64}, Activation: "relu"},
		BatchSize: 50, LR: 0.1, Epochs: 3, Seed: 1,
		Training:  spec.Training{Optimizer: spec.Optimizer{Momentum: 0.5}},
		Curvature: spec.Curvature{Examples: 200, LanczosSteps: 10},
	}
	res, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.TestAcc < 0.7 || res.Params != 784*64+64+64*10+10 {
		t.Errorf("MNIST: test accuracy %.3f, P = %d", res.TestAcc, res.Params)
	}
	t.Logf("MNIST N=1000: train %.3f test %.3f λ₁ %.4g", res.TrainAcc, res.TestAcc, res.LambdaMax)
}

// TestWeightsRoundTrip: every architecture is written with the PyTorch
// state_dict names of package weights (no flat tensor) and reads back bit for
// bit; the old flat files still read; weights of another network do not.
func TestWeightsRoundTrip(t *testing.T) {
	mlp, _ := nn.NewMLP(4, []int{3}, 2, nn.ActReLU)
	res, _ := nn.NewResMLP(4, 3, 2, 2, nn.ActTanh)
	cnn, err := nn.NewCNN(2, 4, 4, []int{3}, []int{5}, 2, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	nets := map[string]*nn.Network{"mlp": mlp, "resmlp": res, "cnn": cnn}
	names := map[string]string{"mlp": `"2.weight"`, "resmlp": `"3.body.2.bias"`, "cnn": `"6.weight"`}
	for name, net := range nets {
		theta := make([]float64, net.NumParams())
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range theta {
			theta[i] = rng.NormFloat64()
		}
		var buf bytes.Buffer
		if err := compute.WriteWeights(&buf, net, theta, map[string]string{"k": "v"}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if bytes.Contains(buf.Bytes(), []byte(`"theta"`)) || !bytes.Contains(buf.Bytes(), []byte(names[name])) {
			t.Errorf("%s: want named tensors such as %s, not a flat one", name, names[name])
		}
		back, meta, err := compute.ReadWeights(bytes.NewReader(buf.Bytes()), net)
		if err != nil || !slices.Equal(back, theta) || meta["k"] != "v" {
			t.Errorf("%s: read back %v, %v, %v", name, err, back, meta)
		}
		for other, o := range nets {
			if other == name {
				continue
			}
			if _, _, err := compute.ReadWeights(bytes.NewReader(buf.Bytes()), o); !errors.Is(err, weights.ErrMismatch) {
				t.Errorf("%s weights read into %s: err = %v", name, other, err)
			}
		}

		// Files of the old flat format still read, and only for a network of
		// the same size.
		buf.Reset()
		flat := []weights.Tensor{{Name: compute.FlatTensor, Shape: []int{len(theta)}, Data: theta}}
		if err := weights.Write(&buf, flat, map[string]string{"k": "flat"}); err != nil {
			t.Fatal(err)
		}
		back, meta, err = compute.ReadWeights(bytes.NewReader(buf.Bytes()), net)
		if err != nil || !slices.Equal(back, theta) || meta["k"] != "flat" {
			t.Errorf("%s flat: read back %v, %v, %v", name, err, back, meta)
		}
		if _, _, err := compute.ReadWeights(bytes.NewReader(buf.Bytes()), mlp); name != "mlp" && !errors.Is(err, weights.ErrMismatch) {
			t.Errorf("%s flat weights read into mlp: err = %v", name, err)
		}
	}
}

// TestDatasetDigest: a file dataset with its content digest runs as without
// it, from wherever its files are; files with another digest are refused.
func TestDatasetDigest(t *testing.T) {
	dir := tinyIDXDir(t)
	ts := idxSpec(dir)
	ts.Model = spec.Model{Arch: "mlp", Hidden: []int{4}}
	ts.Curvature.LanczosSteps = 3
	plain, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.ResolveFiles(); err != nil || ts.Dataset.SHA256 == "" {
		t.Fatalf("ResolveFiles: %v (digest %q)", err, ts.Dataset.SHA256)
	}
	withDigest, err := compute.RunTrial(context.Background(), ts, nil)
	if err != nil || !reflect.DeepEqual(plain.WithoutTimes(), withDigest.WithoutTimes()) {
		t.Errorf("with its digest: %v\n%+v\n%+v", err, plain, withDigest)
	}
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	other := ts
	other.Dataset.Dir = moved
	if spec.ID(other) != spec.ID(ts) {
		t.Error("moving the files changed the trial ID")
	}
	if res, err := compute.RunTrial(context.Background(), other, nil); err != nil || !reflect.DeepEqual(res.WithoutTimes(), plain.WithoutTimes()) {
		t.Errorf("moved files: %v", err)
	}
	other.Dataset.SHA256 = strings.Repeat("0", 64)
	_, err = compute.RunTrial(context.Background(), other, nil)
	var fe *spec.FieldError
	if !errors.As(err, &fe) || !errors.Is(err, spec.ErrInvalid) || fe.Field != "dataset.sha256" || !strings.Contains(err.Error(), ts.Dataset.SHA256) {
		t.Errorf("wrong digest: %v", err)
	}
	// A changed file is refused.
	p := filepath.Join(moved, "t10k-labels-idx1-ubyte")
	b, _ := os.ReadFile(p)
	b[len(b)-1] = (b[len(b)-1] + 1) % 10
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	other.Dataset.SHA256 = ts.Dataset.SHA256
	if _, err := compute.RunTrial(context.Background(), other, nil); !errors.As(err, &fe) || fe.Field != "dataset.sha256" {
		t.Errorf("changed file: %v", err)
	}
}
