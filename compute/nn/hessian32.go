package nn

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Hessian32 is the operator v ↦ ∇²L(θ) v of Hessian computed in single
// precision with float64 accumulation, for the networks Net32 supports
// (Dense layers with ReLU or tanh, softmax cross-entropy or squared error).
// It takes and returns float64 vectors, so it stands in for a Hessian
// wherever a product's rounding error, of order 10⁻⁵ relative, is far below
// the error of what it feeds (a stochastic trace estimate, whose standard
// error is typically 10⁻³–10⁻² of the trace).
//
// # Mathematics
//
// The product is Pearlmutter's R-operator, as in Workspace.HVP. With
// A₀ = X, Z_k = A_{k−1} W_kᵀ + 1 b_kᵀ, A_k = σ_k(Z_k) and the backward
// state D_{Z_k} (the gradient of the mean loss with respect to Z_k), the
// R-forward pass for v = (V_k, c_k) is
//
//	R{Z_k} = R{A_{k−1}} W_kᵀ + A_{k−1} V_kᵀ + 1 c_kᵀ,  R{A_k} = σ_k′ ⊙ R{Z_k},
//
// the loss's output Hessian gives R{D_A} = s·(p ⊙ r − p (pᵀr)) row by row
// (s = 1/M, p the softmax of the logits, r = R{A_out}; s·r for squared
// error), and the R-backward pass is
//
//	R{D_{Z_k}} = σ_k′ ⊙ R{D_{A_k}} + σ_k″ ⊙ R{Z_k} ⊙ D_{A_k}
//	           = (1 − Y²) ⊙ R{D_{A_k}} − 2Y ⊙ R{Z_k} ⊙ D_{Z_k}   (tanh; ReLU: 1[Y > 0] ⊙ R{D_{A_k}}),
//	R{D_{A_{k−1}}} = R{D_{Z_k}} W_k + D_{Z_k} V_k,
//	(Hv)_{W_k} = R{D_{Z_k}}ᵀ A_{k−1} + D_{Z_k}ᵀ R{A_{k−1}},  (Hv)_{b_k} = 1ᵀ R{D_{Z_k}},
//
// plus λ m ⊙ v for weight decay.
//
// # Precision
//
// θ and v are rounded to float32 (to nearest), and so are the examples, the
// activations A_k, the backward state D_{Z_k} and every R-quantity; the
// products above are Sgemm calls, whose inner sums (over the layer widths,
// and over the rows of a chunk for (Hv)_W) are float32. The softmax and the
// loss's output Hessian are evaluated in float64 from the float32 logits and
// rounded once; the bias sums 1ᵀR{D_Z}, the sum of the chunks' (Hv)_W and
// the weight-decay term are float64. On a 784-256-256-10 network with random
// weights and Gaussian inputs, whose sums cancel heavily,
// ‖Hv₃₂ − Hv₆₄‖/‖Hv₆₄‖ is 1.6e-5–2.7e-5 and vᵀHv is within 1e-5 relative
// (TestHessian32Accuracy); on keskar-f1's trained network the trace with
// float32 products is within 1e-6 of the float64 one with the same probes
// (docs/BENCHMARKS.md, "Whole trial").
//
// Like Hessian, the forward and backward state of every chunk is computed
// once and cached when it fits in HessianCacheBytes (else recomputed for
// every product); the products are deterministic (the same θ, v and data give
// bit-identical results on the same binary, BLAS backend and thread count).
// A Hessian32 must not be used concurrently.
type Hessian32 struct {
	n32      *Net32
	theta    []float32
	v        []float32 // v rounded to float32
	hw       []float32 // one layer's (Hv)_W of one chunk
	x        []float64
	y        []int
	rows     int
	chunks   []*chunk32 // one per chunk when cached, else a single one
	cached   bool
	products int
	// rz, ra and rd are R{Z_k}, R{A_k} (rz itself for a layer without an
	// activation) and R{D_{A_k}} then, in place, R{D_{Z_k}}.
	rz, ra, rd [][]float32
}

// chunk32 is the cached state of one chunk of rows: its examples in
// float32, the forward and backward state and the softmax of its logits.
type chunk32 struct {
	ws *Workspace32 // a[k] = A_k, d[k] = D_{Z_k}
	x  []float32
	p  []float64 // softmax probabilities, n×k (nil for squared error)
}

