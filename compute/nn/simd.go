package nn

// relu32 sets z[i] = max(z[i], 0) in place, keeping NaN and −0 as they are
// (z[i] < 0 is false for both). On amd64 with AVX2 it runs eight lanes at a
// time (VMAXPS with 0 as the first operand, which returns the second, z[i],
// when either is NaN); the result is bit for bit that of the Go loop.
func relu32(z []float32) {
	n := 0
	if haveSIMD {
		n = len(z) &^ 7
		relu32SIMD(z[:n])
	}
	relu32Go(z[n:])
}

// mask32 sets d[i] = 0 where y[i] > 0 does not hold (the ReLU derivative
// 1[y > 0], y its output); on amd64 with AVX2 eight lanes at a time
// (an ordered greater-than compare and a bitwise and, bit for bit the Go
// loop's result). len(y) must be at least len(d).
func mask32(d, y []float32) {
	y = y[:len(d)]
	n := 0
	if haveSIMD {
		n = len(d) &^ 7
		mask32SIMD(d[:n], y[:n])
	}
	mask32Go(d[n:], y[n:])
}

// mask sets dst[i] = src[i] where a[i] > 0 and 0 elsewhere; on amd64 with
// AVX2 four lanes at a time, bit for bit the Go loop's result. len(src) and
// len(a) must be at least len(dst).
func mask(dst, src, a []float64) {
	src, a = src[:len(dst)], a[:len(dst)]
	n := 0
	if haveSIMD {
		n = len(dst) &^ 3
		maskSIMD(dst[:n], src[:n], a[:n])
	}
	maskGo(dst[n:], src[n:], a[n:])
}

// addWidened adds float64(src[j]) to dst[j] for every j < len(src) (len(dst)
// at least len(src)): one row's share of a float64 column sum of a float32
// matrix. On amd64 with AVX2 four lanes at a time (VCVTPS2PD, VADDPD); each
// dst[j] receives the same additions in the same order as in the Go loop, so
// the sums are bit for bit the same (but for which NaN a NaN sum carries,
// which Go does not define either).
func addWidened(dst []float64, src []float32) {
	dst = dst[:len(src)]
	n := 0
	if haveSIMD {
		n = len(src) &^ 3
		addWidenedSIMD(dst[:n], src[:n])
	}
	addWidenedGo(dst[n:], src[n:])
}

// addWidenedGo is addWidened in Go.
func addWidenedGo(dst []float64, src []float32) {
	dst = dst[:len(src)]
	for j, v := range src {
		dst[j] += float64(v)
	}
}
