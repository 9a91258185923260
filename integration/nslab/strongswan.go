package nslab

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/soft-ix/soft-ix/internal/netlab"
)

// StrongSwanConfig describes one charon instance with one route-based
// IKEv2 connection authenticated by a pre-shared key. Its swanctl.conf
// (SwanctlConf) is the one the tests and the bench scripts use (the
// scripts through integration/cmd/swanconf).
type StrongSwanConfig struct {
	// Name names the instance's files and its swanctl connection; the
	// Child SA is called Name+"-child".
	Name string

	// RemoteAddr may be %any: a responder for peers from any address,
	// which then authenticate with any identity (RemoteID %any) and the
	// one PSK.
	LocalAddr, RemoteAddr string
	// LocalID and RemoteID default to LocalAddr and RemoteAddr (the seed
	// uses the public addresses as IKE identities).
	LocalID, RemoteID string
	PSK               string

	// IKEProposals and ESPProposals are swanctl proposal strings, comma
	// separated for several; they default to the seed's
	// aes256-sha1-modp1024 and aes256-sha256 (no PFS).
	IKEProposals, ESPProposals string
	// LocalTS and RemoteTS default to 0.0.0.0/0 (route-based, as Azure's
	// UsePolicyBasedTS False).
	LocalTS, RemoteTS string

	// Initiate makes charon start the connection as soon as it is loaded
	// (start_action = start); otherwise it waits as responder.
	Initiate bool

	// Rekey times; zero leaves strongSwan's defaults (IKE 4 h, Child 1 h),
	// or with NoRekey never rekeys.
	IKERekeyTime, ChildRekeyTime time.Duration
	// NoRekey writes rekey_time = 0 (never) for the times left zero: a
	// test or benchmark that must not see a rekey it did not ask for.
	NoRekey bool
	// DPDDelay enables dead peer detection when not zero.
	DPDDelay time.Duration
}

func (c *StrongSwanConfig) setDefaults() {
	if c.LocalID == "" {
		c.LocalID = c.LocalAddr
	}
	if c.RemoteID == "" {
		c.RemoteID = c.RemoteAddr
	}
	if c.IKEProposals == "" {
		c.IKEProposals = SeedIKEProposal
	}
	if c.ESPProposals == "" {
		c.ESPProposals = SeedChildProposal
	}
	if c.LocalTS == "" {
		c.LocalTS = "0.0.0.0/0"
	}
	if c.RemoteTS == "" {
		c.RemoteTS = "0.0.0.0/0"
	}
}

// validate checks what the generated files cannot carry. Errors never
// quote the PSK.
func (c *StrongSwanConfig) validate() error {
	if err := netlab.CheckName(c.Name); err != nil {
		return fmt.Errorf("nslab: strongswan name: %w", err)
	}
	if c.PSK == "" {
		return errors.New("nslab: strongswan: empty PSK")
	}
	if strings.ContainsAny(c.PSK, "\"\\\n") {
		return errors.New("nslab: strongswan: PSK must not contain quotes, backslashes or newlines")
	}
	return nil
}

// StrongSwan is a running charon-systemd instance in a namespace, with its
// own strongswan.conf, vici socket and file log.
type StrongSwan struct {
	Config      StrongSwanConfig
	NS          *Namespace
	ConfPath    string // strongswan.conf
	SwanctlPath string // swanctl.conf
	ViciURI     string // unix:///.../charon.vici
	LogPath     string // charon's file log
	Proc        *Proc
}

// CharonConf describes a charon daemon's strongswan.conf: its own vici
// socket and file log, only the plugins a PSK route-based tunnel with
// userspace ESP (kernel-libipsec) needs, and install_routes = no because
// the labs route into ipsec0 themselves. It is the one strongswan.conf of
// the tests and the bench scripts (the scripts through
// integration/cmd/swanconf -charon).
type CharonConf struct {
	// ViciURI is charon's vici socket, unix:///path; required, so that
	// instances in different namespaces do not share the default one.
	ViciURI string
	// LogPath is charon's file log; empty writes no file log.
	LogPath string
	// LogTimeFormat is the file log's strftime time stamp; empty is %T.
	LogTimeFormat string
	// LogLevels are the file log's levels by subsystem (default, ike,
	// chd, ...); empty logs everything at level 1.
	LogLevels map[string]int
	// Plugins are loaded besides the default ones, after the crypto
	// plugins: gcm for AES-GCM ESP, for example.
	Plugins []string
	// Settings are extra "key = value" lines in the charon section:
	// cookie_threshold = 100000, retransmit_timeout = 1.0, ...
	Settings []string
}

