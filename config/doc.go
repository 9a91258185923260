// Package config owns the NEC IX configuration language as soft-ix reads it:
// the lexer, the parser into the typed model in model.go, validation with
// file:line:col diagnostics, the canonical running-config printer and the
// diff of two configs used by reload. It depends on nothing else in soft-ix.
//
// # One table per block
//
// The grammar is written once: each block has a table of commands (words,
// argument kinds, a set function that reads a line into the model, a get
// function that prints it back) in its own file — cmd_global.go (the top
// level), cmd_interface.go, cmd_tunnel.go (the ikev2 commands of a Tunnel
// interface), cmd_profile.go, cmd_bgp.go, routemap.go and acl.go — in the
// order Print writes them. The parser dispatches on the tables, the printer
// walks them, typo hints are their words, and Grammar gives them to the
// CLI's completion and "?". parse.go only cuts the file into blocks,
// args.go reads arguments. A new block is one more file and one entry in
// the table of the block that opens it.
//
// # Entry points
//
//   - Parse / Load read a file into a *Config and return every Diagnostic
//     (warnings always; an ErrorList error when any diagnostic is an Error).
//   - (*Config).Validate runs the whole-config checks (Parse calls it).
//   - Print writes the whole configuration as canonical IX running-config
//     text, kept lines included; Parse(Print(c)) == c. PrintActive leaves
//     the kept lines out; Inactive lists them.
//   - Diff compares two configs for a reload.
//   - Grammar and Blocks describe the commands of each block; CheckLine
//     reads one line in a block, as the interactive configure mode does.
//   - Lookups: Interface, Tunnels, Profile, PSKFor, ProfileFor.
//
// # What is emulated
//
// hostname; interface GigaEthernetN.M / GigaEthernetN:P.M / LoopbackN.M /
// TunnelN.M / Null0.0 with ip address A/L | dhcp [receive-default],
// ip unnumbered, ip mtu, ip tcp adjust-mss (on Tunnel interfaces: soft-ix
// clamps in package esp, which only tunnel traffic passes), description,
// shutdown;
// ikev2 authentication psk; ikev2 default-profile and ikev2 profile NAME with
// sa-proposal enc|integrity|prf|dh, sa-lifetime, child-proposal
// enc|integrity, child-pfs, child-lifetime [kilobytes N], dpd interval,
// local-authentication, ipsec-mode, source-address; the Tunnel commands
// tunnel mode ipsec-ikev2, ikev2 connect-type auto, ikev2 ipsec
// pre-fragment, ikev2 peer ADDR|any authentication psk [id ...], ikev2
// binding|profile NAME, ikev2 outgoing-interface IF [auto|NEXTHOP] (with
// NEXTHOP a host route to the peer by IF through it), ikev2
// source-address, ikev2 negotiation-direction, ikev2 nat-traversal
// keepalive N [force], and every profile command again with an "ikev2 "
// prefix as a per-tunnel override; ip route P IF|NEXTHOP|NEXTHOP IF [dhcp]
// [[distance] N] [metric N] [tag N] (dhcp: through the router of IF's DHCP
// lease; of the routes to one prefix at one distance only the installable
// ones of the lowest metric are installed, so a higher metric is a backup;
// tag is stored, not acted on);
// ip access-list NAME permit|deny ip|icmp|tcp|udp|N [type N] src S [sport
// P] dest D [dport P] (S, D: any, A or A/L; P: any, eq N, range A B, gt N,
// lt N); ip access-list dynamic NAME access LIST; in an interface ip filter LIST SEQ in|out [suppress-logging],
// ip napt enable, ip napt hairpinning, ip napt static IF|A.B.C.D tcp|udp
// PORT | PROTO and ip napt service NAME A.B.C.D none tcp|udp PORT;
// router bgp with [bgp] router-id,
// neighbor remote-as|update-source|timers|ebgp-multihop|description|
// connect-interval and address-family ipv4 unicast
// with network, neighbor activate and neighbor route-map NAME in|out;
// route-map NAME permit|deny SEQ with match ip address prefix-list|
// access-list, set local-preference, set metric, set as-path prepend and
// set community; ip prefix-list (routemap.go); the DHCP server: ip dhcp
// enable, ip dhcp profile NAME with assignable-range A B, subnet-mask M,
// default-gateway A, dns-server A [B], domain-name D, lease-time SECONDS and
// fixed-assignment A MAC (every A an IPv4 address: the server is DHCPv4),
// and ip dhcp binding NAME in an interface (dhcp.go).
//
// Everything else IX knows (ntp, syslog, logging, timezone, proxy-dns,
// ip ufs-cache, the other ip napt commands, access-list forms not listed
// above, PPPoE, IKEv1, username, telnet/http servers, device blocks, other
// ip dhcp commands (relay, ipv6 dhcp), watch-group, ip tcp adjust-mss outside
// Tunnel interfaces, other match and set lines of route-maps, other
// interface families, other BGP neighbor options (advertisement-interval
// among them: GoBGP has no minimum advertisement interval), ...) is kept
// verbatim in its block (Verbatim, Config.Extra and the Extra of each
// block) and reported with one "not emulated" warning per command keyword:
// it is inactive, Print writes it back, Inactive lists it. A command that names an
// interface of a family soft-ix does not model (FastEthernet, BVI, Dialer,
// USB-Ether, ...) is kept the same way, with one warning per interface. An
// unknown word within two edits of an emulated command is reported as a
// typo (an Error), not kept.
//
// Blocks end where IX ends them: at a "!" in column 1, at a command the
// block does not know, or, in an indented file, at the indentation. So a
// file printed without indentation reads as the indented one: "ppp binding"
// or "ipsec policy" inside an interface stays there although "ppp profile"
// and "ipsec autokey-map" are top-level commands. A "!" comment followed
// by a line indented into the open block is a comment inside it (as
// published files write "! the MSS for MTU 1500" before "ip tcp
// adjust-mss"): the block goes on.
//
// # Decisions where the IX reference could not be checked
//
//   - Algorithm keywords are IX's: aes-cbc-128/192/256, aes-gcm-128-16,
//     aes-gcm-256-16, 3des-cbc; sha1, sha2-256/384/512; 1024-bit, 1536-bit,
//     2048-bit, 3072-bit; plus 2048-bit-256 (group 24), 256-bit-ecp (19),
//     384-bit-ecp (20) and curve25519 (31), whose IX spellings are
//     unverified. aes-gcm-128, aes-gcm-256 and 3des are read as aliases.
//     null, des-cbc, md5, 768-bit and 4096-bit are rejected as unsupported.
//   - Ranges: sa-lifetime and child-lifetime 60..604800 s, dpd interval and
//     nat-traversal keepalive 1..3600 s, ip mtu 68..1500, ip tcp
//     adjust-mss 536..1460, route distance 1..255, ASN 1..4294967295,
//     lease-time 60..4294967295 s.
//   - fixed-assignment is written "fixed-assignment ADDRESS MAC" (MAC with
//     colons), as published IX files write it; a profile without
//     assignable-range hands out the bound interface's subnet, and without
//     default-gateway the interface's address; a binding to a missing
//     profile, or a pool outside the interface's subnet, is an error.
//   - IX defaults for unset profile fields: see DefaultProfile.
//   - GigaEthernet interfaces and Null0.0 exist without a block; Loopback and
//     Tunnel interfaces must be declared before anything routes to them.
//   - An interface without "shutdown" is up (IX prints "no shutdown"
//     explicitly, and so does Print).
//   - ip prefix-list is written "ip prefix-list NAME [SEQ] permit|deny
//     PREFIX|any [min N] [max N]", the form a published IX file uses for
//     ipv6 prefix-list; "seq N", "ge N" and "le N" are read as aliases and
//     printed in that form. min alone matches up to /32, as ge does.
//   - A route-map, prefix-list or access-list that is referred to but not
//     configured is an error: on a BGP session it would drop every route
//     without a word, and the name is almost always a typo.
//   - match ip address access-list compares a route with the source
//     prefixes of the access list's lines (any, A/L or a host address).
//   - neighbor connect-interval 0..65535 s; route-map sequence numbers
//     1..65535, 10 when left out.
//   - A route-map entry with a match line soft-ix keeps but does not
//     evaluate (match as-path, match community, ...) never matches, with
//     a warning: applying its sets or its deny to every route would be
//     worse.
//   - PSKs print as configured (key char / key hex), so printed text is a
//     secret and reloads as-is.
package config
