package ike

import (
	"testing"
	"time"
)

// TestResponderOnlyNeverInitiates: "ikev2 negotiation-direction responder"
// with connect-type auto sends nothing, refuses a manual Initiate, answers
// its peer, and does not re-initiate when the peer deletes the SA.
func TestResponderOnlyNeverInitiates(t *testing.T) {
	cfgA := testConfig(addrB, "k", true, nil)
	cfgA.Tunnels[0].Direction = ResponderOnly
	p := newPair(t, cfgA, testConfig(addrA, "k", false, nil), nil)
	p.a.core.Start(p.now)
	p.run(time.Minute)
	if p.net.sent != 0 {
		t.Fatalf("responder-only tunnel sent %d packets", p.net.sent)
	}
	if err := p.a.core.Initiate(p.now, "Tunnel0.0"); err == nil {
		t.Fatal("manual Initiate of a responder-only tunnel accepted")
	}
	if err := p.b.core.Initiate(p.now, "Tunnel0.0"); err != nil {
		t.Fatal(err)
	}
	p.run(time.Second)
	_, sb := p.checkUp()
	p.b.core.deleteIKE(p.now, sb)
	p.run(10 * time.Minute)
	if len(p.a.core.sas) != 0 || len(p.b.core.sas) != 0 {
		t.Fatalf("IKE SAs after the peer's delete: a %d, b %d", len(p.a.core.sas), len(p.b.core.sas))
	}
	if st := p.a.core.Stats(); st.Sent.IKESAInit != 0 {
		t.Fatalf("responder-only tunnel sent IKE_SA_INIT: %+v", st.Sent)
	}
}

// TestInitiatorOnlyRefusesPeer: "ikev2 negotiation-direction initiator"
// answers the peer's IKE_SA_INIT with NO_PROPOSAL_CHOSEN, and its own
// initiation works.
func TestInitiatorOnlyRefusesPeer(t *testing.T) {
	cfgB := testConfig(addrA, "k", false, nil)
	cfgB.Tunnels[0].Direction = InitiatorOnly
	p := newPair(t, testConfig(addrB, "k", true, nil), cfgB, nil)
	p.a.core.Start(p.now)
	p.run(time.Second / 2) // before a's retry
	if len(established(p.a)) != 0 || len(established(p.b)) != 0 || len(p.b.core.sas) != 0 {
		t.Fatal("initiator-only tunnel accepted the peer's IKE SA")
	}
	if a, b := p.a.core.Stats(), p.b.core.Stats(); a.Failures.NoProposal != 1 || b.Failures.NoProposal != 1 {
		t.Fatalf("NO_PROPOSAL_CHOSEN: a %+v, b %+v", a.Failures, b.Failures)
	}
	if err := p.b.core.Initiate(p.now, "Tunnel0.0"); err != nil {
		t.Fatal(err)
	}
	p.run(time.Second)
	sa, _ := p.checkUp()
	if sa.initiator {
		t.Fatal("a's refused SA came up")
	}
	p.run(time.Hour) // a's pending retry finds the tunnel up; rekeys work
	p.checkUp()
}
