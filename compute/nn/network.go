package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// ErrShape is returned when layers do not fit together or sizes are invalid.
var ErrShape = errors.New("nn: invalid network shape")

// Activation selects the hidden nonlinearity of NewMLP.
type Activation int

const (
	// ActReLU is max(x, 0), initialized with gain √2 (He).
	ActReLU Activation = iota
	// ActTanh is tanh(x), initialized with gain 5/3.
	ActTanh
)

// ParseActivation maps "relu" and "tanh" to an Activation.
func ParseActivation(name string) (Activation, error) {
	switch name {
	case "relu":
		return ActReLU, nil
	case "tanh":
		return ActTanh, nil
	}
	return 0, fmt.Errorf("%w: unknown activation %q", ErrShape, name)
}

// Network is a stack of layers with a loss on the last layer's output. Its
// parameters are one flat vector θ: layer l owns θ[Offset(l) : Offset(l+1)]
// (see the package documentation for the layout). A Network is immutable after
// construction and safe for concurrent use; all scratch memory lives in a
// Workspace.
type Network struct {
	layers []Layer
	loss   LossFunc
	offs   []int // len(layers)+1 parameter offsets

	// boffs holds the len(layers)+1 buffer offsets and buffers the buffers
	// of evaluation mode (see Buffered and WithBuffers); trains reports a
	// Trainer layer and coupled a BatchNorm.
	boffs   []int
	buffers []float64
	trains  bool
	coupled bool

	// Weight decay (λ/2) Σ_i m_i θ_i²: decayMask holds m (nil when λ = 0).
	decay     float64
	decayBias bool
	decayMask []float64
}

// New builds a network from layers whose sizes chain (OutSize of layer l equals
// InSize of layer l+1) and a loss on the output of the last layer.
func New(loss LossFunc, layers ...Layer) (*Network, error) {
	if len(layers) == 0 {
		return nil, fmt.Errorf("%w: no layers", ErrShape)
	}
	if loss == nil {
		return nil, fmt.Errorf("%w: nil loss", ErrShape)
	}
	offs := make([]int, len(layers)+1)
	for l, ly := range layers {
		if ly == nil {
			return nil, fmt.Errorf("%w: layer %d is nil", ErrShape, l)
		}
		if v, ok := ly.(validator); ok {
			if err := v.validate(); err != nil {
				return nil, fmt.Errorf("layer %d: %w", l, err)
			}
		}
		if ly.InSize() <= 0 || ly.OutSize() <= 0 {
			return nil, fmt.Errorf("%w: layer %d has sizes %d→%d", ErrShape, l, ly.InSize(), ly.OutSize())
		}
		if l > 0 && layers[l-1].OutSize() != ly.InSize() {
			return nil, fmt.Errorf("%w: layer %d outputs %d but layer %d takes %d",
				ErrShape, l-1, layers[l-1].OutSize(), l, ly.InSize())
		}
		offs[l+1] = offs[l] + ly.NumParams()
		if c, ok := ly.(Composite); ok && !composes(c) {
			return nil, fmt.Errorf("%w: layer %d (%T) has sub-layers with buffers or a training mode but is not Buffered and a Trainer",
				ErrShape, l, ly)
		}
	}
	net := &Network{layers: layers, loss: loss, offs: offs, boffs: make([]int, len(layers)+1)}
	for l, ly := range layers {
		net.boffs[l+1] = net.boffs[l] + numBuffers(ly)
		net.trains = net.trains || walkLayers(ly, func(ly Layer) bool {
			_, t := ly.(Trainer)
			_, c := ly.(Composite)
			return t && !c
		})
		net.coupled = net.coupled || walkLayers(ly, func(ly Layer) bool { _, ok := ly.(*BatchNorm); return ok })
	}
	net.buffers = make([]float64, net.NumBuffers())
	net.InitBuffers(net.buffers)
	return net, nil
}

// walkLayers reports whether f holds for ly or, recursively, one of its
// sub-layers.
func walkLayers(ly Layer, f func(Layer) bool) bool {
	if f(ly) {
		return true
	}
	if c, ok := ly.(Composite); ok {
		for _, sl := range c.Sublayers() {
			if walkLayers(sl, f) {
				return true
			}
		}
	}
	return false
}

// composes reports whether the composite layer c can hold its sub-layers:
// when some (recursively) has buffers or a training mode, c must be
// Buffered and a Trainer itself, to lay out their buffers and run their
// training mode.
func composes(c Composite) bool {
	special := false
	for _, sl := range c.Sublayers() {
		special = special || walkLayers(sl, func(ly Layer) bool {
			_, b := ly.(Buffered)
			_, t := ly.(Trainer)
			return b || t
		})
	}
	_, b := c.(Buffered)
	_, t := c.(Trainer)
	return !special || (b && t)
}

