package nn

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// ErrFloat32 is returned by Network.Float32 for a network that the
// single-precision path does not support.
var ErrFloat32 = errors.New("nn: not supported in float32")

// Net32 is the single-precision (float32) training path of a Network: the
// minibatch loss and gradient of the same function, with the parameters,
// activations, backpropagated gradients and every matrix product in float32
// (gonum's blas32 Sgemm, backed by OpenBLAS with the build tag openblas).
// It supports the networks built of Dense layers, each optionally followed
// by a ReLU or a Tanh of its width (the MLPs of NewMLP), with the
// SoftmaxCrossEntropy or MeanSquaredError loss and the network's weight
// decay; Network.Float32 refuses every other layer or loss.
//
// # Precision
//
// Parameters θ, activations a_j, gradients D_j and ∇θ are float32, and the
// products Z = A Wᵀ, D_A = D_Z W and ∇W = D_Zᵀ A accumulate their inner
// sums in float32 inside the BLAS (as PyTorch's float32 training does): an
// entry of ∇W sums the n rows of one chunk, with a relative rounding error
// of order √n·2⁻²⁴ for sums of like-signed terms, far below the minibatch
// noise of the gradient it estimates. The reductions whose precision is
// cheap to keep are done in float64: the loss of every row (softmax,
// log-sum-exp and ∂ℓ/∂z are evaluated in float64 from the float32 logits,
// and ∂ℓ/∂z rounded to float32 once), the sum of the row losses, the bias
// gradients 1ᵀ D_Z (summed over all rows and chunks in float64, rounded
// once) and the weight-decay penalty (λ/2) Σ m_i θ_i². Chunks of a batch
// larger than the workspace accumulate ∇W in float32, in chunk order.
//
// Results are deterministic: the same θ and batch give bit-identical
// gradients on the same binary, BLAS backend and thread count (both backends
// partition the output of a product, never its inner dimension).
//
// A Net32 is immutable and safe for concurrent use; scratch memory lives in
// a Workspace32.
type Net32 struct {
	net   *Network
	dense []dense32
	mse   bool      // MeanSquaredError instead of SoftmaxCrossEntropy
	decay float32   // λ of the weight decay
	mask  []float32 // its mask m (nil without weight decay)
}

// dense32 is one Dense layer with its optional activation.
type dense32 struct {
	in, out int
	off     int // offset of W in θ; b follows at off + out·in
	act     int // actNone, actReLU or actTanh
}

const (
	actNone = iota
	actReLU
	actTanh
)

// Float32 returns the single-precision training path of net (see Net32),
// or an error wrapping ErrFloat32 naming the first layer or the loss it does
// not support.
func (net *Network) Float32() (*Net32, error) {
	n32 := &Net32{net: net, decay: float32(net.decay)}
	switch net.loss.(type) {
	case SoftmaxCrossEntropy:
	case MeanSquaredError:
		n32.mse = true
	default:
		return nil, fmt.Errorf("%w: loss %T (want softmax cross-entropy or mean squared error)", ErrFloat32, net.loss)
	}
	for l, ly := range net.layers {
		switch ly := ly.(type) {
		case *Dense:
			n32.dense = append(n32.dense, dense32{in: ly.In, out: ly.Out, off: net.offs[l]})
		case *ReLU, *Tanh:
			k := len(n32.dense) - 1
			if k < 0 || n32.dense[k].act != actNone {
				return nil, fmt.Errorf("%w: layer %d (%T) does not follow a Dense layer", ErrFloat32, l, ly)
			}
			n32.dense[k].act = actReLU
			if _, ok := ly.(*Tanh); ok {
				n32.dense[k].act = actTanh
			}
		default:
			return nil, fmt.Errorf("%w: layer %d is a %T (want Dense, ReLU or Tanh layers)", ErrFloat32, l, ly)
		}
	}
	if net.decayMask != nil {
		n32.mask = make([]float32, len(net.decayMask))
		To32(n32.mask, net.decayMask)
	}
	return n32, nil
}

