package wire

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

func samplePayloads() []Payload {
	return []Payload{
		&SA{Proposals: []Proposal{
			{Number: 1, Protocol: ProtocolIKE, Transforms: []Transform{
				{Type: TransformENCR, ID: EncrAESCBC, KeyLength: 256},
				{Type: TransformINTEG, ID: IntegHMACSHA196},
				{Type: TransformPRF, ID: PRFHMACSHA1},
				{Type: TransformDH, ID: DHModp1024},
			}},
			{Number: 2, Protocol: ProtocolESP, SPI: []byte{1, 2, 3, 4}, Transforms: []Transform{
				{Type: TransformENCR, ID: EncrAESGCM16, KeyLength: 128, OtherAttrs: []byte{0x80, 0x22, 0, 1}},
				{Type: TransformESN, ID: ESNNo},
			}},
		}},
		&KE{Group: DHModp1024, Data: make([]byte, 128)},
		&Nonce{Data: []byte("0123456789abcdef0123456789abcdef")},
		&ID{Initiator: true, IDType: IDIPv4Addr, Data: []byte{192, 0, 2, 1}},
		&ID{IDType: IDFQDN, Data: []byte("vpn.example")},
		&ID{IDType: IDKeyID, Reserved: [3]byte{1, 2, 3}, Data: []byte{0xaa}},
		&Auth{Method: AuthSharedKey, Data: make([]byte, 20)},
		&Notify{NotifyType: NAT_DETECTION_SOURCE_IP, Data: make([]byte, 20)},
		&Notify{Protocol: ProtocolESP, SPI: []byte{9, 9, 9, 9}, NotifyType: REKEY_SA},
		&Notify{NotifyType: IKEV2_FRAGMENTATION_SUPPORTED},
		&Delete{Protocol: ProtocolESP, SPISize: 4, SPIs: [][]byte{{1, 2, 3, 4}, {5, 6, 7, 8}}},
		&Delete{Protocol: ProtocolIKE},
		&VendorID{Data: []byte("soft-ix")},
		&TS{Initiator: true, Selectors: []TrafficSelector{SelectorFromPrefix(netip.MustParsePrefix("0.0.0.0/0"))}},
		&TS{Selectors: []TrafficSelector{
			SelectorFromPrefix(netip.MustParsePrefix("10.0.0.0/8")),
			SelectorFromPrefix(netip.MustParsePrefix("2001:db8::/32")),
			{TSType: 9, IPProtocol: 0, Raw: []byte{1, 2, 3}},
		}},
		&Raw{PayloadType: PayloadCERTREQ, Body: []byte{4, 1, 2, 3}},
		&Raw{PayloadType: 200, Body: []byte{7}},
		&Raw{PayloadType: PayloadCP, Critical: true, Body: []byte{1, 0, 0, 0}},
	}
}

func TestRoundTripEachPayload(t *testing.T) {
	for _, p := range samplePayloads() {
		ps := []Payload{p}
		b := AppendPayloads(nil, ps)
		if len(b) != PayloadsLen(ps) {
			t.Errorf("%v: len %d, PayloadsLen %d", p.Type(), len(b), PayloadsLen(ps))
		}
		got, err := ParsePayloads(p.Type(), b)
		if err != nil {
			t.Fatalf("%v: %v", p.Type(), err)
		}
		if !reflect.DeepEqual(got, ps) {
			t.Errorf("%v: round trip\n got %#v\nwant %#v", p.Type(), got[0], p)
		}
	}
}

func TestRoundTripMessage(t *testing.T) {
	m := &Message{
		Header:   Header{SPIi: 0x0102030405060708, SPIr: 0, MajorVersion: 2, Exchange: IKE_SA_INIT, Flags: FlagInitiator, MessageID: 0},
		Payloads: samplePayloads(),
	}
	b := m.Append(nil)
	got, err := ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Payloads, m.Payloads) {
		t.Errorf("payloads differ")
	}
	if got.NextPayload != PayloadSA || int(got.Length) != len(b) || got.SPIi != m.SPIi || got.Exchange != IKE_SA_INIT || !got.IsInitiator() || got.IsResponse() {
		t.Errorf("header %+v", got.Header)
	}
	if b2 := got.Append(nil); string(b2) != string(b) {
		t.Errorf("re-encode differs")
	}
	checkTruncations(t, b)
}

