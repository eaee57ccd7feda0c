package nn

import "fmt"

// CNNKernel is the convolution kernel size of NewCNN; CNNPad = 2 is its
// padding, so each convolution preserves the spatial size ("same").
const (
	CNNKernel = 5
	CNNPad    = (CNNKernel - 1) / 2
)

// NewCNN builds a small convolutional network for images of the given
// channels × height × width, stored NCHW and flattened per example (row i of
// X holds example i at index (c·height + y)·width + x):
//
//	for each f in conv: Conv2D(5×5, f filters, stride 1, padding 2) → act → MaxPool2D(2×2)
//	for each h in dense: Dense(h) → act
//	Dense(classes)
//
// with a softmax cross-entropy loss (use WithLoss for another). Each stage
// keeps the spatial size through the convolution and halves it (rounding
// down) in the pool, so the first Dense layer sees conv[last]·⌊height/2^s⌋·
// ⌊width/2^s⌋ features for s = len(conv) stages. Hidden layers use the
// activation's Kaiming gain, the output layer gain 1. It returns an error when
// a size is not positive or the image becomes smaller than 2×2 before a pool.
func NewCNN(channels, height, width int, conv, dense []int, classes int, act Activation) (*Network, error) {
	return NewCNNWith(channels, height, width, conv, dense, classes, act, Options{})
}

// NewCNNWith is NewCNN with batch normalization and dropout: every stage is
// Conv2D → BatchNorm over the filters (with o.BatchNorm) → act → MaxPool2D,
// every hidden dense layer Dense → BatchNorm (with o.BatchNorm) → act →
// Dropout (with o.Dropout > 0). Dropout acts on the dense classifier only,
// as in AlexNet and VGG; the convolution stages have none.
func NewCNNWith(channels, height, width int, conv, dense []int, classes int, act Activation, o Options) (*Network, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if channels <= 0 || height <= 0 || width <= 0 || classes <= 0 {
		return nil, fmt.Errorf("%w: NewCNN(%d×%d×%d, classes=%d)", ErrShape, channels, height, width, classes)
	}
	if _, _, err := hiddenAct(act, 1); err != nil {
		return nil, err
	}
	var layers []Layer
	c, h, w := channels, height, width
	for s, f := range conv {
		if f <= 0 || h < 2 || w < 2 {
			return nil, fmt.Errorf("%w: NewCNN stage %d: %d filters on %d×%d×%d", ErrShape, s, f, c, h, w)
		}
		a, gain, _ := hiddenAct(act, f*h*w)
		cv, err := NewConv2D(c, h, w, f, CNNKernel, CNNPad, gain)
		if err != nil {
			return nil, err
		}
		layers = append(layers, cv)
		layers = append(layers, o.hidden(a, f, h*w, false)...)
		layers = append(layers, &MaxPool2D{C: f, H: h, W: w, Size: 2})
		c, h, w = f, h/2, w/2
	}
	prev := c * h * w
	for _, d := range dense {
		if d <= 0 {
			return nil, fmt.Errorf("%w: NewCNN dense width %d", ErrShape, d)
		}
		a, gain, _ := hiddenAct(act, d)
		layers = append(layers, &Dense{In: prev, Out: d, Gain: gain})
		layers = append(layers, o.hidden(a, d, 1, true)...)
		prev = d
	}
	layers = append(layers, &Dense{In: prev, Out: classes, Gain: 1})
	return New(SoftmaxCrossEntropy{}, layers...)
}
