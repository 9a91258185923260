package crypto

import (
	"io"
	"sync"
	"time"
)

// ReuseKeys wraps g so that Generate returns the same private key for up
// to maxAge (by now) and maxUses calls before making a fresh one. RFC 7296
// §2.12 allows reusing Diffie-Hellman exponentials this way to save half
// the DH work of each setup, at the price of forward secrecy for SAs that
// live shorter than maxAge; peer public values are always validated
// (RFC 6989), which reuse requires. The result is safe for concurrent use.
// It is opt-in: callers that want a fresh key per exchange use g directly.
func ReuseKeys(g Group, maxAge time.Duration, maxUses int, now func() time.Time) Group {
	return &reusingGroup{Group: g, maxAge: maxAge, maxUses: maxUses, now: now}
}

type reusingGroup struct {
	Group
	maxAge  time.Duration
	maxUses int
	now     func() time.Time

	mu   sync.Mutex
	key  PrivateKey
	born time.Time
	uses int
}

func (r *reusingGroup) Generate(rand io.Reader) (PrivateKey, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.now()
	if r.key != nil && r.uses < r.maxUses && t.Sub(r.born) < r.maxAge && !t.Before(r.born) {
		r.uses++
		return r.key, nil
	}
	k, err := r.Group.Generate(rand)
	if err != nil {
		return nil, err
	}
	r.key, r.born, r.uses = k, t, 1
	return k, nil
}
