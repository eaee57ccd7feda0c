package flatness

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestLeastSquaresAgainstSVD: A⁺x by the refined normal equations
// agrees with the thin-SVD pseudo-inverse to 1e-10 (relative, in ∞-norm) for
// tall Gaussian matrices, including a square one (P = p, κ(A) in the
// hundreds); for a matrix with two nearly equal columns (cond(AᵀA) > 2²⁶)
// and one with a repeated column (rank deficient) it falls back to the SVD
// and returns exactly its minimum-norm solution.
func TestLeastSquaresAgainstSVD(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 9))
	gauss := func(rows, cols int) *mat.Dense {
		d := make([]float64, rows*cols)
		for i := range d {
			d[i] = rng.NormFloat64()
		}
		return mat.NewDense(rows, cols, d)
	}
	vec := func(n int) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = rng.NormFloat64()
		}
		return x
	}
	check := func(name string, a *mat.Dense, x []float64, tol float64) {
		t.Helper()
		got, err := leastSquares(a, x)
		if err != nil {
			t.Fatal(err)
		}
		want, err := pinvApply(a, x)
		if err != nil {
			t.Fatal(err)
		}
		var worst, scale float64
		for i := range want {
			worst = max(worst, math.Abs(got[i]-want[i]))
			scale = max(scale, math.Abs(want[i]))
		}
		t.Logf("%s: max |CSNE − SVD| / max |SVD| = %.2g", name, worst/scale)
		if worst > tol*scale {
			t.Errorf("%s: differs from the SVD by %v (scale %v)", name, worst, scale)
		}
	}
	check("2000×20", gauss(2000, 20), vec(2000), 1e-10)
	check("200×100", gauss(200, 100), vec(200), 1e-10)
	check("40×40", gauss(40, 40), vec(40), 1e-10)

	near := gauss(300, 5)
	for i := 0; i < 300; i++ {
		near.Set(i, 1, near.At(i, 0)+1e-9*rng.NormFloat64())
	}
	check("nearly dependent columns (fallback)", near, vec(300), 0)
	dup := gauss(300, 5)
	for i := 0; i < 300; i++ {
		dup.Set(i, 4, dup.At(i, 2))
	}
	check("repeated column (fallback)", dup, vec(300), 0)
}
