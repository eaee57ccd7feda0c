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

// param is one named block of θ or of the buffer vector: the tensor name,
// its shape and its position.
type param struct {
	name   string
	shape  []int
	offset int   // start in θ, or in the buffers when buffer is set
	buffer bool  // a buffer (running statistic), not a parameter
	dtype  Dtype // I64 for an integer buffer, else empty
}

// form is the layout of the activations between two layers as PyTorch sees
// them: flat rows (N, features) or images (N, C, H, W). flatsweep stores both
// as flat rows; the equivalent nn.Sequential needs an nn.Flatten (or
// nn.Unflatten) module, which takes a position in the numbering, wherever the
// form changes.
type form int

const (
	formAny   form = iota // the network input: whatever the first layer takes
	formFlat              // (N, features), the input and output of nn.Linear
	formImage             // (N, C, H, W), the input and output of nn.Conv2d and nn.MaxPool2d
)

// layout returns the named parameter blocks of net in θ order, followed by
// its buffer blocks in buffer order (see the package documentation for the
// naming).
func layout(net *nn.Network) ([]param, error) {
	var lw layoutWalker
	if _, err := lw.walk(net.Layers(), "", formAny); err != nil {
		return nil, err
	}
	if lw.offset != net.NumParams() || lw.boffset != net.NumBuffers() { // a layer's sizes disagree with its fields
		return nil, fmt.Errorf("%w: the named tensors cover %d of the network's %d parameters and %d of its %d buffers",
			ErrUnsupported, lw.offset, net.NumParams(), lw.boffset, net.NumBuffers())
	}
	return append(lw.params, lw.buffers...), nil
}

// layoutWalker accumulates the parameter and buffer blocks of a chain of
// layers.
type layoutWalker struct {
	params, buffers []param
	offset, boffset int // start in θ (in the buffers) of the next layer's parameters (buffers)
}

// add appends the block name of the given shape at the current offset.
func (lw *layoutWalker) add(name string, shape ...int) {
	lw.params = append(lw.params, param{name: name, shape: shape, offset: lw.offset})
	lw.offset += numel(shape)
}

// addBuffer appends the buffer block name of the given dtype and shape at
// the current buffer offset.
func (lw *layoutWalker) addBuffer(name string, dtype Dtype, shape ...int) {
	lw.buffers = append(lw.buffers, param{name: name, shape: shape, offset: lw.boffset, buffer: true, dtype: dtype})
	lw.boffset += numel(shape)
}

// walk names the parameters of layers, the modules of an nn.Sequential whose
// state_dict keys start with prefix, given the form of the chain's input; it
// returns the form of the chain's output. A change of form takes one
// position in the numbering (the nn.Flatten or nn.Unflatten module) before
// the layer that needs it.
func (lw *layoutWalker) walk(layers []nn.Layer, prefix string, in form) (form, error) {
	pos, cur := 0, in
	at := func(want form) string {
		if cur != formAny && cur != want {
			pos++ // nn.Flatten() or nn.Unflatten(1, (C, H, W))
		}
		cur = want
		name := prefix + strconv.Itoa(pos)
		pos++
		return name
	}
	for _, ly := range layers {
		switch ly := ly.(type) {
		case *nn.Dense:
			name := at(formFlat)
			lw.add(name+".weight", ly.Out, ly.In)
			lw.add(name+".bias", ly.Out)
		case *nn.Conv2D:
			name := at(formImage)
			lw.add(name+".weight", ly.F, ly.C, ly.K, ly.K)
			lw.add(name+".bias", ly.F)
		case *nn.MaxPool2D:
			at(formImage)
		case *nn.BatchNorm: // BatchNorm1d on flat rows, BatchNorm2d on images
			want := formFlat
			if ly.HW > 1 || cur == formImage {
				want = formImage
			}
			name := at(want)
			lw.add(name+".weight", ly.C)
			lw.add(name+".bias", ly.C)
			lw.addBuffer(name+".running_mean", "", ly.C)
			lw.addBuffer(name+".running_var", "", ly.C)
			lw.addBuffer(name+".num_batches_tracked", I64)
		case *nn.Residual:
			name := at(cur)
			out, err := lw.walk(ly.Body, name+".body.", cur)
			if err != nil {
				return 0, err
			}
			if cur != formAny && out != cur {
				return 0, fmt.Errorf("%w: residual block %s mixes flat and image activations", ErrUnsupported, name)
			}
			cur = out
		default: // ReLU, Tanh, Dropout: elementwise, any form
			if name := at(cur); ly.NumParams() != 0 {
				return 0, fmt.Errorf("%w: module %s (%T) has parameters but is not *nn.Dense, *nn.Conv2D, *nn.BatchNorm or *nn.Residual",
					ErrUnsupported, name, ly)
			}
		}
	}
	return cur, nil
}

// numel returns the element count of a valid shape.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Export returns the parameters θ of net as tensors named and shaped like the
// state_dict of the equivalent PyTorch nn.Sequential ("0.weight", "0.bias",
// "2.body.0.weight", …; see the package documentation), in θ order, followed
// by the network's buffers (net.Buffers(): the running statistics of its
// BatchNorm layers, "<i>.running_mean", …) in buffer order. The tensors hold
// copies of the values. A layer with parameters that is not an *nn.Dense,
// *nn.Conv2D, *nn.BatchNorm or *nn.Residual (of such layers) gives
// ErrUnsupported.
func Export(net *nn.Network, theta []float64) ([]Tensor, error) {
	if len(theta) != net.NumParams() {
		return nil, fmt.Errorf("%w: θ has %d values but the network has %d parameters",
			ErrMismatch, len(theta), net.NumParams())
	}
	ps, err := layout(net)
	if err != nil {
		return nil, err
	}
	bufs := net.Buffers()
	ts := make([]Tensor, len(ps))
	for i, p := range ps {
		src := theta
		if p.buffer {
			src = bufs
		}
		ts[i] = Tensor{Name: p.name, Shape: slices.Clone(p.shape),
			Data: slices.Clone(src[p.offset : p.offset+numel(p.shape)]), Dtype: p.dtype}
	}
	return ts, nil
}

// Import assembles θ for net from tensors named and shaped as by Export, in
// any order. Every parameter and buffer tensor of the network must be
// present with its exact shape, and no other tensor may be present;
// otherwise the error (ErrMismatch) lists every missing, misshapen,
// duplicate and extra tensor. The buffers are checked but not returned (see
// ImportState).
func Import(net *nn.Network, tensors []Tensor) ([]float64, error) {
	theta, _, err := ImportState(net, tensors)
	return theta, err
}

// ImportState is Import that also returns the buffers (the running
// statistics, length net.NumBuffers(); empty for a network without).
func ImportState(net *nn.Network, tensors []Tensor) (theta, buffers []float64, err error) {
	ps, err := layout(net)
	if err != nil {
		return nil, nil, err
	}
	byName := make(map[string]Tensor, len(tensors))
	var problems []string
	for _, t := range tensors {
		if _, dup := byName[t.Name]; dup {
			problems = append(problems, fmt.Sprintf("duplicate tensor %q", t.Name))
		}
		byName[t.Name] = t
	}
	theta = make([]float64, net.NumParams())
	buffers = make([]float64, net.NumBuffers())
	for _, p := range ps {
		dst := theta
		if p.buffer {
			dst = buffers
		}
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
			copy(dst[p.offset:], t.Data)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		problems = append(problems, fmt.Sprintf("extra tensor %q (shape %v)", name, byName[name].Shape))
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("%w: %s", ErrMismatch, strings.Join(problems, "; "))
	}
	return theta, buffers, nil
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
