package ike

import "slices"

// Building offers and choosing among a peer's offers.
//
// As initiator soft-ix offers exactly what its policy allows, in the
// policy's order: one proposal with every non-AEAD cipher and one with
// every AEAD cipher (AEAD proposals carry no INTEG transform, RFC 5282),
// the proposal of the policy's first cipher first.
//
// As responder it considers every proposal of the peer's whole list and
// picks the combination the policy ranks best, not the first acceptable
// one: Azure's offer starts with AES256/SHA1, and a responder that stops
// at the first proposal it can take may choose what its config likes less
// or, worse, refuse an Azure-started rekey.

func transformsFor(ttype int, algs []Algorithm) []transform {
	var ts []transform
	for _, a := range algs {
		ts = append(ts, transform{Type: ttype, ID: a.ID, KeyBits: a.KeyBits})
	}
	return ts
}

// splitAEAD splits ciphers into non-AEAD and AEAD lists, and reports
// whether the first preferred cipher is AEAD.
func splitAEAD(enc []Algorithm) (plain, aead []Algorithm, aeadFirst bool) {
	for _, e := range enc {
		if e.aead() {
			aead = append(aead, e)
		} else {
			plain = append(plain, e)
		}
	}
	return plain, aead, len(enc) > 0 && enc[0].aead()
}

// ikeOffer returns the IKE SA proposals for pol; spi is empty in
// IKE_SA_INIT and the new 8-byte SPI in an IKE SA rekey. dhFirst, when
// non-zero, moves that group to the front (after INVALID_KE_PAYLOAD).
func ikeOffer(pol *Policy, spi []byte, dhFirst uint16) []proposal {
	dh := pol.IKEDH
	if dhFirst != 0 {
		dh = append([]Algorithm{}, pol.IKEDH...)
		slices.SortStableFunc(dh, func(a, b Algorithm) int {
			return btoi(b.ID == dhFirst) - btoi(a.ID == dhFirst)
		})
	}
	if len(pol.IKEOffer) > 0 {
		var props []proposal
		for _, s := range pol.IKEOffer {
			ts := []transform{{Type: transformENCR, ID: s.Enc.ID, KeyBits: s.Enc.KeyBits}, {Type: transformPRF, ID: s.PRF.ID}}
			if !s.Enc.aead() {
				ts = append(ts, transform{Type: transformINTEG, ID: s.Integ.ID})
			}
			ts = append(ts, transformsFor(transformDH, dh)...)
			props = append(props, proposal{Num: len(props) + 1, Protocol: protoIKE, SPI: spi, Transforms: ts})
		}
		return props
	}
	plain, aead, aeadFirst := splitAEAD(pol.IKEEnc)
	var props []proposal
	add := func(enc []Algorithm, withInteg bool) {
		if len(enc) == 0 {
			return
		}
		ts := transformsFor(transformENCR, enc)
		ts = append(ts, transformsFor(transformPRF, pol.IKEPRF)...)
		if withInteg {
			ts = append(ts, transformsFor(transformINTEG, pol.IKEInteg)...)
		}
		ts = append(ts, transformsFor(transformDH, dh)...)
		props = append(props, proposal{Num: len(props) + 1, Protocol: protoIKE, SPI: spi, Transforms: ts})
	}
	if aeadFirst {
		add(aead, false)
		add(plain, true)
	} else {
		add(plain, true)
		add(aead, false)
	}
	return props
}

