package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// Conv2D is a 2-D convolution (cross-correlation, as in PyTorch) with stride 1
// and zero padding Pad on every side, on images stored NCHW: one example is a
// row of length C·H·W, index (c·H + y)·W + x, and its output a row of length
// F·OH·OW with OH = H + 2·Pad − K + 1, OW = W + 2·Pad − K + 1 (Pad = (K−1)/2
// with odd K gives "same" size, Pad = 0 "valid").
//
// The parameters are the filters W (F × C·K·K row-major, PyTorch's
// [F][C][K][K] order) followed by the biases b (F). For one example let
// cols = im2col(A) be the (C·K·K) × (OH·OW) matrix whose column p holds the
// (zero-padded) receptive field of output position p. Then
//
//	forward:    Z = W cols + b 1ᵀ                      (F × OH·OW, NCHW)
//	backward:   D_A = col2im(Wᵀ D_Z),  ∇W += D_Z colsᵀ,  ∇b += D_Z 1
//	R-forward:  R{Z} = W im2col(R{A}) + V cols + c 1ᵀ
//	R-backward: R{D_A} = col2im(Wᵀ R{D_Z} + Vᵀ D_Z)
//	            (Hv)_W += R{D_Z} colsᵀ + D_Z im2col(R{A})ᵀ,  (Hv)_b += R{D_Z} 1
//
// for the direction v = (V, c); col2im is the adjoint of im2col (it sums the
// columns back into the overlapping image positions). These are the Dense
// recurrences with A replaced by im2col(A), since the layer is linear in A and
// bilinear in (W, A). The products are Dgemm calls per example on row-major
// matrices, tiled so that gonum runs each serially (no goroutines, no
// allocation); im2col is recomputed in each pass rather than stored, so the
// layer's scratch (2·C·K·K·OH·OW floats) does not grow with the batch.
type Conv2D struct {
	// C, H, W are the input channels, height and width.
	C, H, W int
	// F is the number of filters (output channels), K the kernel size K×K.
	F, K int
	// Pad is the zero padding on each side (0 ≤ Pad < K).
	Pad int
	// Gain scales the Kaiming-uniform initialization with fan-in C·K·K:
	// W ~ U(−g√(3/(C·K·K)), g√(3/(C·K·K))), b = 0.
	Gain float64
}

// NewConv2D returns a checked Conv2D (see the type for the fields).
func NewConv2D(c, h, w, f, k, pad int, gain float64) (*Conv2D, error) {
	cv := &Conv2D{C: c, H: h, W: w, F: f, K: k, Pad: pad, Gain: gain}
	if err := cv.validate(); err != nil {
		return nil, err
	}
	return cv, nil
}

func (cv *Conv2D) validate() error {
	if cv.C <= 0 || cv.H <= 0 || cv.W <= 0 || cv.F <= 0 || cv.K <= 0 || cv.Pad < 0 || cv.Pad >= cv.K {
		return fmt.Errorf("%w: Conv2D C=%d H=%d W=%d F=%d K=%d Pad=%d", ErrShape, cv.C, cv.H, cv.W, cv.F, cv.K, cv.Pad)
	}
	if oh, ow := cv.OutHW(); oh <= 0 || ow <= 0 {
		return fmt.Errorf("%w: Conv2D %d×%d kernel with padding %d does not fit a %d×%d image",
			ErrShape, cv.K, cv.K, cv.Pad, cv.H, cv.W)
	}
	return nil
}

// OutHW returns the output height and width H + 2·Pad − K + 1, W + 2·Pad − K + 1.
func (cv *Conv2D) OutHW() (oh, ow int) {
	return cv.H + 2*cv.Pad - cv.K + 1, cv.W + 2*cv.Pad - cv.K + 1
}

// InSize returns C·H·W.
func (cv *Conv2D) InSize() int { return cv.C * cv.H * cv.W }

// OutSize returns F·OH·OW.
func (cv *Conv2D) OutSize() int {
	oh, ow := cv.OutHW()
	return cv.F * oh * ow
}

// NumParams returns F·C·K·K + F.
func (cv *Conv2D) NumParams() int { return cv.F*cv.ckk() + cv.F }

// ScratchLen returns 2·C·K·K·OH·OW (two im2col matrices of one example).
func (cv *Conv2D) ScratchLen(int) int {
	oh, ow := cv.OutHW()
	return 2 * cv.ckk() * oh * ow
}

// MarkBiases marks the last F entries (b) as biases.
func (cv *Conv2D) MarkBiases(isBias []bool) {
	for i := cv.F * cv.ckk(); i < cv.NumParams(); i++ {
		isBias[i] = true
	}
}

func (cv *Conv2D) ckk() int { return cv.C * cv.K * cv.K }

