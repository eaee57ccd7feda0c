package spec

import (
	"fmt"
	"slices"
)

// Image is the channels × height × width layout of an image dataset's
// examples; the zero value means the examples are not images.
type Image struct{ C, H, W int }

// IsImage reports whether the layout is an image's.
func (s Image) IsImage() bool { return s.C > 0 }

// Input is what a dataset gives a network: the input width, the number of
// classes and, for images, their layout.
type Input struct {
	Features, Classes int
	Image             Image
}

// Sizes of the file datasets, as known before reading their files (IDX
// images are taken to be 28×28, as in MNIST, Fashion-MNIST and KMNIST; the
// files' own sizes are used when a trial runs).
const (
	IDXClasses    = 10
	CIFARClasses  = 10
	CIFARFeatures = 3 * 32 * 32
)

// Input returns the input of the trial's dataset.
func (t Trial) Input() Input {
	switch {
	case IsIDX(t.Dataset.Name):
		return Input{28 * 28, IDXClasses, Image{1, 28, 28}}
	case t.Dataset.Name == DatasetCIFAR10:
		return Input{CIFARFeatures, CIFARClasses, Image{3, 32, 32}}
	}
	return Input{or(t.Dataset.Features, DefaultFeatures), or(t.Dataset.Classes, DefaultClasses), Image{}}
}

// LayerKind is the kind of a top-level layer of a network.
type LayerKind string

// Layer kinds of an Architecture.
const (
	LayerDense    LayerKind = "dense"
	LayerReLU     LayerKind = "relu"
	LayerTanh     LayerKind = "tanh"
	LayerConv     LayerKind = "conv"
	LayerMaxPool  LayerKind = "maxpool"
	LayerResidual LayerKind = "residual"
	// LayerBatchNorm is batch normalization (model.batchnorm), LayerDropout
	// dropout (model.dropout).
	LayerBatchNorm LayerKind = "batchnorm"
	LayerDropout   LayerKind = "dropout"
)

// CNNKernel is the convolution kernel size of the cnn architecture; its
// padding (CNNKernel − 1)/2 keeps the spatial size ("same").
const CNNKernel = 5

// ArchLayer is one top-level layer: its kind, input and output widths and
// number of parameters.
type ArchLayer struct {
	Kind    LayerKind
	In, Out int
	Params  int
}

// Architecture is the exact layer structure of a trial's network, known from
// its spec without building it: package compute builds networks with these
// layers (a test holds the two together).
type Architecture struct {
	// Arch and Loss are the model's architecture and loss ("ce" or "mse").
	Arch, Loss string
	// Layers are the top-level layers from the input.
	Layers []ArchLayer
	// Params is P, the total number of parameters.
	Params int
}

// DenseLayers returns the indices into Layers of the top-level Dense layers.
func (a Architecture) DenseLayers() []int {
	var idx []int
	for i, l := range a.Layers {
		if l.Kind == LayerDense {
			idx = append(idx, i)
		}
	}
	return idx
}

// DinhPairs returns the indices l₁ into Layers of the top-level
// Dense–ReLU–Dense triples (l₁, l₁+1, l₁+2), in order from the input: the
// pairs Dinh's α-scaling can act on.
func (a Architecture) DinhPairs() []int {
	var out []int
	for l := 0; l+2 < len(a.Layers); l++ {
		if a.Layers[l].Kind == LayerDense && a.Layers[l+1].Kind == LayerReLU && a.Layers[l+2].Kind == LayerDense {
			out = append(out, l)
		}
	}
	return out
}

// maxParams bounds the parameter count of a trial's network.
const maxParams = 1 << 28

// Architecture returns the layers of the trial's network for its input. It
// fails (with a *FieldError) for a model whose sizes do not fit: a width out
// of range, an image too small for its pooling stages, or more than 2²⁸
// parameters.
func (t Trial) Architecture() (Architecture, error) {
	m, in := t.Model, t.Input()
	a := Architecture{Arch: m.Arch, Loss: or(m.Loss, LossCE)}
	act := LayerReLU
	if m.Activation == ActivationTanh {
		act = LayerTanh
	}
	var p float64 // counted in float64 so that it cannot overflow
	add := func(kind LayerKind, inW, outW int, params float64) {
		a.Layers = append(a.Layers, ArchLayer{Kind: kind, In: inW, Out: outW, Params: int(min(params, maxParams+1))})
		p += params
	}
	dense := func(inW, outW int) { add(LayerDense, inW, outW, float64(inW)*float64(outW)+float64(outW)) }
	prev := in.Features
	switch m.Arch {
	case ArchResMLP:
		w := m.Width
		dense(prev, w)
		bn := 0.0 // the parameters of a batch norm over w features
		if m.BatchNorm {
			bn = 2 * float64(w)
			add(LayerBatchNorm, w, w, bn)
		}
		add(act, w, w, 0)
		if m.Dropout > 0 {
			add(LayerDropout, w, w, 0)
		}
		for range m.Blocks {
			add(LayerResidual, w, w, 2*(float64(w)*float64(w)+float64(w))+bn)
		}
		prev = w
	case ArchCNN:
		c, h, w := in.Image.C, in.Image.H, in.Image.W
		for s, f := range m.Conv {
			if h < 2 || w < 2 {
				return Architecture{}, invalid(fmt.Sprintf("model.conv[%d]", s), f,
					fmt.Sprintf("the %d×%d image is too small for another 2×2 pooling stage", h, w))
			}
			add(LayerConv, c*h*w, f*h*w, float64(f)*float64(c)*CNNKernel*CNNKernel+float64(f))
			if m.BatchNorm {
				add(LayerBatchNorm, f*h*w, f*h*w, 2*float64(f))
			}
			add(act, f*h*w, f*h*w, 0)
			add(LayerMaxPool, f*h*w, f*(h/2)*(w/2), 0)
			c, h, w = f, h/2, w/2
		}
		prev = c * h * w
		fallthrough
	default:
		for _, hw := range m.Hidden {
			dense(prev, hw)
			if m.BatchNorm {
				add(LayerBatchNorm, hw, hw, 2*float64(hw))
			}
			add(act, hw, hw, 0)
			if m.Dropout > 0 {
				add(LayerDropout, hw, hw, 0)
			}
			prev = hw
		}
	}
	dense(prev, in.Classes)
	if p > maxParams {
		field, value := "model.hidden", any(m.Hidden)
		switch m.Arch {
		case ArchResMLP:
			field, value = "model.width", m.Width
		case ArchCNN:
			field, value = "model.conv", m.Conv
		}
		return Architecture{}, invalid(field, value, fmt.Sprintf("network has about %.0f parameters, more than %d", p, maxParams))
	}
	a.Params = int(p)
	return a, nil
}

// Kinds returns the kinds of the layers, for comparisons in tests.
func (a Architecture) Kinds() []LayerKind {
	out := make([]LayerKind, len(a.Layers))
	for i, l := range a.Layers {
		out[i] = l.Kind
	}
	return slices.Clip(out)
}
