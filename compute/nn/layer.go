package nn

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Buf holds the quantities that cross one layer boundary for a batch of n
// examples, each a row-major n×width matrix:
//
//	A  = a_j           activations
//	D  = ∂L/∂a_j       backpropagated gradient
//	RA = R{a_j}        R-operator of the activations
//	RD = R{∂L/∂a_j}    R-operator of the gradient
//
// At the input boundary A is the data matrix X and D, RA and RD are nil
// (R{X} = 0 and no gradient with respect to the data is formed).
//
// Sub and S belong to the layer that writes this boundary (the layer whose out
// it is) and are allocated by the Workspace: Sub holds the inner boundaries of a
// Composite layer (Sub[0] is free for the layer to alias its input, Sub[k] for
// k ≥ 1 is the output boundary of sub-layer k−1, with its own Sub and S), and S
// is the temporary scratch of a Scratcher (contents undefined between calls).
//
// B and T belong to the layer that writes this boundary too: B is the layer's
// view of the Workspace's buffers (the running statistics of a BatchNorm,
// see Buffered), read in evaluation mode and updated by training-mode
// passes; T is the state a Trainer keeps from ForwardTrain to BackwardTrain
// within one training-mode pass (batch statistics, dropout masks).
type Buf struct {
	A, D, RA, RD []float64
	Sub          []Buf
	S            []float64
	B, T         []float64
}

// Composite is implemented by layers built from a chain of sub-layers (such as
// Residual). The Workspace allocates a full boundary (A, D, RA, RD) for the
// output of every sub-layer in the Sub field of the composite's output Buf, so
// that the intermediate state of a batch survives from Forward to the backward
// and R passes, and the network stays free of mutable state.
type Composite interface {
	Layer
	// Sublayers returns the chain of sub-layers.
	Sublayers() []Layer
}

// Scratcher is implemented by layers that need temporary memory (such as the
// im2col buffers of Conv2D). The Workspace allocates ScratchLen(rows) floats in
// the S field of the layer's output Buf; the layer must not expect the
// contents to survive between method calls.
type Scratcher interface {
	Layer
	// ScratchLen returns the scratch length needed for batches of rows rows.
	ScratchLen(rows int) int
}

// BiasMarker is implemented by layers with bias parameters. MarkBiases sets
// isBias[i] = true for every bias entry i of the layer's parameter slice
// (len(isBias) == NumParams). Network.WithWeightDecay uses it to leave biases
// out of the penalty when asked to.
type BiasMarker interface {
	MarkBiases(isBias []bool)
}

// validator is implemented by layers whose fields must be checked by New.
type validator interface {
	validate() error
}

// Layer is one stage a_{j+1} = f(a_j; θ_j) of a Network, operating on whole
// batches. p is the layer's parameter slice θ_j and v the matching slice of the
// direction of a Hessian-vector product; both have length NumParams. n is the
// number of rows of the batch; in and out are the boundary buffers before and
// after the layer (slices at least n×InSize and n×OutSize long).
//
// New layer kinds (convolutions, residual blocks, …) are added by implementing
// this interface; the recurrences each method must implement are given in the
// package documentation.
type Layer interface {
	// InSize and OutSize are the widths of a_j and a_{j+1} per example.
	InSize() int
	OutSize() int
	// NumParams is the length of the layer's parameter slice.
	NumParams() int
	// Init draws initial parameters into p from rng.
	Init(p []float64, rng *rand.Rand)
	// Forward sets out.A = f(in.A; p).
	Forward(n int, p []float64, in, out *Buf)
	// Backward sets in.D = J_aᵀ out.D when in.D is non-nil and adds
	// J_θᵀ out.D to grad when grad is non-nil.
	Backward(n int, p, grad []float64, in, out *Buf)
	// RForward sets out.RA = J_a in.RA + J_θ v (in.RA == nil means zero).
	RForward(n int, p, v []float64, in, out *Buf)
	// RBackward sets in.RD = R{in.D} when in.RD is non-nil and adds
	// R{∇_θ L} = J_θᵀ out.RD + R{J_θ}ᵀ out.D to hv.
	RBackward(n int, p, v, hv []float64, in, out *Buf)
}

// Dense is the affine layer Z = A Wᵀ + 1 bᵀ with W of shape Out×In (row-major)
// stored before b in the parameter slice.
type Dense struct {
	// In and Out are the fan-in d and fan-out k.
	In, Out int
	// Gain scales the Kaiming-uniform initialization: W ~ U(−g√(3/In), g√(3/In))
	// (g = √2 before a ReLU gives He initialization, Var W = 2/In); b = 0.
	Gain float64
}