func (cv *Conv2D) split(p []float64) (w, b []float64) {
	nw := cv.F * cv.ckk()
	return p[:nw:nw], p[nw : nw+cv.F]
}

// Init draws W ~ U(−Gain·√(3/(C·K·K)), Gain·√(3/(C·K·K))) and sets b = 0.
func (cv *Conv2D) Init(p []float64, rng *rand.Rand) {
	w, b := cv.split(p)
	bound := cv.Gain * math.Sqrt(3/float64(cv.ckk()))
	for i := range w {
		w[i] = bound * (2*rng.Float64() - 1)
	}
	clear(b)
}

// im2col sets cols (C·K·K × OH·OW, row-major) from one example a (C×H×W):
// cols[(c·K+ky)·K+kx][oy·OW+ox] = a[c][oy+ky−Pad][ox+kx−Pad], 0 outside.
func (cv *Conv2D) im2col(cols, a []float64) {
	oh, ow := cv.OutHW()
	ohw := oh * ow
	for c := 0; c < cv.C; c++ {
		img := a[c*cv.H*cv.W : (c+1)*cv.H*cv.W]
		for ky := 0; ky < cv.K; ky++ {
			for kx := 0; kx < cv.K; kx++ {
				row := cols[((c*cv.K+ky)*cv.K+kx)*ohw:][:ohw]
				x0, x1 := max(0, cv.Pad-kx), min(ow, cv.W+cv.Pad-kx)
				for oy := 0; oy < oh; oy++ {
					seg := row[oy*ow : (oy+1)*ow]
					iy := oy + ky - cv.Pad
					if iy < 0 || iy >= cv.H || x0 >= x1 {
						clear(seg)
						continue
					}
					clear(seg[:x0])
					src := img[iy*cv.W+x0+kx-cv.Pad:]
					copy(seg[x0:x1], src)
					clear(seg[x1:])
				}
			}
		}
	}
}

// col2im sets a (C×H×W) to the adjoint of im2col applied to cols: every
// column entry is added back to the image position it was copied from.
func (cv *Conv2D) col2im(a, cols []float64) {
	oh, ow := cv.OutHW()
	ohw := oh * ow
	clear(a[:cv.InSize()])
	for c := 0; c < cv.C; c++ {
		img := a[c*cv.H*cv.W : (c+1)*cv.H*cv.W]
		for ky := 0; ky < cv.K; ky++ {
			for kx := 0; kx < cv.K; kx++ {
				row := cols[((c*cv.K+ky)*cv.K+kx)*ohw:][:ohw]
				x0, x1 := max(0, cv.Pad-kx), min(ow, cv.W+cv.Pad-kx)
				if x0 >= x1 {
					continue
				}
				for oy := 0; oy < oh; oy++ {
					iy := oy + ky - cv.Pad
					if iy < 0 || iy >= cv.H {
						continue
					}
					addTo(img[iy*cv.W+x0+kx-cv.Pad:][:x1-x0], row[oy*ow+x0:oy*ow+x1])
				}
			}
		}
	}
}

// fillBias sets z (F × OH·OW) to b 1ᵀ.
func fillBias(z, b []float64, ohw int) {
	for f, bf := range b {
		row := z[f*ohw : (f+1)*ohw]
		for i := range row {
			row[i] = bf
		}
	}
}

// addRowSums adds the row sums of the row-major F×m matrix z to dst (len F).
func addRowSums(dst, z []float64, m int) {
	for f := range dst {
		var s float64
		for _, x := range z[f*m : (f+1)*m] {
			s += x
		}
		dst[f] += s
	}
}

// Forward sets out.A = W im2col(in.A) + b 1ᵀ example by example.
func (cv *Conv2D) Forward(n int, p []float64, in, out *Buf) {
	w, b := cv.split(p)
	oh, ow := cv.OutHW()
	ohw, ckk, is, os := oh*ow, cv.ckk(), cv.InSize(), cv.OutSize()
	cols := out.S[:ckk*ohw]
	for i := 0; i < n; i++ {
		z := out.A[i*os : (i+1)*os]
		cv.im2col(cols, in.A[i*is:(i+1)*is])
		fillBias(z, b, ohw)
		gemm(false, false, cv.F, ohw, ckk, w, ckk, cols, ohw, 1, z, ohw)
	}
}

