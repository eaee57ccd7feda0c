package blas_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/flatsweep/flatsweep/compute/blas"
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

// TestBackend checks that the implementation registered with blas64 is the
// one named by blas.Name.
func TestBackend(t *testing.T) {
	impl := fmt.Sprintf("%T", blas64.Implementation())
	want := map[string]string{"gonum": "gonum.Implementation", "openblas": "netlib.Implementation"}[blas.Name]
	if want == "" || !strings.HasSuffix(impl, want) {
		t.Fatalf("backend %q uses %s, want %s", blas.Name, impl, want)
	}
	if impl32 := fmt.Sprintf("%T", blas32.Implementation()); !strings.HasSuffix(impl32, want) {
		t.Fatalf("backend %q uses %s for blas32, want %s", blas.Name, impl32, want)
	}
	if blas.Threads() < 0 {
		t.Fatalf("Threads() = %d", blas.Threads())
	}
}

// TestDgemm checks the selected backend on a small product with exact
// (integer-valued) entries.
func TestDgemm(t *testing.T) {
	a := []float64{1, 2, 3, 4, 5, 6}    // 2×3
	b := []float64{7, 8, 9, 10, 11, 12} // 3×2
	c := []float64{1, 1, 1, 1}          // 2×2
	want := []float64{59, 65, 140, 155} // a·b + c
	blas64.Implementation().Dgemm(gblas.NoTrans, gblas.NoTrans, 2, 2, 3, 1, a, 3, b, 2, 1, c, 2)
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("%s Dgemm = %v, want %v", blas.Name, c, want)
		}
	}
}

// TestSgemm checks the single-precision product of the selected backend on
// the same exact integer-valued product as TestDgemm.
func TestSgemm(t *testing.T) {
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{7, 8, 9, 10, 11, 12}
	c := []float32{1, 1, 1, 1}
	want := []float32{59, 65, 140, 155}
	blas32.Implementation().Sgemm(gblas.NoTrans, gblas.NoTrans, 2, 2, 3, 1, a, 3, b, 2, 1, c, 2)
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("%s Sgemm = %v, want %v", blas.Name, c, want)
		}
	}
}
