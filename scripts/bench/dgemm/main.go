// Command dgemm measures the peak double-precision matrix multiply rate of the
// BLAS backend compiled in (see compute/blas): C = A·B for square n×n
// matrices, 2n³ flops per call, reported as GFLOP/s (median of the timed
// calls after one warm-up call). With -single it measures the
// single-precision Sgemm instead (keys sgemm_* instead of dgemm_*).
//
//	go run -tags openblas ./scripts/bench/dgemm -n 2048 -threads 2
//	go run -tags openblas ./scripts/bench/dgemm -n 2048 -threads 2 -single
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/flatsweep/flatsweep/compute/blas"
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
)

func main() {
	n := flag.Int("n", 2048, "matrix size")
	threads := flag.Int("threads", 2, "BLAS threads (OpenBLAS only; gonum uses GOMAXPROCS)")
	minTime := flag.Duration("min-time", 3*time.Second, "minimum timed duration")
	single := flag.Bool("single", false, "measure Sgemm (float32) instead of Dgemm")
	flag.Parse()
	blas.SetThreads(*threads)
	rng := rand.New(rand.NewPCG(1, 2))
	m := *n * *n
	var call func()
	name := "dgemm"
	if *single {
		name = "sgemm"
		a, b, c := make([]float32, m), make([]float32, m), make([]float32, m)
		for i := range a {
			a[i], b[i] = rng.Float32(), rng.Float32()
		}
		impl := blas32.Implementation()
		call = func() { impl.Sgemm(gblas.NoTrans, gblas.NoTrans, *n, *n, *n, 1, a, *n, b, *n, 0, c, *n) }
	} else {
		a, b, c := make([]float64, m), make([]float64, m), make([]float64, m)
		for i := range a {
			a[i], b[i] = rng.Float64(), rng.Float64()
		}
		impl := blas64.Implementation()
		call = func() { impl.Dgemm(gblas.NoTrans, gblas.NoTrans, *n, *n, *n, 1, a, *n, b, *n, 0, c, *n) }
	}
	call()
	var ts []time.Duration
	for start := time.Now(); len(ts) < 3 || time.Since(start) < *minTime; {
		t0 := time.Now()
		call()
		ts = append(ts, time.Since(t0))
	}
	slices.Sort(ts)
	med := ts[len(ts)/2]
	flops := 2 * float64(*n) * float64(*n) * float64(*n)
	fmt.Printf("%s_backend %s\n", name, blas.Name)
	fmt.Printf("%s_n %d\n", name, *n)
	fmt.Printf("%s_gflops %.2f\n", name, flops/med.Seconds()/1e9)
	fmt.Printf("%s_best_gflops %.2f\n", name, flops/ts[0].Seconds()/1e9)
}
