//go:build amd64 && !purego

#include "textflag.h"

// SHA-256 compression with the SHA extensions (SHA-NI), two independent
// messages at once.
//
// SHA256RNDS2 has a latency of several cycles but can issue about once per
// cycle, so one message's dependent rounds leave most of the unit idle.
// Interleaving the rounds of two messages (two packets' HMACs) nearly halves
// the time per block. The state is kept as the ABEF/CDGH register pair that
// SHA256RNDS2 works on; the message schedule uses SHA256MSG1/SHA256MSG2.

#include "sha256_amd64.h"

// func sha256x2(h *[2][8]uint32, p *[2]*byte, step *[2]uintptr, nblocks int)
//
// Compresses nblocks 64-byte blocks of message i, from p[i] on, into h[i],
// for i = 0, 1. Message i advances steps[i] bytes per block (64, or 0 for an
// idle lane that churns one scratch block).
TEXT ·sha256x2(SB), NOSPLIT, $64-32
	MOVQ h+0(FP), DI
	MOVQ p+8(FP), SI
	MOVQ 0(SI), AX
	MOVQ 8(SI), BX
	MOVQ step+16(FP), SI
	MOVQ 0(SI), DX
	MOVQ 8(SI), SI
	MOVQ nblocks+24(FP), CX
	VZEROUPPER
	TESTQ CX, CX
	JZ   done
	MOVOU ·sha256Swap(SB), X14
	MOVOU 0(DI), X1
	MOVOU 16(DI), X2
	TOABEF(X1, X2)
	MOVOU 32(DI), X7
	MOVOU 48(DI), X8
	TOABEF(X7, X8)

loop:
	MOVOU X1, 0(SP)
	MOVOU X2, 16(SP)
	MOVOU X7, 32(SP)
	MOVOU X8, 48(SP)

	LOADMSG(AX, 0, X3)
	RNDS4(X1, X2, X3, 0)
	LOADMSG(BX, 0, X9)
	RNDS4(X7, X8, X9, 0)
	LOADMSG(AX, 16, X4)
	RNDS4(X1, X2, X4, 16)
	LOADMSG(BX, 16, X10)
	RNDS4(X7, X8, X10, 16)
	LOADMSG(AX, 32, X5)
	RNDS4(X1, X2, X5, 32)
	LOADMSG(BX, 32, X11)
	RNDS4(X7, X8, X11, 32)
	LOADMSG(AX, 48, X6)
	RNDS4(X1, X2, X6, 48)
	LOADMSG(BX, 48, X12)
	RNDS4(X7, X8, X12, 48)
	SCHED(X3, X4, X5, X6)
	RNDS4(X1, X2, X3, 64)
	SCHED(X9, X10, X11, X12)
	RNDS4(X7, X8, X9, 64)
	SCHED(X4, X5, X6, X3)
	RNDS4(X1, X2, X4, 80)
	SCHED(X10, X11, X12, X9)
	RNDS4(X7, X8, X10, 80)
	SCHED(X5, X6, X3, X4)
	RNDS4(X1, X2, X5, 96)
	SCHED(X11, X12, X9, X10)
	RNDS4(X7, X8, X11, 96)
	SCHED(X6, X3, X4, X5)
	RNDS4(X1, X2, X6, 112)
	SCHED(X12, X9, X10, X11)
	RNDS4(X7, X8, X12, 112)
	SCHED(X3, X4, X5, X6)
	RNDS4(X1, X2, X3, 128)
	SCHED(X9, X10, X11, X12)
	RNDS4(X7, X8, X9, 128)
	SCHED(X4, X5, X6, X3)
	RNDS4(X1, X2, X4, 144)
	SCHED(X10, X11, X12, X9)
	RNDS4(X7, X8, X10, 144)
	SCHED(X5, X6, X3, X4)
	RNDS4(X1, X2, X5, 160)
	SCHED(X11, X12, X9, X10)
	RNDS4(X7, X8, X11, 160)
	SCHED(X6, X3, X4, X5)
	RNDS4(X1, X2, X6, 176)
	SCHED(X12, X9, X10, X11)
	RNDS4(X7, X8, X12, 176)
	SCHED(X3, X4, X5, X6)
	RNDS4(X1, X2, X3, 192)
	SCHED(X9, X10, X11, X12)
	RNDS4(X7, X8, X9, 192)
	SCHED(X4, X5, X6, X3)
	RNDS4(X1, X2, X4, 208)
	SCHED(X10, X11, X12, X9)
	RNDS4(X7, X8, X10, 208)
	SCHED(X5, X6, X3, X4)
	RNDS4(X1, X2, X5, 224)
	SCHED(X11, X12, X9, X10)
	RNDS4(X7, X8, X11, 224)
	SCHED(X6, X3, X4, X5)
	RNDS4(X1, X2, X6, 240)
	SCHED(X12, X9, X10, X11)
	RNDS4(X7, X8, X12, 240)

	MOVOU 0(SP), X13
	PADDD X13, X1
	MOVOU 16(SP), X13
	PADDD X13, X2
	MOVOU 32(SP), X13
	PADDD X13, X7
	MOVOU 48(SP), X13
	PADDD X13, X8
	ADDQ DX, AX
	ADDQ SI, BX
	DECQ CX
	JNZ  loop

	FROMABEF(X1, X2)
	MOVOU X1, 0(DI)
	MOVOU X2, 16(DI)
	FROMABEF(X7, X8)
	MOVOU X7, 32(DI)
	MOVOU X8, 48(DI)