// NewHessian returns the Hessian operator of the network at θ (float64,
// rounded to float32) over the rows of the row-major matrix x (len(y) rows,
// rounded to float32) in chunks of rows examples, in single precision (see
// Hessian32). θ is copied; x and y are retained and must not be modified
// while h is in use. It panics on inconsistent lengths.
func (n32 *Net32) NewHessian(theta, x []float64, y []int, rows int) *Hessian32 {
	return n32.newHessian(theta, x, y, rows, HessianCacheBytes)
}

// newHessian is NewHessian caching the chunks' state when it takes at most
// limit bytes.
func (n32 *Net32) newHessian(theta, x []float64, y []int, rows, limit int) *Hessian32 {
	d := n32.net.InSize()
	if len(theta) != n32.NumParams() || len(x) != len(y)*d {
		panic(fmt.Sprintf("nn: NewHessian32: len(theta) = %d, len(x) = %d for P = %d and %d rows × %d",
			len(theta), len(x), n32.NumParams(), len(y), d))
	}
	rows = max(1, min(rows, len(y)))
	h := &Hessian32{n32: n32, x: x, y: y, rows: rows,
		theta: make([]float32, len(theta)), v: make([]float32, len(theta))}
	To32(h.theta, theta)
	widest, width := 0, d
	for _, dl := range n32.dense {
		widest = max(widest, dl.out*dl.in)
		width += 2 * dl.out
		h.rz = append(h.rz, make([]float32, rows*dl.out))
		h.rd = append(h.rd, make([]float32, rows*dl.out))
		if dl.act == actNone {
			h.ra = append(h.ra, h.rz[len(h.rz)-1])
		} else {
			h.ra = append(h.ra, make([]float32, rows*dl.out))
		}
	}
	h.hw = make([]float32, widest)
	k := n32.net.OutSize()
	n := len(y)
	nChunks := (n + rows - 1) / rows
	h.cached = nChunks <= 1 || nChunks*rows*(4*width+8*k) <= limit
	if !h.cached {
		nChunks = 1
	}
	for range nChunks {
		c := &chunk32{ws: n32.NewWorkspace(rows), x: make([]float32, rows*d)}
		if !n32.mse {
			c.p = make([]float64, rows*k)
		}
		h.chunks = append(h.chunks, c)
	}
	if h.cached {
		for lo := 0; lo < n; lo += rows {
			h.prepare(h.chunks[lo/rows], lo, min(lo+rows, n))
		}
	}
	return h
}

// Dim returns P, the dimension of the operator.
func (h *Hessian32) Dim() int { return len(h.theta) }

// Products returns the number of products computed so far.
func (h *Hessian32) Products() int { return h.products }

// prepare sets the state of chunk c to that of the rows [lo, hi): its
// examples in float32, the forward pass, the softmax of its logits and the
// backward state D_{Z_k} of the mean loss over all the operator's rows.
func (h *Hessian32) prepare(c *chunk32, lo, hi int) {
	n, d, k := hi-lo, h.n32.net.InSize(), h.n32.net.OutSize()
	To32(c.x[:n*d], h.x[lo*d:hi*d])
	c.ws.forward(h.theta, c.x[:n*d], n)
	c.ws.lossGrad(n, h.y[lo:hi], 1/float64(len(h.y)))
	if c.p != nil {
		z := c.ws.a[len(h.n32.dense)-1]
		for i := range n {
			row, p := z[i*k:(i+1)*k], c.p[i*k:(i+1)*k]
			m := float64(row[0])
			for _, v := range row {
				m = max(m, float64(v))
			}
			var se float64
			for j, v := range row {
				p[j] = math.Exp(float64(v) - m)
				se += p[j]
			}
			for j := range p {
				p[j] /= se
			}
		}
	}
	c.ws.backwardState(h.theta, n)
}

// Apply sets hv = ∇²L(θ) v (see Hessian32). hv must not alias v.
func (h *Hessian32) Apply(hv, v []float64) {
	if len(v) != len(h.theta) || len(hv) != len(h.theta) {
		panic(fmt.Sprintf("nn: Hessian32.Apply: len(hv) = %d, len(v) = %d for P = %d", len(hv), len(v), len(h.theta)))
	}
	h.products++
	To32(h.v, v)
	clear(hv)
	n := len(h.y)
	for lo := 0; lo < n; lo += h.rows {
		hi := min(lo+h.rows, n)
		c := h.chunks[0]
		if h.cached {
			c = h.chunks[lo/h.rows]
		} else {
			h.prepare(c, lo, hi)
		}
		h.rpass(c, hv, hi-lo)
	}
	h.n32.net.addDecay(hv, v)
}

