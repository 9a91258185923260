//go:build amd64 && !purego

#include "textflag.h"

// Multi-lane CBC encryption and 8-wide CBC decryption with AES-NI.
//
// Round keys are laid out as FIPS 197 bytes, 16 per round: rk[0] is the
// whitening key, rk[rounds] the last. Decryption uses the equivalent inverse
// cipher's keys (InvMixColumns applied to the middle ones), as AESDEC wants.

// ROUND8 applies one AES round instruction with the round key at off(AX) to
// the eight states X0..X7.
#define ROUND8(op, off) \
	MOVOU off(AX), X8; \
	op X8, X0; \
	op X8, X1; \
	op X8, X2; \
	op X8, X3; \
	op X8, X4; \
	op X8, X5; \
	op X8, X6; \
	op X8, X7

// LOADXOR xors the 16 bytes at mem into state.
#define LOADXOR(mem, state) \
	MOVOU mem, X9; \
	PXOR X9, state

// func cbcEnc8(rk *byte, rounds int, lanes *[8]*byte, steps *[8]uintptr, nblocks int)
//
// Encrypts nblocks blocks in place in each of eight independent CBC chains.
// Lane i starts at lanes[i]; the block before it (lanes[i]-16) is its IV or
// previous ciphertext block. After each block the lane pointer advances by
// steps[i] (16, or 0 for an idle lane that churns a scratch block). The eight
// chains keep eight AESENC in flight, so the AES unit runs at its throughput
// rather than at the latency of one chain.
TEXT ·cbcEnc8(SB), NOSPLIT, $0-40
	MOVQ rk+0(FP), AX
	MOVQ rounds+8(FP), DX
	MOVQ lanes+16(FP), SI
	MOVQ steps+24(FP), DI
	MOVQ nblocks+32(FP), CX
	VZEROUPPER
	TESTQ CX, CX
	JZ   encDone
	MOVQ 0(SI), R8
	MOVQ 8(SI), R9
	MOVQ 16(SI), R10
	MOVQ 24(SI), R11
	MOVQ 32(SI), R12
	MOVQ 40(SI), R13
	MOVQ 48(SI), R14
	MOVQ 56(SI), R15
	// The chaining values: each lane's IV.
	MOVOU -16(R8), X0
	MOVOU -16(R9), X1
	MOVOU -16(R10), X2
	MOVOU -16(R11), X3
	MOVOU -16(R12), X4
	MOVOU -16(R13), X5
	MOVOU -16(R14), X6
	MOVOU -16(R15), X7

encLoop:
	LOADXOR((R8), X0)
	LOADXOR((R9), X1)
	LOADXOR((R10), X2)
	LOADXOR((R11), X3)
	LOADXOR((R12), X4)
	LOADXOR((R13), X5)
	LOADXOR((R14), X6)
	LOADXOR((R15), X7)
	ROUND8(PXOR, 0)
	ROUND8(AESENC, 16)
	ROUND8(AESENC, 32)
	ROUND8(AESENC, 48)
	ROUND8(AESENC, 64)
	ROUND8(AESENC, 80)
	ROUND8(AESENC, 96)
	ROUND8(AESENC, 112)
	ROUND8(AESENC, 128)
	ROUND8(AESENC, 144)
	CMPQ DX, $10
	JEQ  encLast10
	ROUND8(AESENC, 160)
	ROUND8(AESENC, 176)
	CMPQ DX, $12
	JEQ  encLast12
	ROUND8(AESENC, 192)
	ROUND8(AESENC, 208)
	ROUND8(AESENCLAST, 224)
	JMP  encStore

encLast12:
	ROUND8(AESENCLAST, 192)
	JMP  encStore

encLast10:
	ROUND8(AESENCLAST, 160)

encStore:
	MOVOU X0, (R8)
	MOVOU X1, (R9)
	MOVOU X2, (R10)
	MOVOU X3, (R11)
	MOVOU X4, (R12)
	MOVOU X5, (R13)
	MOVOU X6, (R14)
	MOVOU X7, (R15)
	ADDQ 0(DI), R8
	ADDQ 8(DI), R9
	ADDQ 16(DI), R10
	ADDQ 24(DI), R11
	ADDQ 32(DI), R12
	ADDQ 40(DI), R13
	ADDQ 48(DI), R14
	ADDQ 56(DI), R15
	DECQ CX
	JNZ  encLoop

