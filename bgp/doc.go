// Package bgp runs the embedded GoBGP v3 speaker from its own Config and
// turns its best paths into kernel routes through a small RouteInstaller
// interface (tun.Manager implements it); it also reports the data of
// "show ip bgp", "show ip bgp summary" and "show ip bgp neighbors A
// routes|advertised-routes". It does not read the IX model:
// internal/ixbgp translates "router bgp" into Config (router ID as the IX
// chooses it, update-source addresses, the loopback multihop rule,
// route-maps with their prefix and access lists).
//
// GoBGP is used only in gobgp.go, behind the speaker interface of
// speaker.go, so moving to GoBGP v4 touches that one file.
//
// How soft-ix speaks (and why):
//
//   - timers default to keepalive 60 / hold 180 (IX and Azure defaults);
//     connect retry is 5 s so a session returns soon after its tunnel.
//   - network P is originated with origin IGP and MED 1, as the IX shows
//     its advertised network (Metric 1, next hop the update-source
//     address); it is advertised whether or not a route to P exists.
//     More than AzureMaxPrefixes networks is logged as a warning.
//   - soft-ix listens on 0.0.0.0:179 as well as connecting, since Azure
//     opens the session too.
//   - Neighbor.ConnectRetry (connect-interval) replaces that 5 s. GoBGP
//     has no minimum advertisement interval (its API takes one and never
//     reads it), so there is none here: an IX's advertisement-interval is
//     kept by config as not emulated.
//   - route-maps (Neighbor.RouteMapIn/Out): GoBGP keeps per-neighbor policy
//     assignments for route-server clients only, so each neighbor's
//     route-map becomes a policy in the global import or export assignment
//     whose statements carry a neighbor set of that address (import
//     matches the neighbor a route came from, export the one it goes to).
//     An entry is a statement (match ip address prefix-list/access-list as
//     a prefix set of the list's permit lines; set local-preference, set
//     metric, set as-path prepend, set community as its actions; permit
//     accepts, deny rejects); the route-map ends in a statement that
//     rejects what no entry matched, as the IX drops it. Neighbors without
//     route-maps fall to the default action, accept. A reload that changes
//     them replaces the policy and soft-resets the sessions, which stay up.
//   - "show ip bgp neighbors A routes" lists A's paths in the local table,
//     after its inbound route-map (so LocPrf shows); advertised-routes the
//     Adj-RIB-Out, after the outbound one (the prepended path shows).
//
// Learned best paths go to the installer in batches, one call per next
// hop; they are replaced when the best path changes, removed on withdraw,
// and all routes of a neighbor are removed when its session leaves
// ESTABLISHED (and everything when the server stops).
package bgp
