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
	"slices"
	"testing"
	"time"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// torchNormScript loads a file written by Save (F64 parameters and running
// statistics, I64 num_batches_tracked) into the PyTorch module argv[1] with
// load_state_dict(strict=True) and, in float64, on the inputs of argv[3]
// ("x" viewed as argv[4], labels "y", direction "v" in the order of
// model.parameters()):
//
//   - in evaluation mode (model.eval()): the mean cross-entropy loss, its
//     gradient and the Hessian-vector product Hv (double backward);
//   - when argv[5] is "train", in training mode (model.train(), one forward
//     pass): the loss, its gradient and the buffers afterwards (in the order
//     of model.buffers()), i.e. the running statistics after PyTorch's
//     update.
//
// It prints them as JSON.
const torchNormScript = torchPrelude + `
model = eval(sys.argv[1]).double()
sd = load(sys.argv[2])
model.load_state_dict(sd, strict=True)
inp = load(sys.argv[3])
x = inp["x"].reshape(json.loads(sys.argv[4]))
y = inp["y"].long()
params = list(model.parameters())
flat = lambda ts: torch.cat([t.reshape(-1).double() for t in ts]).tolist()
vs, off = [], 0
for p in params:
    vs.append(inp["v"][off:off + p.numel()].reshape(p.shape))
    off += p.numel()
model.eval()
loss = nn.functional.cross_entropy(model(x), y)
g = torch.autograd.grad(loss, params, create_graph=True)
hv = torch.autograd.grad(g, params, grad_outputs=vs)
out = {"loss": loss.item(), "grad": flat(g), "hv": flat(hv)}
if sys.argv[5] == "train":
    model.train()
    tl = nn.functional.cross_entropy(model(x), y)
    tg = torch.autograd.grad(tl, params)
    out.update(train_loss=tl.item(), train_grad=flat(tg), buffers=flat(model.buffers()))
print(json.dumps(out))
`

// normBuffers returns buffers for net's BatchNorm layers away from the
// initial ones: running means N(0, 0.5²), variances U(0.5, 1.5) and 3
// batches seen.
func normBuffers(net *nn.Network, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := make([]float64, net.NumBuffers())
	var fill func(ly nn.Layer, lb []float64)
	fill = func(ly nn.Layer, lb []float64) {
		switch l := ly.(type) {
		case *nn.BatchNorm:
			for c := range l.C {
				lb[c] = 0.5 * rng.NormFloat64()
				lb[l.C+c] = 0.5 + rng.Float64()
			}
			lb[2*l.C] = 3
		case *nn.Residual: // the body's buffers, in order
			off := 0
			for _, sl := range l.Body {
				n := 0
				if bl, ok := sl.(nn.Buffered); ok {
					n = bl.NumBuffers()
				}
				fill(sl, lb[off:off+n])
				off += n
			}
		}
	}
	for l, ly := range net.Layers() {
		fill(ly, net.LayerBuffers(b, l))
	}
	return b
}

// maxRel returns max |a − b| / max |b|.
func maxRel(a, b []float64) float64 {
	var d, s float64
	for i := range b {
		d = max(d, math.Abs(a[i]-b[i]))
		s = max(s, math.Abs(b[i]))
	}
	return d / s
}

