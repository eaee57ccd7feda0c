package nn

// Importing compute/blas registers the BLAS backend chosen at build time
// (pure-Go gonum by default, OpenBLAS with -tags openblas) with blas64 before
// any network runs.
import _ "github.com/flatsweep/flatsweep/compute/blas"
