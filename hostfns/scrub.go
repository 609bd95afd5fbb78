package hostfns

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/sluicehq/sluice/tape"
)

// MinSecretLen is the shortest secret value a [Scrubber] removes.
//
// Shorter values are ignored on purpose. Replacing every "1234" or "admin"
// would mangle unrelated data (ids, numbers, words) on every page, and the
// pattern of what got redacted would itself tell an observer the secret: a
// guest that can make a remote echo its guesses back would have an oracle
// for a value small enough to enumerate. A credential that short is not a
// secret anyway; the connection's credential validation should refuse it.
const MinSecretLen = 6

// Scrubber removes secret values from everything that leaves the host's
// trust boundary: answers given to the guest, log lines, tapes, rejection
// reasons and stored data. Each secret is matched in its raw form and in
// the encodings a remote or a guest is likely to echo it in: standard and
// URL-safe base64 (padded and raw), URL query and path escaping, and JSON
// string escaping. Every match becomes [tape.Redacted].
//
// A base64 encoding of a secret concatenated with other bytes (HTTP Basic
// "user:secret") is not found by the secret alone; put the full header
// value in the Scrubber too, as [HTTP] does for the credentials it injects.
//
// The zero value and a nil *Scrubber scrub nothing. A Scrubber is safe for
// concurrent use; [Scrubber.Add] may be called while others scrub (tokens
// refreshed mid-run are added as they appear).
type Scrubber struct {
	mu     sync.Mutex
	values map[string]struct{}
	state  atomic.Pointer[scrubState]
}

// scrubState is an immutable snapshot, swapped whole on Add so the hot
// path takes no lock.
type scrubState struct {
	values []string // the raw secrets, sorted
	forms  []string // every form of every secret, longest first
	minLen int      // length of the shortest form
	r      *strings.Replacer
}

// NewScrubber returns a Scrubber for the given secret values. Values
// shorter than [MinSecretLen] are ignored.
func NewScrubber(secrets ...string) *Scrubber {
	s := &Scrubber{}
	s.Add(secrets...)
	return s
}

