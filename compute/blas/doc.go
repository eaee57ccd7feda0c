// Package blas selects the BLAS implementation behind gonum's blas64 and
// blas32, which every level-3 call of package nn goes through (blas32 for the
// single-precision training path, see nn.Net32).
//
// # Backends
//
// The default build uses gonum's pure-Go implementation (gonum.org/v1/gonum/
// blas/gonum): no cgo, static binaries, any GOOS/GOARCH. Building with the
// tag openblas
//
//	go build -tags openblas ./...
//
// links OpenBLAS through cgo (gonum.org/v1/netlib/blas/netlib, with
// "#cgo LDFLAGS: -lopenblas"; on Debian/Ubuntu install libopenblas-dev) and
// registers it with blas64.Use and blas32.Use in this package's init
// function. Package nn
// imports this package, so every program and test that uses nn gets the
// backend chosen at build time; nothing is selected at run time.
//
// # Global state
//
// blas64.Use sets a process-wide implementation; it is called once, from
// init, before main runs, and never again, so there is no mutable state to
// race on. The only other global is OpenBLAS's own thread count, which
// SetThreads (or the OPENBLAS_NUM_THREADS environment variable, read by
// OpenBLAS when it loads) controls.
//
// # Threads and determinism
//
// gonum's Dgemm splits large products into blocks computed by up to
// GOMAXPROCS goroutines; OpenBLAS uses its own thread pool (by default one
// thread per core). Both partition the output matrix, never the inner
// dimension, so every entry of a product is summed in a fixed order: results
// are bit-identical for the same binary, backend and thread count. They
// differ, by rounding, between the backends.
package blas