func TestEncryptedMessage(t *testing.T) {
	m := &Message{
		Header: Header{SPIi: 1, SPIr: 2, MajorVersion: 2, Exchange: IKE_AUTH, Flags: FlagInitiator, MessageID: 1},
		Payloads: []Payload{
			&Raw{PayloadType: 99, Body: []byte{1}},
			&Encrypted{NextPayload: PayloadIDi, Body: []byte("iv..ciphertext..icv")},
		},
	}
	b := m.Append(nil)
	got, err := ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	sk := got.Encrypted()
	if sk == nil || sk.NextPayload != PayloadIDi || sk.Offset != HeaderLen+5 || string(b[sk.Offset+4:]) != "iv..ciphertext..icv" {
		t.Fatalf("SK %+v", sk)
	}
	checkTruncations(t, b)

	m.Payloads = []Payload{&EncryptedFragment{FragmentNumber: 2, TotalFragments: 3, Body: []byte("xyz")}}
	b = m.Append(nil)
	got, err = ParseMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	f := got.EncryptedFragment()
	if f == nil || f.FragmentNumber != 2 || f.TotalFragments != 3 || f.Offset != HeaderLen || string(f.Body) != "xyz" {
		t.Fatalf("SKF %+v", f)
	}
	checkTruncations(t, b)
}

// checkTruncations asserts that every proper prefix of b is rejected, both
// as is and with the header length patched to the prefix length.
func checkTruncations(t *testing.T, b []byte) {
	t.Helper()
	for n := 0; n < len(b); n++ {
		if _, err := ParseMessage(b[:n]); err == nil {
			t.Fatalf("prefix of %d/%d bytes accepted", n, len(b))
		}
		if n >= HeaderLen {
			c := append([]byte(nil), b[:n]...)
			c[24], c[25], c[26], c[27] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
			if _, err := ParseMessage(c); err == nil {
				t.Fatalf("prefix of %d/%d bytes with patched length accepted", n, len(b))
			}
		}
	}
}

