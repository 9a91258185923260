// Blank imports hold the required modules in go.mod until the packages that use them land.
// Delete this file once every module here is imported for real.
package main

import (
	_ "github.com/osrg/gobgp/v3/api"
	_ "github.com/osrg/gobgp/v3/pkg/server"
	_ "github.com/prometheus/client_golang/prometheus/promhttp"
	_ "github.com/vishvananda/netlink"
	_ "golang.org/x/crypto/cryptobyte"
	_ "golang.org/x/crypto/curve25519"
	_ "golang.org/x/net/ipv4"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
	_ "golang.zx2c4.com/wireguard/tun"
)
