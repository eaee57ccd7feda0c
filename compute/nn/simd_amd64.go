package nn

import "golang.org/x/sys/cpu"

// haveSIMD reports whether the AVX2 kernels of relu32, mask32 and mask can
// run (the processor has AVX2 and the operating system saves its registers).
var haveSIMD = cpu.X86.HasAVX2

// relu32SIMD is relu32 for len(z) a multiple of 8 (simd_amd64.s).
//
//go:noescape
func relu32SIMD(z []float32)

// mask32SIMD is mask32 for len(d) = len(y) a multiple of 8.
//
//go:noescape
func mask32SIMD(d, y []float32)

// maskSIMD is mask for len(dst) = len(src) = len(a) a multiple of 4.
//
//go:noescape
func maskSIMD(dst, src, a []float64)

// addWidenedSIMD is addWidened for len(dst) = len(src) a multiple of 4.
//
//go:noescape
func addWidenedSIMD(dst []float64, src []float32)
