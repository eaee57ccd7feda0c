//go:build !openblas

package blas

// Name is the name of the BLAS backend compiled into this binary: "gonum" or
// "openblas".
const Name = "gonum"

// SetThreads sets the number of threads of the BLAS backend. With gonum it
// does nothing: gonum's Dgemm uses up to GOMAXPROCS goroutines (set that with
// runtime.GOMAXPROCS or the GOMAXPROCS environment variable).
func SetThreads(n int) {}

// Threads returns the number of threads of the BLAS backend; with gonum it is
// 0, meaning "GOMAXPROCS".
func Threads() int { return 0 }
