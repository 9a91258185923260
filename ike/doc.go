// Package ike implements IKEv2 (RFC 7296) as an NEC IX speaks it: the IKE SA
// and Child SA state machines as initiator and responder, NAT-T, DPD,
// rekeying and delete, over UDP 500/4500. Its core is sans-IO (messages in,
// events out, an injected clock); a thin socket layer drives it. Child SA
// keys leave the package only through the DataPlane interface.
package ike