// charonCryptoPlugins and charonOtherPlugins are the plugins every
// charon loads; CharonConf.Plugins go between them.
const (
	charonCryptoPlugins = "random nonce drbg openssl aes sha1 sha2 hmac"
	charonOtherPlugins  = "kdf kernel-libipsec kernel-netlink socket-default vici"
)

// NSLabLogLevels are the file log levels of nslab's instances: enough to
// see why an IKE SA or the kernel interface failed.
func NSLabLogLevels() map[string]int {
	return map[string]int{"default": 1, "ike": 2, "cfg": 1, "knl": 2, "net": 1, "esp": 1}
}

// Text returns the strongswan.conf, or why it cannot be written. The
// file log is flushed per line, so tests can wait for a line in it.
func (c CharonConf) Text() (string, error) {
	if c.ViciURI == "" {
		return "", errors.New("nslab: strongswan.conf: no vici socket")
	}
	values := append([]string{c.ViciURI, c.LogPath, c.LogTimeFormat}, c.Plugins...)
	values = append(values, c.Settings...)
	for name := range c.LogLevels {
		values = append(values, name)
	}
	for _, v := range values {
		if strings.ContainsAny(v, "{}\n#") {
			return "", fmt.Errorf("nslab: strongswan.conf: %q: no braces, newlines or #", v)
		}
	}
	for _, s := range c.Settings {
		if k, _, ok := strings.Cut(s, " = "); !ok || k == "" || strings.ContainsAny(k, " =") {
			return "", fmt.Errorf("nslab: strongswan.conf: setting %q is not \"key = value\"", s)
		}
	}
	var b strings.Builder
	b.WriteString("# Generated by nslab (CharonConf).\ncharon {\n  load_modular = no\n")
	fmt.Fprintf(&b, "  load = %s\n", strings.Join(append(append(strings.Fields(charonCryptoPlugins), c.Plugins...), strings.Fields(charonOtherPlugins)...), " "))
	b.WriteString("  install_routes = no\n  install_virtual_ip = no\n")
	for _, s := range c.Settings {
		fmt.Fprintf(&b, "  %s\n", s)
	}
	fmt.Fprintf(&b, "  plugins {\n    vici {\n      socket = %s\n    }\n  }\n", c.ViciURI)
	if c.LogPath != "" {
		timeFormat := c.LogTimeFormat
		if timeFormat == "" {
			timeFormat = "%T"
		}
		fmt.Fprintf(&b, "  filelog {\n    lab {\n      path = %s\n      time_format = %s\n      append = no\n      flush_line = yes\n", c.LogPath, timeFormat)
		levels := c.LogLevels
		if len(levels) == 0 {
			levels = map[string]int{"default": 1}
		}
		// default first, as charon reads it; the rest sorted, for
		// a stable file.
		var names []string
		for name := range levels {
			if name != "default" {
				names = append(names, name)
			}
		}
		sort.Strings(names)
		if _, ok := levels["default"]; ok {
			names = append([]string{"default"}, names...)
		}
		for _, name := range names {
			fmt.Fprintf(&b, "      %s = %d\n", name, levels[name])
		}
		b.WriteString("    }\n  }\n")
	}
	b.WriteString("}\nswanctl {\n  load = random nonce\n}\ncharon-systemd {\n  journal {\n    default = -1\n  }\n}\n")
	return b.String(), nil
}