// InSize returns In.
func (d *Dense) InSize() int { return d.In }

// OutSize returns Out.
func (d *Dense) OutSize() int { return d.Out }

// NumParams returns Out·In + Out.
func (d *Dense) NumParams() int { return d.Out*d.In + d.Out }

// MarkBiases marks the last Out entries (b) as biases.
func (d *Dense) MarkBiases(isBias []bool) {
	for i := d.Out * d.In; i < d.NumParams(); i++ {
		isBias[i] = true
	}
}

func (d *Dense) split(p []float64) (w, b []float64) {
	nw := d.Out * d.In
	return p[:nw:nw], p[nw : nw+d.Out]
}

// Init draws W ~ U(−Gain·√(3/In), Gain·√(3/In)) row-major and sets b = 0.
func (d *Dense) Init(p []float64, rng *rand.Rand) {
	w, b := d.split(p)
	bound := d.Gain * math.Sqrt(3/float64(d.In))
	for i := range w {
		w[i] = bound * (2*rng.Float64() - 1)
	}
	clear(b)
}

// Forward sets out.A = in.A Wᵀ + 1 bᵀ.
func (d *Dense) Forward(n int, p []float64, in, out *Buf) {
	w, b := d.split(p)
	z := out.A[:n*d.Out]
	for i := 0; i < n; i++ {
		copy(z[i*d.Out:(i+1)*d.Out], b)
	}
	blas64.Implementation().Dgemm(blas.NoTrans, blas.Trans, n, d.Out, d.In,
		1, in.A, d.In, w, d.In, 1, z, d.Out)
}

// Backward sets in.D = out.D W and adds ∇W += out.Dᵀ in.A, ∇b += 1ᵀ out.D.
func (d *Dense) Backward(n int, p, grad []float64, in, out *Buf) {
	impl := blas64.Implementation()
	w, _ := d.split(p)
	if in.D != nil {
		impl.Dgemm(blas.NoTrans, blas.NoTrans, n, d.In, d.Out,
			1, out.D, d.Out, w, d.In, 0, in.D, d.In)
	}
	if grad != nil {
		gw, gb := d.split(grad)
		impl.Dgemm(blas.Trans, blas.NoTrans, d.Out, d.In, n,
			1, out.D, d.Out, in.A, d.In, 1, gw, d.In)
		addColSums(gb, out.D, n, d.Out)
	}
}

// RForward sets out.RA = in.RA Wᵀ + in.A Vᵀ + 1 cᵀ for the direction v = (V, c).
func (d *Dense) RForward(n int, p, v []float64, in, out *Buf) {
	impl := blas64.Implementation()
	w, _ := d.split(p)
	vw, vb := d.split(v)
	rz := out.RA[:n*d.Out]
	for i := 0; i < n; i++ {
		copy(rz[i*d.Out:(i+1)*d.Out], vb)
	}
	impl.Dgemm(blas.NoTrans, blas.Trans, n, d.Out, d.In,
		1, in.A, d.In, vw, d.In, 1, rz, d.Out)
	if in.RA != nil {
		impl.Dgemm(blas.NoTrans, blas.Trans, n, d.Out, d.In,
			1, in.RA, d.In, w, d.In, 1, rz, d.Out)
	}
}

// RBackward sets in.RD = out.RD W + out.D V and adds
// (Hv)_W += out.RDᵀ in.A + out.Dᵀ in.RA, (Hv)_b += 1ᵀ out.RD.
func (d *Dense) RBackward(n int, p, v, hv []float64, in, out *Buf) {
	impl := blas64.Implementation()
	w, _ := d.split(p)
	vw, _ := d.split(v)
	if in.RD != nil {
		impl.Dgemm(blas.NoTrans, blas.NoTrans, n, d.In, d.Out,
			1, out.RD, d.Out, w, d.In, 0, in.RD, d.In)
		impl.Dgemm(blas.NoTrans, blas.NoTrans, n, d.In, d.Out,
			1, out.D, d.Out, vw, d.In, 1, in.RD, d.In)
	}
	hw, hb := d.split(hv)
	impl.Dgemm(blas.Trans, blas.NoTrans, d.Out, d.In, n,
		1, out.RD, d.Out, in.A, d.In, 1, hw, d.In)
	if in.RA != nil {
		impl.Dgemm(blas.Trans, blas.NoTrans, d.Out, d.In, n,
			1, out.D, d.Out, in.RA, d.In, 1, hw, d.In)
	}
	addColSums(hb, out.RD, n, d.Out)
}

// addColSums adds the column sums of the row-major n×k matrix m to dst.
func addColSums(dst, m []float64, n, k int) {
	dst = dst[:k]
	for i := 0; i < n; i++ {
		row := m[i*k : (i+1)*k]
		for j, x := range row {
			dst[j] += x
		}
	}
}

