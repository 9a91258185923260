// Command esppeer is a test-only ESP endpoint: it runs one esp.Engine with
// a TUN device and a static SA pair given on the command line, the way
// "ip xfrm state add" would install one. Integration tests and the
// throughput script run two of them in network namespaces.
//
// The TUN device gets no addresses or routes here; the caller sets them
// with ip(8). On SIGINT/SIGTERM it prints the SA counters as JSON and exits.
package main

import (
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"

	"github.com/soft-ix/soft-ix/esp"
	"github.com/soft-ix/soft-ix/internal/childsa"
)

func main() {
	var (
		tunName  = flag.String("tun", "Tunnel0.0", "TUN device name")
		local    = flag.String("local", "", "outer local address (IPv4 or IPv6)")
		remote   = flag.String("remote", "", "outer remote address (IPv4 or IPv6)")
		udp      = flag.Bool("udp", false, "encapsulate ESP in UDP 4500 (RFC 3948) instead of raw protocol 50")
		port     = flag.Int("port", 4500, "UDP port (both ends)")
		suite    = flag.String("suite", "aes256-sha256", "aes{128,192,256}-sha{1,256,384,512} or aes{128,256}gcm16")
		spiOut   = flag.Uint("spi-out", 0, "outbound SPI")
		spiIn    = flag.Uint("spi-in", 0, "inbound SPI")
		keyOut   = flag.String("key-out", "", "outbound encryption key (hex; GCM: key and 4-byte salt)")
		ikeyOut  = flag.String("ikey-out", "", "outbound integrity key (hex)")
		keyIn    = flag.String("key-in", "", "inbound encryption key (hex)")
		ikeyIn   = flag.String("ikey-in", "", "inbound integrity key (hex)")
		esn      = flag.Bool("esn", false, "extended sequence numbers")
		mtu      = flag.Int("mtu", 0, "TUN MTU (ip mtu); 0 derives it from the suite")
		outerMTU = flag.Int("outer-mtu", 1500, "outer path MTU")
		prefrag  = flag.Bool("pre-fragment", false, "ikev2 ipsec pre-fragment")
		mss      = flag.Int("adjust-mss", 0, "ip tcp adjust-mss: 0 off, -1 auto, or the MSS")
		window   = flag.Int("replay-window", 0, "anti-replay window (0: default)")
		workers  = flag.Int("workers", 0, "crypto workers (0: one per CPU)")
		verbose  = flag.Bool("v", false, "debug logging")
		cpuprof  = flag.String("cpuprofile", "", "write a CPU profile to this file")
		echoSrv  = flag.String("udp-echo-server", "", "instead of ESP: echo UDP datagrams on this address (latency baseline)")
		echoCli  = flag.String("udp-echo-client", "", "instead of ESP: send 200 small datagrams to this echo server one at a time and print the median round trip in microseconds")
	)
	flag.Parse()
	if *echoSrv != "" || *echoCli != "" {
		if err := udpEcho(*echoSrv, *echoCli); err != nil {
			fmt.Fprintln(os.Stderr, "esppeer:", err)
			os.Exit(1)
		}
		return
	}
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(log, *tunName, *local, *remote, *udp, *port, *suite, uint32(*spiOut), uint32(*spiIn),
		*keyOut, *ikeyOut, *keyIn, *ikeyIn, *esn, *mtu, *outerMTU, *prefrag, *mss, *window, *workers); err != nil {
		log.Error("esppeer", "err", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func parseSuite(s string) (encr childsa.EncrID, bits int, integ childsa.IntegID, err error) {
	var b, h int
	if _, e := fmt.Sscanf(s, "aes%dgcm16", &b); e == nil && (b == 128 || b == 256) {
		return childsa.EncrAESGCM16, b, childsa.IntegNone, nil
	}
	if _, e := fmt.Sscanf(s, "aes%d-sha%d", &b, &h); e == nil {
		switch h {
		case 1:
			return childsa.EncrAESCBC, b, childsa.IntegHMACSHA1_96, nil
		case 256:
			return childsa.EncrAESCBC, b, childsa.IntegHMACSHA256128, nil
		case 384:
			return childsa.EncrAESCBC, b, childsa.IntegHMACSHA384192, nil
		case 512:
			return childsa.EncrAESCBC, b, childsa.IntegHMACSHA512256, nil
		}
	}
	return 0, 0, 0, fmt.Errorf("unknown suite %q", s)
}

func run(log *slog.Logger, tunName, local, remote string, udp bool, port int, suite string, spiOut, spiIn uint32,
	keyOut, ikeyOut, keyIn, ikeyIn string, esn bool, mtu, outerMTU int, prefrag bool, mss, window, workers int) error {
	encr, bits, integ, err := parseSuite(suite)
	if err != nil {
		return err
	}
	la, err := netip.ParseAddr(local)
	if err != nil {
		return fmt.Errorf("-local: %w", err)
	}
	ra, err := netip.ParseAddr(remote)
	if err != nil {
		return fmt.Errorf("-remote: %w", err)
	}
	p := uint16(0)
	if udp {
		p = uint16(port)
	}
	l, r := netip.AddrPortFrom(la, p), netip.AddrPortFrom(ra, p)
	hexKey := func(name, s string) []byte {
		if err != nil {
			return nil
		}
		var k []byte
		k, err = hex.DecodeString(s)
		if err != nil {
			err = fmt.Errorf("-%s: not hex", name)
		}
		return k
	}
	out := childsa.SA{Tunnel: tunName, SPI: spiOut, EncrID: encr, EncrKeyBits: bits, IntegID: integ,
		EncrKey: hexKey("key-out", keyOut), IntegKey: hexKey("ikey-out", ikeyOut), ESN: esn,
		Local: l, Remote: r, UDPEncap: udp}
	in := childsa.SA{Tunnel: tunName, SPI: spiIn, Inbound: true, EncrID: encr, EncrKeyBits: bits, IntegID: integ,
		EncrKey: hexKey("key-in", keyIn), IntegKey: hexKey("ikey-in", ikeyIn), ESN: esn,
		Local: l, Remote: r, UDPEncap: udp}
	if err != nil {
		return err
	}

	e := esp.NewEngine(esp.Config{Logger: log, Workers: workers, ReplayWindow: window})
	defer e.Close()
	all, v6 := netip.IPv4Unspecified(), ra.Is6() && !ra.Is4In6()
	if v6 {
		all = netip.IPv6Unspecified()
	}
	if udp {
		if err := e.OpenUDP(netip.AddrPortFrom(all, uint16(port))); err != nil {
			return err
		}
	} else if err := e.OpenRawESP(all); err != nil {
		return err
	}
	tc := esp.TunnelConfig{Name: tunName, MTU: mtu, OuterMTU: outerMTU, OuterIPv6: v6, EncrID: encr, EncrKeyBits: bits, IntegID: integ,
		PreFragment: prefrag, AdjustMSS: mss}
	if _, err := e.CreateTunnel(tc); err != nil {
		return err
	}
	if err := e.InstallSA(in); err != nil {
		return err
	}
	if err := e.InstallSA(out); err != nil {
		return err
	}
	if err := e.SetOutbound(tunName, spiOut); err != nil {
		return err
	}
	log.Info("esppeer running", "tun", tunName, "mtu", tc.DeviceMTU(), "suite", suite, "udp", udp)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	co, _ := e.Counters(spiOut, false)
	ci, _ := e.Counters(spiIn, true)
	json.NewEncoder(os.Stdout).Encode(map[string]any{"outbound": co, "inbound": ci, "engine": e.Stats()})
	return nil
}

// udpEcho is a plain Go UDP echo, the baseline for the engine's added
// latency: each round trip costs two goroutine wake-ups from the netpoller,
// the path through two engines four.
func udpEcho(server, client string) error {
	if server != "" {
		c, err := net.ListenPacket("udp4", server)
		if err != nil {
			return err
		}
		b := make([]byte, 2048)
		for {
			n, a, err := c.ReadFrom(b)
			if err != nil {
				return err
			}
			c.WriteTo(b[:n], a)
		}
	}
	c, err := net.Dial("udp4", client)
	if err != nil {
		return err
	}
	b := make([]byte, 2048)
	var rtts []time.Duration
	for i := 0; i < 200; i++ {
		start := time.Now()
		c.Write(b[:64])
		c.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := c.Read(b); err == nil {
			rtts = append(rtts, time.Since(start))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(rtts) == 0 {
		return fmt.Errorf("no echo from %s", client)
	}
	slices.Sort(rtts)
	fmt.Println(rtts[len(rtts)/2].Microseconds())
	return nil
}
