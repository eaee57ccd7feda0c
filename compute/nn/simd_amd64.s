#include "textflag.h"

// func relu32SIMD(z []float32)
TEXT ·relu32SIMD(SB), NOSPLIT, $0-24
	MOVQ z_base+0(FP), DI
	MOVQ z_len+8(FP), CX
	SHRQ $3, CX
	JZ   relu_done
	VXORPS Y0, Y0, Y0

relu_loop:
	VMOVUPS (DI), Y1
	VMAXPS  Y1, Y0, Y2 // Y2 = Y0 > Y1 ? Y0 : Y1, and Y1 when either is NaN
	VMOVUPS Y2, (DI)
	ADDQ    $32, DI
	DECQ    CX
	JNZ     relu_loop
	VZEROUPPER

relu_done:
	RET

// func mask32SIMD(d, y []float32)
TEXT ·mask32SIMD(SB), NOSPLIT, $0-48
	MOVQ d_base+0(FP), DI
	MOVQ d_len+8(FP), CX
	MOVQ y_base+24(FP), SI
	SHRQ $3, CX
	JZ   mask32_done
	VXORPS Y0, Y0, Y0

mask32_loop:
	VMOVUPS (SI), Y1
	VCMPPS  $0x1e, Y0, Y1, Y2 // Y2 = Y1 > 0 (greater-than, ordered: false for NaN)
	VANDPS  (DI), Y2, Y3
	VMOVUPS Y3, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	DECQ    CX
	JNZ     mask32_loop
	VZEROUPPER

mask32_done:
	RET

// func maskSIMD(dst, src, a []float64)
TEXT ·maskSIMD(SB), NOSPLIT, $0-72
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	MOVQ a_base+48(FP), DX
	SHRQ $2, CX
	JZ   mask_done
	VXORPD Y0, Y0, Y0

mask_loop:
	VMOVUPD (DX), Y1
	VCMPPD  $0x1e, Y0, Y1, Y2 // Y2 = Y1 > 0
	VANDPD  (SI), Y2, Y3
	VMOVUPD Y3, (DI)
	ADDQ    $32, DI
	ADDQ    $32, SI
	ADDQ    $32, DX
	DECQ    CX
	JNZ     mask_loop
	VZEROUPPER

mask_done:
	RET

// func addWidenedSIMD(dst []float64, src []float32)
TEXT ·addWidenedSIMD(SB), NOSPLIT, $0-48
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	SHRQ $2, CX
	JZ   widen_done

widen_loop:
	VCVTPS2PD (SI), Y1 // four float32 to four float64, exactly
	VMOVUPD   (DI), Y2
	VADDPD    Y1, Y2, Y2 // dst + src, dst the first operand (whose NaN an x86 add returns), as Go's dst += src
	VMOVUPD   Y2, (DI)
	ADDQ      $32, DI
	ADDQ      $16, SI
	DECQ      CX
	JNZ       widen_loop
	VZEROUPPER

widen_done:
	RET
