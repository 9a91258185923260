// Package esp is the soft-ix data plane: ESP tunnel mode (RFC 4303) over a
// TUN device per IX tunnel interface. It holds the SA database by SPI, seals
// and opens packets (AES-CBC+HMAC and AES-GCM), checks anti-replay, clamps
// TCP MSS, pre-fragments, and moves packets between the TUN device and the
// outer raw-ESP and UDP-4500 sockets with batched, allocation-free I/O.
package esp