func TestCriticalBit(t *testing.T) {
	body := []byte{1, 2, 3}
	chain := func(typ PayloadType, crit byte) []byte {
		return append([]byte{0, crit, 0, 7}, body...)
	}
	// Unknown type 200 with the critical bit: error naming the type.
	_, err := ParsePayloads(200, chain(200, 0x80))
	var ce *UnsupportedCriticalError
	if !errors.As(err, &ce) || ce.Type != 200 {
		t.Fatalf("critical unknown: %v", err)
	}
	// Reserved bits other than the critical bit do not make it critical
	// (the classic c&0x80 == 1 bug would treat 0x01 as critical or 0x80 not).
	ps, err := ParsePayloads(200, chain(200, 0x01))
	if err != nil || ps[0].(*Raw).Critical {
		t.Fatalf("non-critical unknown: %v %+v", err, ps)
	}
	// A known type with the critical bit is parsed normally.
	ps, err = ParsePayloads(PayloadVendorID, chain(PayloadVendorID, 0x80))
	if err != nil || string(ps[0].(*VendorID).Data) != string(body) {
		t.Fatalf("critical known: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	hdr := func(next PayloadType, length int) []byte {
		h := Header{SPIi: 1, NextPayload: next, MajorVersion: 2, Exchange: IKE_SA_INIT, Length: uint32(length)}
		return h.Append(nil)
	}
	msg := func(next PayloadType, payload ...byte) []byte {
		return append(hdr(next, HeaderLen+len(payload)), payload...)
	}
	cases := []struct {
		name string
		b    []byte
	}{
		{"short", make([]byte, 27)},
		{"length too big", append(hdr(0, 29), 0)[:28]},
		{"length too small", append(hdr(0, 28), 0)},
		{"version 1", func() []byte { b := hdr(0, 28); b[17] = 0x10; return b }()},
		{"version 3", func() []byte { b := hdr(0, 28); b[17] = 0x30; return b }()},
		{"payload length 3", msg(PayloadNonce, 0, 0, 0, 3)},
		{"payload length 0", msg(PayloadNonce, 0, 0, 0, 0)},
		{"payload length beyond", msg(PayloadNonce, 0, 0, 0, 9, 1)},
		{"trailing bytes", msg(PayloadNonce, 0, 0, 0, 5, 1, 0xff)},
		{"next after last", msg(PayloadNonce, byte(PayloadNonce), 0, 0, 5, 1)},
		{"KE short", msg(PayloadKE, 0, 0, 0, 7, 0, 2, 0)},
		{"ID short", msg(PayloadIDi, 0, 0, 0, 6, 1, 0)},
		{"AUTH short", msg(PayloadAUTH, 0, 0, 0, 4)},
		{"N short", msg(PayloadNotify, 0, 0, 0, 7, 0, 0, 0)},
		{"N spi beyond", msg(PayloadNotify, 0, 0, 0, 9, 3, 8, 0x40, 0, 1)},
		{"D count mismatch", msg(PayloadDelete, 0, 0, 0, 12, 3, 4, 0, 2, 1, 2, 3, 4)},
		{"D spi size 0 count 1", msg(PayloadDelete, 0, 0, 0, 8, 1, 0, 0, 1)},
		{"TS empty", msg(PayloadTSi, 0, 0, 0, 8, 0, 0, 0, 0)},
		{"TS count mismatch", msg(PayloadTSi, 0, 0, 0, 24, 2, 0, 0, 0, 7, 0, 0, 16, 0, 0, 255, 255, 0, 0, 0, 0, 255, 255, 255, 255)},
		{"TS v4 wrong length", msg(PayloadTSi, 0, 0, 0, 20, 1, 0, 0, 0, 7, 0, 0, 12, 0, 0, 255, 255, 0, 0, 0, 0)},
		{"TS selector length 2", msg(PayloadTSi, 0, 0, 0, 12, 1, 0, 0, 0, 9, 0, 0, 2)},
		{"SA empty", msg(PayloadSA, 0, 0, 0, 4)},
		{"SA proposal length 4", msg(PayloadSA, 0, 0, 0, 12, 0, 0, 0, 4, 1, 1, 0, 0)},
		{"SA last=2 on last", msg(PayloadSA, 0, 0, 0, 12, 2, 0, 0, 8, 1, 1, 0, 0)},
		{"SA transform count", msg(PayloadSA, 0, 0, 0, 12, 0, 0, 0, 8, 1, 1, 0, 1)},
		{"SA spi size beyond", msg(PayloadSA, 0, 0, 0, 12, 0, 0, 0, 8, 1, 1, 4, 0)},
		{"SA transform last=3 on last", msg(PayloadSA, 0, 0, 0, 20, 0, 0, 0, 16, 1, 1, 0, 1, 3, 0, 0, 8, 1, 0, 0, 12)},
		{"SA TLV key length", msg(PayloadSA, 0, 0, 0, 24, 0, 0, 0, 20, 1, 1, 0, 1, 0, 0, 0, 12, 1, 0, 0, 12, 0, 14, 0, 0)},
		{"SA duplicate key length", msg(PayloadSA, 0, 0, 0, 28, 0, 0, 0, 24, 1, 1, 0, 1, 0, 0, 0, 16, 1, 0, 0, 12, 0x80, 14, 0, 128, 0x80, 14, 0, 128)},
		{"SA attribute beyond", msg(PayloadSA, 0, 0, 0, 24, 0, 0, 0, 20, 1, 1, 0, 1, 0, 0, 0, 12, 1, 0, 0, 12, 0, 1, 0, 9)},
		{"SK not last", msg(PayloadSK, byte(PayloadNonce), 0, 0, 5, 1, 0, 0, 0, 4)},
		{"SKF fragment 0", msg(PayloadSKF, 0, 0, 0, 8, 0, 0, 0, 1)},
		{"SKF fragment > total", msg(PayloadSKF, 0, 0, 0, 8, 0, 3, 0, 2)},
	}
	for _, c := range cases {
		if _, err := ParseMessage(c.b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", c.name, err)
		}
	}
	b := hdr(0, 28)
	b[17] = 0x30
	if m, err := ParseMessage(b); !errors.Is(err, ErrMajorVersion) || m == nil || m.MajorVersion != 3 {
		t.Errorf("version 3: %v", err)
	}
	// SK inside decrypted contents is rejected.
	if _, err := ParsePayloads(PayloadSK, []byte{0, 0, 0, 5, 1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("nested SK: %v", err)
	}
}

func TestSelectorPrefix(t *testing.T) {
	for _, s := range []string{"0.0.0.0/0", "10.0.0.0/8", "192.0.2.1/32", "::/0", "2001:db8::/33", "172.16.0.0/12"} {
		p := netip.MustParsePrefix(s)
		ts := SelectorFromPrefix(p)
		got, ok := ts.Prefix()
		if !ok || got != p || !ts.AnyPortProtocol() {
			t.Errorf("%s: got %v %v", s, got, ok)
		}
	}
	ts := TrafficSelector{TSType: TSIPv4AddrRange, Start: netip.MustParseAddr("10.0.0.1"), End: netip.MustParseAddr("10.0.0.5")}
	if _, ok := ts.Prefix(); ok {
		t.Errorf("range 10.0.0.1-5 reported as prefix")
	}
}

func TestSummary(t *testing.T) {
	ps := []Payload{&SA{}, &KE{}, &Nonce{}, &Notify{NotifyType: COOKIE}, &Delete{Protocol: ProtocolESP},
		&ID{Initiator: true}, &Raw{PayloadType: 200}, &EncryptedFragment{FragmentNumber: 1, TotalFragments: 2}}
	want := "SA KE No N(COOKIE) D(3) IDi PAYLOAD(200) SKF(1/2)"
	if got := Summary(ps); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
