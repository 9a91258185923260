package ike

import (
	"testing"
	"time"
)

func TestEstablishInitiatorResponder(t *testing.T) {
	p := newPair(t, testConfig(addrB, "P@ssw0rd1234", true, nil), testConfig(addrA, "P@ssw0rd1234", false, nil), nil)
	p.a.core.Start(p.now)
	p.run(time.Second)
	sa, sb := p.checkUp()
	if !sa.initiator || sb.initiator {
		t.Fatalf("roles: a initiator=%v b initiator=%v", sa.initiator, sb.initiator)
	}
	if sa.suite.Enc.Name != "AES-CBC-256" || sa.suite.Integ.Name != "HMAC-SHA1-96" || sa.suite.DH.ID != 2 {
		t.Fatalf("suite %+v", sa.suite)
	}
	if got := len(sa.children); got != 1 {
		t.Fatalf("children %d", got)
	}
	ch := sa.children[0]
	if ch.suite.Enc.Name != "AES-CBC-256" || ch.suite.Integ.Name != "HMAC-SHA2-256-128" {
		t.Fatalf("child suite %+v", ch.suite)
	}
}