// ReLU is the elementwise rectifier Y = max(A, 0) of width Size. Its derivative
// is taken as 1[A > 0] (0 at the kink) and its second derivative as 0.
type ReLU struct{ Size int }

// InSize returns Size.
func (r *ReLU) InSize() int { return r.Size }

// OutSize returns Size.
func (r *ReLU) OutSize() int { return r.Size }

// NumParams returns 0.
func (r *ReLU) NumParams() int { return 0 }

// Init does nothing.
func (r *ReLU) Init([]float64, *rand.Rand) {}

// Forward sets out.A = max(in.A, 0).
func (r *ReLU) Forward(n int, _ []float64, in, out *Buf) {
	a, y := in.A[:n*r.Size], out.A[:n*r.Size]
	for i, x := range a {
		y[i] = max(x, 0)
	}
}

// Backward sets in.D = 1[in.A > 0] ⊙ out.D.
func (r *ReLU) Backward(n int, _, _ []float64, in, out *Buf) {
	if in.D != nil {
		mask(in.D[:n*r.Size], out.D, in.A)
	}
}

// RForward sets out.RA = 1[in.A > 0] ⊙ in.RA.
func (r *ReLU) RForward(n int, _, _ []float64, in, out *Buf) {
	if in.RA == nil {
		clear(out.RA[:n*r.Size])
		return
	}
	mask(out.RA[:n*r.Size], in.RA, in.A)
}

// RBackward sets in.RD = 1[in.A > 0] ⊙ out.RD (relu” = 0 a.e.).
func (r *ReLU) RBackward(n int, _, _, _ []float64, in, out *Buf) {
	if in.RD != nil {
		mask(in.RD[:n*r.Size], out.RD, in.A)
	}
}

// maskGo is mask in Go. It selects with a bit mask (all ones or all zeros,
// which the compiler turns into a conditional move) rather than a branch: the
// signs of pre-activations are unpredictable, and the branchy loop ran about
// four times slower.
func maskGo(dst, src, a []float64) {
	src, a = src[:len(dst)], a[:len(dst)]
	for i, x := range a {
		m := uint64(0)
		if x > 0 {
			m = math.MaxUint64
		}
		dst[i] = math.Float64frombits(math.Float64bits(src[i]) & m)
	}
}

// Tanh is the elementwise Y = tanh(A) of width Size, with tanh' = 1 − Y² and
// tanh” = −2Y(1 − Y²).
type Tanh struct{ Size int }

// InSize returns Size.
func (t *Tanh) InSize() int { return t.Size }

// OutSize returns Size.
func (t *Tanh) OutSize() int { return t.Size }

// NumParams returns 0.
func (t *Tanh) NumParams() int { return 0 }

// Init does nothing.
func (t *Tanh) Init([]float64, *rand.Rand) {}

// Forward sets out.A = tanh(in.A).
func (t *Tanh) Forward(n int, _ []float64, in, out *Buf) {
	a, y := in.A[:n*t.Size], out.A[:n*t.Size]
	for i, x := range a {
		y[i] = math.Tanh(x)
	}
}

// Backward sets in.D = (1 − Y²) ⊙ out.D.
func (t *Tanh) Backward(n int, _, _ []float64, in, out *Buf) {
	if in.D == nil {
		return
	}
	y, d, dst := out.A[:n*t.Size], out.D[:n*t.Size], in.D[:n*t.Size]
	for i, yi := range y {
		dst[i] = (1 - yi*yi) * d[i]
	}
}

// RForward sets out.RA = (1 − Y²) ⊙ in.RA.
func (t *Tanh) RForward(n int, _, _ []float64, in, out *Buf) {
	ry := out.RA[:n*t.Size]
	if in.RA == nil {
		clear(ry)
		return
	}
	y, ra := out.A[:n*t.Size], in.RA[:n*t.Size]
	for i, yi := range y {
		ry[i] = (1 - yi*yi) * ra[i]
	}
}

// RBackward sets in.RD = (1 − Y²) ⊙ out.RD − 2 Y ⊙ out.D ⊙ out.RA.
func (t *Tanh) RBackward(n int, _, _, _ []float64, in, out *Buf) {
	if in.RD == nil {
		return
	}
	m := n * t.Size
	y, d, rd, ry, dst := out.A[:m], out.D[:m], out.RD[:m], out.RA[:m], in.RD[:m]
	for i, yi := range y {
		dst[i] = (1-yi*yi)*rd[i] - 2*yi*d[i]*ry[i]
	}
}
