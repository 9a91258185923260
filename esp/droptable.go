package esp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"syscall"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/soft-ix/soft-ix/internal/nlmsg"
)

// dropTable is the nftables table (family netdev, softix_esp_rx4 or
// softix_esp_rx6) with the ingress drop rules of one family (see
// ingressdrop.go), written over a netlink socket the engine keeps open
// for its whole life.
//
// The table is created with the owner flag (NFT_TABLE_F_OWNER, Linux
// 5.12): it belongs to that socket, and the kernel removes it when the
// socket closes, however the process ends. So a daemon killed by SIGKILL
// or the OOM killer leaves no rule behind that takes ESP away from the
// IP stack, and while it runs no other process can change the table (a
// second daemon in the same namespace gets EPERM and falls back to the
// raw IP socket). On a kernel that refuses the flag, the table is a plain
// one, as before: a start replaces what a killed run left.
//
// google/nftables (v0.3.0) sends a table's flags as 0 and keeps its
// socket only as long as one transaction, so the few messages of the
// table, its chains and rules are built here; the rules' expressions are
// still encoded by its expr package.
type dropTable struct {
	v6  bool
	log *slog.Logger

	mu  sync.Mutex
	fd  int // the owning netlink socket; -1 until the first apply
	seq uint32
	// plain: the kernel refused the owner flag, tables are created
	// without it.
	plain bool
}

func newDropTable(v6 bool, log *slog.Logger) *dropTable {
	if log == nil {
		log = slog.Default()
	}
	return &dropTable{v6: v6, log: log, fd: -1}
}

func (d *dropTable) name() string {
	if d.v6 {
		return "softix_esp_rx6"
	}
	return "softix_esp_rx4"
}

// nftTableOwner is NFT_TABLE_F_OWNER (x/sys/unix does not define it).
const nftTableOwner = 0x2

// apply replaces the table, in one transaction, with one ingress chain
// per device of c, each dropping what the ring's filter takes; the zero
// claim removes it. The first call opens the socket, in the network
// namespace of the calling thread, and removes a table a killed run left.
func (d *dropTable) apply(c rxClaim) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd < 0 {
		if err := d.open(); err != nil {
			return err
		}
	}
	err := d.replace(c)
	if err != nil && !d.plain && errors.Is(err, unix.EOPNOTSUPP) {
		// A kernel before 5.12 knows no owner flag.
		d.plain = true
		if err = d.replace(c); err != nil {
			d.plain = false
			return err
		}
		d.log.Info("esp: the kernel refused an nftables table owned by the daemon; a daemon killed without stopping leaves its ESP drop table until it starts again", "table", d.name())
	}
	return err
}

// close removes the table and closes the socket.
func (d *dropTable) close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd < 0 {
		return nil
	}
	err := d.replace(rxClaim{})
	unix.Close(d.fd)
	d.fd = -1
	return err
}

// open opens the netlink socket and deletes a table of the same name
// that no live socket owns.
func (d *dropTable) open() error {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	// Errors come back without a copy of the message that failed, and an
	// answer that never comes cannot hang the caller.
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1)
	tv := unix.Timeval{Sec: 5}
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		unix.Close(fd)
		return fmt.Errorf("netlink socket: %w", err)
	}
	d.fd = fd
	var b nftBatch
	b.table(unix.NFT_MSG_DELTABLE, d.name(), 0)
	err = d.send(&b)
	var whole batchError
	switch {
	case err == nil, errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.EPERM) && !errors.As(err, &whole):
		// The table, not the batch, was refused: it has a live owner.
		err = fmt.Errorf("table netdev %s belongs to another running process (a second soft-ix in this network namespace?): %w", d.name(), err)
	}
	unix.Close(fd)
	d.fd = -1
	return err
}

// batchError is the kernel's refusal of a whole transaction, such as
// EPERM without CAP_NET_ADMIN, rather than of one of its messages.
type batchError struct{ errno syscall.Errno }

func (e batchError) Error() string { return "nftables transaction refused: " + e.errno.Error() }
func (e batchError) Unwrap() error { return e.errno }

// replace sends the transaction that makes the table hold c's rules.
func (d *dropTable) replace(c rxClaim) error {
	flags := uint32(nftTableOwner)
	if d.plain {
		flags = 0
	}
	var b nftBatch
	// Adding first makes the delete succeed when there is no table yet.
	b.table(unix.NFT_MSG_NEWTABLE, d.name(), flags)
	b.table(unix.NFT_MSG_DELTABLE, d.name(), 0)
	if !c.empty() {
		b.table(unix.NFT_MSG_NEWTABLE, d.name(), flags)
		for _, dev := range c.devs {
			chain := fmt.Sprintf("in%d", dev.index)
			b.ingressChain(d.name(), chain, dev.name)
			for _, a := range c.addrs {
				if err := b.rule(d.name(), chain, dropExprs(a, d.v6)); err != nil {
					return err
				}
			}
		}
	}
	return d.send(&b)
}

