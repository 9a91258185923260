// Macros for the SHA-NI code in sha256_amd64.s and stitch_amd64.s. They
// expect the byte-swap mask in X14 and use X0 and X13 as scratch.

// RNDS4 runs four rounds on the state pair (S0 = ABEF, S1 = CDGH) with the
// message words in M and the round constants at koff.
#define RNDS4(S0, S1, M, koff) \
	MOVOU ·sha256K+koff(SB), X0; \
	PADDD M, X0; \
	SHA256RNDS2 X0, S0, S1; \
	PSHUFD $0x0e, X0, X0; \
	SHA256RNDS2 X0, S1, S0

// SCHED replaces M0 = W[t-16..t-13] by W[t..t+3], given M1 = W[t-12..t-9],
// M2 = W[t-8..t-5] and M3 = W[t-4..t-1].
#define SCHED(M0, M1, M2, M3) \
	MOVOU M3, X13; \
	PALIGNR $4, M2, X13; \
	SHA256MSG1 M1, M0; \
	PADDD X13, M0; \
	SHA256MSG2 M3, M0

// LOADMSG loads 16 big-endian message bytes at off(P) into M.
#define LOADMSG(P, off, M) \
	MOVOU off(P), M; \
	PSHUFB X14, M

// TOABEF turns h[0..3] in S0 and h[4..7] in S1 into ABEF and CDGH.
#define TOABEF(S0, S1) \
	PSHUFD $0xb1, S0, S0; \
	PSHUFD $0x1b, S1, S1; \
	MOVOU S0, X13; \
	PALIGNR $8, S1, S0; \
	PBLENDW $0xf0, X13, S1

// FROMABEF is the inverse of TOABEF.
#define FROMABEF(S0, S1) \
	PSHUFD $0x1b, S0, S0; \
	PSHUFD $0xb1, S1, S1; \
	MOVOU S0, X13; \
	PBLENDW $0xf0, S1, S0; \
	PALIGNR $8, X13, S1
