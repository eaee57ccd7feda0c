//go:build openblas

package blas

// #cgo LDFLAGS: -lopenblas
// void openblas_set_num_threads(int);
// int openblas_get_num_threads(void);
import "C"

import (
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/netlib/blas/netlib"
)

// Name is the name of the BLAS backend compiled into this binary: "gonum" or
// "openblas".
const Name = "openblas"

func init() {
	blas64.Use(netlib.Implementation{})
	blas32.Use(netlib.Implementation{})
}

// SetThreads sets the number of OpenBLAS threads (n ≥ 1), overriding
// OPENBLAS_NUM_THREADS. It changes OpenBLAS's process-wide thread pool: call it
// once, at start-up, before any BLAS call is in flight.
func SetThreads(n int) { C.openblas_set_num_threads(C.int(max(n, 1))) }

// Threads returns the number of OpenBLAS threads.
func Threads() int { return int(C.openblas_get_num_threads()) }
