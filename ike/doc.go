// Package ike implements IKEv2 (RFC 7296) as an NEC IX speaks it: the IKE SA
// and Child SA state machines as initiator and responder, NAT-T, DPD,
// rekeying and delete, over UDP 500/4500. Its core is sans-IO (messages in,
// events out, an injected clock); a thin socket layer drives it. Child SA
// keys leave the package only through the DataPlane interface.
//
// # Layers
//
//   - Core (core.go) is the engine: HandlePacket(now, pkt, from, to),
//     HandleTimer(now) and NextTimer() in, packets out through Transport and
//     Child SAs out through DataPlane. It is single-threaded and has no
//     goroutines, sockets or clock of its own, so tests drive two Cores over
//     an in-memory network with a fake clock.
//   - Manager (manager.go) is what cmd/soft-ix uses: a Core behind a mutex,
//     its timer loop, a DH key pool, and (unless a Transport is given) the
//     UDP 500/4500 sockets of UDPTransport, and the IKE workers: whoever
//     reads IKE datagrams (package esp on UDP 4500, a daemon's own UDP 500
//     socket) hands them to Manager.Deliver, a bounded queue that never
//     makes the reader wait for IKE.
//   - Wire encoding and cryptography live in ike/wire and ike/crypto;
//     codec.go adapts them to the state machine's message type.
//
// # Exchanges
//
// Each exchange step is a short handler on the IKE SA: init.go
// (IKE_SA_INIT: NAT detection, COOKIE, INVALID_KE_PAYLOAD), auth.go
// (IKE_AUTH with PSK, identities, the first Child SA), child.go
// (CREATE_CHILD_SA Child rekeys, INFORMATIONAL delete and DPD),
// childcreate.go (new Child SAs on an IKE SA), ikerekey.go (IKE SA rekeys). Simultaneous rekeys follow the lowest-nonce
// rule of RFC 7296 §2.8.1; a new Child SA is installed inbound first, then
// outbound, then DataPlane.SetOutbound, and the old pair goes after its
// DELETE and a grace period (make-before-break). Requests use a window of
// one with exponential-backoff retransmission (a DPD check gives up after
// CoreConfig.DPDTimeout); answers are cached and resent only for a
// byte-identical retransmitted request, at a bounded rate (resend.go);
// RFC 7383 fragments are used when both ends support them and a message
// exceeds CoreConfig.FragmentSize. A connect-type auto tunnel that loses
// an established IKE SA initiates again at once, and backs off only when
// attempts fail (scheduleRetry).
//
// One Child SA per tunnel: the first comes with IKE_AUTH and is then
// rekeyed. That is all a route-based tunnel needs: its traffic selectors
// are 0.0.0.0/0 both ways and the routing table, not the selectors,
// decides what enters the tunnel. A CREATE_CHILD_SA request without
// REKEY_SA is answered NO_ADDITIONAL_SAS while the tunnel has a live
// Child SA, and accepted as the tunnel's Child SA while it has none: a
// peer whose Child SA expired before its rekey deletes it and creates a
// new one on the same IKE SA (childcreate.go). When the peer deletes the
// only Child SA and creates none within two seconds, a connect-type auto
// tunnel creates one itself (a responder-only tunnel waits); the tunnel is
// down in between (no outbound SA in the DataPlane). Crossed creations
// keep one pair by the lowest-nonce rule.
//
// A request for an IKE SA we do not have is answered with an unprotected
// INVALID_IKE_SPI (RFC 7296 §2.21.4), rate limited per peer and in total
// (invalidspi.go); responses are never answered. A peer's INVALID_IKE_SPI
// is unauthenticated and ends only an SA we are deleting anyway.
//
// A peer behind a NAT whose mapping changes (a timeout, a new public
// address) is followed (RFC 7296 §2.23): an authenticated IKE message, or
// an authenticated ESP packet the data plane reports (Manager.PeerMoved),
// from a new address or port moves the IKE SA there and makes its Child
// SAs due for a rekey, whose replacements send there. IKE and ESP move
// together or not at all: not while we are behind a NAT ourselves, not a
// configured peer address (only its port; "peer any" may move anywhere),
// and not twice within 5 s (followPeer).
//
// # Policy
//
// A tunnel's Policy (TunnelConfig; internal/ixike builds it from the IX
// profile) holds the algorithm lists soft-ix offers, in the config's
// order, and accepts as responder: any combination of them in any proposal
// of the peer's whole list, picked by the config's preference. AzurePolicy is Azure VPN
// Gateway's default policy for the lab's Azure emulation
// (CoreConfig.Policies).
//
// # Operators
//
// Manager.IKESAs and Manager.ChildSAs give what "show ikev2 sa" and "show
// ikev2 child-sa" print (IX algorithm names, remaining lifetimes, serials,
// counters from DataPlane.Counters); Manager.ClearSA is "clear ikev2 sa".
// Manager.Stats (and TunnelStats per tunnel) count exchanges sent and
// received by type, retransmissions, failures by reason, rekeys and DPD
// probes for the metrics endpoint. "ikev2 negotiation-direction responder"
// tunnels never initiate; "initiator" tunnels answer their peer's
// IKE_SA_INIT with NO_PROPOSAL_CHOSEN. Manager.Reload removes every IKE SA
// of a changed or removed tunnel (with DELETE) before re-initiating.
// CoreConfig.KeyLog / ManagerConfig.KeyLog write Wireshark key tables.
package ike