// send runs b as one transaction and waits for the kernel's answer to
// each of its messages; it returns the first error the kernel reported.
func (d *dropTable) send(b *nftBatch) error {
	first := d.seq + 1
	msgs := b.frame(&d.seq)
	if err := unix.Sendto(d.fd, msgs, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	// The batch's begin message is first, its end last; every message
	// between asks for an acknowledgement.
	begin, last := first, d.seq-1
	waiting := b.n
	var failed error
	buf := make([]byte, 16<<10)
	for waiting > 0 {
		n, _, err := unix.Recvfrom(d.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) {
				err = errors.New("no answer within 5 s")
			}
			return fmt.Errorf("netlink receive: %w", err)
		}
		for typ, body, rest, ok := nlmsg.Next(buf[:n]); ok; typ, body, rest, ok = nlmsg.Next(rest) {
			if typ != unix.NLMSG_ERROR || len(body) < 4+unix.NLMSG_HDRLEN {
				continue
			}
			code := int32(binary.NativeEndian.Uint32(body[0:4]))
			seq := binary.NativeEndian.Uint32(body[4+8 : 4+12])
			if seq == begin && code != 0 {
				// About the whole batch: nothing more comes.
				return batchError{syscall.Errno(-code)}
			}
			if seq <= begin || seq > last {
				continue // an answer to an earlier transaction
			}
			waiting--
			if code != 0 && failed == nil {
				failed = syscall.Errno(-code)
			}
		}
	}
	return failed
}

// nftBatch collects the messages of one nftables transaction.
type nftBatch struct {
	msgs []nlMsg
	n    int // messages that ask for an acknowledgement
}

type nlMsg struct {
	typ, flags uint16
	family     uint8
	resID      uint16
	attrs      []byte
}

func (b *nftBatch) add(typ uint16, flags uint16, attrs []byte) {
	b.msgs = append(b.msgs, nlMsg{
		typ:    unix.NFNL_SUBSYS_NFTABLES<<8 | typ,
		flags:  unix.NLM_F_REQUEST | unix.NLM_F_ACK | flags,
		family: unix.NFPROTO_NETDEV,
		attrs:  attrs,
	})
	b.n++
}

// table adds a NEWTABLE (with flags) or DELTABLE message.
func (b *nftBatch) table(typ uint16, name string, flags uint32) {
	a := nlAttrString(nil, unix.NFTA_TABLE_NAME, name)
	var create uint16
	if typ == unix.NFT_MSG_NEWTABLE {
		a = nlAttrU32(a, unix.NFTA_TABLE_FLAGS, flags)
		create = unix.NLM_F_CREATE
	}
	b.add(typ, create, a)
}

// ingressChain adds a filter chain on dev's ingress hook, priority 0.
func (b *nftBatch) ingressChain(table, name, dev string) {
	var hook []byte
	hook = nlAttrU32(hook, unix.NFTA_HOOK_HOOKNUM, unix.NF_NETDEV_INGRESS)
	hook = nlAttrU32(hook, unix.NFTA_HOOK_PRIORITY, 0)
	hook = nlAttrString(hook, unix.NFTA_HOOK_DEV, dev)
	a := nlAttrString(nil, unix.NFTA_CHAIN_TABLE, table)
	a = nlAttrString(a, unix.NFTA_CHAIN_NAME, name)
	a = nlmsg.AppendAttr(a, unix.NLA_F_NESTED|unix.NFTA_CHAIN_HOOK, hook)
	a = nlAttrString(a, unix.NFTA_CHAIN_TYPE, "filter")
	b.add(unix.NFT_MSG_NEWCHAIN, unix.NLM_F_CREATE, a)
}

// rule appends a rule of exprs to the chain.
func (b *nftBatch) rule(table, chain string, exprs []expr.Any) error {
	var list []byte
	for _, e := range exprs {
		data, err := expr.Marshal(unix.NFPROTO_NETDEV, e)
		if err != nil {
			return fmt.Errorf("nftables expression %T: %w", e, err)
		}
		list = nlmsg.AppendAttr(list, unix.NLA_F_NESTED|unix.NFTA_LIST_ELEM, data)
	}
	a := nlAttrString(nil, unix.NFTA_RULE_TABLE, table)
	a = nlAttrString(a, unix.NFTA_RULE_CHAIN, chain)
	a = nlmsg.AppendAttr(a, unix.NLA_F_NESTED|unix.NFTA_RULE_EXPRESSIONS, list)
	b.add(unix.NFT_MSG_NEWRULE, unix.NLM_F_CREATE|unix.NLM_F_APPEND, a)
	return nil
}

// frame returns the batch's messages between a batch begin and end, in
// the numbering that follows *seq.
func (b *nftBatch) frame(seq *uint32) []byte {
	batch := func(typ uint16) nlMsg {
		return nlMsg{typ: typ, flags: unix.NLM_F_REQUEST, family: unix.AF_UNSPEC, resID: unix.NFNL_SUBSYS_NFTABLES}
	}
	var out []byte
	for _, m := range append(append([]nlMsg{batch(unix.NFNL_MSG_BATCH_BEGIN)}, b.msgs...), batch(unix.NFNL_MSG_BATCH_END)) {
		*seq++
		size := unix.NLMSG_HDRLEN + 4 + len(m.attrs)
		out = binary.NativeEndian.AppendUint32(out, uint32(size))
		out = binary.NativeEndian.AppendUint16(out, m.typ)
		out = binary.NativeEndian.AppendUint16(out, m.flags)
		out = binary.NativeEndian.AppendUint32(out, *seq)
		out = binary.NativeEndian.AppendUint32(out, 0) // port: the kernel's
		// struct nfgenmsg: family, version 0, resource ID (big-endian).
		out = append(out, m.family, unix.NFNETLINK_V0)
		out = binary.BigEndian.AppendUint16(out, m.resID)
		out = append(out, m.attrs...)
	}
	return out
}

func nlAttrString(b []byte, typ uint16, s string) []byte {
	return nlmsg.AppendAttr(b, typ, append([]byte(s), 0))
}

// nlAttrU32 appends a 32-bit attribute in network order, as nftables
// wants its numbers.
func nlAttrU32(b []byte, typ uint16, v uint32) []byte {
	return nlmsg.AppendAttr(b, typ, binary.BigEndian.AppendUint32(nil, v))
}
