// Package esp is the soft-ix data plane: ESP tunnel mode (RFC 4303) over a
// TUN device per IX tunnel interface. It holds the SA database by SPI, seals
// and opens packets (AES-CBC+HMAC and AES-GCM), checks anti-replay, clamps
// TCP MSS, pre-fragments, and moves packets between the TUN device and the
// outer raw-ESP and UDP-4500 sockets with batched, allocation-free I/O.
//
// Use:
//
//	e := esp.NewEngine(esp.Config{Events: ikeSide, IKEHandler: ikeSide.HandleUDP4500})
//	e.OpenUDP(netip.MustParseAddrPort("0.0.0.0:4500")) // RFC 3948, shared with IKE (SendIKE)
//	e.OpenRawESP(netip.IPv4Unspecified())               // IP protocol 50
//	e.OpenUDP(netip.MustParseAddrPort("[::]:4500"))     // the same two for IPv6 outer addresses
//	e.OpenRawESP(netip.IPv6Unspecified())
//	e.CreateTunnel(esp.TunnelConfig{Name: "Tunnel0.0", PreFragment: true, AdjustMSS: esp.MSSAuto})
//	e.InstallSA(inbound); e.InstallSA(outbound); e.SetOutbound("Tunnel0.0", outbound.SPI)
//
// InstallSA, SetOutbound, DeleteSA and Counters have the semantics of
// ike.DataPlane and take the types of the leaf package internal/childsa
// (the SA, its counters, its events), which ike uses too: the engine is
// ike's data plane without esp importing ike.
//
// The packet path follows wireguard-go's device: a TUN batch is read, each
// packet gets its SA's next sequence number in order, containers of packets
// go at once to a shared queue of crypto workers (one per CPU) and to the
// tunnel's ordered send queue, whose goroutine waits for each container to
// be sealed and sends it, with the containers queued behind it, in one
// sendmmsg (UDP GSO runs up to the kernel's 64 KiB where possible). Inbound
// mirrors it: recvmmsg (UDP GRO runs split per datagram), SA lookup and
// replay pre-check, parallel open, then in arrival order the replay window
// update (only after the ICV verified), traffic-selector check and a batched
// TUN write of all opened containers queued (with GRO through the device's
// virtio header). Small batches with nothing queued are handled inline to
// save latency: a lone packet is read, sealed (or opened) and written by
// the reading goroutine without any hand-off. Received datagrams sit in
// 2 KiB buffers (a socket moves to 64 KiB ones after a larger datagram),
// so queued forged packets cost little memory; only the UDP socket's GRO
// ring, TUN reads and, in a coalescing TUN write, the packets the device
// will grow (copied into spares for the write; the others stay where they
// are) use 64 KiB; the spares outlive collections (a
// buffer allocated again is zeroed, so resident, whole) and go back to the
// heap when the engine is idle. Receiving allocates nothing (esp's own
// recvmmsg, no net.Addr per datagram). AES-CBC+HMAC uses
// the multi-buffer assembly of esp/internal/cbchmac; AES-GCM the standard
// library's AES-NI/CLMUL code.
//
// Outer addresses are IPv4 or IPv6 (per SA, by its remote address); each
// family has its own UDP and raw sockets, and an IPv6 peer's tunnel loses
// 20 more bytes of MTU to its outer header (TunnelConfig.OuterIPv6). The
// inner traffic of either is IPv4 or IPv6.
//
// Raw ESP (IP protocol 50) can move past the kernel's IP stack both ways
// (Config.RawESP, the daemon's default --raw-esp auto, only while the file
// has no packet filters or NAPT, which would not see it; SetRawESPMode
// moves it to the raw IP socket and back as a reload adds and removes
// them). Out: Ethernet
// frames on a packet socket (afpacket.go, nexthop.go), one sendmmsg per
// batch past the IP output path, netfilter output hooks and qdisc, the
// next hop resolved through netlink and followed on route, neighbour and
// link changes. In: a TPACKET_V2 ring on a packet socket (packetrx.go)
// that takes our ESP as the device receives it, and an nftables netdev
// ingress rule that drops the IP stack's copy (ingressdrop.go); one claim
// of addresses and devices, followed on address and link changes, builds
// both; the reader parks in the runtime's poller on an epoll set of the
// ring and the raw socket, the ring joining it only while the reader
// parks (a lasting entry costs a nested wake-up per packet), and while
// packets stream it naps briefly rather than park (rxNap). ICMP errors
// about our ESP lower a tunnel's path MTU (pmtu.go). Everything else (no resolved neighbour, a
// non-Ethernet route such as a TUN or PPP WAN, fragments, packets larger
// than a ring frame, no packet socket or nftables, more than 64 addresses
// or devices) goes through the raw IP socket, which is still read. The sending thread's CPU per 1,400-byte packet drops from
// about 1,400 ns to about 840 ns (BenchmarkRawESPSend), the host's CPU per
// received packet, send included, from about 3,700 ns to about 1,400 ns
// (BenchmarkRawESPReceive, 3 runs each, 2026-12-05).
//
// AF_XDP (an XDP program redirecting our ESP to an XSK socket) is a
// measured experiment, not part of the daemon: xsk_test.go builds it in
// copy mode and BenchmarkRawESPReceive/xdp runs it beside the ring. Its
// host CPU per received packet, send included, was 0.93x to 1.01x the
// ring's (medians of 5 in five runs, 2026-12-05: 0.93, 0.98, 1.01, 0.96,
// 0.98). On a second host (AMD EPYC with retpolines, 2026-12-06), where
// every per-packet kernel path costs about 1.7x as much, it was 0.68x to
// 1.20x in five alternating runs, median 0.84. On a veth, as on any
// driver without zero-copy AF_XDP, the kernel copies each packet once
// either way; so far the saving has not paid for a second receive path,
// an XDP program and a socket per receive queue of every WAN device, and a
// device no other XDP program may use. A mapped send ring in place of
// sendmmsg (PACKET_TX_RING, txring_test.go) saved nothing either.
//
// Four more changes were measured in the lab and not kept
// (esp/bench/ab.sh, alternating rounds, 2026-12-06). Dropping the IP
// stack's copy with a tc BPF filter in place of the nftables rule moved
// nothing (raw CBC 1243 against 1277 Mbit/s). Sealing and opening every
// batch in the goroutine that read it, with no crypto workers, made raw
// ESP 8-11% faster where both ends share two CPUs, but ESP in UDP about
// 10% slower, and it would leave a tunnel's traffic one core on a larger
// machine. Opening inline only the batches that do not fill a read (the
// reader keeping up) gained 3%, within the noise. Crypto jobs of 64
// packets instead of 16 (fewer hand-offs per TUN batch) were 3-5%
// slower for raw ESP and ESP in UDP alike.
//
// The ring's reader naps (packetrx.go, rxNap) rather than parks while
// packets stream. The nap is a plain nanosleep, which lets the runtime
// hand the reader's P to queued goroutines; the same nap as a raw system
// call, holding the P, was 9 % faster in esp/bench/ab.sh (raw CBC 1709
// against 1864 Mbit/s, GCM 1739 against 1905, 2026-12-06) but would stall
// a one-P process (GOMAXPROCS=1, a one-CPU container) for the whole nap.
// The gain came from the goroutines the last batch woke, which a nap in a
// system call leaves in the P's run queue until the runtime moves the P to
// another thread: the reader now yields before each nap, which measured
// as fast as the raw nap (raw CBC 1628 -> 1811 Mbit/s, GCM 1652 -> 1876)
// and releases the P.
//
// What keeps raw ESP behind ESP in UDP in the veth lab is the path, not
// the endpoints: UDP GSO lets one 64 KiB skb cross every hop, while each
// raw ESP packet is its own skb at every router on the way
// (integration/bench's plain-pp contender measures that path bare).
//
// Each direction reads in one file, in the order a packet travels, with its
// stage list at the top: send.go the way out (TUN to socket), receive.go the
// way in (socket to TUN). pipeline.go holds what both share: the packet
// buffers and containers, the crypto workers and the outer sockets.
package esp
