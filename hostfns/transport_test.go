package hostfns

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

func TestAddressAllowed(t *testing.T) {
	cases := []struct {
		addr string
		want bool
	}{
		{"93.184.216.34", true},
		{"8.8.8.8", true},
		{"2606:4700:4700::1111", true},
		{"64:ff9b::808:808", true}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", true},  // 6to4 of 8.8.8.8
		{"127.0.0.1", false},
		{"127.255.0.9", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"169.254.0.1", false},
		{"100.64.0.1", false}, // CGNAT
		{"100.127.255.254", false},
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"255.255.255.255", false},
		{"240.0.0.1", false},
		{"::", false},
		{"::1", false},
		{"fc00::1", false},
		{"fd12:3456::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"ff02::1", false},
		{"::ffff:127.0.0.1", false},       // IPv4-mapped loopback
		{"::ffff:169.254.169.254", false}, // IPv4-mapped metadata
		{"::ffff:10.0.0.1", false},
		{"::127.0.0.1", false},         // IPv4-compatible
		{"64:ff9b::a9fe:a9fe", false},  // NAT64 of 169.254.169.254
		{"2002:a9fe:a9fe::1", false},   // 6to4 of 169.254.169.254
		{"2002:7f00:1::1", false},      // 6to4 of 127.0.0.1
		{"fd00:ec2::254", false},       // AWS IPv6 metadata (ULA)
		{"2001:db8::1", false},         // documentation
		{"2001:0:4136:e378::1", false}, // Teredo
	}
	for _, tc := range cases {
		ip := netip.MustParseAddr(tc.addr)
		if got := AddressAllowed(ip); got != tc.want {
			t.Errorf("AddressAllowed(%s) = %v, want %v", tc.addr, got, tc.want)
		}
	}
	if AddressAllowed(netip.Addr{}) {
		t.Error("the zero Addr is allowed")
	}
}

// TestDeniedAddressLocalhost: a declared host that resolves to loopback is
// refused at dial time without AllowPrivate, and the server is never hit.
func TestDeniedAddressLocalhost(t *testing.T) {
	var hits atomic.Int32
	srv, hp := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	port := hp[strings.LastIndexByte(hp, ':')+1:]
	st := &NetStats{}
	h := NewHTTP(HTTPConfig{
		Hosts:     []protocol.HostRule{{Host: "localhost:" + port, Scheme: "http", Methods: []string{"GET"}}},
		Transport: NewTransport(NetOptions{}), // production setting
		Stats:     st,
	})
	resp := h.Do(context.Background(), get("http://localhost:"+port+"/"))
	if resp.Status != 0 || resp.ErrorType != ErrorTypeDeniedAddress {
		t.Fatalf("got %d %q %s, want denied_address", resp.Status, resp.ErrorType, resp.Error)
	}
	if hits.Load() != 0 || st.Retries.Load() != 0 || st.LastDenial() != ErrorTypeDeniedAddress {
		t.Fatalf("hits %d retries %d last denial %q", hits.Load(), st.Retries.Load(), st.LastDenial())
	}
	_ = srv
}

// fakeResolver answers from a map; anything else is an error. No lookup
// leaves the process.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, errors.New("no such host")
}

func TestDialerChecksResolvedAddresses(t *testing.T) {
	var hits atomic.Int32
	_, hp := server(t, func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	port := hp[strings.LastIndexByte(hp, ':')+1:]
	res := fakeResolver{
		"metadata.test": {netip.MustParseAddr("169.254.169.254")},
		"mixed.test":    {netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("::ffff:127.0.0.1")},
		"api.test":      {netip.MustParseAddr("127.0.0.1")},
	}
	rules := []protocol.HostRule{
		{Host: "metadata.test:" + port, Scheme: "http", Methods: []string{"GET"}},
		{Host: "mixed.test:" + port, Scheme: "http", Methods: []string{"GET"}},
		{Host: "api.test:" + port, Scheme: "http", Methods: []string{"GET"}},
		{Host: "169.254.169.254", Scheme: "http", Methods: []string{"GET"}},
		{Host: "[::ffff:127.0.0.1]:" + port, Scheme: "http", Methods: []string{"GET"}},
	}
	strict := NewHTTP(HTTPConfig{Hosts: rules, Transport: NewTransport(NetOptions{Resolver: res})})
	for _, u := range []string{
		"http://metadata.test:" + port + "/latest/meta-data/",
		"http://mixed.test:" + port + "/",
		"http://api.test:" + port + "/",
		"http://169.254.169.254/latest/meta-data/",
		"http://[::ffff:127.0.0.1]:" + port + "/",
	} {
		if resp := strict.Do(context.Background(), get(u)); resp.ErrorType != ErrorTypeDeniedAddress {
			t.Errorf("%s: got %d %q %s, want denied_address", u, resp.Status, resp.ErrorType, resp.Error)
		}
	}
	if hits.Load() != 0 {
		t.Fatalf("server hit %d times", hits.Load())
	}
	// With AllowPrivate the dialer connects to the address it resolved
	// itself: api.test exists only in the fake resolver.
	tr := NewTransport(NetOptions{Resolver: res, AllowPrivate: true})
	defer tr.CloseIdleConnections()
	open := NewHTTP(HTTPConfig{Hosts: rules, Transport: tr})
	if resp := open.Do(context.Background(), get("http://api.test:"+port+"/")); resp.Status != 200 {
		t.Fatalf("api.test with AllowPrivate: %d %s", resp.Status, resp.Error)
	}
	if hits.Load() != 1 {
		t.Fatalf("server hit %d times, want 1", hits.Load())
	}
}

func TestTransportSettings(t *testing.T) {
	tr := NewTransport(NetOptions{})
	if tr.Proxy != nil {
		t.Error("the transport uses a proxy function")
	}
	if tr.DialContext == nil || tr.TLSHandshakeTimeout == 0 || tr.ResponseHeaderTimeout == 0 ||
		tr.MaxIdleConnsPerHost == 0 || tr.MaxConnsPerHost == 0 || tr.IdleConnTimeout == 0 {
		t.Errorf("missing bounds: %+v", tr)
	}
	d := &guardedDialer{resolver: fakeResolver{}}
	if _, err := d.DialContext(context.Background(), "unix", "/tmp/x.sock"); err == nil {
		t.Error("dialled a unix socket")
	}
}
