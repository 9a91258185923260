package config

import (
	"fmt"
	"strconv"
	"strings"
)

// interfaceFamilies are the IX interface families soft-ix emulates, with
// the canonical spelling IX prints.
var interfaceFamilies = []InterfaceKind{KindGigaEthernet, KindLoopback, KindTunnel, KindNull}

// otherFamilies are IX interface families soft-ix does not emulate; their
// blocks are skipped with a "not emulated" warning.
var otherFamilies = []string{"BRI", "USB-Serial", "USB-Ether", "FastEthernet", "BVI", "Dialer", "ATM", "Serial", "Vlan", "Port-channel", "Bridge", "MobileGateway"}

// NormalizeInterfaceName returns the canonical IX spelling of an interface
// name ("tunnel0.0" -> "Tunnel0.0", "gi2:1.0" -> "GigaEthernet2:1.0") and its
// family. The family may be written in any case and abbreviated to any
// prefix of two or more letters, as the IX CLI accepts. The number part is
// N.M for Loopback, Tunnel and Null (Null only 0.0) and N.M or N:P.M for
// GigaEthernet; numbers are decimal without sign.
func NormalizeInterfaceName(name string) (string, InterfaceKind, error) {
	i := 0
	for i < len(name) && (name[i] >= 'a' && name[i] <= 'z' || name[i] >= 'A' && name[i] <= 'Z' || name[i] == '-') {
		i++
	}
	fam, num := name[:i], name[i:]
	kind, ok := familyOf(fam)
	if !ok {
		return "", "", fmt.Errorf("unknown interface %q, expected GigaEthernetN.M, GigaEthernetN:P.M, LoopbackN.M, TunnelN.M or Null0.0", name)
	}
	form := string(kind) + "N.M"
	if kind == KindGigaEthernet {
		form = "GigaEthernetN.M or GigaEthernetN:P.M"
	}
	bad := fmt.Errorf("bad interface name %q, expected %s", name, form)
	dot := strings.IndexByte(num, '.')
	if dot < 0 {
		return "", "", bad
	}
	unit, sub := num[:dot], num[dot+1:]
	var port string
	if c := strings.IndexByte(unit, ':'); c >= 0 {
		if kind != KindGigaEthernet {
			return "", "", bad
		}
		unit, port = unit[:c], unit[c+1:]
		if !isNumber(port) {
			return "", "", bad
		}
	}
	if !isNumber(unit) || !isNumber(sub) {
		return "", "", bad
	}
	canon := string(kind) + canonNumber(unit)
	if port != "" {
		canon += ":" + canonNumber(port)
	}
	canon += "." + canonNumber(sub)
	if kind == KindNull && canon != "Null0.0" {
		return "", "", fmt.Errorf("bad interface name %q, expected Null0.0", name)
	}
	return canon, kind, nil
}

func familyOf(fam string) (InterfaceKind, bool) {
	if len(fam) < 2 {
		return "", false
	}
	for _, k := range interfaceFamilies {
		if len(fam) <= len(k) && strings.EqualFold(fam, string(k)[:len(fam)]) {
			return k, true
		}
	}
	return "", false
}

// otherFamily reports whether name is an IX interface soft-ix does not
// emulate, and returns its family. Like the IX CLI it accepts the family in
// any case and abbreviated to two letters or more ("Fastether0/0.1").
func otherFamily(name string) (string, bool) {
	i := 0
	for i < len(name) && (name[i] >= 'a' && name[i] <= 'z' || name[i] >= 'A' && name[i] <= 'Z' || name[i] == '-') {
		i++
	}
	fam := name[:i]
	if len(fam) < 2 || i == len(name) || name[i] < '0' || name[i] > '9' {
		return "", false
	}
	if _, emulated := familyOf(fam); emulated {
		return "", false
	}
	for _, f := range otherFamilies {
		if len(fam) <= len(f) && strings.EqualFold(fam, f[:len(fam)]) {
			return f, true
		}
	}
	return "", false
}

