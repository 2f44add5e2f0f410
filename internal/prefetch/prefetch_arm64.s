//go:build gc && !purego

#include "textflag.h"

// func line(p unsafe.Pointer)
TEXT ·line(SB), NOSPLIT|NOFRAME, $0-8
	MOVD p+0(FP), R0
	PRFM (R0), PLDL1KEEP
	RET

// func rangeLines(p unsafe.Pointer, n uintptr)
// Prefetches the lines from p's line up to the one holding p+n-1.
TEXT ·rangeLines(SB), NOSPLIT|NOFRAME, $0-16
	MOVD p+0(FP), R0
	MOVD n+8(FP), R1
	ADD  R0, R1, R1
	SUB  $1, R1, R1 // last byte
	AND  $~63, R0, R0
	AND  $~63, R1, R1

loop:
	PRFM (R0), PLDL1KEEP
	ADD  $64, R0, R0
	CMP  R1, R0
	BLS  loop
	RET
