package hostfns

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"
)

// Resolver looks up a host's addresses. *net.Resolver implements it; tests
// inject their own so that no lookup leaves the machine.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// NetOptions configure the guarded transport. The zero value is the
// production setting: public addresses only, system roots, the timeouts
// and connection bounds below.
type NetOptions struct {
	// AllowPrivate lets the dialer reach loopback, private and link-local
	// addresses. Only for tests against 127.0.0.1 and self-hosted
	// deployments whose remotes live on a private network.
	AllowPrivate bool
	// DialTimeout bounds one TCP connect (0 = 10s).
	DialTimeout time.Duration
	// TLSHandshakeTimeout bounds the TLS handshake (0 = 10s).
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers after the
	// request is written (0 = 30s).
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes idle keep-alive connections (0 = 90s).
	IdleConnTimeout time.Duration
	// MaxIdleConns bounds idle connections overall (0 = 100), and
	// MaxIdleConnsPerHost per host (0 = 10).
	MaxIdleConns        int
	MaxIdleConnsPerHost int
	// MaxConnsPerHost bounds connections per host, idle or not (0 = 64).
	MaxConnsPerHost int
	// MaxResponseHeaderBytes bounds response headers (0 = 64 KiB).
	MaxResponseHeaderBytes int64
	// RootCAs are the trusted roots; nil means the system's.
	RootCAs *x509.CertPool
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
}

// NewTransport returns the egress transport the engine shares across all
// calls. It never uses proxy settings from the environment (a proxy would
// see every request and bypass the address check). Its dialer resolves the
// host itself, refuses forbidden addresses (see [AddressAllowed]) unless
// AllowPrivate, and then dials the checked IP, so a DNS answer cannot
// change between the check and the connect (no rebinding window). TLS still
// verifies the certificate against the URL's host name.
func NewTransport(o NetOptions) *http.Transport {
	d := &guardedDialer{
		allowPrivate: o.AllowPrivate,
		resolver:     o.Resolver,
		dialer:       &net.Dialer{Timeout: orDuration(o.DialTimeout, 10*time.Second), KeepAlive: 30 * time.Second},
	}
	if d.resolver == nil {
		d.resolver = net.DefaultResolver
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		TLSClientConfig:        &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    orDuration(o.TLSHandshakeTimeout, 10*time.Second),
		ResponseHeaderTimeout:  orDuration(o.ResponseHeaderTimeout, 30*time.Second),
		ExpectContinueTimeout:  time.Second,
		IdleConnTimeout:        orDuration(o.IdleConnTimeout, 90*time.Second),
		MaxIdleConns:           orInt(o.MaxIdleConns, 100),
		MaxIdleConnsPerHost:    orInt(o.MaxIdleConnsPerHost, 10),
		MaxConnsPerHost:        orInt(o.MaxConnsPerHost, 64),
		MaxResponseHeaderBytes: orInt64(o.MaxResponseHeaderBytes, 64<<10),
	}
}

type guardedDialer struct {
	allowPrivate bool
	resolver     Resolver
	dialer       *net.Dialer
}

// DialContext resolves, checks and dials. With several allowed addresses it
// tries them in order; forbidden ones are skipped, and if none is left the
// dial fails with an [*AddressError].
func (d *guardedDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("hostfns: network %q not allowed", network)
	}
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("hostfns: bad port %q", portStr)
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else {
		if addrs, err = d.resolver.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, err
		}
	}
	var (
		denied  *AddressError
		lastErr error
	)
	for _, ip := range addrs {
		if !d.allowPrivate && !AddressAllowed(ip) {
			if denied == nil {
				denied = &AddressError{Host: host, Addr: ip}
			}
			continue
		}
		conn, err := d.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		lastErr = err
	}
	switch {
	case lastErr != nil:
		return nil, lastErr
	case denied != nil:
		return nil, denied
	}
	return nil, fmt.Errorf("hostfns: %s resolved to no address", host)
}

// forbidden holds the ranges no connector may reach: where the host's own
// services, the cloud's metadata endpoint and other tenants' networks live.
var forbidden = mustPrefixes(
	"0.0.0.0/8",      // "this network", unspecified
	"10.0.0.0/8",     // RFC 1918
	"100.64.0.0/10",  // CGNAT (RFC 6598)
	"127.0.0.0/8",    // loopback
	"169.254.0.0/16", // link-local, incl. 169.254.169.254 metadata
	"172.16.0.0/12",  // RFC 1918
	"192.0.0.0/24",   // IETF protocol assignments
	"192.168.0.0/16", // RFC 1918
	"198.18.0.0/15",  // benchmarking
	"224.0.0.0/4",    // multicast
	"240.0.0.0/4",    // reserved, incl. broadcast
	"::/128",         // unspecified
	"::1/128",        // loopback
	"100::/64",       // discard
	"2001::/32",      // Teredo: tunnels to an embedded IPv4
	"2001:db8::/32",  // documentation
	"fc00::/7",       // unique local (ULA)
	"fe80::/10",      // link-local
	"fec0::/10",      // deprecated site-local
	"ff00::/8",       // multicast
	"64:ff9b:1::/48", // local-use NAT64
)

// Prefixes whose addresses embed an IPv4 address, which is checked too.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	v4compat  = netip.MustParsePrefix("::/96")
)

func mustPrefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

// AddressAllowed reports whether a connector may connect to ip: not
// loopback, private (RFC 1918, ULA), link-local (incl. cloud metadata),
// CGNAT, unspecified, multicast or reserved, including the same addresses
// reached through IPv4-mapped, IPv4-compatible, NAT64 and 6to4 forms.
func AddressAllowed(ip netip.Addr) bool {
	if !ip.IsValid() {
		return false
	}
	ip = ip.Unmap().WithZone("")
	for _, p := range forbidden {
		if p.Contains(ip) {
			return false
		}
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip), v4compat.Contains(ip):
			return AddressAllowed(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return AddressAllowed(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	return true
}

// isDeniedAddress reports whether err came from the dialer's refusal.
func isDeniedAddress(err error) bool { return errors.Is(err, ErrDeniedAddress) }

func orDuration(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n <= 0 {
		return def
	}
	return n
}

func orInt64(n, def int64) int64 {
	if n <= 0 {
		return def
	}
	return n
}
