package httpapi

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries clientIP looks at.
const maxForwardedHops = 32

// clientIP returns the address of the client that sent r, for lockout keys, sessions and
// audit events. It is the TCP peer, unless the peer is one of Options.TrustedProxies: then
// it is the right-most X-Forwarded-For entry that is not itself a trusted proxy (entries
// left of it can be forged by the client), or X-Real-IP when there is no X-Forwarded-For.
// Forwarding headers from any other peer are ignored. A peer address that does not parse
// (a Unix socket) gives "".
func (s *core) clientIP(r *http.Request) string {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok {
		return ""
	}
	if !s.trustedProxy(peer) {
		return peer.String()
	}
	if vs := r.Header.Values("X-Forwarded-For"); len(vs) > 0 {
		var hops []string
		for _, v := range vs {
			hops = append(hops, strings.Split(v, ",")...)
		}
		client := peer
		for i, n := len(hops)-1, 0; i >= 0 && n < maxForwardedHops; i, n = i-1, n+1 {
			a, ok := parseHop(hops[i])
			if !ok {
				break // garbage: trust nothing further left
			}
			client = a
			if !s.trustedProxy(a) {
				break
			}
		}
		return client.String()
	}
	if a, ok := parseHop(r.Header.Get("X-Real-Ip")); ok {
		return a.String()
	}
	return peer.String()
}

// trustedProxy reports whether a is inside Options.TrustedProxies.
func (s *core) trustedProxy(a netip.Addr) bool {
	for _, p := range s.o.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop parses an address as found in RemoteAddr or a forwarding header: "ip",
// "ip:port" or "[ipv6]:port". IPv4-mapped IPv6 addresses are unmapped and zones dropped.
func parseHop(v string) (netip.Addr, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(v)
	if err != nil {
		host, _, splitErr := net.SplitHostPort(v)
		if splitErr != nil {
			return netip.Addr{}, false
		}
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}, false
		}
	}
	return a.Unmap().WithZone(""), true
}
