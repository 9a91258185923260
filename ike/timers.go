package ike

import (
	"container/heap"
	"time"
)

// Timers: a min-heap of (due time, IKE SA) so that finding the next timer
// and running due work cost O(log n) per SA event instead of a scan of
// every SA (10,000 tunnels make a scan per packet quadratic). Entries are
// lazy: an SA may have stale entries; each SA remembers the earliest time
// it is scheduled at and is re-evaluated (saTimers is idempotent) when an
// entry pops.

type timerEntry struct {
	at time.Time
	sa *ikeSA
}

type timerHeap []timerEntry

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h timerHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *timerHeap) Push(x any)        { *h = append(*h, x.(timerEntry)) }
func (h *timerHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

// mark notes that sa's timers may have changed; flush reschedules it.
func (c *Core) mark(sa *ikeSA) {
	if sa != nil && !sa.dirty {
		sa.dirty = true
		c.dirty = append(c.dirty, sa)
	}
}

// flush schedules every marked SA at its next due time.
func (c *Core) flush() {
	for _, sa := range c.dirty {
		sa.dirty = false
		c.schedule(sa)
	}
	c.dirty = c.dirty[:0]
}

func (c *Core) schedule(sa *ikeSA) {
	if sa.state == StateDead {
		return
	}
	next := c.saNext(sa)
	if next.IsZero() {
		return
	}
	if sa.scheduled.IsZero() || next.Before(sa.scheduled) {
		sa.scheduled = next
		heap.Push(&c.timers, timerEntry{next, sa})
	}
}

// runDue runs the timers of every SA due at now.
func (c *Core) runDue(now time.Time) {
	for len(c.timers) > 0 && !c.timers[0].at.After(now) {
		e := heap.Pop(&c.timers).(timerEntry)
		if e.sa.scheduled.Equal(e.at) {
			e.sa.scheduled = time.Time{}
		}
		if e.sa.state == StateDead {
			continue
		}
		c.saTimers(now, e.sa)
		c.mark(e.sa)
	}
}

// nextDue is the earliest live heap entry.
func (c *Core) nextDue() time.Time {
	for len(c.timers) > 0 {
		e := c.timers[0]
		if e.sa.state != StateDead {
			return e.at
		}
		heap.Pop(&c.timers)
	}
	return time.Time{}
}

// saNext returns when sa next has timer work (zero: none).
func (c *Core) saNext(sa *ikeSA) time.Time {
	var next time.Time
	at := func(t time.Time) {
		if !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if sa.pending != nil {
		at(sa.pending.next)
	}
	if sa.state == StateHalfOpen {
		at(sa.created.Add(c.opt.HalfOpenTimeout))
	}
	at(sa.deleteAt)
	if sa.state != StateEstablished {
		return next
	}
	at(sa.expireAt)
	at(sa.recreateAt)
	at(sa.dupCheckAt)
	if sa.rekeying == nil && sa.replacedBy == nil {
		at(sa.rekeyAt)
	}
	for _, ch := range sa.children {
		at(ch.deleteAt)
		if !ch.deleting {
			at(ch.retireAt)
		}
		if !ch.deleting && ch.replacedBy == nil {
			at(ch.expireAt)
			if ch.rekeying == nil {
				at(ch.rekeyAt)
			}
		}
	}
	if sa.tun != nil && sa.tun.pol.DPDInterval > 0 && !c.opt.DPDDisabled && sa.pending == nil {
		at(sa.lastHeard.Add(sa.tun.pol.DPDInterval))
	}
	if iv := c.keepaliveInterval(sa); iv > 0 {
		at(sa.lastSent.Add(iv))
	}
	return next
}