// Network returns the float64 network of which n32 is the float32 path.
func (n32 *Net32) Network() *Network { return n32.net }

// NumParams returns P, the length of θ (the layout of Network.Offset).
func (n32 *Net32) NumParams() int { return n32.net.NumParams() }

// To32 sets dst[i] = float32(src[i]), rounding to nearest (even);
// len(dst) must be len(src).
func To32(dst []float32, src []float64) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = float32(x)
	}
}

// To64 sets dst[i] = float64(src[i]), which is exact; len(dst) must be
// len(src).
func To64(dst []float64, src []float32) {
	dst = dst[:len(src)]
	for i, x := range src {
		dst[i] = float64(x)
	}
}

// Workspace32 holds the scratch memory of Net32 for batches of up to Rows
// examples at a time (longer inputs are processed in consecutive chunks, in
// order). Repeated calls do not allocate in package nn. A Workspace32 must
// not be used concurrently.
type Workspace32 struct {
	net  *Net32
	rows int
	// a[k] is the output of Dense layer k after its activation and d[k] the
	// gradient with respect to it, then (in place) to its pre-activation:
	// an activation's derivative is a function of its output (1[y > 0] for
	// ReLU, 1 − y² for tanh), so no pre-activation is kept.
	a, d [][]float32
	// bsum[k] accumulates the bias gradient of Dense layer k in float64.
	bsum [][]float64
}

// NewWorkspace allocates a workspace for chunks of at most rows examples
// (rows < 1 is treated as 1).
func (n32 *Net32) NewWorkspace(rows int) *Workspace32 {
	rows = max(rows, 1)
	ws := &Workspace32{net: n32, rows: rows}
	for _, dl := range n32.dense {
		ws.a = append(ws.a, make([]float32, rows*dl.out))
		ws.d = append(ws.d, make([]float32, rows*dl.out))
		ws.bsum = append(ws.bsum, make([]float64, dl.out))
	}
	return ws
}

// Rows returns the chunk size of the workspace.
func (ws *Workspace32) Rows() int { return ws.rows }

// LossGrad sets grad = ∇L(θ) for the mean loss L = (1/n) Σᵢ ℓᵢ over the
// n = len(y) rows of the row-major n×d matrix x (plus the weight-decay
// penalty of the network), all in float32 but for the float64 reductions
// of Net32, and returns L and the accuracy (computed in float64 from the
// float32 logits). It panics on inconsistent lengths.
func (ws *Workspace32) LossGrad(grad, theta, x []float32, y []int) (loss, acc float64) {
	n32 := ws.net
	p, d := n32.NumParams(), n32.net.InSize()
	if len(theta) != p || len(grad) != p || len(x) != len(y)*d {
		panic(fmt.Sprintf("nn: LossGrad32: len(theta) = %d, len(grad) = %d, len(x) = %d for P = %d and %d rows × %d",
			len(theta), len(grad), len(x), p, len(y), d))
	}
	n := len(y)
	if n == 0 {
		clear(grad)
		return 0, 0
	}
	for _, b := range ws.bsum {
		clear(b)
	}
	s := 1 / float64(n)
	var sum float64
	correct := 0
	for lo := 0; lo < n; lo += ws.rows {
		hi := min(lo+ws.rows, n)
		ws.forward(theta, x[lo*d:hi*d], hi-lo)
		ls, c := ws.lossGrad(hi-lo, y[lo:hi], s)
		sum += ls
		correct += c
		ws.backward(theta, grad, x[lo*d:hi*d], hi-lo, lo == 0, false, 0)
	}
	for k, dl := range n32.dense {
		gb := grad[dl.off+dl.out*dl.in : dl.off+dl.out*dl.in+dl.out]
		for j, v := range ws.bsum[k] {
			gb[j] = float32(v)
		}
	}
	return sum/float64(n) + n32.penalty(theta, grad), float64(correct) / float64(n)
}

