// Command swanconf prints nslab's strongSwan configuration, so that the
// bench scripts and the Go tests configure strongSwan the same way.
//
// By default it prints a swanctl.conf for one route-based IKEv2
// connection with a pre-shared key (nslab.StrongSwanConfig):
//
//	swanconf -name bench -local 203.0.113.94 -remote 198.51.100.6 -psk secret \
//	    [-ike aes256-sha1-modp1024] [-esp aes256-sha256] [-initiate] [-no-rekey]
//
// -remote %any makes a responder for any peer address and identity.
//
// With -charon it prints the daemon's strongswan.conf instead
// (nslab.CharonConf):
//
//	swanconf -charon -vici unix:///run/lab/charon.vici [-log /run/lab/charon.log] \
//	    [-log-time %T.%f] [-loglevel chd=4]... [-plugins gcm] [-set 'cookie_threshold = 100000']...
//
// -loglevel and -set may be given several times; without -log charon
// writes no file log.
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/soft-ix/soft-ix/integration/nslab"
)

// repeated collects the values of a flag given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ", ") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

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

	var d nslab.CharonConf
	var plugins string
	var settings, levels repeated
	charon := flag.Bool("charon", false, "print charon's strongswan.conf instead of a swanctl.conf")
	flag.StringVar(&d.ViciURI, "vici", "", "with -charon: charon's vici socket, unix:///path")
	flag.StringVar(&d.LogPath, "log", "", "with -charon: charon's file log (default: none)")
	flag.StringVar(&d.LogTimeFormat, "log-time", "", "with -charon: the file log's time stamp format (default %T)")
	flag.Var(&levels, "loglevel", "with -charon: a file log level, SUBSYSTEM=LEVEL (chd=4); repeatable (default: default=1)")
	flag.StringVar(&plugins, "plugins", "", "with -charon: extra plugins, comma or space separated (gcm)")
	flag.Var(&settings, "set", "with -charon: an extra 'key = value' line in the charon section; repeatable")
	flag.Parse()

	if *charon {
		d.Plugins = strings.FieldsFunc(plugins, func(r rune) bool { return r == ',' || r == ' ' })
		d.Settings = settings
		for _, l := range levels {
			name, level, ok := strings.Cut(l, "=")
			n, err := strconv.Atoi(level)
			if !ok || name == "" || err != nil {
				fmt.Fprintf(os.Stderr, "swanconf: -loglevel %q: want SUBSYSTEM=LEVEL\n", l)
				os.Exit(2)
			}
			if d.LogLevels == nil {
				d.LogLevels = map[string]int{}
			}
			d.LogLevels[name] = n
		}
		if flag.NArg() > 0 || d.ViciURI == "" {
			fmt.Fprintln(os.Stderr, "usage: swanconf -charon -vici unix:///PATH [-log PATH] [flags]")
			flag.PrintDefaults()
			os.Exit(2)
		}
		emit(d.Text())
		return
	}
	if flag.NArg() > 0 || c.LocalAddr == "" || c.RemoteAddr == "" {
		fmt.Fprintln(os.Stderr, "usage: swanconf -local ADDR -remote ADDR|%any -psk KEY [flags]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	emit(c.SwanctlConf())
}

// emit writes a generated file to stdout, or its error and exits 1.
func emit(conf string, err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "swanconf: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(conf)
}
