// Package bgp runs the embedded GoBGP v3 speaker configured from the IX
// "router bgp" block and turns its best paths into kernel routes through a
// small RouteInstaller interface; it also reports "show ip bgp" data.
package bgp
