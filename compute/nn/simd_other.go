//go:build !amd64

package nn

// haveSIMD is false: this architecture runs the Go loops.
const haveSIMD = false

func relu32SIMD([]float32)       { panic("nn: no SIMD kernels on this architecture") }
func mask32SIMD(_, _ []float32)  { panic("nn: no SIMD kernels on this architecture") }
func maskSIMD(_, _, _ []float64) { panic("nn: no SIMD kernels on this architecture") }

func addWidenedSIMD([]float64, []float32) { panic("nn: no SIMD kernels on this architecture") }
