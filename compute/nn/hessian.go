package nn

import (
	"fmt"
	"slices"
)

// HessianCacheBytes bounds the memory NewHessian and NewGaussNewton spend on
// caching the forward (and backward) state of every chunk; above it each
// product recomputes them.
const HessianCacheBytes = 512 << 20

// Hessian is the linear operator v ↦ ∇²L(θ) v of the mean loss
// L = (1/M) Σᵢ ℓᵢ(θ) (plus the network's weight decay, if any) over a fixed set
// of M examples at a fixed θ.
//
// Because θ and the data are fixed, the forward and backward passes (a_j and
// D_j at every boundary) are the same for every product; when they fit in
// HessianCacheBytes they are computed once per chunk and cached, so each
// product costs only the R-forward and R-backward passes. The result is
// bitwise identical to Workspace.HVP. A Hessian must not be used concurrently.
type Hessian struct{ op operator }

// NewHessian returns the Hessian operator of net at θ over the rows of the
// row-major matrix x (len(y) rows) processed in chunks of rows examples. θ is
// copied; x and y are retained and must not be modified while h is in use.
func NewHessian(net *Network, theta, x []float64, y []int, rows int) *Hessian {
	h := &Hessian{}
	h.op.init(net, theta, x, y, rows, false)
	return h
}

// Dim returns P, the dimension of the operator.
func (h *Hessian) Dim() int { return len(h.op.theta) }

// Products returns the number of products computed so far.
func (h *Hessian) Products() int { return h.op.products }

// Apply sets hv = ∇²L(θ) v. hv must not alias v.
func (h *Hessian) Apply(hv, v []float64) { h.op.apply(hv, v) }

// Reset moves h to the parameters θ (copied; len(θ) must be Dim()) over the
// same examples, reusing its memory, and sets Products to 0. Products after
// a Reset are bitwise identical to those of a new Hessian at θ; use it to
// take the Hessian at many points along training without allocating.
func (h *Hessian) Reset(theta []float64) { h.op.reset(theta) }

// ResetBuffers is Reset that also moves h to the buffers b (copied; length
// Network.NumBuffers()), the running statistics its evaluation mode uses:
// products after it are bitwise identical to those of a new Hessian of
// Network.WithBuffers(b) at θ.
func (h *Hessian) ResetBuffers(theta, b []float64) {
	for _, ws := range h.op.ws {
		ws.SetBuffers(b)
	}
	h.op.reset(theta)
}

// GaussNewton is the linear operator v ↦ G v of the generalized Gauss–Newton
// matrix G = (1/M) Σᵢ J_iᵀ (∇²_z ℓᵢ) J_i (+ λ M for weight decay) of the mean
// loss over a fixed set of M examples at a fixed θ (see Workspace.GNVP). G is
// symmetric positive semidefinite for softmax cross-entropy and squared error.
// The forward state of every chunk is cached as for Hessian, so a product costs
// an R-forward and a backward pass. The result is bitwise identical to
// Workspace.GNVP. A GaussNewton must not be used concurrently.
type GaussNewton struct{ op operator }

// NewGaussNewton returns the Gauss–Newton operator of net at θ over the rows
// of x (len(y) rows) processed in chunks of rows examples. θ is copied; x and y
// are retained and must not be modified while g is in use.
func NewGaussNewton(net *Network, theta, x []float64, y []int, rows int) *GaussNewton {
	g := &GaussNewton{}
	g.op.init(net, theta, x, y, rows, true)
	return g
}

// Dim returns P, the dimension of the operator.
func (g *GaussNewton) Dim() int { return len(g.op.theta) }

// Products returns the number of products computed so far.
func (g *GaussNewton) Products() int { return g.op.products }

// Apply sets gv = G v. gv must not alias v.
func (g *GaussNewton) Apply(gv, v []float64) { g.op.apply(gv, v) }

// operator is the cached curvature product shared by Hessian (gn false) and
// GaussNewton (gn true).
type operator struct {
	net      *Network
	theta    []float64
	x        []float64
	y        []int
	rows     int
	ws       []*Workspace // one per chunk when cached, else a single one
	cached   bool
	gn       bool
	products int
}

func (op *operator) init(net *Network, theta, x []float64, y []int, rows int, gn bool) {
	rows = max(rows, 1)
	*op = operator{net: net, theta: slices.Clone(theta), x: x, y: y, rows: rows, gn: gn}
	ws := net.NewWorkspace(rows)
	ws.check(op.theta, x, y)
	n := len(y)
	nChunks := (n + rows - 1) / rows
	width := 0
	for _, ly := range net.layers {
		width += stateWidth(ly)
	}
	op.ws = []*Workspace{ws}
	if nChunks > 1 && nChunks*rows*width*2*8 > HessianCacheBytes {
		return
	}
	op.cached = true
	for c := 1; c < nChunks; c++ {
		op.ws = append(op.ws, net.newWorkspace(rows, ws))
	}
	op.prepare()
}

// prepare computes the cached forward (and, for the Hessian, backward)
// state of every chunk at op.theta.
func (op *operator) prepare() {
	n, rows, d := len(op.y), op.rows, op.net.InSize()
	s := 1 / float64(n)
	op.ws[0].chunks(n, func(lo, hi int) {
		w := op.ws[lo/rows]
		w.forward(op.theta, op.x[lo*d:hi*d], hi-lo)
		if !op.gn {
			w.backward(op.theta, op.y[lo:hi], hi-lo, s, nil, false)
		}
	})
}

// reset moves the operator to θ, reusing its memory.
func (op *operator) reset(theta []float64) {
	if len(theta) != len(op.theta) {
		panic(fmt.Sprintf("nn: Reset with %d parameters, want %d", len(theta), len(op.theta)))
	}
	copy(op.theta, theta)
	op.products = 0
	if op.cached {
		op.prepare()
	}
}

func (op *operator) apply(dst, v []float64) {
	op.products++
	if !op.cached {
		if op.gn {
			op.ws[0].GNVP(dst, op.theta, v, op.x, op.y)
		} else {
			op.ws[0].HVP(dst, op.theta, v, op.x, op.y)
		}
		return
	}
	op.ws[0].check(op.theta, op.x, op.y, v, dst)
	clear(dst)
	n := len(op.y)
	if n == 0 {
		return
	}
	s := 1 / float64(n)
	op.ws[0].chunks(n, func(lo, hi int) {
		w := op.ws[lo/op.rows]
		if op.gn {
			w.gnpass(op.theta, v, dst, op.y[lo:hi], hi-lo, s)
		} else {
			w.rpass(op.theta, v, dst, op.y[lo:hi], hi-lo, s)
		}
	})
	op.net.addDecay(dst, v)
}