// NumBuffers returns the length of the network's buffer vector: the buffers
// of its Buffered layers (the running statistics of BatchNorm layers),
// layer l's at [BufferOffset(l), BufferOffset(l+1)), in layer order.
func (net *Network) NumBuffers() int { return net.boffs[len(net.layers)] }

// BufferOffset returns the start of layer l's buffers in the buffer vector.
func (net *Network) BufferOffset(l int) int { return net.boffs[l] }

// LayerBuffers returns layer l's sub-slice of a buffer vector.
func (net *Network) LayerBuffers(b []float64, l int) []float64 {
	return b[net.boffs[l]:net.boffs[l+1]:net.boffs[l+1]]
}

// InitBuffers sets b (length NumBuffers) to the buffers of fresh layers
// (running mean 0, running variance 1, no batches seen).
func (net *Network) InitBuffers(b []float64) {
	for l, ly := range net.layers {
		if bl, ok := ly.(Buffered); ok {
			bl.InitBuffers(net.LayerBuffers(b, l))
		}
	}
}

// Buffers returns a copy of the buffers the network's evaluation mode uses
// (those of fresh layers unless set by WithBuffers).
func (net *Network) Buffers() []float64 { return slices.Clone(net.buffers) }

// WithBuffers returns a network with the same layers, loss and weight decay
// whose evaluation mode uses the buffers b (copied; length NumBuffers): the
// network on which to measure a trained θ together with the running
// statistics its training left.
func (net *Network) WithBuffers(b []float64) (*Network, error) {
	if len(b) != net.NumBuffers() {
		return nil, fmt.Errorf("%w: %d buffer values for a network with %d", ErrShape, len(b), net.NumBuffers())
	}
	c := *net
	c.buffers = slices.Clone(b)
	return &c, nil
}

// Trains reports whether some layer, or sub-layer of a composite layer,
// computes differently in training mode (BatchNorm, Dropout; see Trainer
// and Workspace.TrainGrad).
func (net *Network) Trains() bool { return net.trains }

// Coupled reports whether a training-mode pass couples the rows of a batch
// (through BatchNorm's batch statistics), so that Workspace.TrainGrad needs
// the whole batch in one chunk.
func (net *Network) Coupled() bool { return net.coupled }

// hiddenAct returns the activation layer of the given width and the Kaiming
// gain of the layer feeding it.
func hiddenAct(act Activation, width int) (Layer, float64, error) {
	switch act {
	case ActReLU:
		return &ReLU{Size: width}, math.Sqrt2, nil
	case ActTanh:
		return &Tanh{Size: width}, 5.0 / 3, nil
	}
	return nil, 0, fmt.Errorf("%w: unknown activation %d", ErrShape, act)
}

// Options adds batch normalization and dropout to the networks of
// NewMLPWith, NewCNNWith and NewResMLPWith. The zero value adds neither.
type Options struct {
	// BatchNorm inserts a BatchNorm after every hidden Dense layer (over its
	// features, PyTorch's BatchNorm1d) and every convolution (over its
	// channels, BatchNorm2d), before the activation.
	BatchNorm bool
	// Dropout, if > 0, inserts a Dropout of that probability after the
	// activation of every hidden Dense layer (not after convolutions). It
	// must be in [0, 1).
	Dropout float64
}

func (o Options) validate() error {
	if !(o.Dropout >= 0 && o.Dropout < 1) {
		return fmt.Errorf("%w: dropout probability %v (want 0 ≤ p < 1)", ErrShape, o.Dropout)
	}
	return nil
}

// hidden returns the layers after a hidden Dense or convolution of the given
// channels × positions: BatchNorm (with o.BatchNorm), then act, then Dropout
// (with o.Dropout > 0 and dropout true).
func (o Options) hidden(act Layer, c, hw int, dropout bool) []Layer {
	var ls []Layer
	if o.BatchNorm {
		ls = append(ls, &BatchNorm{C: c, HW: hw})
	}
	ls = append(ls, act)
	if dropout && o.Dropout > 0 {
		ls = append(ls, &Dropout{Size: c * hw, P: o.Dropout})
	}
	return ls
}

// NewMLP builds the multilayer perceptron in → hidden[0] → … → out with the
// given hidden activation and a softmax cross-entropy loss: Dense, act, Dense,
// act, …, Dense. Hidden Dense layers use the activation's Kaiming gain, the
// output layer gain 1.
func NewMLP(in int, hidden []int, out int, act Activation) (*Network, error) {
	return NewMLPWith(in, hidden, out, act, Options{})
}

