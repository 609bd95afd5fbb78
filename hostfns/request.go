package hostfns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
	"github.com/sluicehq/sluice/tape"
)

// hostRule is a compiled [protocol.HostRule].
type hostRule struct {
	scheme  string
	port    string
	methods map[string]bool
}

// compileRules indexes the manifest's rules by lower-case host name. A
// rule without a port allows any port of that host (port "" below); a
// rule whose scheme is neither http nor https never matches.
func compileRules(rules []protocol.HostRule) map[string][]hostRule {
	out := map[string][]hostRule{}
	for _, r := range rules {
		scheme := strings.ToLower(r.Scheme)
		if scheme == "" {
			scheme = "https"
		}
		if scheme != "http" && scheme != "https" {
			continue
		}
		host, port := r.Host, ""
		if hp, p, err := net.SplitHostPort(r.Host); err == nil {
			host, port = hp, p
		}
		host = strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
		hr := hostRule{scheme: scheme, port: port, methods: map[string]bool{}}
		for _, m := range r.Methods {
			hr.methods[strings.ToUpper(m)] = true
		}
		out[host] = append(out[host], hr)
	}
	return out
}

func defaultPort(scheme string) string {
	if scheme == "http" {
		return "80"
	}
	return "443"
}

// outbound is a request that passed the policy, ready to send.
type outbound struct {
	method     string
	url        string
	header     http.Header
	body       []byte
	secret     map[string]bool // canonical names of headers carrying a secret
	authName   string
	idempotent bool
}

// denial is an answer the host gives instead of sending a request.
type denial struct {
	errorType string
	msg       string
}

func deny(errorType, format string, args ...any) *denial {
	return &denial{errorType: errorType, msg: fmt.Sprintf(format, args...)}
}

// checkPolicy applies what depends only on the manifest and the request:
// URL shape, host, scheme, port and method. Its answers are the same in a
// live run and in its replay.
func (h *HTTP) checkPolicy(req *protocol.HTTPRequest) (*outbound, *denial) {
	method := strings.ToUpper(strings.TrimSpace(req.Method))
	if method == "" {
		method = http.MethodGet
	}
	if !validToken(method) {
		return nil, deny(ErrorTypeBadRequest, "invalid method %q", truncateUTF8(method, 32))
	}
	u, err := url.Parse(req.URL)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return nil, deny(ErrorTypeBadRequest, "url must be an absolute http or https URL")
	}
	if u.User != nil {
		return nil, deny(ErrorTypeBadRequest, "credentials in the URL are not allowed; use \"auth\" or a {{secret:NAME}} header")
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname())
	rules := h.rules[host]
	if len(rules) == 0 {
		return nil, deny(ErrorTypeDeniedHost, "host %q is not declared in the manifest", truncateUTF8(host, 256))
	}
	rules = slices.DeleteFunc(slices.Clone(rules), func(r hostRule) bool { return r.scheme != scheme })
	if len(rules) == 0 {
		return nil, deny(ErrorTypeDeniedScheme, "scheme %q is not declared for host %q", truncateUTF8(scheme, 16), host)
	}
	port := u.Port()
	if port == "" {
		port = defaultPort(scheme)
	}
	rules = slices.DeleteFunc(rules, func(r hostRule) bool { return r.port != "" && r.port != port })
	if len(rules) == 0 {
		return nil, deny(ErrorTypeDeniedHost, "port %s is not declared for host %q", truncateUTF8(port, 8), host)
	}
	if !slices.ContainsFunc(rules, func(r hostRule) bool { return r.methods[method] }) {
		return nil, deny(ErrorTypeDeniedMethod, "method %s is not declared for host %q", method, host)
	}
	if h.cfg.ReadOnly && method != http.MethodGet && method != http.MethodHead {
		return nil, deny(ErrorTypeDeniedMethod, "method %s is not allowed in a read-only call: only GET and HEAD", method)
	}
	u.Fragment, u.RawFragment = "", ""
	o := &outbound{
		method: method,
		url:    u.String(),
		header: http.Header{},
		body:   req.Body,
		secret: map[string]bool{},
	}
	if d := h.copyHeaders(o, req.Headers); d != nil {
		return nil, d
	}
	o.idempotent = idempotentMethod(method) || o.header.Get("Idempotency-Key") != ""
	return o, nil
}

// Headers a guest may not set: hop-by-hop headers (RFC 9110 §7.6.1), the
// target (Host), framing the host computes, credentials (only the host
// injects them) and the correlation id and trace context (the host's).
func strippedHeader(canonical string) bool {
	switch canonical {
	case "Host", "Authorization", "Proxy-Authorization", "Proxy-Authenticate",
		"Connection", "Proxy-Connection", "Keep-Alive", "Te", "Trailer",
		"Transfer-Encoding", "Upgrade", "Content-Length", "Expect", "X-Correlation-Id",
		"Traceparent", "Tracestate":
		return true
	}
	return false
}