// Add adds secret values; values already known or shorter than
// [MinSecretLen] are ignored.
func (s *Scrubber) Add(secrets ...string) {
	if s == nil {
		return
	}
	if st := s.state.Load(); st != nil && allKnown(st.values, secrets) {
		return // the common case on every request: nothing new
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	changed := false
	for _, v := range secrets {
		if len(v) < MinSecretLen {
			continue
		}
		if _, ok := s.values[v]; ok {
			continue
		}
		if s.values == nil {
			s.values = map[string]struct{}{}
		}
		s.values[v] = struct{}{}
		changed = true
	}
	if changed {
		s.state.Store(buildScrubState(s.values))
	}
}

func allKnown(sorted []string, secrets []string) bool {
	for _, v := range secrets {
		if len(v) < MinSecretLen {
			continue
		}
		if _, ok := slices.BinarySearch(sorted, v); !ok {
			return false
		}
	}
	return true
}

func buildScrubState(values map[string]struct{}) *scrubState {
	st := &scrubState{}
	seen := map[string]struct{}{}
	for v := range values {
		st.values = append(st.values, v)
		for _, f := range secretForms(v) {
			if _, ok := seen[f]; !ok && f != "" {
				seen[f] = struct{}{}
				st.forms = append(st.forms, f)
			}
		}
	}
	slices.Sort(st.values)
	// Longest first: strings.Replacer tries its arguments in order, so a
	// padded base64 form wins over its unpadded prefix.
	slices.SortFunc(st.forms, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	if len(st.forms) == 0 {
		return nil
	}
	st.minLen = len(st.forms[len(st.forms)-1])
	pairs := make([]string, 0, 2*len(st.forms))
	for _, f := range st.forms {
		pairs = append(pairs, f, tape.Redacted)
	}
	st.r = strings.NewReplacer(pairs...)
	return st
}

// secretForms lists the encodings of v that are scrubbed.
func secretForms(v string) []string {
	b := []byte(v)
	forms := []string{
		v,
		base64.StdEncoding.EncodeToString(b),
		base64.RawStdEncoding.EncodeToString(b),
		base64.URLEncoding.EncodeToString(b),
		base64.RawURLEncoding.EncodeToString(b),
		url.QueryEscape(v),
		url.PathEscape(v),
	}
	// JSON string escaping, both with Go's HTML escapes (\u003c) and
	// without (as RFC 8785 and most other encoders write it).
	for _, html := range []bool{true, false} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(html)
		if enc.Encode(v) == nil {
			q := strings.TrimSuffix(buf.String(), "\n")
			forms = append(forms, q[1:len(q)-1])
		}
	}
	return forms
}

// String returns x with every secret form replaced by [tape.Redacted].
func (s *Scrubber) String(x string) string {
	st := s.snapshot()
	if st == nil || len(x) < st.minLen || !st.containsString(x) {
		return x
	}
	return st.r.Replace(x)
}

// Bytes returns b with every secret form replaced by [tape.Redacted]. When
// b holds no secret it is returned as is, not copied.
func (s *Scrubber) Bytes(b []byte) []byte {
	st := s.snapshot()
	if st == nil || len(b) < st.minLen || !st.containsBytes(b) {
		return b
	}
	return []byte(st.r.Replace(string(b)))
}

// Values returns the secret values scrubbed (raw form, sorted), for
// scanners that look for leaks in outputs, logs and tapes.
func (s *Scrubber) Values() []string {
	st := s.snapshot()
	if st == nil {
		return nil
	}
	return slices.Clone(st.values)
}

func (s *Scrubber) snapshot() *scrubState {
	if s == nil {
		return nil
	}
	return s.state.Load()
}

func (st *scrubState) containsString(x string) bool {
	for _, f := range st.forms {
		if strings.Contains(x, f) {
			return true
		}
	}
	return false
}

func (st *scrubState) containsBytes(b []byte) bool {
	for _, f := range st.forms {
		if bytes.Contains(b, []byte(f)) {
			return true
		}
	}
	return false
}

// cut returns the first n bytes of raw (unscrubbed) text, dropping any
// tail that is the beginning of a secret form: cutting through a secret
// would otherwise leave a prefix the scrubber no longer recognises. The
// result is also cut back to a UTF-8 boundary.
func (s *Scrubber) cut(x string, n int) string {
	if len(x) <= n {
		return x
	}
	x = truncateUTF8(x, n)
	st := s.snapshot()
	if st == nil {
		return x
	}
	for changed := true; changed; {
		changed = false
		for _, f := range st.forms {
			if k := partialSuffix(x, f); k > 0 {
				x = truncateUTF8(x, len(x)-k)
				changed = true
			}
		}
	}
	return x
}

// partialSuffix returns the length of the longest proper prefix of f that
// x ends with, or 0.
func partialSuffix(x, f string) int {
	for k := min(len(f)-1, len(x)); k > 0; k-- {
		if x[len(x)-1] == f[k-1] && strings.HasSuffix(x, f[:k]) {
			return k
		}
	}
	return 0
}

// truncateUTF8 cuts x to at most n bytes without splitting a rune.
func truncateUTF8(x string, n int) string {
	if len(x) <= n {
		return x
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(x[n]) {
		n--
	}
	return x[:n]
}

// scrubTree returns v with secret values replaced in every string, key
// and number. It rebuilds only what changes.
func scrubTree(st *scrubState, v any) any {
	switch x := v.(type) {
	case string:
		if len(x) >= st.minLen && st.containsString(x) {
			return st.r.Replace(x)
		}
	case json.Number:
		if len(x) >= st.minLen && st.containsString(string(x)) {
			return st.r.Replace(string(x)) // a number that held a secret becomes a string
		}
	case []any:
		for i, e := range x {
			x[i] = scrubTree(st, e)
		}
	case map[string]any:
		for k, e := range x {
			nv := scrubTree(st, e)
			if len(k) >= st.minLen && st.containsString(k) {
				delete(x, k)
				x[st.r.Replace(k)] = nv
				continue
			}
			x[k] = nv
		}
	}
	return v
}