// forward runs the forward pass on the chunk x of n rows.
func (ws *Workspace32) forward(theta, x []float32, n int) {
	impl := blas32.Implementation()
	in := x
	for k, dl := range ws.net.dense {
		w, b := dl.split(theta)
		z := ws.a[k][:n*dl.out]
		for i := 0; i < n; i++ {
			copy(z[i*dl.out:(i+1)*dl.out], b)
		}
		impl.Sgemm(blas.NoTrans, blas.Trans, n, dl.out, dl.in, 1, in, dl.in, w, dl.in, 1, z, dl.out)
		switch dl.act {
		case actReLU:
			relu32(z)
		case actTanh:
			for i, v := range z {
				z[i] = float32(math.Tanh(float64(v)))
			}
		}
		in = z
	}
}

// lossGrad evaluates the loss of the last forward pass on the n rows with
// labels y, sets the output gradient to s·∂ℓ/∂z and returns Σᵢ ℓᵢ and the
// rows whose argmax is the label, all in float64 from the float32 logits.
func (ws *Workspace32) lossGrad(n int, y []int, s float64) (float64, int) {
	last := len(ws.net.dense) - 1
	k := ws.net.dense[last].out
	z, dz := ws.a[last], ws.d[last]
	var sum float64
	correct := 0
	for i := 0; i < n; i++ {
		row, drow := z[i*k:(i+1)*k], dz[i*k:(i+1)*k]
		m, arg := float64(row[0]), 0
		for c, v := range row {
			if float64(v) > m {
				m, arg = float64(v), c
			}
		}
		if arg == y[i] {
			correct++
		}
		if ws.net.mse {
			var sq float64
			for c, v := range row {
				e := float64(v)
				if c == y[i] {
					e--
				}
				sq += e * e
				drow[c] = float32(s * e)
			}
			sum += sq / 2
			continue
		}
		var se float64
		for _, v := range row {
			se += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(se)
		sum += lse - float64(row[y[i]])
		for c, v := range row {
			p := math.Exp(float64(v) - lse)
			if c == y[i] {
				p--
			}
			drow[c] = float32(s * p)
		}
	}
	return sum, correct
}

// SGDStep takes one plain SGD step θ ← θ − ε ∇L(θ) in place on the batch
// (x, y) with learning rate ε = lr (rounded to float32) and returns the loss
// L(θ) before the step (as LossGrad does). A non-finite loss leaves θ
// unchanged. When the batch fits one chunk and the network has no weight
// decay the update is fused into the backward pass: each layer's D_A = D_Z W
// is formed first, then W ← W − ε D_Zᵀ A in the same Sgemm that would
// otherwise form ∇W (alpha = −ε, beta = 1), and b ← b − ε·1ᵀD_Z from the
// float64 column sums, so the gradient is never stored and no separate
// update pass runs; otherwise it is LossGrad into grad (length P, scratch)
// followed by θ ← θ − ε ∇L (blas32 Saxpy). The two forms round differently
// (each deterministically).
func (ws *Workspace32) SGDStep(theta, grad, x []float32, y []int, lr float64) (loss float64) {
	n32 := ws.net
	n, d := len(y), n32.net.InSize()
	if n32.mask != nil || n > ws.rows || n == 0 {
		loss, _ = ws.LossGrad(grad, theta, x, y)
		if !math.IsNaN(loss) && !math.IsInf(loss, 0) {
			blas32.Implementation().Saxpy(len(theta), -float32(lr), grad, 1, theta, 1)
		}
		return loss
	}
	if len(theta) != n32.NumParams() || len(x) != n*d {
		panic(fmt.Sprintf("nn: SGDStep: len(theta) = %d, len(x) = %d for P = %d and %d rows × %d",
			len(theta), len(x), n32.NumParams(), n, d))
	}
	ws.forward(theta, x, n)
	sum, _ := ws.lossGrad(n, y, 1/float64(n))
	loss = sum / float64(n)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss
	}
	ws.backward(theta, theta, x, n, true, true, float32(lr))
	return loss
}