// copyHeaders copies the guest's headers, in a stable order, minus the
// stripped ones and those its Connection header names.
func (h *HTTP) copyHeaders(o *outbound, in map[string]string) *denial {
	keys := make([]string, 0, len(in))
	connNamed := map[string]bool{}
	for k, v := range in {
		keys = append(keys, k)
		if http.CanonicalHeaderKey(k) == "Connection" {
			for _, t := range strings.Split(v, ",") {
				connNamed[http.CanonicalHeaderKey(strings.TrimSpace(t))] = true
			}
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !validToken(k) {
			return deny(ErrorTypeBadRequest, "invalid header name %q", truncateUTF8(k, 64))
		}
		ck := http.CanonicalHeaderKey(k)
		if strippedHeader(ck) || connNamed[ck] {
			continue
		}
		v := in[k]
		if !validHeaderValue(v) {
			return deny(ErrorTypeBadRequest, "invalid value for header %s", ck)
		}
		if strings.Contains(v, secretOpen) {
			o.secret[ck] = true
		}
		o.header.Set(ck, v)
	}
	return nil
}

const secretOpen = "{{secret:"

// injectCredentials expands {{secret:NAME}} references and adds the
// "auth" credential. In replay mode no credential is looked up: the
// values become [tape.Redacted], as they are on the tape.
func (h *HTTP) injectCredentials(ctx context.Context, o *outbound, auth string) *denial {
	replay := h.cfg.Player != nil
	for ck := range o.secret {
		v, d := h.expandSecrets(o.header.Get(ck), replay)
		if d != nil {
			return d
		}
		o.header.Set(ck, v)
	}
	if auth == "" {
		return nil
	}
	o.authName = auth
	if replay {
		return nil
	}
	if h.cfg.Credentials == nil {
		return deny(ErrorTypeDeniedSecret, "credential %q: this connection has no credentials", truncateUTF8(auth, 64))
	}
	name, value, err := h.cfg.Credentials.Authorization(ctx, auth)
	switch {
	case errors.Is(err, ErrUnknownCredential):
		return deny(ErrorTypeDeniedSecret, "credential %q is not set for this connection", truncateUTF8(auth, 64))
	case errors.Is(err, ErrDeniedAddress):
		return deny(ErrorTypeDeniedAddress, "credential %q: %s", truncateUTF8(auth, 64), h.cfg.Scrub.String(err.Error()))
	case err != nil:
		return deny(ErrorTypeAuth, "credential %q: %s", truncateUTF8(auth, 64), h.cfg.Scrub.String(err.Error()))
	case !validToken(name) || !validHeaderValue(value):
		return deny(ErrorTypeAuth, "credential %q is not a valid header", truncateUTF8(auth, 64))
	}
	h.learnSecret(value)
	ck := http.CanonicalHeaderKey(name)
	o.header.Set(ck, value)
	o.secret[ck] = true
	return nil
}

// learnSecret makes sure an injected value is scrubbed even if the engine
// did not list it (a token fetched mid-run): the whole value and, for
// "Scheme token" values, the token alone.
func (h *HTTP) learnSecret(value string) {
	h.cfg.Scrub.Add(value)
	if _, tok, ok := strings.Cut(value, " "); ok {
		h.cfg.Scrub.Add(strings.TrimSpace(tok))
	}
}

func (h *HTTP) expandSecrets(v string, replay bool) (string, *denial) {
	var b strings.Builder
	for {
		i := strings.Index(v, secretOpen)
		if i < 0 {
			b.WriteString(v)
			break
		}
		b.WriteString(v[:i])
		rest := v[i+len(secretOpen):]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return "", deny(ErrorTypeBadRequest, "unterminated {{secret: reference")
		}
		name := rest[:j]
		if !validSecretName(name) {
			return "", deny(ErrorTypeBadRequest, "invalid secret name %q", truncateUTF8(name, 64))
		}
		val := tape.Redacted
		if !replay {
			var ok bool
			if h.cfg.Credentials != nil {
				val, ok = h.cfg.Credentials.Secret(name)
			}
			if !ok {
				return "", deny(ErrorTypeDeniedSecret, "secret %q is not set for this connection", name)
			}
			h.learnSecret(val)
		}
		b.WriteString(val)
		v = rest[j+2:]
	}
	out := b.String()
	if !validHeaderValue(out) {
		return "", deny(ErrorTypeDeniedSecret, "a secret is not a valid header value")
	}
	return out, nil
}

// recordForm is the request as the tape keeps it: headers that carried a
// secret are [tape.Redacted], everything else scrubbed.
func (h *HTTP) recordForm(req *protocol.HTTPRequest, o *outbound) protocol.HTTPRequest {
	rec := protocol.HTTPRequest{
		Method: req.Method,
		URL:    h.cfg.Scrub.String(req.URL),
		Body:   h.cfg.Scrub.Bytes(req.Body),
		Auth:   req.Auth,
	}
	if o == nil {
		return rec
	}
	rec.Method, rec.URL = o.method, h.cfg.Scrub.String(o.url)
	if len(o.header) > 0 {
		rec.Headers = make(map[string]string, len(o.header))
		for k, vs := range o.header {
			if o.secret[k] {
				rec.Headers[k] = tape.Redacted
				continue
			}
			rec.Headers[k] = h.cfg.Scrub.String(strings.Join(vs, ", "))
		}
	}
	return rec
}

func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters but horizontal tab: a CR or
// LF would let a value smuggle in another header.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func validSecretName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}
