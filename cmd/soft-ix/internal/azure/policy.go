package azure

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/soft-ix/soft-ix/config"
)

// Accepts is what the Azure side of a connection offers and accepts:
// Azure's default policy, or the one combination of a custom IPsec/IKE
// policy (row "custom-policy").
type Accepts struct {
	Custom          bool
	IKE             []IKESuite
	Child           []ChildSuite // PFS set in each; "" for none
	IKELifetime     time.Duration
	ChildLifetime   time.Duration
	ChildLifetimeKB uint64
	DPDTimeout      time.Duration
	// Mode is the connection's connectionMode: "" (Default),
	// "InitiatorOnly" or "ResponderOnly" (row "connection-mode").
	Mode string
}

// DefaultAccepts is a gateway with no custom policy.
func DefaultAccepts() Accepts {
	return Accepts{
		IKE:             DefaultIKE,
		Child:           DefaultChild, // row "default-pfs": none
		IKELifetime:     IKELifetime,
		ChildLifetime:   ChildLifetime,
		ChildLifetimeKB: ChildLifetimeKB,
		DPDTimeout:      DPDTimeout,
	}
}

// IPsecPolicy is one entry of a connection's ipsecPolicies, as the az CLI
// and the ARM API print it.
type IPsecPolicy struct {
	SALifeTimeSeconds   int64  `json:"saLifeTimeSeconds"`
	SADataSizeKilobytes int64  `json:"saDataSizeKilobytes"`
	IPsecEncryption     string `json:"ipsecEncryption"`
	IPsecIntegrity      string `json:"ipsecIntegrity"`
	IKEEncryption       string `json:"ikeEncryption"`
	IKEIntegrity        string `json:"ikeIntegrity"`
	DHGroup             string `json:"dhGroup"`
	PFSGroup            string `json:"pfsGroup"`
}

// Azure's algorithm names (row "policy-algorithms") in IX keywords. Names
// missing here are ones soft-ix cannot speak (DES, MD5, GCMAES192, DH and
// PFS group 1); unsupported says why.
var (
	azureEnc = map[string]config.EncAlg{
		"AES256": config.EncAESCBC256, "AES192": config.EncAESCBC192, "AES128": config.EncAESCBC128,
		"DES3": config.Enc3DESCBC, "GCMAES256": config.EncAESGCM256, "GCMAES128": config.EncAESGCM128,
	}
	azureInteg = map[string]config.IntegAlg{
		"SHA1": config.IntegSHA1, "SHA256": config.IntegSHA256, "SHA384": config.IntegSHA384,
		"GCMAES256": "", "GCMAES192": "", "GCMAES128": "",
	}
	azureDH = map[string]config.DHGroup{
		"None": "", "DHGroup2": config.DH1024, "DHGroup14": config.DH2048, "DHGroup2048": config.DH2048,
		"DHGroup24": config.DH2048S256, "ECP256": config.DHECP256, "ECP384": config.DHECP384,
	}
	azurePFS = map[string]config.DHGroup{
		"None": "", "PFS2": config.DH1024, "PFS14": config.DH2048, "PFS2048": config.DH2048,
		"PFS24": config.DH2048S256, "ECP256": config.DHECP256, "ECP384": config.DHECP384,
	}
	unsupported = map[string]string{
		"DES": "single DES", "MD5": "HMAC-MD5", "GCMAES192": "AES-GCM-192 (IX has no such keyword)",
		"DHGroup1": "DH group 1 (768-bit)", "PFS1": "PFS group 1 (768-bit)",
	}
)

func mapName[V any](m map[string]V, field, name string) (V, error) {
	v, ok := m[name]
	if ok {
		return v, nil
	}
	var zero V
	if why, ok := unsupported[name]; ok {
		return zero, fmt.Errorf("%s %s: Azure would insist on %s, which soft-ix does not implement; change the connection's policy", field, name, why)
	}
	return zero, fmt.Errorf("%s %q: not an Azure IPsec/IKE policy value", field, name)
}

// Suites maps a custom policy to IX keywords. The IKE SA lifetime stays
// Azure's fixed one (row "ike-lifetime").
func (p IPsecPolicy) Suites() (IKESuite, ChildSuite, error) {
	var ike IKESuite
	var child ChildSuite
	var err error
	if ike.Enc, err = mapName(azureEnc, "ikeEncryption", p.IKEEncryption); err != nil {
		return ike, child, err
	}
	if ike.Integ, err = mapName(azureInteg, "ikeIntegrity", p.IKEIntegrity); err != nil {
		return ike, child, err
	}
	if ike.DH, err = mapName(azureDH, "dhGroup", p.DHGroup); err != nil {
		return ike, child, err
	}
	if ike.DH == "" {
		return ike, child, errors.New("dhGroup None: an IKE SA needs a DH group")
	}
	if ike.Enc.AEAD() {
		// Azure's pages do not say which PRF goes with IKE GCM; IX
		// derives its PRF from the integrity keyword, so sha2-256 is
		// written and Lint does not judge the PRF of a GCM proposal.
		ike.Integ = config.IntegSHA256
	} else if ike.Integ == "" {
		return ike, child, fmt.Errorf("ikeIntegrity %s goes only with a GCM ikeEncryption", p.IKEIntegrity)
	}
	if child.Enc, err = mapName(azureEnc, "ipsecEncryption", p.IPsecEncryption); err != nil {
		return ike, child, err
	}
	if child.Integ, err = mapName(azureInteg, "ipsecIntegrity", p.IPsecIntegrity); err != nil {
		return ike, child, err
	}
	if !child.Enc.AEAD() && child.Integ == "" {
		return ike, child, fmt.Errorf("ipsecIntegrity %s goes only with a GCM ipsecEncryption", p.IPsecIntegrity)
	}
	if child.Enc.AEAD() {
		child.Integ = ""
	}
	if p.PFSGroup == "PFSMM" {
		child.PFS = ike.DH // "PFSMM": the main mode (IKE) group
	} else if child.PFS, err = mapName(azurePFS, "pfsGroup", p.PFSGroup); err != nil {
		return ike, child, err
	}
	return ike, child, nil
}