// TestPyTorchBatchNormDropout writes networks with batch normalization and
// dropout (θ and running statistics) from Go, loads them into the
// equivalent PyTorch nn.Sequential with strict=True and checks, in float64,
// that evaluation mode gives the same loss, gradient and Hessian-vector
// product (relative error ≤ 1e-12), and, for networks without dropout,
// that training mode gives the same loss and gradient and that one pass
// updates the running statistics and batch count as PyTorch does (≤ 1e-12).
// It is skipped when python3 with torch is not installed.
func TestPyTorchBatchNormDropout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	script := torchScriptFile(ctx, t, dir, "norm.py", torchNormScript)
	build := func(net *nn.Network, err error) *nn.Network {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return net
	}
	bnd := nn.Options{BatchNorm: true, Dropout: 0.5}
	bn := nn.Options{BatchNorm: true}
	cases := []struct {
		name   string
		net    *nn.Network
		module string
		shape  string
		train  bool // compare training mode too (no dropout)
	}{
		{"mlp-bn-dropout", build(nn.NewMLPWith(6, []int{5, 4}, 3, nn.ActTanh, bnd)),
			`nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Dropout(0.5),
				nn.Linear(5, 4), nn.BatchNorm1d(4), nn.Tanh(), nn.Dropout(0.5), nn.Linear(4, 3))`,
			"[-1, 6]", false},
		{"mlp-bn", build(nn.NewMLPWith(6, []int{5, 4}, 3, nn.ActReLU, bn)),
			`nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(),
				nn.Linear(5, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 3))`,
			"[-1, 6]", true},
		{"resmlp-bn-dropout", build(nn.NewResMLPWith(6, 5, 2, 3, nn.ActTanh, bnd)),
			`nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Dropout(0.5),
				Residual(nn.Linear(5, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Dropout(0.5), nn.Linear(5, 5)),
				Residual(nn.Linear(5, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Dropout(0.5), nn.Linear(5, 5)),
				nn.Linear(5, 3))`,
			"[-1, 6]", false},
		{"resmlp-bn", build(nn.NewResMLPWith(6, 5, 2, 3, nn.ActReLU, bn)),
			`nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(),
				Residual(nn.Linear(5, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 5)),
				Residual(nn.Linear(5, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 5)),
				nn.Linear(5, 3))`,
			"[-1, 6]", true},
		{"cnn-bn-dropout", build(nn.NewCNNWith(2, 8, 6, []int{3, 4}, []int{5}, 3, nn.ActReLU, bnd)),
			`nn.Sequential(
				nn.Conv2d(2, 3, 5, padding=2), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
				nn.Conv2d(3, 4, 5, padding=2), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
				nn.Flatten(), nn.Linear(4*2*1, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dropout(0.5),
				nn.Linear(5, 3))`,
			"[-1, 2, 8, 6]", false},
		{"cnn-bn", build(nn.NewCNNWith(2, 8, 6, []int{3}, []int{5}, 3, nn.ActTanh, bn)),
			`nn.Sequential(
				nn.Conv2d(2, 3, 5, padding=2), nn.BatchNorm2d(3), nn.Tanh(), nn.MaxPool2d(2),
				nn.Flatten(), nn.Linear(3*4*3, 5), nn.BatchNorm1d(5), nn.Tanh(),
				nn.Linear(5, 3))`,
			"[-1, 2, 8, 6]", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			theta := randomTheta(c.net, 21)
			net := build(c.net.WithBuffers(normBuffers(c.net, 22)))
			rng := rand.New(rand.NewPCG(23, 24))
			const rows = 9
			x := make([]float64, rows*net.InSize())
			for i := range x {
				x[i] = rng.NormFloat64()
			}
			y := make([]int, rows)
			yf := make([]float64, rows)
			for i := range y {
				y[i] = rng.IntN(net.OutSize())
				yf[i] = float64(y[i])
			}
			v := make([]float64, len(theta))
			for i := range v {
				v[i] = rng.NormFloat64()
			}
			var wb, xb bytes.Buffer
			if err := Save(&wb, net, theta, nil); err != nil {
				t.Fatal(err)
			}
			if err := Write(&xb, []Tensor{{Name: "x", Shape: []int{rows, net.InSize()}, Data: x},
				{Name: "y", Shape: []int{rows}, Data: yf}, {Name: "v", Shape: []int{len(v)}, Data: v}}, nil); err != nil {
				t.Fatal(err)
			}
			// The file reads back to the same θ and buffers.
			ts, _, err := Read(bytes.NewReader(wb.Bytes()))
			if err != nil {
				t.Fatal(err)
			}
			th2, b2, err := ImportState(net, ts)
			if err != nil || !slices.Equal(th2, theta) || !slices.Equal(b2, net.Buffers()) {
				t.Fatalf("ImportState: err %v, θ equal %t, buffers equal %t", err, slices.Equal(th2, theta), slices.Equal(b2, net.Buffers()))
			}
			wpath, xpath := filepath.Join(dir, c.name+".safetensors"), filepath.Join(dir, c.name+"-x.safetensors")
			if err := os.WriteFile(wpath, wb.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(xpath, xb.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			mode := "eval"
			if c.train {
				mode = "train"
			}
			cmd := exec.CommandContext(ctx, python, script, c.module, wpath, xpath, c.shape, mode)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("python: %v\n%s", err, stderr.Bytes())
			}
			var want struct {
				Loss, TrainLoss          float64
				Grad, HV, TrainGrad, Buf []float64
			}
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(out, &raw); err != nil {
				t.Fatalf("python output %q: %v", out, err)
			}
			for k, dst := range map[string]any{"loss": &want.Loss, "grad": &want.Grad, "hv": &want.HV,
				"train_loss": &want.TrainLoss, "train_grad": &want.TrainGrad, "buffers": &want.Buf} {
				if m, ok := raw[k]; ok {
					if err := json.Unmarshal(m, dst); err != nil {
						t.Fatalf("%s: %v", k, err)
					}
				}
			}
			check := func(what string, got, want []float64) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s: flatsweep has %d values, PyTorch %d", what, len(got), len(want))
				}
				e := maxRel(got, want)
				t.Logf("%s: %d values agree to %.2g relative", what, len(got), e)
				if !(e <= 1e-12) {
					t.Errorf("%s: relative difference %.3g > 1e-12", what, e)
				}
			}
			ws := net.NewWorkspace(rows)
			grad, hv := make([]float64, len(theta)), make([]float64, len(theta))
			loss, _ := ws.LossGrad(grad, theta, x, y)
			ws.HVP(hv, theta, v, x, y)
			check("evaluation loss", []float64{loss}, []float64{want.Loss})
			check("evaluation gradient", grad, want.Grad)
			check("evaluation Hv", hv, want.HV)
			if !c.train {
				return
			}
			tl, _ := ws.TrainGrad(grad, theta, x, y, nn.Training{Update: true})
			check("training loss", []float64{tl}, []float64{want.TrainLoss})
			check("training gradient", grad, want.TrainGrad)
			check("running statistics", ws.Buffers(), want.Buf)
		})
	}
}
