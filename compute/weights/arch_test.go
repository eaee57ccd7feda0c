package weights

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// randomTheta returns a θ of normal values (biases included) for net.
func randomTheta(net *nn.Network, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	theta := make([]float64, net.NumParams())
	for i := range theta {
		theta[i] = rng.NormFloat64()
	}
	return theta
}

// spec is a tensor name and shape.
type spec struct {
	name  string
	shape []int
}

// checkExport checks that Export names and shapes net's tensors as want, in θ
// order, and that their data concatenate to θ.
func checkExport(t *testing.T, net *nn.Network, want []spec) {
	t.Helper()
	theta := randomTheta(net, 1)
	ts, err := Export(net, theta)
	if err != nil {
		t.Fatal(err)
	}
	var got []spec
	var flat []float64
	for _, x := range ts {
		got = append(got, spec{x.Name, x.Shape})
		flat = append(flat, x.Data...)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("tensors\n got %v\nwant %v", got, want)
	}
	if !slices.Equal(flat, theta) {
		t.Error("tensors in θ order do not concatenate to θ")
	}
}

// TestExportNamesResMLP checks the example of the package documentation.
func TestExportNamesResMLP(t *testing.T) {
	net, err := nn.NewResMLP(784, 64, 2, 10, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	checkExport(t, net, []spec{
		{"0.weight", []int{64, 784}}, {"0.bias", []int{64}},
		{"2.body.0.weight", []int{64, 64}}, {"2.body.0.bias", []int{64}},
		{"2.body.2.weight", []int{64, 64}}, {"2.body.2.bias", []int{64}},
		{"3.body.0.weight", []int{64, 64}}, {"3.body.0.bias", []int{64}},
		{"3.body.2.weight", []int{64, 64}}, {"3.body.2.bias", []int{64}},
		{"4.weight", []int{10, 64}}, {"4.bias", []int{10}},
	})
}

// TestExportNamesCNN checks the example of the package documentation: the
// nn.Flatten takes position 6.
func TestExportNamesCNN(t *testing.T) {
	net, err := nn.NewCNN(1, 28, 28, []int{8, 16}, []int{64}, 10, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	checkExport(t, net, []spec{
		{"0.weight", []int{8, 1, 5, 5}}, {"0.bias", []int{8}},
		{"3.weight", []int{16, 8, 5, 5}}, {"3.bias", []int{16}},
		{"7.weight", []int{64, 784}}, {"7.bias", []int{64}},
		{"9.weight", []int{10, 64}}, {"9.bias", []int{10}},
	})
}

// TestExportNamesOtherStacks covers the form changes NewCNN does not make: an
// nn.Unflatten before a convolution that follows a dense layer, and residual
// blocks of convolutions (first in the stack, so the input is an image).
func TestExportNamesOtherStacks(t *testing.T) {
	conv := func(c, h, w, f, k, pad int) *nn.Conv2D {
		cv, err := nn.NewConv2D(c, h, w, f, k, pad, 1)
		if err != nil {
			t.Fatal(err)
		}
		return cv
	}
	res, err := nn.NewResidual(conv(2, 3, 3, 2, 3, 1), &nn.ReLU{Size: 18}, conv(2, 3, 3, 2, 3, 1))
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.New(nn.SoftmaxCrossEntropy{},
		res, &nn.MaxPool2D{C: 2, H: 3, W: 3, Size: 2}, // 2×1×1
		&nn.Dense{In: 2, Out: 8, Gain: 1}, &nn.Tanh{Size: 8},
		conv(2, 2, 2, 1, 1, 0), // Unflatten(1, (2, 2, 2)) first
		&nn.Dense{In: 4, Out: 3, Gain: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkExport(t, net, []spec{
		{"0.body.0.weight", []int{2, 2, 3, 3}}, {"0.body.0.bias", []int{2}},
		{"0.body.2.weight", []int{2, 2, 3, 3}}, {"0.body.2.bias", []int{2}},
		{"3.weight", []int{8, 2}}, {"3.bias", []int{8}}, // 2 is the Flatten
		{"6.weight", []int{1, 2, 1, 1}}, {"6.bias", []int{1}}, // 5 is the Unflatten
		{"8.weight", []int{3, 4}}, {"8.bias", []int{3}}, // 7 is a Flatten
	})
}

// TestSaveLoadArchitectures: Save then Load gives θ back bit for bit for
// every architecture, special values included.
func TestSaveLoadArchitectures(t *testing.T) {
	res, err := nn.NewResMLP(5, 4, 2, 3, nn.ActTanh)
	if err != nil {
		t.Fatal(err)
	}
	cnn, err := nn.NewCNN(2, 8, 6, []int{3, 4}, []int{5}, 3, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	for name, net := range map[string]*nn.Network{"resmlp": res, "cnn": cnn} {
		theta := randomTheta(net, 3)
		theta[0] = math.Copysign(0, -1)
		theta[1] = math.SmallestNonzeroFloat64
		theta[len(theta)-1] = math.MaxFloat64
		var buf bytes.Buffer
		if err := Save(&buf, net, theta, map[string]string{"arch": name}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, meta, err := Load(bytes.NewReader(buf.Bytes()), net)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range theta {
			if math.Float64bits(got[i]) != math.Float64bits(theta[i]) {
				t.Fatalf("%s: θ[%d] = %v, want %v (bitwise)", name, i, got[i], theta[i])
			}
		}
		if meta["arch"] != name {
			t.Errorf("%s: metadata %v", name, meta)
		}
	}
}

// pytorchFile returns an F32 safetensors file as safetensors.torch.save_file
// writes a state_dict: metadata {"format": "pt"} and the tensors in name
// order, element e of tensor number k holding 1000·(k+1) + e.
func pytorchFile(tensors []spec) []byte {
	slices.SortFunc(tensors, func(a, b spec) int { return strings.Compare(a.name, b.name) })
	var h strings.Builder
	var data []byte
	h.WriteString(`{"__metadata__":{"format":"pt"}`)
	for k, x := range tensors {
		n := numel(x.shape)
		shape := strings.ReplaceAll(strings.Trim(fmt.Sprint(x.shape), "[]"), " ", ",")
		fmt.Fprintf(&h, `,%q:{"dtype":"F32","shape":[%s],"data_offsets":[%d,%d]}`, x.name, shape, len(data), len(data)+4*n)
		for e := range n {
			data = append(data, f32Bytes(float32(1000*(k+1)+e))...)
		}
	}
	h.WriteString("}")
	for h.Len()%8 != 0 {
		h.WriteString(" ")
	}
	return file(h.String(), data)
}

// TestLoadPyTorchStateDicts loads state dicts with the names and shapes
// PyTorch writes for the documented modules and checks that every tensor
// lands in the right place of θ.
func TestLoadPyTorchStateDicts(t *testing.T) {
	cnn, err := nn.NewCNN(2, 4, 4, []int{3}, []int{5}, 2, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	res, err := nn.NewResMLP(3, 4, 1, 2, nn.ActTanh)
	if err != nil {
		t.Fatal(err)
	}
	type place struct {
		spec
		layer, at int // flatsweep layer and offset in its parameters
	}
	cases := []struct {
		name   string
		net    *nn.Network
		places []place
	}{
		// nn.Sequential(nn.Conv2d(2, 3, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
		//     nn.Flatten(), nn.Linear(12, 5), nn.ReLU(), nn.Linear(5, 2))
		{"cnn", cnn, []place{
			{spec{"0.weight", []int{3, 2, 5, 5}}, 0, 0}, {spec{"0.bias", []int{3}}, 0, 150},
			{spec{"4.weight", []int{5, 12}}, 3, 0}, {spec{"4.bias", []int{5}}, 3, 60},
			{spec{"6.weight", []int{2, 5}}, 5, 0}, {spec{"6.bias", []int{2}}, 5, 10},
		}},
		// nn.Sequential(nn.Linear(3, 4), nn.Tanh(),
		//     Residual(nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 4)), nn.Linear(4, 2))
		{"resmlp", res, []place{
			{spec{"0.weight", []int{4, 3}}, 0, 0}, {spec{"0.bias", []int{4}}, 0, 12},
			{spec{"2.body.0.weight", []int{4, 4}}, 2, 0}, {spec{"2.body.0.bias", []int{4}}, 2, 16},
			{spec{"2.body.2.weight", []int{4, 4}}, 2, 20}, {spec{"2.body.2.bias", []int{4}}, 2, 36},
			{spec{"3.weight", []int{2, 4}}, 3, 0}, {spec{"3.bias", []int{2}}, 3, 8},
		}},
	}
	for _, c := range cases {
		var specs []spec
		for _, p := range c.places {
			specs = append(specs, p.spec)
		}
		theta, meta, err := Load(bytes.NewReader(pytorchFile(slices.Clone(specs))), c.net)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if meta["format"] != "pt" {
			t.Errorf("%s: metadata %v", c.name, meta)
		}
		sorted := slices.Clone(specs)
		slices.SortFunc(sorted, func(a, b spec) int { return strings.Compare(a.name, b.name) })
		want := make([]float64, c.net.NumParams())
		for _, p := range c.places {
			k := slices.IndexFunc(sorted, func(s spec) bool { return s.name == p.name })
			for e := range numel(p.shape) {
				want[c.net.Offset(p.layer)+p.at+e] = float64(1000*(k+1) + e)
			}
		}
		if !slices.Equal(theta, want) {
			t.Errorf("%s: θ\n got %v\nwant %v", c.name, theta, want)
		}
	}
	// Spot check the convolution layout: weight[f][c][ky][kx] of "0.weight"
	// (tensor 2 in name order) is filter f's weight for input channel c at
	// kernel row ky, column kx: θ[((f·C + c)·K + ky)·K + kx].
	theta, _, _ := Load(bytes.NewReader(pytorchFile([]spec{
		{"0.weight", []int{3, 2, 5, 5}}, {"0.bias", []int{3}},
		{"4.weight", []int{5, 12}}, {"4.bias", []int{5}},
		{"6.weight", []int{2, 5}}, {"6.bias", []int{2}},
	})), cnn)
	f, ch, ky, kx := 2, 1, 3, 4
	if got, want := theta[((f*2+ch)*5+ky)*5+kx], float64(2000+((f*2+ch)*5+ky)*5+kx); got != want {
		t.Errorf("0.weight[%d][%d][%d][%d] = θ entry %v, want %v", f, ch, ky, kx, got, want)
	}
}

// TestImportMismatchArchitectures: Import reports every problem at once,
// including the usual mistakes with residual and convolutional networks.
func TestImportMismatchArchitectures(t *testing.T) {
	cnn, err := nn.NewCNN(2, 4, 4, []int{3}, []int{5}, 2, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	res, err := nn.NewResMLP(3, 4, 1, 2, nn.ActTanh)
	if err != nil {
		t.Fatal(err)
	}
	rename := func(ts []Tensor, from, to string) {
		for i := range ts {
			if ts[i].Name == from {
				ts[i].Name = to
			}
		}
	}
	cnnTs, _ := Export(cnn, randomTheta(cnn, 1))
	rename(cnnTs, "4.weight", "3.weight") // nn.Flatten not counted
	rename(cnnTs, "4.bias", "3.bias")
	cnnTs[0].Shape = []int{3, 50} // conv weight flattened
	cnnTs = slices.DeleteFunc(cnnTs, func(x Tensor) bool { return x.Name == "6.bias" })
	cnnTs = append(cnnTs, Tensor{Name: "num_batches_tracked", Shape: []int{}, Data: []float64{0}})

	resTs, _ := Export(res, randomTheta(res, 1))
	rename(resTs, "2.body.0.weight", "2.0.weight") // body not nested
	resTs[len(resTs)-2].Shape = []int{4, 2}        // "3.weight" transposed

	cases := []struct {
		name    string
		net     *nn.Network
		tensors []Tensor
		want    []string
	}{
		{"cnn", cnn, cnnTs, []string{
			`tensor "0.weight" has shape [3 50], want [3 2 5 5]`,
			`missing tensor "4.weight" of shape [5 12]`, `missing tensor "4.bias" of shape [5]`,
			`missing tensor "6.bias" of shape [2]`,
			`extra tensor "3.bias" (shape [5])`, `extra tensor "3.weight" (shape [5 12])`,
			`extra tensor "num_batches_tracked" (shape [])`,
		}},
		{"resmlp", res, resTs, []string{
			`missing tensor "2.body.0.weight" of shape [4 4]`, `extra tensor "2.0.weight" (shape [4 4])`,
			`tensor "3.weight" has shape [4 2], want [2 4]`,
		}},
	}
	for _, c := range cases {
		_, err := Import(c.net, c.tensors)
		if !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: err = %v, want ErrMismatch", c.name, err)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: err = %q, want it to mention %q", c.name, err, w)
			}
		}
		if n := strings.Count(err.Error(), ";") + 1; n != len(c.want) {
			t.Errorf("%s: %d problems reported, want %d: %v", c.name, n, len(c.want), err)
		}
	}
	// An MLP's file does not load into the CNN, nor the CNN's into the ResMLP.
	mlp, err := nn.NewMLP(32, []int{5}, 2, nn.ActReLU)
	if err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]*nn.Network{{mlp, cnn}, {cnn, res}, {res, cnn}} {
		var buf bytes.Buffer
		if err := Save(&buf, pair[0], randomTheta(pair[0], 2), nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := Load(&buf, pair[1]); !errors.Is(err, ErrMismatch) {
			t.Errorf("file of another network: err = %v", err)
		}
	}
}

// TestUnsupportedResidual: a residual block whose body flattens an image
// cannot be expressed (x + body(x) would add tensors of different shapes).
func TestUnsupportedResidual(t *testing.T) {
	cv, err := nn.NewConv2D(1, 2, 2, 1, 1, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := nn.NewResidual(&nn.Dense{In: 4, Out: 4, Gain: 1})
	if err != nil {
		t.Fatal(err)
	}
	net, err := nn.New(nn.SoftmaxCrossEntropy{}, cv, blk)
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
