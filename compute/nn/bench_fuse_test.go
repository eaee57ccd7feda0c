package nn_test

import (
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
)

// BenchmarkFusedGEMM measures the lever of fusing the pairs of GEMMs of a
// cached Hessian product of a hidden 512×512 Dense layer of the reference
// MLP over 2,048 rows into one GEMM of doubled inner dimension:
//
//	rforward   R{Z} = R{A} Wᵀ + A Vᵀ        as [R{A} A]·[W V]ᵀ     (K = 1024)
//	rbackward  R{D_A} = R{D_Z} W + D_Z V     as [R{D_Z} D_Z]·[W; V] (K = 1024)
//	weights    (Hv)_W = R{D_Z}ᵀ A + D_Zᵀ R{A} as [R{D_Z}; D_Z]ᵀ·[A; R{A}] (K = 4096)
//
// Every iteration times the pair of separate calls and the fused call
// once each, alternating which goes first, and the benchmark reports the
// median of the per-iteration ratios separate/fused (above 1: fusing is
// faster) with its quartiles. The fused forms need the operands side by
// side (or stacked) in memory, which the separate buffers of Buf are not;
// the copies that would take are not timed, so the ratio is an upper bound
// of the gain.
func BenchmarkFusedGEMM(b *testing.B) {
	const n, k = 2048, 512
	impl := blas64.Implementation()
	x1, x2, x12 := randVec(n*k, 1), randVec(n*k, 2), randVec(2*n*k, 3) // x12: n×2k side by side, or 2n×k stacked
	w1, w2, w12 := randVec(k*k, 4), randVec(k*k, 5), randVec(2*k*k, 6)
	c := make([]float64, n*k)
	h := make([]float64, k*k)
	cases := []struct {
		name       string
		sep, fused func()
	}{
		{"rforward", func() {
			impl.Dgemm(blas.NoTrans, blas.Trans, n, k, k, 1, x1, k, w1, k, 1, c, k)
			impl.Dgemm(blas.NoTrans, blas.Trans, n, k, k, 1, x2, k, w2, k, 1, c, k)
		}, func() {
			impl.Dgemm(blas.NoTrans, blas.Trans, n, k, 2*k, 1, x12, 2*k, w12, 2*k, 1, c, k)
		}},
		{"rbackward", func() {
			impl.Dgemm(blas.NoTrans, blas.NoTrans, n, k, k, 1, x1, k, w1, k, 0, c, k)
			impl.Dgemm(blas.NoTrans, blas.NoTrans, n, k, k, 1, x2, k, w2, k, 1, c, k)
		}, func() {
			impl.Dgemm(blas.NoTrans, blas.NoTrans, n, k, 2*k, 1, x12, 2*k, w12, k, 0, c, k)
		}},
		{"weights", func() {
			impl.Dgemm(blas.Trans, blas.NoTrans, k, k, n, 1, x1, k, x2, k, 1, h, k)
			impl.Dgemm(blas.Trans, blas.NoTrans, k, k, n, 1, x2, k, x1, k, 1, h, k)
		}, func() {
			impl.Dgemm(blas.Trans, blas.NoTrans, k, k, 2*n, 1, x12, k, x12, k, 1, h, k)
		}},
	}
	for _, cs := range cases {
		b.Run(cs.name, func(b *testing.B) {
			cs.sep()
			cs.fused()
			var ratios []float64
			for i := 0; b.Loop(); i++ {
				first, second := cs.sep, cs.fused
				if i%2 == 1 {
					first, second = second, first
				}
				t0 := time.Now()
				first()
				t1 := time.Now()
				second()
				d1, d2 := t1.Sub(t0), time.Since(t1)
				if i%2 == 1 {
					d1, d2 = d2, d1
				}
				ratios = append(ratios, d1.Seconds()/d2.Seconds())
			}
			slices.Sort(ratios)
			m := len(ratios)
			b.ReportMetric(ratios[m/2], "sep/fused")
			b.ReportMetric(ratios[m/4], "q1")
			b.ReportMetric(ratios[(3*m)/4], "q3")
		})
	}
}