// Accepts is what Azure offers and accepts under the custom policy p.
func (p IPsecPolicy) Accepts() (Accepts, error) {
	ike, child, err := p.Suites()
	if err != nil {
		return Accepts{}, err
	}
	a := DefaultAccepts()
	a.Custom = true
	a.IKE = []IKESuite{ike}
	a.Child = []ChildSuite{child}
	if p.SALifeTimeSeconds > 0 {
		a.ChildLifetime = time.Duration(p.SALifeTimeSeconds) * time.Second
	}
	if p.SADataSizeKilobytes > 0 {
		a.ChildLifetimeKB = uint64(p.SADataSizeKilobytes)
	}
	return a, nil
}

// ParsePolicies reads ipsecPolicies in any form the tools print it: the
// array itself, one policy object, or a whole connection (az network
// vpn-connection show, or the ARM resource with "properties"). An empty
// list means Azure's default policy: ok is false then.
func ParsePolicies(data []byte) (p IPsecPolicy, ok bool, err error) {
	data = bytes.TrimSpace(data)
	var list []IPsecPolicy
	if len(data) > 0 && data[0] == '[' {
		if err := json.Unmarshal(data, &list); err != nil {
			return p, false, fmt.Errorf("ipsecPolicies: %w", err)
		}
	} else {
		obj, err := flatten(data)
		if err != nil {
			return p, false, err
		}
		if raw, has := obj["ipsecPolicies"]; has {
			if err := json.Unmarshal(raw, &list); err != nil {
				return p, false, fmt.Errorf("ipsecPolicies: %w", err)
			}
		} else if _, conn := obj["connectionType"]; conn {
			// A connection without custom policy: Azure's defaults.
			return p, false, nil
		} else {
			var one IPsecPolicy
			if err := json.Unmarshal(data, &one); err != nil {
				return p, false, err
			}
			if one.IKEEncryption == "" && one.IPsecEncryption == "" {
				return p, false, errors.New("no ipsecPolicies and no policy fields (ikeEncryption, ipsecEncryption, ...)")
			}
			list = []IPsecPolicy{one}
		}
	}
	switch len(list) {
	case 0:
		return p, false, nil
	case 1:
		return list[0], true, nil
	}
	return p, false, fmt.Errorf("%d ipsecPolicies: Azure allows one per connection", len(list))
}

// ParseConnectionMode reads a connectionMode in any case (row
// "connection-mode"): "" for Default or none, else "InitiatorOnly" or
// "ResponderOnly" as Azure spells them.
func ParseConnectionMode(m string) (string, error) {
	for _, mode := range []string{"InitiatorOnly", "ResponderOnly"} {
		if strings.EqualFold(m, mode) {
			return mode, nil
		}
	}
	if m == "" || strings.EqualFold(m, "Default") {
		return "", nil
	}
	return "", fmt.Errorf("connectionMode %q: want Default, InitiatorOnly or ResponderOnly", m)
}

// ConnectionAccepts is what Azure offers and accepts on the connection in
// data (az network vpn-connection show, the ARM resource, or only its
// ipsecPolicies): its custom policy if it has one, else Azure's defaults,
// with the connection's mode and DPD timeout.
func ConnectionAccepts(data []byte) (Accepts, error) {
	acc := DefaultAccepts()
	pol, ok, err := ParsePolicies(data)
	if err == nil && ok {
		acc, err = pol.Accepts()
	}
	if err == nil {
		err = acc.ReadConnection(data)
	}
	return acc, err
}

// ReadConnection takes from a connection document what Lint needs beside
// its policy: connectionMode and dpdTimeoutSeconds. A document without
// them (a bare policy) leaves a unchanged.
func (a *Accepts) ReadConnection(data []byte) error {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil
	}
	obj, err := flatten(data)
	if err != nil {
		return err
	}
	if raw, ok := obj["connectionMode"]; ok {
		var m string
		if err := json.Unmarshal(raw, &m); err != nil {
			return fmt.Errorf("connectionMode: %w", err)
		}
		if a.Mode, err = ParseConnectionMode(m); err != nil {
			return err
		}
	}
	if raw, ok := obj["dpdTimeoutSeconds"]; ok {
		var sec int64
		if err := json.Unmarshal(raw, &sec); err != nil {
			return fmt.Errorf("dpdTimeoutSeconds: %w", err)
		}
		// 0 is a connection left at Azure's default; Azure's API takes
		// nothing else outside its range (row "dpd").
		d := time.Duration(sec) * time.Second
		switch {
		case sec == 0:
		case d < MinDPDTimeout || d > MaxDPDTimeout:
			return fmt.Errorf("dpdTimeoutSeconds %d: Azure takes %d to %d", sec, int(MinDPDTimeout.Seconds()), int(MaxDPDTimeout.Seconds()))
		default:
			a.DPDTimeout = d
		}
	}
	return nil
}

// flatten decodes a JSON object and lifts the keys of its "properties"
// object to the top, so the az CLI's flattened output and the ARM
// resource read alike.
func flatten(data []byte) (map[string]json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, err
	}
	if raw, ok := obj["properties"]; ok {
		var props map[string]json.RawMessage
		if err := json.Unmarshal(raw, &props); err == nil {
			for k, v := range props {
				if _, dup := obj[k]; !dup {
					obj[k] = v
				}
			}
		}
	}
	return obj, nil
}
