package nn

import (
	"math"
	"testing"
)

// TestMask checks the branch-free select of the ReLU derivative: src where
// a > 0, +0 elsewhere (including a = 0, a = −0 and a = NaN), whatever src is.
func TestMask(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	a := []float64{1, -1, 0, math.Copysign(0, -1), nan, 1e-300, -inf, inf, 2}
	src := []float64{3, nan, inf, -2, 5, -0.5, 7, nan, math.Copysign(0, -1)}
	want := []float64{3, 0, 0, 0, 0, -0.5, 0, nan, math.Copysign(0, -1)}
	dst := make([]float64, len(a))
	for i := range dst {
		dst[i] = 42
	}
	mask(dst, src, a)
	for i := range want {
		if math.Float64bits(dst[i]) != math.Float64bits(want[i]) {
			t.Errorf("mask(a=%v, src=%v) = %v, want %v", a[i], src[i], dst[i], want[i])
		}
	}
}