encDone:
	RET

// ROUND1 applies one AES round with the round key at off(AX) to X0.
#define ROUND1(op, off) \
	MOVOU off(AX), X8; \
	op X8, X0

// func cbcDec(rk *byte, rounds int, p *byte, nblocks int)
//
// Decrypts nblocks blocks in place starting at p, chaining from the IV at
// p-16. It walks from the last block back to the first, eight blocks at a
// time, so the ciphertext block that each plaintext block is xored with is
// still in memory when it is needed.
TEXT ·cbcDec(SB), NOSPLIT, $0-32
	MOVQ rk+0(FP), AX
	MOVQ rounds+8(FP), DX
	MOVQ p+16(FP), SI
	MOVQ nblocks+24(FP), CX
	VZEROUPPER
	MOVQ CX, BX
	SHLQ $4, BX
	ADDQ BX, SI // SI = end of the ciphertext

dec8Loop:
	CMPQ CX, $8
	JB   dec1Loop
	SUBQ $128, SI
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVOU 64(SI), X4
	MOVOU 80(SI), X5
	MOVOU 96(SI), X6
	MOVOU 112(SI), X7
	ROUND8(PXOR, 0)
	ROUND8(AESDEC, 16)
	ROUND8(AESDEC, 32)
	ROUND8(AESDEC, 48)
	ROUND8(AESDEC, 64)
	ROUND8(AESDEC, 80)
	ROUND8(AESDEC, 96)
	ROUND8(AESDEC, 112)
	ROUND8(AESDEC, 128)
	ROUND8(AESDEC, 144)
	CMPQ DX, $10
	JEQ  dec8Last10
	ROUND8(AESDEC, 160)
	ROUND8(AESDEC, 176)
	CMPQ DX, $12
	JEQ  dec8Last12
	ROUND8(AESDEC, 192)
	ROUND8(AESDEC, 208)
	ROUND8(AESDECLAST, 224)
	JMP  dec8Store

dec8Last12:
	ROUND8(AESDECLAST, 192)
	JMP  dec8Store

dec8Last10:
	ROUND8(AESDECLAST, 160)

dec8Store:
	LOADXOR(-16(SI), X0)
	LOADXOR(0(SI), X1)
	LOADXOR(16(SI), X2)
	LOADXOR(32(SI), X3)
	LOADXOR(48(SI), X4)
	LOADXOR(64(SI), X5)
	LOADXOR(80(SI), X6)
	LOADXOR(96(SI), X7)
	MOVOU X0, 0(SI)
	MOVOU X1, 16(SI)
	MOVOU X2, 32(SI)
	MOVOU X3, 48(SI)
	MOVOU X4, 64(SI)
	MOVOU X5, 80(SI)
	MOVOU X6, 96(SI)
	MOVOU X7, 112(SI)
	SUBQ $8, CX
	JMP  dec8Loop

dec1Loop:
	TESTQ CX, CX
	JZ   decDone
	SUBQ $16, SI
	MOVOU (SI), X0
	ROUND1(PXOR, 0)
	ROUND1(AESDEC, 16)
	ROUND1(AESDEC, 32)
	ROUND1(AESDEC, 48)
	ROUND1(AESDEC, 64)
	ROUND1(AESDEC, 80)
	ROUND1(AESDEC, 96)
	ROUND1(AESDEC, 112)
	ROUND1(AESDEC, 128)
	ROUND1(AESDEC, 144)
	CMPQ DX, $10
	JEQ  dec1Last10
	ROUND1(AESDEC, 160)
	ROUND1(AESDEC, 176)
	CMPQ DX, $12
	JEQ  dec1Last12
	ROUND1(AESDEC, 192)
	ROUND1(AESDEC, 208)
	ROUND1(AESDECLAST, 224)
	JMP  dec1Store

dec1Last12:
	ROUND1(AESDECLAST, 192)
	JMP  dec1Store

dec1Last10:
	ROUND1(AESDECLAST, 160)

dec1Store:
	LOADXOR(-16(SI), X0)
	MOVOU X0, (SI)
	DECQ CX
	JMP  dec1Loop

decDone:
	RET
