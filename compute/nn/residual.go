package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Residual is the skip-connection block Y = A + g(A), where g is the chain
// Body[0], …, Body[L−1] (for NewResMLP: Dense → act → Dense) mapping width w
// to the same width w. It is a Composite layer: its parameter slice is the
// concatenation of its sub-layers' slices in Body order, and the Workspace
// keeps the inner boundaries u₀ = A, u_{k+1} = Body[k](u_k) in the Sub field of
// its output Buf. With D = ∂L/∂Y the recurrences are
//
//	forward:    Y = A + u_L
//	backward:   ∂L/∂u_L = D,  then Body backward;  D_A = D + ∂L/∂u₀
//	R-forward:  R{Y} = R{A} + R{u_L}  (Body R-forward from R{u₀} = R{A})
//	R-backward: R{∂L/∂u_L} = R{D},  then Body R-backward;
//	            R{D_A} = R{D} + R{∂L/∂u₀}
//
// i.e. the identity branch contributes J = I, whose R-derivative is zero, so
// all second-order terms come from the Body layers.
//
// Its buffers are those of its Body layers in Body order (Buffered), and in
// training mode (Trainer) it runs ForwardTrain and BackwardTrain of its
// Trainer Body layers (BatchNorm, Dropout) and Forward and Backward of the
// others; the Body layers keep their own training state.
type Residual struct {
	// Body is the residual branch g; its sizes must chain and map width w to w.
	Body []Layer
}

// NewResidual returns the block A ↦ A + body(A) after checking the body.
func NewResidual(body ...Layer) (*Residual, error) {
	r := &Residual{Body: body}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Residual) validate() error {
	if len(r.Body) == 0 {
		return fmt.Errorf("%w: residual block with empty body", ErrShape)
	}
	for k, ly := range r.Body {
		if ly == nil {
			return fmt.Errorf("%w: residual body layer %d is nil", ErrShape, k)
		}
		if v, ok := ly.(validator); ok {
			if err := v.validate(); err != nil {
				return fmt.Errorf("residual body layer %d: %w", k, err)
			}
		}
		if ly.InSize() <= 0 || ly.OutSize() <= 0 {
			return fmt.Errorf("%w: residual body layer %d has sizes %d→%d", ErrShape, k, ly.InSize(), ly.OutSize())
		}
		if k > 0 && r.Body[k-1].OutSize() != ly.InSize() {
			return fmt.Errorf("%w: residual body layer %d outputs %d but layer %d takes %d",
				ErrShape, k-1, r.Body[k-1].OutSize(), k, ly.InSize())
		}
	}
	if in, out := r.Body[0].InSize(), r.Body[len(r.Body)-1].OutSize(); in != out {
		return fmt.Errorf("%w: residual body maps %d to %d, want equal widths", ErrShape, in, out)
	}
	return nil
}

// Sublayers returns Body (Composite).
func (r *Residual) Sublayers() []Layer { return r.Body }

// InSize returns the block width w.
func (r *Residual) InSize() int { return r.Body[0].InSize() }

// OutSize returns the block width w.
func (r *Residual) OutSize() int { return r.Body[len(r.Body)-1].OutSize() }

// NumParams returns the sum of the Body layers' parameter counts.
func (r *Residual) NumParams() int {
	n := 0
	for _, ly := range r.Body {
		n += ly.NumParams()
	}
	return n
}

// span returns the range [off, end) of sub-layer k in the block's parameters.
func (r *Residual) span(k int) (off, end int) {
	for _, ly := range r.Body[:k] {
		off += ly.NumParams()
	}
	return off, off + r.Body[k].NumParams()
}

// part returns sub-layer k's slice of the flat vector p (nil when p is nil).
func (r *Residual) part(p []float64, k int) []float64 {
	if p == nil {
		return nil
	}
	off, end := r.span(k)
	return p[off:end:end]
}

// Init initializes each Body layer on its slice, in order.
func (r *Residual) Init(p []float64, rng *rand.Rand) {
	for k, ly := range r.Body {
		ly.Init(r.part(p, k), rng)
	}
}

// MarkBiases marks the bias entries of the Body layers.
func (r *Residual) MarkBiases(isBias []bool) {
	for k, ly := range r.Body {
		if bm, ok := ly.(BiasMarker); ok {
			off, end := r.span(k)
			bm.MarkBiases(isBias[off:end])
		}
	}
}

// Forward runs the Body on u₀ = in.A and sets out.A = in.A + u_L.
func (r *Residual) Forward(n int, p []float64, in, out *Buf) { r.forward(false, n, p, in, out, nil) }

// Backward sets ∂L/∂u_L = out.D, runs the Body backward and, when in.D is
// non-nil, adds the skip term: in.D = ∂L/∂u₀ + out.D.
func (r *Residual) Backward(n int, p, grad []float64, in, out *Buf) {
	r.backward(false, n, p, grad, in, out)
}

// RForward runs the Body R-forward from R{u₀} = in.RA and sets
// out.RA = in.RA + R{u_L}.
func (r *Residual) RForward(n int, p, v []float64, in, out *Buf) {
	sub := out.Sub
	sub[0] = *in
	for k, ly := range r.Body {
		ly.RForward(n, r.part(p, k), r.part(v, k), &sub[k], &sub[k+1])
	}
	m := n * r.OutSize()
	copy(out.RA[:m], sub[len(r.Body)].RA[:m])
	if in.RA != nil {
		addTo(out.RA[:m], in.RA[:m])
	}
}

