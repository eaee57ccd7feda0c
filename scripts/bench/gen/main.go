// Command gen writes the inputs of the PyTorch comparison (scripts/bench):
// the weights of the reference model, the MNIST subset, a probe vector v, and
// flatsweep's loss, gradient and Hessian-vector product at those weights.
//
// The reference model is the MLP 784-512-512-512-10 with ReLU and softmax
// cross-entropy (nn.NewMLP), float64, at its seeded initialization with
// biases drawn from U(−0.1, 0.1) (so that the bias paths are exercised), on
// the first n examples of the MNIST test split (pixels/255).
//
//	go run ./scripts/bench/gen -mnist data/mnist -out /tmp/flatsweep-bench
//
// writes model.safetensors (the state_dict names of the equivalent PyTorch
// nn.Sequential, see compute/weights) and inputs.safetensors with the tensors
// x [n, 784], y [n] (labels as float64), v [P], grad [P] and hv [P], and the
// loss and backend in its metadata. It also writes the n examples as the IDX
// files idx/train-images-idx3-ubyte and idx/train-labels-idx1-ubyte, so that
// a trial spec can name exactly them (scripts/bench/topk.sh measures the
// model with flatsweep hessian over them).
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/flatsweep/flatsweep/compute/blas"
	"github.com/flatsweep/flatsweep/compute/data"
	"github.com/flatsweep/flatsweep/compute/nn"
	"github.com/flatsweep/flatsweep/compute/weights"
)

func main() {
	mnist := flag.String("mnist", "data/mnist", "folder with t10k-{images-idx3,labels-idx1}-ubyte.gz")
	out := flag.String("out", "/tmp/flatsweep-bench", "output folder")
	n := flag.Int("n", 2048, "number of examples")
	seed := flag.Uint64("seed", 1, "seed of the weights and of v")
	flag.Parse()
	if err := run(*mnist, *out, *n, *seed); err != nil {
		log.Fatal(err)
	}
}

// Model returns the reference MLP.
func model() (*nn.Network, error) {
	return nn.NewMLP(784, []int{512, 512, 512}, 10, nn.ActReLU)
}

func run(mnist, out string, n int, seed uint64) error {
	set, err := data.LoadIDX(filepath.Join(mnist, "t10k-images-idx3-ubyte.gz"),
		filepath.Join(mnist, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		return err
	}
	if n < 1 || n > set.Len() {
		return fmt.Errorf("n = %d not in [1, %d]", n, set.Len())
	}
	x, y := set.X[:n*set.Features], set.Y[:n]
	net, err := model()
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	theta := make([]float64, net.NumParams())
	net.Init(theta, rng)
	for l, ly := range net.Layers() {
		if d, ok := ly.(*nn.Dense); ok {
			b := net.LayerParams(theta, l)[d.In*d.Out:]
			for i := range b {
				b[i] = 0.1 * (2*rng.Float64() - 1)
			}
		}
	}
	v := make([]float64, len(theta))
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	ws := net.NewWorkspace(n)
	grad := make([]float64, len(theta))
	hv := make([]float64, len(theta))
	loss, _ := ws.LossGrad(grad, theta, x, y)
	ws.HVP(hv, theta, v, x, y)

	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	meta := map[string]string{"model": "mlp 784-512-512-512-10 relu ce", "seed": strconv.FormatUint(seed, 10)}
	if err := writeFile(filepath.Join(out, "model.safetensors"), func(f *os.File) error {
		return weights.Save(f, net, theta, meta)
	}); err != nil {
		return err
	}
	yf := make([]float64, n)
	for i, c := range y {
		yf[i] = float64(c)
	}
	p := len(theta)
	ts := []weights.Tensor{
		{Name: "x", Shape: []int{n, set.Features}, Data: x},
		{Name: "y", Shape: []int{n}, Data: yf},
		{Name: "v", Shape: []int{p}, Data: v},
		{Name: "grad", Shape: []int{p}, Data: grad},
		{Name: "hv", Shape: []int{p}, Data: hv},
	}
	meta = map[string]string{"loss": strconv.FormatFloat(loss, 'g', -1, 64), "backend": blas.Name}
	if err := writeFile(filepath.Join(out, "inputs.safetensors"), func(f *os.File) error {
		return weights.Write(f, ts, meta)
	}); err != nil {
		return err
	}
	if err := writeIDX(filepath.Join(out, "idx"), x, y, n); err != nil {
		return err
	}
	fmt.Printf("gen: wrote %s (P = %d, n = %d, loss %.17g, backend %s)\n", out, p, n, loss, blas.Name)
	return nil
}

// writeIDX writes the n images x (28×28, pixels/255) and labels y as
// uncompressed IDX files under dir.
func writeIDX(dir string, x []float64, y []int, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	img := []byte{0, 0, 8, 3}
	img = binary.BigEndian.AppendUint32(img, uint32(n))
	img = binary.BigEndian.AppendUint32(img, 28)
	img = binary.BigEndian.AppendUint32(img, 28)
	for _, px := range x {
		b := math.Round(px * 255)
		if b < 0 || b > 255 || b/255 != px {
			return fmt.Errorf("pixel %v is not a byte/255", px)
		}
		img = append(img, byte(b))
	}
	lab := binary.BigEndian.AppendUint32([]byte{0, 0, 8, 1}, uint32(n))
	for _, c := range y {
		lab = append(lab, byte(c))
	}
	if err := os.WriteFile(filepath.Join(dir, "train-images-idx3-ubyte"), img, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "train-labels-idx1-ubyte"), lab, 0o644)
}

// writeFile creates path and calls write on it.
func writeFile(path string, write func(*os.File) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