// Backward sets in.D = col2im(Wᵀ out.D) and adds ∇W += out.D im2col(in.A)ᵀ,
// ∇b += out.D 1, example by example.
func (cv *Conv2D) Backward(n int, p, grad []float64, in, out *Buf) {
	w, _ := cv.split(p)
	oh, ow := cv.OutHW()
	ohw, ckk, is, os := oh*ow, cv.ckk(), cv.InSize(), cv.OutSize()
	cols, dcols := out.S[:ckk*ohw], out.S[ckk*ohw:2*ckk*ohw]
	for i := 0; i < n; i++ {
		d := out.D[i*os : (i+1)*os]
		if grad != nil {
			gw, gb := cv.split(grad)
			cv.im2col(cols, in.A[i*is:(i+1)*is])
			gemm(false, true, cv.F, ckk, ohw, d, ohw, cols, ohw, 1, gw, ckk)
			addRowSums(gb, d, ohw)
		}
		if in.D != nil {
			gemm(true, false, ckk, ohw, cv.F, w, ckk, d, ohw, 0, dcols, ohw)
			cv.col2im(in.D[i*is:(i+1)*is], dcols)
		}
	}
}

// RForward sets out.RA = W im2col(in.RA) + V im2col(in.A) + c 1ᵀ.
func (cv *Conv2D) RForward(n int, p, v []float64, in, out *Buf) {
	w, _ := cv.split(p)
	vw, vb := cv.split(v)
	oh, ow := cv.OutHW()
	ohw, ckk, is, os := oh*ow, cv.ckk(), cv.InSize(), cv.OutSize()
	cols := out.S[:ckk*ohw]
	for i := 0; i < n; i++ {
		rz := out.RA[i*os : (i+1)*os]
		fillBias(rz, vb, ohw)
		cv.im2col(cols, in.A[i*is:(i+1)*is])
		gemm(false, false, cv.F, ohw, ckk, vw, ckk, cols, ohw, 1, rz, ohw)
		if in.RA != nil {
			cv.im2col(cols, in.RA[i*is:(i+1)*is])
			gemm(false, false, cv.F, ohw, ckk, w, ckk, cols, ohw, 1, rz, ohw)
		}
	}
}

// RBackward sets in.RD = col2im(Wᵀ out.RD + Vᵀ out.D) and adds
// (Hv)_W += out.RD im2col(in.A)ᵀ + out.D im2col(in.RA)ᵀ, (Hv)_b += out.RD 1.
func (cv *Conv2D) RBackward(n int, p, v, hv []float64, in, out *Buf) {
	w, _ := cv.split(p)
	vw, _ := cv.split(v)
	hw, hb := cv.split(hv)
	oh, ow := cv.OutHW()
	ohw, ckk, is, os := oh*ow, cv.ckk(), cv.InSize(), cv.OutSize()
	cols, dcols := out.S[:ckk*ohw], out.S[ckk*ohw:2*ckk*ohw]
	for i := 0; i < n; i++ {
		d, rd := out.D[i*os:(i+1)*os], out.RD[i*os:(i+1)*os]
		cv.im2col(cols, in.A[i*is:(i+1)*is])
		gemm(false, true, cv.F, ckk, ohw, rd, ohw, cols, ohw, 1, hw, ckk)
		addRowSums(hb, rd, ohw)
		if in.RA != nil {
			cv.im2col(cols, in.RA[i*is:(i+1)*is])
			gemm(false, true, cv.F, ckk, ohw, d, ohw, cols, ohw, 1, hw, ckk)
		}
		if in.RD != nil {
			gemm(true, false, ckk, ohw, cv.F, w, ckk, rd, ohw, 0, dcols, ohw)
			gemm(true, false, ckk, ohw, cv.F, vw, ckk, d, ohw, 1, dcols, ohw)
			cv.col2im(in.RD[i*is:(i+1)*is], dcols)
		}
	}
}

// gemm computes C = op(A) op(B) + beta·C (row-major, op = transpose when the
// flag is set; C is m×n, the inner dimension k) by Dgemm calls on tiles of C
// of at most gemmTileM × gemmTileN, small enough that gonum's Dgemm runs each
// one serially: it never starts goroutines or allocates, so a layer calling it
// once per example stays cheap and allocation-free.
func gemm(tA, tB bool, m, n, k int, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	impl := blas64.Implementation()
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	for i0 := 0; i0 < m; i0 += gemmTileM {
		mi := min(gemmTileM, m-i0)
		var ai []float64
		if tA {
			ai = a[i0:] // columns i0… of the stored k×m matrix
		} else {
			ai = a[i0*lda:] // rows i0… of A
		}
		for j0 := 0; j0 < n; j0 += gemmTileN {
			nj := min(gemmTileN, n-j0)
			var bj []float64
			if tB {
				bj = b[j0*ldb:] // rows j0… of the stored n×k matrix
			} else {
				bj = b[j0:] // columns j0… of the stored k×n matrix
			}
			impl.Dgemm(ta, tb, mi, nj, k, 1, ai, lda, bj, ldb, beta, c[i0*ldc+j0:], ldc)
		}
	}
}

// Tiles of 64 × 192 are 1 × 3 of gonum's 64 × 64 blocks, below its threshold
// of 4 blocks for running Dgemm in parallel.
const (
	gemmTileM = 64
	gemmTileN = 192
)