// RBackward sets R{∂L/∂u_L} = out.RD, runs the Body R-backward (adding the
// Body's part of Hv) and, when in.RD is non-nil, adds the skip term:
// in.RD = R{∂L/∂u₀} + out.RD.
func (r *Residual) RBackward(n int, p, v, hv []float64, in, out *Buf) {
	sub := out.Sub
	sub[0] = *in
	m := n * r.OutSize()
	copy(sub[len(r.Body)].RD[:m], out.RD[:m])
	for k := len(r.Body) - 1; k >= 0; k-- {
		r.Body[k].RBackward(n, r.part(p, k), r.part(v, k), r.part(hv, k), &sub[k], &sub[k+1])
	}
	if in.RD != nil {
		addTo(in.RD[:m], out.RD[:m])
	}
}

// numBuffers returns the buffer count of ly (0 when it is not Buffered).
func numBuffers(ly Layer) int {
	if b, ok := ly.(Buffered); ok {
		return b.NumBuffers()
	}
	return 0
}

// NumBuffers returns the sum of the Body layers' buffer counts.
func (r *Residual) NumBuffers() int {
	n := 0
	for _, ly := range r.Body {
		n += numBuffers(ly)
	}
	return n
}

// InitBuffers initializes the buffers of each Buffered Body layer on its
// slice, in order.
func (r *Residual) InitBuffers(b []float64) {
	off := 0
	for _, ly := range r.Body {
		k := numBuffers(ly)
		if bl, ok := ly.(Buffered); ok {
			bl.InitBuffers(b[off : off+k])
		}
		off += k
	}
}

// TrainLen returns 0: the Body layers keep their own training state.
func (r *Residual) TrainLen(int) int { return 0 }

// ForwardTrain is Forward in training mode.
func (r *Residual) ForwardTrain(n int, p []float64, in, out *Buf, tc *TrainCtx) {
	r.forward(true, n, p, in, out, tc)
}

// BackwardTrain is Backward after ForwardTrain.
func (r *Residual) BackwardTrain(n int, p, grad []float64, in, out *Buf) {
	r.backward(true, n, p, grad, in, out)
}

// forward is Forward, or ForwardTrain with train set: the Body layers in
// that mode (see forwardMode), then the sum with the identity branch.
func (r *Residual) forward(train bool, n int, p []float64, in, out *Buf, tc *TrainCtx) {
	sub := out.Sub
	sub[0] = *in
	for k, ly := range r.Body {
		forwardMode(train, ly, n, r.part(p, k), &sub[k], &sub[k+1], tc)
	}
	m := n * r.OutSize()
	a, u, y := in.A[:m], sub[len(r.Body)].A[:m], out.A[:m]
	for i, x := range a {
		y[i] = x + u[i]
	}
}

// backward is Backward, or BackwardTrain with train set.
func (r *Residual) backward(train bool, n int, p, grad []float64, in, out *Buf) {
	sub := out.Sub
	sub[0] = *in
	m := n * r.OutSize()
	copy(sub[len(r.Body)].D[:m], out.D[:m])
	for k := len(r.Body) - 1; k >= 0; k-- {
		backwardMode(train, r.Body[k], n, r.part(p, k), r.part(grad, k), &sub[k], &sub[k+1])
	}
	if in.D != nil {
		addTo(in.D[:m], out.D[:m])
	}
}

// addTo sets dst += src elementwise.
func addTo(dst, src []float64) {
	src = src[:len(dst)]
	for i, x := range src {
		dst[i] += x
	}
}

// NewResMLP builds the residual MLP
//
//	in → Dense(in→w) → act → [Residual: Dense(w→w) → act → Dense(w→w)] × blocks → Dense(w→out)
//
// with a softmax cross-entropy loss (use WithLoss for another). The residual
// stream after the stem activation is updated additively, a ↦ a + W₂ act(W₁a +
// b₁) + b₂, with no activation after the addition. The stem and each block's
// first Dense use the activation's Kaiming gain (√2 for ReLU, 5/3 for tanh);
// each block's second Dense uses gain 1/√blocks so the stream's variance stays
// O(1) at initialization; the output layer uses gain 1. blocks may be 0 (a
// one-hidden-layer MLP).
func NewResMLP(in, width, blocks, out int, act Activation) (*Network, error) {
	return NewResMLPWith(in, width, blocks, out, act, Options{})
}

// NewResMLPWith is NewResMLP with batch normalization and dropout: the stem
// is Dense → BatchNorm (with o.BatchNorm) → act → Dropout (with o.Dropout >
// 0) and each block's body Dense → BatchNorm → act → Dropout → Dense, the
// second Dense without batch normalization, so that each block still adds
// W₂ h + b₂ to the stream.
func NewResMLPWith(in, width, blocks, out int, act Activation, o Options) (*Network, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if in <= 0 || width <= 0 || out <= 0 || blocks < 0 {
		return nil, fmt.Errorf("%w: NewResMLP(in=%d, width=%d, blocks=%d, out=%d)", ErrShape, in, width, blocks, out)
	}
	stemAct, gain, err := hiddenAct(act, width)
	if err != nil {
		return nil, err
	}
	layers := append([]Layer{&Dense{In: in, Out: width, Gain: gain}}, o.hidden(stemAct, width, 1, true)...)
	for b := 0; b < blocks; b++ {
		a, _, _ := hiddenAct(act, width)
		body := append([]Layer{&Dense{In: width, Out: width, Gain: gain}}, o.hidden(a, width, 1, true)...)
		blk, err := NewResidual(append(body, &Dense{In: width, Out: width, Gain: 1 / math.Sqrt(float64(blocks))})...)
		if err != nil {
			return nil, err
		}
		layers = append(layers, blk)
	}
	layers = append(layers, &Dense{In: width, Out: out, Gain: 1})
	return New(SoftmaxCrossEntropy{}, layers...)
}
