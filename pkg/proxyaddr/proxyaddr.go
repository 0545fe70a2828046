// Package proxyaddr parses server.trusted_proxies, the one rule for what a
// trusted proxy entry may be. Standard library only: the configuration
// validates with it and the HTTP API's client-IP logic trusts by it.
package proxyaddr

import (
	"fmt"
	"net/netip"
	"strings"
)

// Parse turns trusted-proxy entries (CIDRs or single IPv4/IPv6 addresses,
// surrounding spaces ignored) into masked prefixes; IPv4-mapped IPv6 entries
// become IPv4 prefixes. An entry that is neither is an error naming it.
func Parse(entries []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(entries))
	for _, s := range entries {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is not a CIDR or an IP address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