// rpass adds the chunk's share of Hv to hv: the R-forward pass, the loss's
// output Hessian and the R-backward pass on the cached state of c.
func (h *Hessian32) rpass(c *chunk32, hv []float64, n int) {
	impl := blas32.Implementation()
	dense := h.n32.dense
	in := c.x
	for k, dl := range dense {
		w, _ := dl.split(h.theta)
		vw, vb := dl.split(h.v)
		rz := h.rz[k][:n*dl.out]
		for i := range n {
			copy(rz[i*dl.out:(i+1)*dl.out], vb)
		}
		impl.Sgemm(blas.NoTrans, blas.Trans, n, dl.out, dl.in, 1, in, dl.in, vw, dl.in, 1, rz, dl.out)
		if k > 0 {
			impl.Sgemm(blas.NoTrans, blas.Trans, n, dl.out, dl.in, 1, h.ra[k-1], dl.in, w, dl.in, 1, rz, dl.out)
		}
		a, ra := c.ws.a[k][:n*dl.out], h.ra[k][:n*dl.out]
		switch dl.act {
		case actReLU:
			copy(ra, rz)
			mask32(ra, a)
		case actTanh:
			for i, y := range a {
				ra[i] = (1 - y*y) * rz[i]
			}
		}
		in = c.ws.a[k]
	}
	last := len(dense) - 1
	out := dense[last].out
	s := 1 / float64(len(h.y))
	r, rd := h.ra[last][:n*out], h.rd[last][:n*out]
	if c.p == nil {
		for i, v := range r {
			rd[i] = float32(s * float64(v))
		}
	} else {
		for i := range n {
			p, ri, di := c.p[i*out:(i+1)*out], r[i*out:(i+1)*out], rd[i*out:(i+1)*out]
			var pr float64
			for j, pj := range p {
				pr += pj * float64(ri[j])
			}
			for j, pj := range p {
				di[j] = float32(s * pj * (float64(ri[j]) - pr))
			}
		}
	}
	for k := last; k >= 0; k-- {
		dl := dense[k]
		a, dz := c.ws.a[k][:n*dl.out], c.ws.d[k][:n*dl.out]
		rdz, rz := h.rd[k][:n*dl.out], h.rz[k][:n*dl.out]
		switch dl.act {
		case actReLU:
			mask32(rdz, a)
		case actTanh:
			for i, y := range a {
				rdz[i] = (1-y*y)*rdz[i] - 2*y*rz[i]*dz[i]
			}
		}
		w, _ := dl.split(h.theta)
		vw, _ := dl.split(h.v)
		inA := c.x
		if k > 0 {
			inA = c.ws.a[k-1][:n*dl.in]
			prev := h.rd[k-1][:n*dl.in]
			impl.Sgemm(blas.NoTrans, blas.NoTrans, n, dl.in, dl.out, 1, rdz, dl.out, w, dl.in, 0, prev, dl.in)
			impl.Sgemm(blas.NoTrans, blas.NoTrans, n, dl.in, dl.out, 1, dz, dl.out, vw, dl.in, 1, prev, dl.in)
		}
		hw := h.hw[:dl.out*dl.in]
		impl.Sgemm(blas.Trans, blas.NoTrans, dl.out, dl.in, n, 1, rdz, dl.out, inA[:n*dl.in], dl.in, 0, hw, dl.in)
		if k > 0 {
			impl.Sgemm(blas.Trans, blas.NoTrans, dl.out, dl.in, n, 1, dz, dl.out, h.ra[k-1][:n*dl.in], dl.in, 1, hw, dl.in)
		}
		nw := dl.out * dl.in
		addWidened(hv[dl.off:dl.off+nw], hw)
		hb := hv[dl.off+nw : dl.off+nw+dl.out]
		for i := range n {
			addWidened(hb, rdz[i*dl.out:(i+1)*dl.out])
		}
	}
}

// backwardState backpropagates the output gradient left by lossGrad
// through the n rows of the last forward pass without forming ∇θ: d[k]
// becomes D_{Z_k}, the gradient with respect to layer k's pre-activation.
func (ws *Workspace32) backwardState(theta []float32, n int) {
	impl := blas32.Implementation()
	for k := len(ws.net.dense) - 1; k >= 0; k-- {
		dl := ws.net.dense[k]
		dz, a := ws.d[k][:n*dl.out], ws.a[k][:n*dl.out]
		dl.derive(dz, a)
		if k > 0 {
			w, _ := dl.split(theta)
			impl.Sgemm(blas.NoTrans, blas.NoTrans, n, dl.in, dl.out, 1, dz, dl.out, w, dl.in, 0, ws.d[k-1][:n*dl.in], dl.in)
		}
	}
}
