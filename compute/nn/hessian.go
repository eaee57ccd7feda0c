package nn

import "slices"

// HessianCacheBytes bounds the memory NewHessian spends on caching the forward
// and backward state of every chunk; above it each product recomputes them.
const HessianCacheBytes = 512 << 20

// Hessian is the linear operator v ↦ ∇²L(θ) v of the mean loss
// L = (1/M) Σᵢ ℓᵢ(θ) over a fixed set of M examples at a fixed θ.
//
// Because θ and the data are fixed, the forward and backward passes (a_j and
// D_j at every boundary) are the same for every product; when they fit in
// HessianCacheBytes they are computed once per chunk and cached, so each
// product costs only the R-forward and R-backward passes. The result is
// bitwise identical to Workspace.HVP. A Hessian must not be used concurrently.
type Hessian struct {
	net      *Network
	theta    []float64
	x        []float64
	y        []int
	rows     int
	ws       []*Workspace // one per chunk when cached, else a single one
	cached   bool
	products int
}

// NewHessian returns the Hessian operator of net at θ over the rows of the
// row-major matrix x (len(y) rows) processed in chunks of rows examples. θ is
// copied; x and y are retained and must not be modified while h is in use.
func NewHessian(net *Network, theta, x []float64, y []int, rows int) *Hessian {
	rows = max(rows, 1)
	h := &Hessian{net: net, theta: slices.Clone(theta), x: x, y: y, rows: rows}
	ws := net.NewWorkspace(rows)
	ws.check(h.theta, x, y)
	n := len(y)
	nChunks := (n + rows - 1) / rows
	width := 0
	for _, ly := range net.layers {
		width += ly.OutSize()
	}
	if nChunks <= 1 || nChunks*rows*width*2*8 <= HessianCacheBytes {
		h.cached = true
		h.ws = []*Workspace{ws}
		for c := 1; c < nChunks; c++ {
			h.ws = append(h.ws, net.newWorkspace(rows, ws))
		}
		s := 1 / float64(n)
		d := net.InSize()
		ws.chunks(n, func(lo, hi int) {
			w := h.ws[lo/rows]
			w.forward(h.theta, x[lo*d:hi*d], hi-lo)
			w.backward(h.theta, y[lo:hi], hi-lo, s, nil)
		})
	} else {
		h.ws = []*Workspace{ws}
	}
	return h
}

// Dim returns P, the dimension of the operator.
func (h *Hessian) Dim() int { return len(h.theta) }

// Products returns the number of products computed so far.
func (h *Hessian) Products() int { return h.products }

// Apply sets hv = ∇²L(θ) v. hv must not alias v.
func (h *Hessian) Apply(hv, v []float64) {
	h.products++
	if !h.cached {
		h.ws[0].HVP(hv, h.theta, v, h.x, h.y)
		return
	}
	h.ws[0].check(h.theta, h.x, h.y, v, hv)
	clear(hv)
	n := len(h.y)
	if n == 0 {
		return
	}
	s := 1 / float64(n)
	h.ws[0].chunks(n, func(lo, hi int) {
		h.ws[lo/h.rows].rpass(h.theta, v, hv, h.y[lo:hi], hi-lo, s)
	})
}
