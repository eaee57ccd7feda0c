package weights

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/flatsweep/flatsweep/compute/nn"
)

// param is one named block of θ: the tensor name, its shape and its position.
type param struct {
	name   string
	shape  []int
	offset int // start in θ
}

// layout returns the named parameter blocks of net in θ order (see the
// package documentation for the naming).
func layout(net *nn.Network) ([]param, error) {
	var ps []param
	for l, ly := range net.Layers() {
		if ly.NumParams() == 0 {
			continue
		}
		d, ok := ly.(*nn.Dense)
		if !ok || d.NumParams() != d.Out*d.In+d.Out {
			return nil, fmt.Errorf("%w: layer %d (%T) has parameters but is not a dense layer", ErrUnsupported, l, ly)
		}
		off, prefix := net.Offset(l), strconv.Itoa(l)
		ps = append(ps,
			param{name: prefix + ".weight", shape: []int{d.Out, d.In}, offset: off},
			param{name: prefix + ".bias", shape: []int{d.Out}, offset: off + d.Out*d.In})
	}
	return ps, nil
}

// numel returns the element count of a valid shape.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Export returns the parameters θ of net as tensors named like the state_dict
// of the equivalent PyTorch nn.Sequential ("0.weight", "0.bias", "2.weight",
// …; see the package documentation), in θ order. The tensors hold copies of
// the values.
func Export(net *nn.Network, theta []float64) ([]Tensor, error) {
	if len(theta) != net.NumParams() {
		return nil, fmt.Errorf("%w: θ has %d values but the network has %d parameters",
			ErrMismatch, len(theta), net.NumParams())
	}
	ps, err := layout(net)
	if err != nil {
		return nil, err
	}
	ts := make([]Tensor, len(ps))
	for i, p := range ps {
		ts[i] = Tensor{Name: p.name, Shape: slices.Clone(p.shape),
			Data: slices.Clone(theta[p.offset : p.offset+numel(p.shape)])}
	}
	return ts, nil
}

// Import assembles θ for net from tensors named as by Export. Every
// parameter of the network must be present with its exact shape, and no
// other tensor may be present; otherwise the error (ErrMismatch) lists every
// missing, misshapen, duplicate and extra tensor.
func Import(net *nn.Network, tensors []Tensor) ([]float64, error) {
	ps, err := layout(net)
	if err != nil {
		return nil, err
	}
	byName := make(map[string]Tensor, len(tensors))
	var problems []string
	for _, t := range tensors {
		if _, dup := byName[t.Name]; dup {
			problems = append(problems, fmt.Sprintf("duplicate tensor %q", t.Name))
		}
		byName[t.Name] = t
	}
	theta := make([]float64, net.NumParams())
	for _, p := range ps {
		t, ok := byName[p.name]
		delete(byName, p.name)
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("missing tensor %q of shape %v", p.name, p.shape))
		case !slices.Equal(t.Shape, p.shape):
			problems = append(problems, fmt.Sprintf("tensor %q has shape %v, want %v", p.name, t.Shape, p.shape))
		case len(t.Data) != numel(p.shape):
			problems = append(problems, fmt.Sprintf("tensor %q has %d values, want %d", p.name, len(t.Data), numel(p.shape)))
		default:
			copy(theta[p.offset:], t.Data)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		problems = append(problems, fmt.Sprintf("extra tensor %q (shape %v)", name, byName[name].Shape))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrMismatch, strings.Join(problems, "; "))
	}
	return theta, nil
}

// Save writes the parameters θ of net to w as an F64 safetensors file with the
// given metadata (see Export for the names).
func Save(w io.Writer, net *nn.Network, theta []float64, meta map[string]string) error {
	ts, err := Export(net, theta)
	if err != nil {
		return err
	}
	return Write(w, ts, meta)
}

// Load reads a safetensors file (F64 or F32) from r and returns θ for net and
// the file's metadata (see Import for the checks).
func Load(r io.Reader, net *nn.Network) ([]float64, map[string]string, error) {
	ts, meta, err := Read(r)
	if err != nil {
		return nil, nil, err
	}
	theta, err := Import(net, ts)
	if err != nil {
		return nil, nil, err
	}
	return theta, meta, nil
}