func isNumber(s string) bool {
	if s == "" || len(s) > 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// isDigits reports a word of decimal digits, however long (a number out
// of range then gets its own error).
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func canonNumber(s string) string {
	n, _ := strconv.Atoi(s)
	return strconv.Itoa(n)
}

// Algorithm keywords as IX spells them. The ike package maps them to IKEv2
// transform IDs.
const (
	EncAESCBC128 EncAlg = "aes-cbc-128"
	EncAESCBC192 EncAlg = "aes-cbc-192"
	EncAESCBC256 EncAlg = "aes-cbc-256"
	EncAESGCM128 EncAlg = "aes-gcm-128-16" // AES-GCM, 16-octet ICV
	EncAESGCM256 EncAlg = "aes-gcm-256-16"
	Enc3DESCBC   EncAlg = "3des-cbc"

	IntegSHA1   IntegAlg = "sha1"     // HMAC-SHA1-96
	IntegSHA256 IntegAlg = "sha2-256" // HMAC-SHA2-256-128
	IntegSHA384 IntegAlg = "sha2-384" // HMAC-SHA2-384-192
	IntegSHA512 IntegAlg = "sha2-512" // HMAC-SHA2-512-256

	PRFSHA1   PRFAlg = "sha1"
	PRFSHA256 PRFAlg = "sha2-256"
	PRFSHA384 PRFAlg = "sha2-384"
	PRFSHA512 PRFAlg = "sha2-512"

	DH1024       DHGroup = "1024-bit"     // MODP group 2
	DH1536       DHGroup = "1536-bit"     // MODP group 5
	DH2048       DHGroup = "2048-bit"     // MODP group 14
	DH3072       DHGroup = "3072-bit"     // MODP group 15
	DH2048S256   DHGroup = "2048-bit-256" // MODP group 24 (256-bit prime order subgroup)
	DHECP256     DHGroup = "256-bit-ecp"  // ECP group 19
	DHECP384     DHGroup = "384-bit-ecp"  // ECP group 20
	DHCurve25519 DHGroup = "curve25519"   // group 31

	// PFSOff is "ikev2 child-pfs off" in a Tunnel (Tunnel.Override), which
	// cancels the bound profile's PFS group. In a profile block "child-pfs
	// off" is stored as "". ProfileFor always returns "" for no PFS.
	PFSOff DHGroup = "off"
)

var (
	encAlgs   = []string{string(EncAESCBC128), string(EncAESCBC192), string(EncAESCBC256), string(EncAESGCM128), string(EncAESGCM256), string(Enc3DESCBC)}
	integAlgs = []string{string(IntegSHA1), string(IntegSHA256), string(IntegSHA384), string(IntegSHA512)}
	dhGroups  = []string{string(DH1024), string(DH1536), string(DH2048), string(DH3072), string(DH2048S256), string(DHECP256), string(DHECP384), string(DHCurve25519)}

	// aliases are spellings people use for the same algorithm.
	encAliases = map[string]EncAlg{"aes-gcm-128": EncAESGCM128, "aes-gcm-256": EncAESGCM256, "3des": Enc3DESCBC}
	dhAliases  = map[string]DHGroup{"ecp256": DHECP256, "ecp384": DHECP384, "256-bit-ecp-group": DHECP256, "x25519": DHCurve25519}

	// unsupported are keywords IX accepts that soft-ix will not implement.
	unsupportedAlgs = map[string]string{
		"null":     "null encryption is not supported by soft-ix",
		"des-cbc":  "single DES is not supported by soft-ix",
		"md5":      "HMAC-MD5 is not supported by soft-ix",
		"768-bit":  "the 768-bit MODP group (group 1) is not supported by soft-ix",
		"4096-bit": "the 4096-bit MODP group (group 16) is not supported by soft-ix",
	}
)

// AEAD reports whether the algorithm carries its own integrity (AES-GCM).
func (a EncAlg) AEAD() bool { return a == EncAESGCM128 || a == EncAESGCM256 }

// KeyBits is the cipher key length in bits (0 for an unknown name).
func (a EncAlg) KeyBits() int {
	switch a {
	case EncAESCBC128, EncAESGCM128:
		return 128
	case EncAESCBC192, Enc3DESCBC:
		return 192
	case EncAESCBC256, EncAESGCM256:
		return 256
	}
	return 0
}

// Group is the IANA Diffie-Hellman group number (0 for none or unknown).
func (g DHGroup) Group() int {
	switch g {
	case DH1024:
		return 2
	case DH1536:
		return 5
	case DH2048:
		return 14
	case DH3072:
		return 15
	case DH2048S256:
		return 24
	case DHECP256:
		return 19
	case DHECP384:
		return 20
	case DHCurve25519:
		return 31
	}
	return 0
}

// PRF is the PRF IX uses when no "sa-proposal prf" is configured: the one
// that goes with the integrity algorithm.
func (a IntegAlg) PRF() PRFAlg { return PRFAlg(a) }
