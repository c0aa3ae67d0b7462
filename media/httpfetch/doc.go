// Package httpfetch downloads the URLs users ask tldw to ingest, behind a guard against
// server-side request forgery: only http and https, at most five redirects, a size and a
// time limit, no proxy, and no connection to an address that is not on the public internet
// (loopback, private, link-local and cloud-metadata addresses, multicast, IPv4-mapped and
// NAT64 forms of them) unless the allowlist (MEDIA_URL_ALLOWLIST) names it. Addresses are
// checked after DNS resolution, on every redirect, at the moment of connecting.
package httpfetch