var swanctlConf = template.Must(template.New("swanctl.conf").Parse(`# Generated by nslab for instance {{.Name}}.
connections {
  {{.Name}} {
    version = 2
    local_addrs = {{.LocalAddr}}
    remote_addrs = {{.RemoteAddr}}
    proposals = {{.IKEProposals}}
    mobike = no
{{- if .IKERekeyTime}}
    rekey_time = {{.IKERekeySeconds}}s
{{- else if .NoRekey}}
    rekey_time = 0
{{- end}}
{{- if .DPDDelay}}
    dpd_delay = {{.DPDSeconds}}s
{{- end}}
    local {
      auth = psk
      id = {{.LocalID}}
    }
    remote {
      auth = psk
      id = {{.RemoteID}}
    }
    children {
      {{.Name}}-child {
        mode = tunnel
        local_ts = {{.LocalTS}}
        remote_ts = {{.RemoteTS}}
        esp_proposals = {{.ESPProposals}}
{{- if .ChildRekeyTime}}
        rekey_time = {{.ChildRekeySeconds}}s
{{- else if .NoRekey}}
        rekey_time = 0
{{- end}}
{{- if .Initiate}}
        start_action = start
{{- end}}
{{- if .DPDDelay}}
        dpd_action = restart
{{- end}}
      }
    }
  }
}
secrets {
  ike-{{.Name}} {
{{- if ne .RemoteID "%any"}}
    id-local = {{.LocalID}}
    id-remote = {{.RemoteID}}
{{- end}}
    secret = "{{.PSK}}"
  }
}
`))

