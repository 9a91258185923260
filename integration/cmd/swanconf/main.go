// Command swanconf prints a swanctl.conf for one route-based IKEv2
// connection with a pre-shared key: nslab's, so that the bench scripts
// and the Go tests configure strongSwan the same way.
//
//	swanconf -name bench -local 203.0.113.94 -remote 198.51.100.6 -psk secret \
//	    [-ike aes256-sha1-modp1024] [-esp aes256-sha256] [-initiate] [-no-rekey]
//
// -remote %any makes a responder for any peer address and identity.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

func main() {
	var c nslab.StrongSwanConfig
	flag.StringVar(&c.Name, "name", "lab", "connection name (the Child SA is NAME-child)")
	flag.StringVar(&c.LocalAddr, "local", "", "local address (local_addrs, and the local identity unless -local-id)")
	flag.StringVar(&c.RemoteAddr, "remote", "", "remote address, or %any for any peer")
	flag.StringVar(&c.LocalID, "local-id", "", "local identity (default: -local)")
	flag.StringVar(&c.RemoteID, "remote-id", "", "remote identity (default: -remote)")
	flag.StringVar(&c.PSK, "psk", "", "pre-shared key")
	flag.StringVar(&c.IKEProposals, "ike", nslab.SeedIKEProposal, "IKE proposals, comma separated")
	flag.StringVar(&c.ESPProposals, "esp", nslab.SeedChildProposal, "ESP proposals, comma separated")
	flag.BoolVar(&c.Initiate, "initiate", false, "start the connection when loaded (start_action = start)")
	flag.BoolVar(&c.NoRekey, "no-rekey", false, "never rekey the IKE SA or the Child SA (rekey_time = 0)")
	flag.DurationVar(&c.IKERekeyTime, "ike-rekey", 0, "IKE SA rekey time (0: strongSwan's default, or never with -no-rekey)")
	flag.DurationVar(&c.ChildRekeyTime, "child-rekey", 0, "Child SA rekey time (0: strongSwan's default, or never with -no-rekey)")
	flag.DurationVar(&c.DPDDelay, "dpd", 0, "dead peer detection interval (0: off)")
	flag.Parse()
	if flag.NArg() > 0 || c.LocalAddr == "" || c.RemoteAddr == "" {
		fmt.Fprintln(os.Stderr, "usage: swanconf -local ADDR -remote ADDR|%any -psk KEY [flags]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	conf, err := c.SwanctlConf()
	if err != nil {
		fmt.Fprintf(os.Stderr, "swanconf: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(conf)
}