// NewMLPWith is NewMLP with batch normalization and dropout: every hidden
// layer is Dense → BatchNorm (with o.BatchNorm) → act → Dropout (with
// o.Dropout > 0), the output layer a plain Dense.
func NewMLPWith(in int, hidden []int, out int, act Activation, o Options) (*Network, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	var layers []Layer
	prev := in
	for _, h := range hidden {
		a, gain, err := hiddenAct(act, h)
		if err != nil {
			return nil, err
		}
		layers = append(layers, &Dense{In: prev, Out: h, Gain: gain})
		layers = append(layers, o.hidden(a, h, 1, true)...)
		prev = h
	}
	layers = append(layers, &Dense{In: prev, Out: out, Gain: 1})
	return New(SoftmaxCrossEntropy{}, layers...)
}

// Layers returns the network's layers (do not modify them).
func (net *Network) Layers() []Layer { return net.layers }

// NumParams returns P, the length of θ.
func (net *Network) NumParams() int { return net.offs[len(net.layers)] }

// InSize returns the input width d (columns of X).
func (net *Network) InSize() int { return net.layers[0].InSize() }

// OutSize returns the output width k (number of classes).
func (net *Network) OutSize() int { return net.layers[len(net.layers)-1].OutSize() }

// Offset returns the start of layer l's parameters in θ; Offset(len(Layers()))
// is P.
func (net *Network) Offset(l int) int { return net.offs[l] }

// LayerParams returns layer l's sub-slice of a flat vector laid out like θ.
func (net *Network) LayerParams(theta []float64, l int) []float64 {
	return theta[net.offs[l]:net.offs[l+1]:net.offs[l+1]]
}

// Init fills θ (length P) by calling each layer's Init in order with rng.
func (net *Network) Init(theta []float64, rng *rand.Rand) {
	for l, ly := range net.layers {
		ly.Init(net.LayerParams(theta, l), rng)
	}
}

// LossFunc returns the network's loss.
func (net *Network) LossFunc() LossFunc { return net.loss }

// WithLoss returns a network with the same layers (shared, so the same
// parameter layout and the same weight decay) and a different loss.
func (net *Network) WithLoss(loss LossFunc) (*Network, error) {
	if loss == nil {
		return nil, fmt.Errorf("%w: nil loss", ErrShape)
	}
	c := *net
	c.loss = loss
	return &c, nil
}

// WithWeightDecay returns a network with the same layers and loss whose
// objective carries the L2 penalty
//
//	L_λ(θ) = L(θ) + (λ/2) Σ_i m_i θ_i²,
//
// with m_i = 1 for every weight and, when biases is true, for every bias entry
// too (m_i = 0 otherwise; bias entries are those marked by BiasMarker layers).
// The penalty is reflected in Workspace.Loss, LossGrad (+λ m ⊙ θ), HVP and
// Hessian (+λ m ⊙ v) and GNVP and GaussNewton (+λ m ⊙ v); with biases true the
// Hessian and the Gauss–Newton matrix shift by exactly λI. λ = 0 removes the
// penalty; λ must be finite and non-negative.
func (net *Network) WithWeightDecay(lambda float64, biases bool) (*Network, error) {
	if !(lambda >= 0) || math.IsInf(lambda, 1) {
		return nil, fmt.Errorf("%w: weight decay λ = %v must be finite and ≥ 0", ErrShape, lambda)
	}
	c := *net
	c.decay, c.decayBias, c.decayMask = lambda, biases, nil
	if lambda == 0 {
		return &c, nil
	}
	isBias := make([]bool, net.NumParams())
	if !biases {
		for l, ly := range net.layers {
			if bm, ok := ly.(BiasMarker); ok {
				bm.MarkBiases(isBias[net.offs[l]:net.offs[l+1]])
			}
		}
	}
	c.decayMask = make([]float64, len(isBias))
	for i, b := range isBias {
		if !b {
			c.decayMask[i] = 1
		}
	}
	return &c, nil
}

// WeightDecay returns the penalty coefficient λ and whether biases are
// included (see WithWeightDecay).
func (net *Network) WeightDecay() (lambda float64, biases bool) { return net.decay, net.decayBias }

// penalty returns (λ/2) Σ m_i θ_i² and adds λ m ⊙ θ to grad when non-nil.
func (net *Network) penalty(theta, grad []float64) float64 {
	if net.decayMask == nil {
		return 0
	}
	var sq float64
	for i, m := range net.decayMask {
		sq += m * theta[i] * theta[i]
	}
	if grad != nil {
		net.addDecay(grad, theta)
	}
	return net.decay / 2 * sq
}

// addDecay adds λ m ⊙ v to dst.
func (net *Network) addDecay(dst, v []float64) {
	for i, m := range net.decayMask {
		dst[i] += net.decay * m * v[i]
	}
}
