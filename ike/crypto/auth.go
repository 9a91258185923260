package crypto

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/binary"
	"net/netip"

	"github.com/soft-ix/soft-ix/ike/wire"
)

// keyPad is the constant of RFC 7296 §2.15 for shared-key AUTH.
var keyPad = []byte("Key Pad for IKEv2")

// SignedOctets builds what an AUTH payload covers (RFC 7296 §2.15): the
// sender's IKE_SA_INIT message exactly as sent, the peer's nonce data, and
// prf(SK_px, IDx') where IDx' is the sender's ID payload body. For the
// initiator: its first message, Nr, SK_pi and IDi; for the responder: its
// IKE_SA_INIT response, Ni, SK_pr and IDr.
func SignedOctets(prf *PRF, message, peerNonce, skp []byte, id *wire.ID) []byte {
	macedID := prf.Compute(skp, id.AppendBody(nil))
	out := make([]byte, 0, len(message)+len(peerNonce)+len(macedID))
	return append(append(append(out, message...), peerNonce...), macedID...)
}

// AuthPSK is the shared-key AUTH data:
// prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>).
func AuthPSK(prf *PRF, psk, signedOctets []byte) []byte {
	return prf.Compute(prf.Compute(psk, keyPad), signedOctets)
}

// VerifyAuthPSK checks received AUTH data in constant time.
func VerifyAuthPSK(prf *PRF, psk, signedOctets, auth []byte) bool {
	return hmac.Equal(AuthPSK(prf, psk, signedOctets), auth)
}

// NATDetectionHash is the data of NAT_DETECTION_SOURCE_IP and
// NAT_DETECTION_DESTINATION_IP: SHA-1(SPIi | SPIr | IP | Port) (RFC 7296
// §2.23). In IKE_SA_INIT requests SPIr is zero.
func NATDetectionHash(spii, spir uint64, ap netip.AddrPort) []byte {
	h := sha1.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], spii)
	h.Write(b[:])
	binary.BigEndian.PutUint64(b[:], spir)
	h.Write(b[:])
	h.Write(ap.Addr().Unmap().AsSlice())
	binary.BigEndian.PutUint16(b[:2], ap.Port())
	h.Write(b[:2])
	return h.Sum(nil)
}