done:
	RET

// sha256Swap reverses the bytes of each 32-bit word (big-endian load).
DATA ·sha256Swap+0(SB)/8, $0x0405060700010203
DATA ·sha256Swap+8(SB)/8, $0x0c0d0e0f08090a0b
GLOBL ·sha256Swap(SB), RODATA|NOPTR, $16

// sha256K holds the 64 SHA-256 round constants (FIPS 180-4 section 4.2.2).
DATA ·sha256K+0(SB)/8, $0x71374491428a2f98
DATA ·sha256K+8(SB)/8, $0xe9b5dba5b5c0fbcf
DATA ·sha256K+16(SB)/8, $0x59f111f13956c25b
DATA ·sha256K+24(SB)/8, $0xab1c5ed5923f82a4
DATA ·sha256K+32(SB)/8, $0x12835b01d807aa98
DATA ·sha256K+40(SB)/8, $0x550c7dc3243185be
DATA ·sha256K+48(SB)/8, $0x80deb1fe72be5d74
DATA ·sha256K+56(SB)/8, $0xc19bf1749bdc06a7
DATA ·sha256K+64(SB)/8, $0xefbe4786e49b69c1
DATA ·sha256K+72(SB)/8, $0x240ca1cc0fc19dc6
DATA ·sha256K+80(SB)/8, $0x4a7484aa2de92c6f
DATA ·sha256K+88(SB)/8, $0x76f988da5cb0a9dc
DATA ·sha256K+96(SB)/8, $0xa831c66d983e5152
DATA ·sha256K+104(SB)/8, $0xbf597fc7b00327c8
DATA ·sha256K+112(SB)/8, $0xd5a79147c6e00bf3
DATA ·sha256K+120(SB)/8, $0x1429296706ca6351
DATA ·sha256K+128(SB)/8, $0x2e1b213827b70a85
DATA ·sha256K+136(SB)/8, $0x53380d134d2c6dfc
DATA ·sha256K+144(SB)/8, $0x766a0abb650a7354
DATA ·sha256K+152(SB)/8, $0x92722c8581c2c92e
DATA ·sha256K+160(SB)/8, $0xa81a664ba2bfe8a1
DATA ·sha256K+168(SB)/8, $0xc76c51a3c24b8b70
DATA ·sha256K+176(SB)/8, $0xd6990624d192e819
DATA ·sha256K+184(SB)/8, $0x106aa070f40e3585
DATA ·sha256K+192(SB)/8, $0x1e376c0819a4c116
DATA ·sha256K+200(SB)/8, $0x34b0bcb52748774c
DATA ·sha256K+208(SB)/8, $0x4ed8aa4a391c0cb3
DATA ·sha256K+216(SB)/8, $0x682e6ff35b9cca4f
DATA ·sha256K+224(SB)/8, $0x78a5636f748f82ee
DATA ·sha256K+232(SB)/8, $0x8cc7020884c87814
DATA ·sha256K+240(SB)/8, $0xa4506ceb90befffa
DATA ·sha256K+248(SB)/8, $0xc67178f2bef9a3f7
GLOBL ·sha256K(SB), RODATA|NOPTR, $256
