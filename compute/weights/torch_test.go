package weights

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// python is the interpreter with PyTorch (Debian's python3-torch installs
// into the system Python).
const python = "/usr/bin/python3"

// torchPrelude is the start of the PyTorch scripts: imports, Residual (the
// module documented in the package documentation) and load, which parses a
// safetensors file (F64 tensors, I64 for num_batches_tracked) itself, so it
// needs no safetensors package.
const torchPrelude = `
import json, struct, sys
import torch
from torch import nn

torch.set_num_threads(1)

class Residual(nn.Module):
    def __init__(self, *body):
        super().__init__()
        self.body = nn.Sequential(*body)

    def forward(self, x):
        return x + self.body(x)

def load(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    data = b[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        if info["dtype"] == "I64":
            values = struct.unpack("<%dq" % ((end - begin) // 8), data[begin:end])
            out[name] = torch.tensor(values, dtype=torch.int64).reshape(info["shape"])
        else:
            assert info["dtype"] == "F64", info
            values = struct.unpack("<%dd" % ((end - begin) // 8), data[begin:end])
            out[name] = torch.tensor(values, dtype=torch.float64).reshape(info["shape"])
    return out
`

// torchScript loads a file written by Save into the PyTorch module given as
// an expression (argv[1]) with load_state_dict(strict=True), runs the inputs
// of a second file (tensor "x", viewed as argv[4]) through it in float64 and
// prints the outputs as a JSON list.
const torchScript = torchPrelude + `
model = eval(sys.argv[1]).double()
model.load_state_dict(load(sys.argv[2]), strict=True)
x = load(sys.argv[3])["x"].reshape(json.loads(sys.argv[4]))
with torch.no_grad():
    y = model(x)
print(json.dumps(y.reshape(-1).tolist()))
`

// torchScriptFile skips t when python3 with torch is not installed and
// otherwise writes src to dir/name and returns its path.
func torchScriptFile(ctx context.Context, t *testing.T, dir, name, src string) string {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Skipf("PyTorch cross-check skipped: %s not found", python)
	}
	if out, err := exec.CommandContext(ctx, python, "-c", "import torch").CombinedOutput(); err != nil {
		t.Skipf("PyTorch cross-check skipped: %s cannot import torch (install python3-torch): %v\n%s", python, err, out)
	}
	script := filepath.Join(dir, name)
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return script
}

// TestPyTorchOutputs writes weights from Go, loads them into the documented
// PyTorch modules with strict=True and checks that both compute the same
// outputs. It is skipped when python3 with torch is not installed.
func TestPyTorchOutputs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	script := torchScriptFile(ctx, t, dir, "check.py", torchScript)
	build := func(net *nn.Network, err error) *nn.Network {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return net
	}
	build1 := func(ly nn.Layer, err error) nn.Layer {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return ly
	}
	cases := []struct {
		name   string
		net    *nn.Network
		module string // the documented equivalent
		shape  string // the input's PyTorch shape
	}{
		{"mlp", build(nn.NewMLP(6, []int{5, 4}, 3, nn.ActTanh)),
			"nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 3))",
			"[-1, 6]"},
		{"resmlp", build(nn.NewResMLP(6, 5, 2, 3, nn.ActReLU)),
			`nn.Sequential(nn.Linear(6, 5), nn.ReLU(),
				Residual(nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 5)),
				Residual(nn.Linear(5, 5), nn.ReLU(), nn.Linear(5, 5)),
				nn.Linear(5, 3))`,
			"[-1, 6]"},
		{"cnn", build(nn.NewCNN(2, 8, 6, []int{3, 4}, []int{5}, 3, nn.ActReLU)),
			`nn.Sequential(
				nn.Conv2d(2, 3, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
				nn.Conv2d(3, 4, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
				nn.Flatten(), nn.Linear(4*2*1, 5), nn.ReLU(), nn.Linear(5, 3))`,
			"[-1, 2, 8, 6]"},
		{"cnn-odd-tanh", build(nn.NewCNN(1, 7, 5, []int{2}, nil, 3, nn.ActTanh)),
			`nn.Sequential(nn.Conv2d(1, 2, 5, padding=2), nn.Tanh(), nn.MaxPool2d(2),
				nn.Flatten(), nn.Linear(2*3*2, 3))`,
			"[-1, 1, 7, 5]"},
		{"conv-residual-unflatten", build(nn.New(nn.SoftmaxCrossEntropy{},
			build1(nn.NewResidual(build1(nn.NewConv2D(2, 4, 4, 2, 3, 1, 1)), &nn.ReLU{Size: 32},
				build1(nn.NewConv2D(2, 4, 4, 2, 3, 1, 1)))),
			&nn.MaxPool2D{C: 2, H: 4, W: 4, Size: 2},
			&nn.Dense{In: 8, Out: 6, Gain: 1}, &nn.Tanh{Size: 6},
			build1(nn.NewConv2D(1, 2, 3, 2, 3, 1, 1)),
			&nn.Dense{In: 12, Out: 3, Gain: 1})),
			`nn.Sequential(
				Residual(nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1)),
				nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 6), nn.Tanh(),
				nn.Unflatten(1, (1, 2, 3)), nn.Conv2d(1, 2, 3, padding=1),
				nn.Flatten(), nn.Linear(12, 3))`,
			"[-1, 2, 4, 4]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			theta := randomTheta(c.net, 11)
			rng := rand.New(rand.NewPCG(12, 13))
			const rows = 7
			x := make([]float64, rows*c.net.InSize())
			for i := range x {
				x[i] = rng.NormFloat64()
			}
			var wb, xb bytes.Buffer
			if err := Save(&wb, c.net, theta, nil); err != nil {
				t.Fatal(err)
			}
			if err := Write(&xb, []Tensor{{Name: "x", Shape: []int{rows, c.net.InSize()}, Data: x}}, nil); err != nil {
				t.Fatal(err)
			}
			wpath, xpath := filepath.Join(dir, c.name+".safetensors"), filepath.Join(dir, c.name+"-x.safetensors")
			if err := os.WriteFile(wpath, wb.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(xpath, xb.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.CommandContext(ctx, python, script, c.module, wpath, xpath, c.shape)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("python: %v\n%s", err, stderr.Bytes())
			}
			var want []float64
			if err := json.Unmarshal(out, &want); err != nil {
				t.Fatalf("python output %q: %v", out, err)
			}
			got := make([]float64, rows*c.net.OutSize())
			c.net.NewWorkspace(rows).Outputs(got, theta, x)
			if len(want) != len(got) {
				t.Fatalf("PyTorch gives %d outputs, flatsweep %d", len(want), len(got))
			}
			var diff, scale float64
			for i := range got {
				diff = math.Max(diff, math.Abs(got[i]-want[i]))
				scale = math.Max(scale, math.Abs(want[i]))
			}
			if !(diff <= 1e-12*scale) {
				t.Errorf("max |flatsweep − PyTorch| = %.3g, max |PyTorch| = %.3g (relative %.3g > 1e-12)", diff, scale, diff/scale)
			}
			t.Logf("%s: %d outputs agree to %.2g relative", c.name, len(got), diff/scale)
		})
	}
}
