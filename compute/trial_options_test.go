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
func idxSpec(dir string) compute.TrialSpec {
	return compute.TrialSpec{
		Dataset:   compute.DatasetSpec{Name: "mnist", Dir: dir, N: 120, NTest: 60, Seed: 2},
		Model:     compute.ModelSpec{Arch: "cnn", Conv: []int{3}, Hidden: []int{8}, Activation: "relu"},
		BatchSize: 20, LR: 0.05, Epochs: 2, Seed: 5,
		Curvature: compute.CurvatureSpec{Examples: 40, LanczosSteps: 5},
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
	specs := map[string]compute.TrialSpec{}
	s := smallSpec()
	s.Optimizer = compute.OptimizerSpec{Name: "sgd", Momentum: 0.9, Nesterov: true}
	s.Schedule = compute.ScheduleSpec{LR: compute.LRScheduleSpec{Kind: "step", Milestones: []int{1}, Gamma: 0.5},
		Batch: compute.BatchScheduleSpec{Milestones: []int{2}, Factor: 2}}
	s.WeightDecay = 1e-3
	s.Model.Loss = "mse"
	specs["mlp nesterov step schedule batch schedule wd mse"] = s
	s = smallSpec()
	s.Model = compute.ModelSpec{Arch: "resmlp", Width: 12, Blocks: 2, Activation: "tanh"}
	s.Optimizer = compute.OptimizerSpec{Name: "adam"}
	s.Schedule.LR = compute.LRScheduleSpec{Kind: "cosine", Floor: 0.1}
	s.Epochs, s.Steps, s.LR = 0, 13, 0.01
	s.Dataset.Standardize = true
	specs["resmlp adam cosine steps standardize"] = s
	s = idxSpec(dir)
	s.Augment.Shift = 2
	s.Dataset.LabelNoise = 0.1
	s.Dataset.Standardize = true
	specs["cnn idx augment label noise"] = s
	for name, spec := range specs {
		t.Run(name, func(t *testing.T) {
			var progress []compute.EpochMetrics
			a, err := compute.RunTrial(context.Background(), spec, func(m compute.EpochMetrics) { progress = append(progress, m) })
			if err != nil {
				t.Fatal(err)
			}
			b, err := compute.RunTrial(context.Background(), spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(a, b) || math.Float64bits(a.LambdaMax) != math.Float64bits(b.LambdaMax) {
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
	spec := idxSpec(dir)
	spec.Model = compute.ModelSpec{Arch: "mlp", Hidden: []int{8}, Activation: "relu"}
	a, err := compute.RunTrial(context.Background(), spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := 64*8 + 8 + 8*10 + 10; a.Params != want {
		t.Errorf("params %d, want %d", a.Params, want)
	}
	spec.Dataset.Dir = ""
	spec.Dataset.TrainImages = filepath.Join(dir, "t10k-images-idx3-ubyte")
	spec.Dataset.TrainLabels = filepath.Join(dir, "t10k-labels-idx1-ubyte")
	b, err := compute.RunTrial(context.Background(), spec, nil)
	if err != nil || !reflect.DeepEqual(a, b) {
		t.Errorf("explicit paths: %v\n%+v\n%+v", err, a, b)
	}
	// A separate test pair.
	writeIDX(t, dir, "train", 150, 8, 3)
	spec = idxSpec(dir)
	spec.Model.Conv = []int{2, 2} // 8 → 4 → 2
	if _, err := compute.RunTrial(context.Background(), spec, nil); err != nil {
		t.Errorf("train and test pairs: %v", err)
	}
	spec.Dataset.N = 151
	if _, err := compute.RunTrial(context.Background(), spec, nil); !errors.Is(err, compute.ErrInvalidSpec) || !strings.Contains(err.Error(), "dataset.n = 151") {
		t.Errorf("n too large: %v", err)
	}
	spec.Dataset.N, spec.Dataset.NTest = 100, 201
	if _, err := compute.RunTrial(context.Background(), spec, nil); !errors.Is(err, compute.ErrInvalidSpec) || !strings.Contains(err.Error(), "dataset.n_test = 201") {
		t.Errorf("n_test too large: %v", err)
	}
	spec = idxSpec(t.TempDir())
	if _, err := compute.RunTrial(context.Background(), spec, nil); !errors.Is(err, compute.ErrInvalidSpec) || !strings.Contains(err.Error(), "dataset.dir") {
		t.Errorf("empty dir: %v", err)
	}
	spec = idxSpec("")
	spec.Dataset.TrainImages, spec.Dataset.TrainLabels = filepath.Join(dir, "nope"), filepath.Join(dir, "nope2")
	if _, err := compute.RunTrial(context.Background(), spec, nil); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("missing file: %v", err)
	}
}

// TestMNIST trains on the shared MNIST split with a small N.
func TestMNIST(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "data", "mnist")
	if _, err := os.Stat(filepath.Join(dir, "t10k-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("MNIST not available at %s (from the project root: ../shared/data/mnist): %v", dir, err)
	}
	spec := compute.TrialSpec{
		Dataset:   compute.DatasetSpec{Name: "mnist", Dir: dir, N: 1000, NTest: 500, Seed: 1},
		Model:     compute.ModelSpec{Arch: "mlp", Hidden: []int{64}, Activation: "relu"},
		BatchSize: 50, LR: 0.1, Epochs: 3, Seed: 1,
		Optimizer: compute.OptimizerSpec{Momentum: 0.5},
		Curvature: compute.CurvatureSpec{Examples: 200, LanczosSteps: 10},
	}
	res, err := compute.RunTrial(context.Background(), spec, nil)
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

// TestValidateNewFields: every new field is checked, and the error names it.
func TestValidateNewFields(t *testing.T) {
	cases := []struct {
		field  string
		mutate func(*compute.TrialSpec)
	}{
		{"steps", func(s *compute.TrialSpec) { s.Steps = 10 }},
		{"steps", func(s *compute.TrialSpec) { s.Epochs, s.Steps = 0, -1 }},
		{"epochs", func(s *compute.TrialSpec) { s.Epochs = -1 }},
		{"epochs", func(s *compute.TrialSpec) { s.Epochs, s.Steps = 0, 0 }},
		{"weight_decay", func(s *compute.TrialSpec) { s.WeightDecay = -1 }},
		{"weight_decay", func(s *compute.TrialSpec) { s.WeightDecay = math.NaN() }},
		{"model.loss", func(s *compute.TrialSpec) { s.Model.Loss = "hinge" }},
		{"model.width", func(s *compute.TrialSpec) { s.Model.Width = 3 }},
		{"model.blocks", func(s *compute.TrialSpec) { s.Model.Blocks = 1 }},
		{"model.conv", func(s *compute.TrialSpec) { s.Model.Conv = []int{4} }},
		{"model.hidden", func(s *compute.TrialSpec) {
			s.Model = compute.ModelSpec{Arch: "resmlp", Width: 4, Hidden: []int{3}, Activation: "relu"}
		}},
		{"model.width", func(s *compute.TrialSpec) { s.Model = compute.ModelSpec{Arch: "resmlp", Activation: "relu"} }},
		{"model.blocks", func(s *compute.TrialSpec) {
			s.Model = compute.ModelSpec{Arch: "resmlp", Width: 4, Blocks: -1, Activation: "relu"}
		}},
		{"model.width", func(s *compute.TrialSpec) {
			s.Model = compute.ModelSpec{Arch: "resmlp", Width: 65536, Blocks: 100, Activation: "relu"}
		}},
		{"model.arch", func(s *compute.TrialSpec) {
			s.Model = compute.ModelSpec{Arch: "cnn", Conv: []int{4}, Activation: "relu"}
		}},
		{"model.conv", func(s *compute.TrialSpec) { *s = idxSpec("d"); s.Model.Conv = nil }},
		{"model.conv[1]", func(s *compute.TrialSpec) { *s = idxSpec("d"); s.Model.Conv = []int{4, 0} }},
		{"model.conv", func(s *compute.TrialSpec) { *s = idxSpec("d"); s.Model.Conv = []int{1, 1, 1, 1, 1} }},
		{"optimizer.name", func(s *compute.TrialSpec) { s.Optimizer.Name = "lbfgs" }},
		{"optimizer.momentum", func(s *compute.TrialSpec) { s.Optimizer.Momentum = 1 }},
		{"optimizer.momentum", func(s *compute.TrialSpec) { s.Optimizer.Momentum = -0.1 }},
		{"optimizer.momentum", func(s *compute.TrialSpec) { s.Optimizer = compute.OptimizerSpec{Name: "adam", Momentum: 0.9} }},
		{"optimizer.nesterov", func(s *compute.TrialSpec) { s.Optimizer.Nesterov = true }},
		{"optimizer.beta1", func(s *compute.TrialSpec) { s.Optimizer = compute.OptimizerSpec{Name: "adam", Beta1: 1} }},
		{"optimizer.beta2", func(s *compute.TrialSpec) { s.Optimizer = compute.OptimizerSpec{Name: "adam", Beta2: -0.5} }},
		{"optimizer.eps", func(s *compute.TrialSpec) { s.Optimizer = compute.OptimizerSpec{Name: "adam", Eps: math.Inf(1)} }},
		{"optimizer.beta1", func(s *compute.TrialSpec) { s.Optimizer.Beta1 = 0.9 }},
		{"optimizer.eps", func(s *compute.TrialSpec) { s.Optimizer.Eps = 1e-8 }},
		{"schedule.lr.kind", func(s *compute.TrialSpec) { s.Schedule.LR.Kind = "exp" }},
		{"schedule.lr.milestones", func(s *compute.TrialSpec) { s.Schedule.LR = compute.LRScheduleSpec{Kind: "step", Gamma: 0.1} }},
		{"schedule.lr.milestones", func(s *compute.TrialSpec) { s.Schedule.LR.Milestones = []int{1} }},
		{"schedule.lr.milestones[1]", func(s *compute.TrialSpec) {
			s.Schedule.LR = compute.LRScheduleSpec{Kind: "step", Milestones: []int{2, 2}, Gamma: 0.1}
		}},
		{"schedule.lr.milestones[0]", func(s *compute.TrialSpec) {
			s.Schedule.LR = compute.LRScheduleSpec{Kind: "step", Milestones: []int{0}, Gamma: 0.1}
		}},
		{"schedule.lr.gamma", func(s *compute.TrialSpec) { s.Schedule.LR = compute.LRScheduleSpec{Kind: "step", Milestones: []int{1}} }},
		{"schedule.lr.gamma", func(s *compute.TrialSpec) { s.Schedule.LR.Gamma = 0.5 }},
		{"schedule.lr.floor", func(s *compute.TrialSpec) { s.Schedule.LR = compute.LRScheduleSpec{Kind: "cosine", Floor: 1.5} }},
		{"schedule.lr.floor", func(s *compute.TrialSpec) { s.Schedule.LR.Floor = 0.1 }},
		{"schedule.batch.factor", func(s *compute.TrialSpec) {
			s.Schedule.Batch = compute.BatchScheduleSpec{Milestones: []int{1}, Factor: 1}
		}},
		{"schedule.batch.milestones", func(s *compute.TrialSpec) { s.Schedule.Batch.Factor = 2 }},
		{"schedule.batch.milestones[1]", func(s *compute.TrialSpec) {
			s.Schedule.Batch = compute.BatchScheduleSpec{Milestones: []int{3, 1}, Factor: 2}
		}},
		{"augment.shift", func(s *compute.TrialSpec) { s.Augment.Shift = 1 }},
		{"augment.shift", func(s *compute.TrialSpec) { *s = idxSpec("d"); s.Augment.Shift = -1 }},
		{"augment.shift", func(s *compute.TrialSpec) { *s = idxSpec("d"); s.Augment.Shift = 28 }},
		{"warm_start.sha256", func(s *compute.TrialSpec) { s.WarmStart.SHA256 = strings.Repeat("a", 64) }},
		{"warm_start.sha256", func(s *compute.TrialSpec) { s.WarmStart = compute.WarmStartSpec{Path: "w", SHA256: "ABC"} }},
		{"dataset.dir", func(s *compute.TrialSpec) { s.Dataset.Dir = "d" }},
		{"dataset.standardize", nil}, // valid: standardize applies to every dataset
		{"dataset.train_images", func(s *compute.TrialSpec) { s.Dataset.TrainImages = "x" }},
		{"dataset.train_batches", func(s *compute.TrialSpec) { s.Dataset.TrainBatches = []string{"x"} }},
		{"dataset.features", func(s *compute.TrialSpec) { *s = idxSpec("d"); s.Dataset.Features = 10 }},
		{"dataset.classes", func(s *compute.TrialSpec) { *s = idxSpec("d"); s.Dataset.Classes = 10 }},
		{"dataset.train_images", func(s *compute.TrialSpec) { *s = idxSpec(""); s.Dataset.TrainLabels = "l" }},
		{"dataset.train_labels", func(s *compute.TrialSpec) { *s = idxSpec(""); s.Dataset.TrainImages = "i" }},
		{"dataset.test_labels", func(s *compute.TrialSpec) {
			*s = idxSpec("")
			s.Dataset.TrainImages, s.Dataset.TrainLabels, s.Dataset.TestImages = "i", "l", "ti"
		}},
		{"dataset.test_images", func(s *compute.TrialSpec) {
			*s = idxSpec("")
			s.Dataset.TrainImages, s.Dataset.TrainLabels, s.Dataset.TestLabels = "i", "l", "tl"
		}},
		{"dataset.train_images", func(s *compute.TrialSpec) { *s = idxSpec("d"); s.Dataset.TrainImages = "i" }},
		{"dataset.train_batches", func(s *compute.TrialSpec) { *s = idxSpec("d"); s.Dataset.Name = "cifar10"; s.Dataset.Dir = "" }},
		{"dataset.train_batches", func(s *compute.TrialSpec) {
			*s = idxSpec("d")
			s.Dataset.Name = "cifar10"
			s.Dataset.TrainBatches = []string{"b"}
		}},
		{"dataset.test_batches[0]", func(s *compute.TrialSpec) {
			*s = idxSpec("")
			s.Dataset.Name, s.Dataset.TrainBatches, s.Dataset.TestBatches = "cifar10", []string{"b"}, []string{""}
		}},
		{"dataset.n", func(s *compute.TrialSpec) { *s = idxSpec("d"); s.Dataset.Name = "cifar10"; s.Dataset.N = 90000 }},
	}
	for _, c := range cases {
		s := smallSpec()
		if c.mutate == nil {
			s.Dataset.Standardize = true
			if err := s.Validate(); err != nil {
				t.Errorf("%s: valid spec rejected: %v", c.field, err)
			}
			continue
		}
		c.mutate(&s)
		err := s.Validate()
		if !errors.Is(err, compute.ErrInvalidSpec) || !strings.Contains(err.Error(), c.field+" = ") {
			t.Errorf("%s: err = %v", c.field, err)
		}
	}
	for _, name := range []string{"mnist", "fashion-mnist", "kmnist"} {
		s := idxSpec("d")
		s.Dataset.Name = name
		if err := s.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	s := idxSpec("d")
	s.Dataset.Name = "cifar10"
	if err := s.Validate(); err != nil {
		t.Errorf("cifar10: %v", err)
	}
}
