package ike

import (
	"encoding/hex"
	"fmt"

	"github.com/soft-ix/soft-ix/ike/wire"
	"github.com/soft-ix/soft-ix/internal/childsa"
)

// Wireshark key tables. With CoreConfig.KeyLog set, every new IKE SA adds
// a line for the "ikev2_decryption_table" UAT and every Child SA direction
// a line for the "esp_sa" UAT, so lab captures can be decrypted: split the
// lines by their first field into the two files in Wireshark's profile
// directory. Lines start with "ikev2_decryption_table: " or "esp_sa: "
// followed by the UAT record. Keys are secrets: only ever enable this in
// a lab.

// wiresharkIKEEncr names an IKE encryption algorithm as the UAT does.
func wiresharkIKEEncr(a Algorithm) string {
	switch {
	case a.ID == encr3DES:
		return "3DES [RFC2451]"
	case a.ID == wire.EncrAESCBC:
		return fmt.Sprintf("AES-CBC-%d [RFC3602]", a.KeyBits)
	case a.ID == wire.EncrAESGCM16:
		return fmt.Sprintf("AES-GCM-%d with 16 octet ICV [RFC5282]", a.KeyBits)
	}
	return "NULL [RFC2410]"
}

func wiresharkIKEInteg(a Algorithm) string {
	switch a.ID {
	case wire.IntegHMACSHA196:
		return "HMAC_SHA1_96 [RFC2404]"
	case wire.IntegHMACSHA256128:
		return "HMAC_SHA2_256_128 [RFC4868]"
	case wire.IntegHMACSHA384192:
		return "HMAC_SHA2_384_192 [RFC4868]"
	case wire.IntegHMACSHA512256:
		return "HMAC_SHA2_512_256 [RFC4868]"
	}
	return "NONE [RFC4306]"
}

func wiresharkESPEncr(a Algorithm) string {
	switch a.ID {
	case encr3DES:
		return "TripleDES-CBC [RFC2451]"
	case wire.EncrAESCBC:
		return "AES-CBC [RFC3602]"
	case wire.EncrAESGCM16:
		return "AES-GCM with 16 octet ICV [RFC4106]"
	}
	return "NULL"
}

func wiresharkESPAuth(a Algorithm) string {
	switch a.ID {
	case wire.IntegHMACSHA196:
		return "HMAC-SHA-1-96 [RFC2404]"
	case wire.IntegHMACSHA256128:
		return "HMAC-SHA-256-128 [RFC4868]"
	case wire.IntegHMACSHA384192:
		return "HMAC-SHA-384-192 [RFC4868]"
	case wire.IntegHMACSHA512256:
		return "HMAC-SHA-512-256 [RFC4868]"
	}
	return "NULL"
}

func (c *Core) keyLogIKE(sa *ikeSA) {
	if c.opt.KeyLog == nil {
		return
	}
	fmt.Fprintf(c.opt.KeyLog, "ikev2_decryption_table: \"%016x\",\"%016x\",\"%x\",\"%x\",\"%s\",\"%x\",\"%x\",\"%s\"\n",
		sa.spiI, sa.spiR, sa.keys.ei, sa.keys.er, wiresharkIKEEncr(sa.suite.Enc),
		sa.keys.ai, sa.keys.ar, wiresharkIKEInteg(sa.suite.Integ))
}

func (c *Core) keyLogChild(sa *ikeSA, ch *childSA, in, out childsa.SA) {
	if c.opt.KeyLog == nil {
		return
	}
	for _, s := range []childsa.SA{out, in} {
		src, dst := sa.local.Addr(), sa.remote.Addr()
		if s.Inbound {
			src, dst = dst, src
		}
		proto := "IPv4"
		if src.Is6() {
			proto = "IPv6"
		}
		fmt.Fprintf(c.opt.KeyLog, "esp_sa: \"%s\",\"%s\",\"%s\",\"0x%08x\",\"%s\",\"0x%s\",\"%s\",\"0x%s\"\n",
			proto, src, dst, s.SPI, wiresharkESPEncr(ch.suite.Enc), hex.EncodeToString(s.EncrKey),
			wiresharkESPAuth(ch.suite.Integ), hex.EncodeToString(s.IntegKey))
	}
}
