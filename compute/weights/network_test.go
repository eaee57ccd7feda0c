package weights

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// mlp returns a seeded 5-4-3-2 ReLU MLP and its initial θ with random biases.
func mlp(t *testing.T) (*nn.Network, []float64) {
	t.Helper()
	net, err := nn.NewMLP(5, []int{4, 3}, 2, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	theta := make([]float64, net.NumParams())
	net.Init(theta, rng)
	for i := range theta {
		if theta[i] == 0 { // biases: make them non-trivial
			theta[i] = rng.NormFloat64()
		}
	}
	return net, theta
}

func TestExportNames(t *testing.T) {
	net, theta := mlp(t)
	ts, err := Export(net, theta)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		shape []int
	}{
		{"0.weight", []int{4, 5}}, {"0.bias", []int{4}},
		{"2.weight", []int{3, 4}}, {"2.bias", []int{3}},
		{"4.weight", []int{2, 3}}, {"4.bias", []int{2}},
	}
	if len(ts) != len(want) {
		t.Fatalf("%d tensors, want %d", len(ts), len(want))
	}
	var flat []float64
	for i, w := range want {
		if ts[i].Name != w.name || !slices.Equal(ts[i].Shape, w.shape) {
			t.Errorf("tensor %d: %s %v, want %s %v", i, ts[i].Name, ts[i].Shape, w.name, w.shape)
		}
		flat = append(flat, ts[i].Data...)
	}
	if !slices.Equal(flat, theta) {
		t.Error("tensors in θ order do not concatenate to θ")
	}
	// W is out×in row-major: element [j][i] of "2.weight" is θ[off + j·4 + i].
	if got, want := ts[2].Data[1*4+3], theta[net.Offset(2)+1*4+3]; got != want {
		t.Errorf("2.weight[1][3] = %v, want %v", got, want)
	}
	ts[0].Data[0] = 99
	if theta[0] == 99 {
		t.Error("Export aliases θ")
	}
	if _, err := Export(net, theta[1:]); !errors.Is(err, ErrMismatch) {
		t.Errorf("short θ: err = %v", err)
	}
}

func TestSaveLoadBitIdentical(t *testing.T) {
	net, theta := mlp(t)
	theta[3] = math.Copysign(0, -1)
	theta[4] = math.SmallestNonzeroFloat64
	var buf bytes.Buffer
	if err := Save(&buf, net, theta, map[string]string{"format": "pt", "seed": "1"}); err != nil {
		t.Fatal(err)
	}
	got, meta, err := Load(bytes.NewReader(buf.Bytes()), net)
	if err != nil {
		t.Fatal(err)
	}
	for i := range theta {
		if math.Float64bits(got[i]) != math.Float64bits(theta[i]) {
			t.Fatalf("θ[%d] = %v, want %v (bitwise)", i, got[i], theta[i])
		}
	}
	if meta["format"] != "pt" || meta["seed"] != "1" {
		t.Errorf("metadata %v", meta)
	}
}

// TestLoadPyTorchF32 loads an F32 state_dict as safetensors.torch.save_file
// writes it for nn.Sequential(nn.Linear(2, 1)): metadata {"format": "pt"} and
// tensors ordered by name.
func TestLoadPyTorchF32(t *testing.T) {
	header := `{"__metadata__":{"format":"pt"},` +
		`"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},` +
		`"0.weight":{"dtype":"F32","shape":[1,2],"data_offsets":[4,12]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	b := file(header, f32Bytes(0.5, -1.5, 0.1))
	net, err := nn.NewMLP(2, nil, 1, nn.ActTanh)
	if err != nil {
		t.Fatal(err)
	}
	theta, meta, err := Load(bytes.NewReader(b), net)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float64{-1.5, float64(float32(0.1)), 0.5}; !slices.Equal(theta, want) || meta["format"] != "pt" {
		t.Errorf("θ = %v, metadata %v; want %v", theta, meta, want)
	}
}

func TestImportMismatch(t *testing.T) {
	net, theta := mlp(t)
	good, err := Export(net, theta)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func([]Tensor) []Tensor) []Tensor {
		c := slices.Clone(good)
		return f(c)
	}
	cases := []struct {
		name    string
		tensors []Tensor
		want    []string
	}{
		{"missing", edit(func(c []Tensor) []Tensor { return slices.Delete(c, 3, 4) }),
			[]string{`missing tensor "2.bias" of shape [3]`}},
		{"extra", edit(func(c []Tensor) []Tensor {
			return append(c, Tensor{Name: "6.weight", Shape: []int{1}, Data: []float64{0}})
		}),
			[]string{`extra tensor "6.weight"`}},
		{"transposed", edit(func(c []Tensor) []Tensor { c[0].Shape = []int{5, 4}; return c }),
			[]string{`tensor "0.weight" has shape [5 4], want [4 5]`}},
		{"values", edit(func(c []Tensor) []Tensor { c[1].Data = c[1].Data[:2]; return c }),
			[]string{`tensor "0.bias" has 2 values, want 4`}},
		{"duplicate", edit(func(c []Tensor) []Tensor { return append(c, c[0]) }),
			[]string{`duplicate tensor "0.weight"`}},
		{"renamed (1-based)", edit(func(c []Tensor) []Tensor { c[4].Name = "5.weight"; return c }),
			[]string{`missing tensor "4.weight"`, `extra tensor "5.weight"`}},
	}
	for _, c := range cases {
		_, err := Import(net, c.tensors)
		if !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: err = %v, want ErrMismatch", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %q, want it to mention %q", c.name, err, w)
			}
		}
	}
	// Load reports the same for a file written for another network.
	other, err := nn.NewMLP(5, []int{4}, 2, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Save(&buf, net, theta, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Load(&buf, other); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "2.weight") {
		t.Errorf("other network: err = %v", err)
	}
	if _, _, err := Load(bytes.NewReader([]byte("junk")), net); !errors.Is(err, ErrFormat) {
		t.Errorf("junk file: err = %v", err)
	}
}

// wrapped is a layer kind with parameters that this package does not know.
type wrapped struct{ *nn.Dense }

func TestUnsupportedLayer(t *testing.T) {
	net, err := nn.New(nn.SoftmaxCrossEntropy{}, wrapped{&nn.Dense{In: 2, Out: 2, Gain: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Export(net, make([]float64, net.NumParams())); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Export: err = %v", err)
	}
	if _, err := Import(net, nil); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Import: err = %v", err)
	}
}