// backward backpropagates the output gradient of the chunk x of n rows.
// Without update it sets (first chunk) or adds (later chunks) ∇W to grad
// and adds the bias gradients to bsum; with update (one chunk, grad = θ) it
// updates θ in place instead: W ← W − lr ∇W, b ← b − lr ∇b.
func (ws *Workspace32) backward(theta, grad, x []float32, n int, first, update bool, lr float32) {
	impl := blas32.Implementation()
	alpha, beta := float32(1), float32(1)
	switch {
	case update:
		alpha = -lr
	case first:
		beta = 0
	}
	for k := len(ws.net.dense) - 1; k >= 0; k-- {
		dl := ws.net.dense[k]
		dz, a := ws.d[k][:n*dl.out], ws.a[k][:n*dl.out]
		dl.derive(dz, a)
		in := x
		if k > 0 {
			in = ws.a[k-1][:n*dl.in]
		}
		w, _ := dl.split(theta)
		if k > 0 { // D_A = D_Z W, before an in-place update changes W
			impl.Sgemm(blas.NoTrans, blas.NoTrans, n, dl.in, dl.out, 1, dz, dl.out, w, dl.in, 0, ws.d[k-1][:n*dl.in], dl.in)
		}
		gw, gb := dl.split(grad)
		impl.Sgemm(blas.Trans, blas.NoTrans, dl.out, dl.in, n, alpha, dz, dl.out, in, dl.in, beta, gw, dl.in)
		bs := ws.bsum[k]
		if update {
			clear(bs)
		}
		for i := 0; i < n; i++ {
			addWidened(bs, dz[i*dl.out:(i+1)*dl.out])
		}
		if update {
			for j, v := range bs {
				gb[j] -= lr * float32(v)
			}
		}
	}
}

// penalty returns (λ/2) Σ m_i θ_i², summed in float64, and adds λ m ⊙ θ to
// grad in float32.
func (n32 *Net32) penalty(theta, grad []float32) float64 {
	if n32.mask == nil {
		return 0
	}
	var sq float64
	for i, m := range n32.mask {
		t := float64(theta[i])
		sq += float64(m) * t * t
		grad[i] += n32.decay * m * theta[i]
	}
	return n32.net.decay / 2 * sq
}

// derive turns the gradient d with respect to the layer's output y into
// the gradient with respect to its pre-activation, in place: d ⊙ 1[y > 0]
// for ReLU, d ⊙ (1 − y²) for tanh, d itself without an activation.
func (dl dense32) derive(d, y []float32) {
	switch dl.act {
	case actReLU:
		mask32(d, y)
	case actTanh:
		for i, v := range y[:len(d)] {
			d[i] *= 1 - v*v
		}
	}
}

// split returns the views of W (out×in) and b of the layer in p.
func (dl dense32) split(p []float32) (w, b []float32) {
	nw := dl.out * dl.in
	return p[dl.off : dl.off+nw : dl.off+nw], p[dl.off+nw : dl.off+nw+dl.out]
}

// relu32Go is relu32 in Go: a bit mask instead of a branch (see maskGo).
func relu32Go(z []float32) {
	for i, v := range z {
		m := ^uint32(0)
		if v < 0 {
			m = 0
		}
		z[i] = math.Float32frombits(math.Float32bits(v) & m)
	}
}

// mask32Go is mask32 in Go.
func mask32Go(d, y []float32) {
	y = y[:len(d)]
	for i, v := range y {
		m := uint32(0)
		if v > 0 {
			m = ^uint32(0)
		}
		d[i] = math.Float32frombits(math.Float32bits(d[i]) & m)
	}
}