// StartStrongSwan writes the instance's configuration into the lab
// directory, starts charon-systemd in ns and waits until its vici socket
// answers. It does not load the connection; call Load.
func StartStrongSwan(ns *Namespace, cfg StrongSwanConfig) (*StrongSwan, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	lab := ns.Lab()
	prefix := "strongswan-" + cfg.Name
	s := &StrongSwan{
		Config:      cfg,
		NS:          ns,
		ConfPath:    lab.Path(prefix + ".conf"),
		SwanctlPath: lab.Path(prefix + "-swanctl.conf"),
		ViciURI:     "unix://" + lab.Path(prefix+".vici"),
		LogPath:     lab.Path(prefix + "-charon.log"),
	}
	daemonConf, connConf, err := renderStrongSwan(cfg, s.ViciURI, s.LogPath)
	if err != nil {
		return nil, err
	}
	if err := writeFile(s.ConfPath, daemonConf); err != nil {
		return nil, err
	}
	if err := writeFile(s.SwanctlPath, connConf); err != nil {
		return nil, err
	}
	lab.AddLog("charon "+cfg.Name, s.LogPath)

	proc, err := ns.Start("charon-"+cfg.Name, []string{"STRONGSWAN_CONF=" + s.ConfPath}, "charon-systemd")
	if err != nil {
		return nil, err
	}
	s.Proc = proc
	lab.AddDumper("swanctl --list-sas ("+cfg.Name+")", s.ListSAs)
	err = WaitFor(15*time.Second, "charon "+cfg.Name+" vici socket", func() error {
		if exited, werr := proc.Exited(); exited {
			return fmt.Errorf("charon exited (%v): %s", werr, strings.TrimSpace(proc.Log()))
		}
		_, err := s.Swanctl("--stats")
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("nslab: %w", err)
	}
	return s, nil
}

// renderStrongSwan returns the instance's strongswan.conf and swanctl.conf.
func renderStrongSwan(cfg StrongSwanConfig, viciURI, logPath string) (daemonConf, connConf string, err error) {
	daemonConf, err = CharonConf{ViciURI: viciURI, LogPath: logPath, LogLevels: NSLabLogLevels()}.Text()
	if err != nil {
		return "", "", err
	}
	connConf, err = cfg.render()
	return daemonConf, connConf, err
}

// SwanctlConf returns the swanctl.conf of the connection (defaults
// filled in): the connection Name, its Child SA Name+"-child" and the
// PSK, for `swanctl --load-all --file`.
func (c StrongSwanConfig) SwanctlConf() (string, error) {
	c.setDefaults()
	if err := c.validate(); err != nil {
		return "", err
	}
	return c.render()
}

// render writes swanctl.conf for a config with its defaults set.
func (c StrongSwanConfig) render() (string, error) {
	var b strings.Builder
	if err := swanctlConf.Execute(&b, struct {
		StrongSwanConfig
		IKERekeySeconds, ChildRekeySeconds, DPDSeconds int
	}{c, int(c.IKERekeyTime.Seconds()), int(c.ChildRekeyTime.Seconds()), int(c.DPDDelay.Seconds())}); err != nil {
		return "", fmt.Errorf("nslab: swanctl.conf: %w", err)
	}
	return b.String(), nil
}

// Swanctl runs swanctl against this instance: the command option first,
// then the instance's --uri, then args.
func (s *StrongSwan) Swanctl(command string, args ...string) (string, error) {
	all := append([]string{command, "--uri", s.ViciURI}, args...)
	return netlab.Command(context.Background(), []string{"STRONGSWAN_CONF=" + s.ConfPath}, "swanctl", all...)
}

// Load loads the instance's connection and secret (swanctl --load-all).
// An initiator starts negotiating right away.
func (s *StrongSwan) Load() error {
	_, err := s.Swanctl("--load-all", "--file", s.SwanctlPath)
	return err
}

// Initiate starts the Child SA (and its IKE SA) and waits for the result,
// up to timeout.
func (s *StrongSwan) Initiate(timeout time.Duration) error {
	_, err := s.Swanctl("--initiate", "--child", s.Config.Name+"-child",
		"--timeout", fmt.Sprint(int(timeout.Seconds())))
	return err
}

// ListSAs returns `swanctl --list-sas` output.
func (s *StrongSwan) ListSAs() (string, error) {
	return s.Swanctl("--list-sas")
}

// Established reports nil once an IKE SA is ESTABLISHED and its Child SA
// INSTALLED, or why not.
func (s *StrongSwan) Established() error {
	out, err := s.ListSAs()
	if err != nil {
		return err
	}
	if !strings.Contains(out, "ESTABLISHED") || !strings.Contains(out, "INSTALLED") {
		return fmt.Errorf("no installed Child SA yet: %q", strings.TrimSpace(out))
	}
	return nil
}

// WaitEstablished waits until Established holds.
func (s *StrongSwan) WaitEstablished(timeout time.Duration) error {
	if err := WaitFor(timeout, "strongSwan "+s.Config.Name+" tunnel", s.Established); err != nil {
		return fmt.Errorf("nslab: %w", err)
	}
	return nil
}

// FixRouting makes the instance usable route-based: it deletes every
// `lookup 220` rule (kernel-libipsec installs "default dev ipsec0" in table
// 220 whatever install_routes says, which would loop decrypted packets
// back into the tunnel). Call it once the tunnel is up, then route the
// remote prefixes into ipsec0 in the main table (RouteVia).
func (s *StrongSwan) FixRouting() error {
	for i := 0; i < 10; i++ {
		if s.NS.IP("rule", "del", "lookup", "220") != nil {
			break // no rule left
		}
	}
	out, err := s.NS.Run("ip", "rule", "show")
	if err != nil {
		return err
	}
	if strings.Contains(out, "lookup 220") {
		return fmt.Errorf("nslab: could not delete the lookup 220 rules in %s:\n%s", s.NS.Name, out)
	}
	return nil
}

// RouteVia routes each prefix into the instance's ipsec0 device in the main
// table of its namespace.
func (s *StrongSwan) RouteVia(prefixes ...string) error {
	if err := s.NS.WaitLink("ipsec0", 10*time.Second); err != nil {
		return fmt.Errorf("nslab: %w", err)
	}
	for _, p := range prefixes {
		if err := s.NS.IP("route", "replace", p, "dev", "ipsec0"); err != nil {
			return err
		}
	}
	return nil
}

// Azure VPN Gateway's default IKEv2 offers (route-based gateway, no custom
// policy) in swanctl syntax, for a strongSwan that stands in for Azure the
// way soft-ix's lab config (cmd/soft-ix/labconf/azure-lab.conf) does.
const (
	AzureIKEProposals = "aes256-aes192-aes128-sha1-sha256-sha384-modp1024-modp2048-ecp256-ecp384"
	AzureESPProposals = "aes256gcm16,aes256-aes192-aes128-sha1-sha256"
)

// IXStrongSwanConfig is the seed's IX side as strongSwan configuration:
// 203.0.113.94 to 198.51.100.6, PSK, seed proposals, initiating.
func IXStrongSwanConfig() StrongSwanConfig {
	return StrongSwanConfig{
		Name: "ix", LocalAddr: IXWANAddr, RemoteAddr: AzurePublicAddr, PSK: SeedPSK, Initiate: true,
	}
}

// AzureStrongSwanConfig is the seed's Azure side as strongSwan
// configuration: 198.51.100.6 to 203.0.113.94, PSK, seed proposals,
// responding. Set IKEProposals/ESPProposals to AzureIKEProposals and
// AzureESPProposals for Azure's full offer lists.
func AzureStrongSwanConfig() StrongSwanConfig {
	return StrongSwanConfig{
		Name: "azure", LocalAddr: AzurePublicAddr, RemoteAddr: IXWANAddr, PSK: SeedPSK,
	}
}

// Up waits until the tunnel is established, makes the namespace's routing
// route-based (FixRouting) and routes prefixes into ipsec0 (RouteVia): the
// steps after Load whether the peer is strongSwan or soft-ix.
func (s *StrongSwan) Up(timeout time.Duration, prefixes ...string) error {
	if err := s.WaitEstablished(timeout); err != nil {
		return err
	}
	if err := s.FixRouting(); err != nil {
		return err
	}
	return s.RouteVia(prefixes...)
}

// StrongSwanPair is the reference tunnel: strongSwan standing in for the
// IX in the "ix" namespace and for Azure's gateway in the "azure"
// namespace.
type StrongSwanPair struct {
	IX, Azure *StrongSwan
}

// StartStrongSwanPair starts charon on both sides of s with the seed's
// parameters (IKE aes256-sha1-modp1024, ESP aes256-sha256 without PFS, PSK
// P@ssw0rd1234, public addresses as IDs, 0.0.0.0/0 traffic selectors), the
// IX side initiating, waits until both sides have the Child SA installed
// and deletes the table-220 rules. It adds no prefix routes: callers route
// what they need with RouteVia (e.g. 172.16.0.0/16 on the IX side and
// 192.168.2.0/24 on the Azure side for the static scenario).
func StartStrongSwanPair(s *Scenario) (*StrongSwanPair, error) {
	return StartStrongSwanPairWith(s, IXStrongSwanConfig(), AzureStrongSwanConfig())
}

// StartStrongSwanPairWith is StartStrongSwanPair with the two sides'
// configurations given (start from IXStrongSwanConfig and
// AzureStrongSwanConfig). Both daemons start first; a responder's
// connection is loaded before an initiator's, so the first IKE_SA_INIT
// finds its peer ready.
func StartStrongSwanPairWith(s *Scenario, ixCfg, azureCfg StrongSwanConfig) (*StrongSwanPair, error) {
	azure, err := StartStrongSwan(s.Azure, azureCfg)
	if err != nil {
		return nil, err
	}
	ix, err := StartStrongSwan(s.IX, ixCfg)
	if err != nil {
		return nil, err
	}
	order := []*StrongSwan{azure, ix}
	if azureCfg.Initiate && !ixCfg.Initiate {
		order = []*StrongSwan{ix, azure}
	}
	for _, side := range order {
		if err := side.Load(); err != nil {
			return nil, err
		}
	}
	for _, side := range []*StrongSwan{ix, azure} {
		if err := side.WaitEstablished(30 * time.Second); err != nil {
			return nil, err
		}
	}
	for _, side := range []*StrongSwan{ix, azure} {
		if err := side.FixRouting(); err != nil {
			return nil, err
		}
	}
	return &StrongSwanPair{IX: ix, Azure: azure}, nil
}