// childOffer returns the ESP proposals for pol with our inbound SPI.
// withPFS adds the policy's PFS groups (CREATE_CHILD_SA only).
func childOffer(pol *Policy, spi uint32, withPFS bool) []proposal {
	spiB := be32(spi)
	esn := []transform{{Type: transformESN, ID: 0}}
	if pol.ESN {
		esn = []transform{{Type: transformESN, ID: 1}, {Type: transformESN, ID: 0}}
	}
	var dh []transform
	if withPFS {
		dh = transformsFor(transformDH, pol.ChildPFS)
	}
	var props []proposal
	if len(pol.ChildOffer) > 0 {
		for _, s := range pol.ChildOffer {
			ts := []transform{{Type: transformENCR, ID: s.Enc.ID, KeyBits: s.Enc.KeyBits}}
			if !s.Enc.aead() {
				ts = append(ts, transform{Type: transformINTEG, ID: s.Integ.ID})
			}
			ts = append(append(ts, dh...), esn...)
			props = append(props, proposal{Num: len(props) + 1, Protocol: protoESP, SPI: spiB, Transforms: ts})
		}
		return props
	}
	plain, aead, aeadFirst := splitAEAD(pol.ChildEnc)
	add := func(enc []Algorithm, withInteg bool) {
		if len(enc) == 0 {
			return
		}
		ts := transformsFor(transformENCR, enc)
		if withInteg {
			ts = append(ts, transformsFor(transformINTEG, pol.ChildInteg)...)
		}
		ts = append(append(ts, dh...), esn...)
		props = append(props, proposal{Num: len(props) + 1, Protocol: protoESP, SPI: spiB, Transforms: ts})
	}
	if aeadFirst {
		add(aead, false)
		add(plain, true)
	} else {
		add(plain, true)
		add(aead, false)
	}
	return props
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rank returns the index of the first algorithm in prefs the proposal
// offers for ttype, or -1.
func rank(p *proposal, ttype int, prefs []Algorithm) (int, Algorithm) {
	for i, a := range prefs {
		for _, t := range p.Transforms {
			if t.Type == ttype && t.ID == a.ID && (ttype != transformENCR || t.KeyBits == a.KeyBits) {
				return i, a
			}
		}
	}
	return -1, Algorithm{}
}

func hasType(p *proposal, ttype int) bool {
	for _, t := range p.Transforms {
		if t.Type == ttype {
			return true
		}
	}
	return false
}

func hasTransform(p *proposal, ttype int, id uint16) bool {
	for _, t := range p.Transforms {
		if t.Type == ttype && t.ID == id {
			return true
		}
	}
	return false
}

// chooseIKE picks the best IKE suite pol allows from the peer's whole
// offer. It returns the chosen proposal (reduced to one transform of each
// type, number and SPI kept) and ok=false when nothing is acceptable.
func chooseIKE(pol *Policy, offer []proposal) (IKESuite, proposal, bool) {
	var best IKESuite
	var bestP proposal
	bestKey := []int(nil)
	for i := range offer {
		p := &offer[i]
		if p.Protocol != protoIKE {
			continue
		}
		ei, enc := rank(p, transformENCR, pol.IKEEnc)
		pi, prf := rank(p, transformPRF, pol.IKEPRF)
		di, dh := rank(p, transformDH, pol.IKEDH)
		if ei < 0 || pi < 0 || di < 0 {
			continue
		}
		ii, integ := 0, Algorithm{}
		if !enc.aead() {
			if ii, integ = rank(p, transformINTEG, pol.IKEInteg); ii < 0 {
				continue
			}
		}
		key := []int{ei, ii, di, pi}
		if bestKey == nil || slices.Compare(key, bestKey) < 0 {
			bestKey = key
			best = IKESuite{Enc: enc, Integ: integ, PRF: prf, DH: dh}
			bestP = proposal{Num: p.Num, Protocol: protoIKE, SPI: p.SPI, Transforms: ikeSuiteTransforms(best)}
		}
	}
	return best, bestP, bestKey != nil
}

func ikeSuiteTransforms(s IKESuite) []transform {
	ts := []transform{{Type: transformENCR, ID: s.Enc.ID, KeyBits: s.Enc.KeyBits}, {Type: transformPRF, ID: s.PRF.ID}}
	if !s.Enc.aead() {
		ts = append(ts, transform{Type: transformINTEG, ID: s.Integ.ID})
	}
	return append(ts, transform{Type: transformDH, ID: s.DH.ID})
}

// chooseChild picks the best ESP suite pol allows from the peer's offer.
// pfs is the DH group the exchange carries a KE for (0: none).
func chooseChild(pol *Policy, offer []proposal, pfs bool) (ChildSuite, proposal, bool) {
	var best ChildSuite
	var bestP proposal
	bestKey := []int(nil)
	for i := range offer {
		p := &offer[i]
		if p.Protocol != protoESP || len(p.SPI) != 4 {
			continue
		}
		ei, enc := rank(p, transformENCR, pol.ChildEnc)
		if ei < 0 {
			continue
		}
		ii, integ := 0, Algorithm{}
		if !enc.aead() {
			if ii, integ = rank(p, transformINTEG, pol.ChildInteg); ii < 0 {
				continue
			}
		}
		di, dh := 0, Algorithm{}
		switch {
		case pfs && len(pol.ChildPFS) > 0:
			if di, dh = rank(p, transformDH, pol.ChildPFS); di < 0 {
				continue
			}
		case pfs && hasType(p, transformDH) && !hasTransform(p, transformDH, 0):
			// The peer insists on PFS we do not offer: only a group we
			// answer with will do.
			if di, dh = rank(p, transformDH, pol.ChildPFSAnswer); di < 0 {
				continue
			}
		}
		esn := false
		switch {
		case pol.ESN && hasTransform(p, transformESN, 1):
			esn = true
		case hasTransform(p, transformESN, 0) || !hasType(p, transformESN):
		default:
			continue
		}
		key := []int{ei, ii, di}
		if bestKey == nil || slices.Compare(key, bestKey) < 0 {
			bestKey = key
			best = ChildSuite{Enc: enc, Integ: integ, DH: dh, ESN: esn}
			bestP = proposal{Num: p.Num, Protocol: protoESP, SPI: p.SPI, Transforms: childSuiteTransforms(best)}
		}
	}
	return best, bestP, bestKey != nil
}

func childSuiteTransforms(s ChildSuite) []transform {
	ts := []transform{{Type: transformENCR, ID: s.Enc.ID, KeyBits: s.Enc.KeyBits}}
	if !s.Enc.aead() {
		ts = append(ts, transform{Type: transformINTEG, ID: s.Integ.ID})
	}
	if s.DH.ID != 0 {
		ts = append(ts, transform{Type: transformDH, ID: s.DH.ID})
	}
	return append(ts, transform{Type: transformESN, ID: uint16(btoi(s.ESN))})
}

// acceptIKEAnswer checks that the responder's single proposal is one we
// could have offered and returns its suite.
func acceptIKEAnswer(pol *Policy, answer []proposal) (IKESuite, []byte, bool) {
	if len(answer) != 1 {
		return IKESuite{}, nil, false
	}
	s, _, ok := chooseIKE(pol, answer)
	return s, answer[0].SPI, ok
}

// acceptChildAnswer is acceptIKEAnswer for an ESP answer; it returns the
// peer's inbound SPI.
func acceptChildAnswer(pol *Policy, answer []proposal, pfs bool) (ChildSuite, uint32, bool) {
	if len(answer) != 1 || len(answer[0].SPI) != 4 {
		return ChildSuite{}, 0, false
	}
	s, _, ok := chooseChild(pol, answer, pfs)
	return s, uint32FromBytes(answer[0].SPI), ok
}

func be32(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }

func be64(v uint64) []byte {
	return []byte{byte(v >> 56), byte(v >> 48), byte(v >> 40), byte(v >> 32), byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}
}

func uint32FromBytes(b []byte) uint32 {
	if len(b) < 4 {
		return 0
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func uint64FromBytes(b []byte) uint64 {
	if len(b) < 8 {
		return 0
	}
	return uint64(uint32FromBytes(b))<<32 | uint64(uint32FromBytes(b[4:]))
}
