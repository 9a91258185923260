package ike

import (
	"context"
	"io"
	"sync"
	"time"
)

// Diffie-Hellman keys are most of the cost of an IKE setup. Two measures
// keep them off the Core's (single-threaded) path:
//
//   - keyPool: goroutines generate ephemeral keys ahead of time on the
//     other cores; the Core takes a ready key without waiting.
//   - CoreConfig.DHReuse: an ephemeral key may serve several IKE_SA_INIT
//     exchanges for a short time, as RFC 7296 §2.12 allows; nonces stay
//     fresh, so every SA still gets its own keys. Off by default.
//   - CoreConfig.DHReuseUnderLoad: the same, but only while the pool is
//     empty, i.e. while setups arrive faster than the generators keep up;
//     an idle or normally loaded soft-ix still uses a fresh key each time.

// keyPool holds pregenerated DH keys per group.
type keyPool struct {
	rand   io.Reader
	mu     sync.Mutex
	ready  map[uint16]chan dhKey
	wake   chan struct{}
	groups []uint16

	reuseFor time.Duration // DHReuseUnderLoad
	last     map[uint16]reusedKey
}

const keyPoolDepth = 32

func newKeyPool(rand io.Reader, groups []uint16) *keyPool {
	p := &keyPool{rand: rand, ready: map[uint16]chan dhKey{}, wake: make(chan struct{}, 1), last: map[uint16]reusedKey{}}
	for _, g := range groups {
		if _, ok := p.ready[g]; !ok {
			p.ready[g] = make(chan dhKey, keyPoolDepth)
			p.groups = append(p.groups, g)
		}
	}
	return p
}

// get returns a ready key of group g, or nil.
func (p *keyPool) get(g uint16) dhKey {
	if p == nil {
		return nil
	}
	ch := p.ready[g]
	if ch == nil {
		return nil
	}
	select {
	case k := <-ch:
		select {
		case p.wake <- struct{}{}:
		default:
		}
		if p.reuseFor > 0 {
			p.mu.Lock()
			p.last[g] = reusedKey{k, time.Now()}
			p.mu.Unlock()
		}
		return k
	default:
	}
	if p.reuseFor > 0 {
		p.mu.Lock()
		defer p.mu.Unlock()
		if r, ok := p.last[g]; ok && time.Since(r.made) < p.reuseFor {
			return r.key
		}
	}
	return nil
}

// run keeps every group's channel full until ctx ends; run it on several
// goroutines to use several cores.
func (p *keyPool) run(ctx context.Context) {
	for {
		filled := true
		for _, g := range p.groups {
			ch := p.ready[g]
			if len(ch) >= cap(ch) {
				continue
			}
			filled = false
			k, err := newDH(g, p.rand)
			if err != nil {
				continue
			}
			select {
			case ch <- k:
			default:
			}
		}
		if ctx.Err() != nil {
			return
		}
		if filled {
			select {
			case <-ctx.Done():
				return
			case <-p.wake:
			case <-time.After(time.Second):
			}
		}
	}
}

// initPre is the DH work for an IKE_SA_INIT request done before the Core
// sees it, outside the Manager's lock and in parallel with other
// requests: our key and the shared secret for the peer's KE.
type initPre struct {
	group  uint16
	peerKE []byte
	key    dhKey
	shared []byte
	err    error
}

// precomputeInit does the DH work of pkt if it is an IKE_SA_INIT request;
// otherwise it returns nil. It is safe for concurrent use.
func precomputeInit(pool *keyPool, rand io.Reader, pkt []byte) *initPre {
	if len(pkt) < 28 || pkt[18] != exIKESAInit || pkt[19]&0x20 != 0 {
		return nil
	}
	m, err := decodePlain(pkt)
	if err != nil || m.KE == nil || m.SPIr != 0 {
		return nil
	}
	p := &initPre{group: m.KEGroup, peerKE: m.KE}
	p.key = pool.get(m.KEGroup)
	if p.key == nil {
		if p.key, err = newDH(m.KEGroup, rand); err != nil {
			return nil
		}
	}
	p.shared, p.err = p.key.SharedSecret(m.KE)
	return p
}

// use returns the precomputed key and secret when they fit the chosen
// group and the KE payload; a nil key means "compute it yourself".
func (p *initPre) use(group uint16, ke []byte) (dhKey, []byte, error) {
	if p == nil || p.group != group || string(p.peerKE) != string(ke) {
		return nil, nil, nil
	}
	return p.key, p.shared, p.err
}

// reusedKey is a DH key kept for CoreConfig.DHReuse.
type reusedKey struct {
	key  dhKey
	made time.Time
}

// newDH returns an ephemeral key of group g: a reused one when DHReuse
// allows, else one from the pool, else a fresh one.
func (c *Core) newDH(g uint16) (dhKey, error) {
	if c.opt.DHReuse > 0 {
		if r, ok := c.reuse[g]; ok && c.now.Sub(r.made) < c.opt.DHReuse {
			return r.key, nil
		}
	}
	k := c.pool.get(g)
	if k == nil {
		var err error
		if k, err = newDH(g, c.opt.Rand); err != nil {
			return nil, err
		}
	}
	if c.opt.DHReuse > 0 {
		c.reuse[g] = reusedKey{k, c.now}
	}
	return k, nil
}

// policyGroups lists every DH group the configured policies use.
func (c *Core) policyGroups() []uint16 {
	var gs []uint16
	add := func(as []Algorithm) {
		for _, a := range as {
			gs = append(gs, a.ID)
		}
	}
	for _, t := range c.tunnels {
		add(t.pol.IKEDH)
		add(t.pol.ChildPFS)
	}
	add(c.cfg.Default.IKEDH)
	return gs
}
