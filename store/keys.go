package store

import (
	"strconv"
	"time"
)

// Record kinds: the key segment after t/{tenant}/. Each ends with '/' so
// that no kind is a prefix of another ("r/" does not match "rt/...").
// doc.go documents the full layout.
const (
	kObject     = "o/"   // o/{entity}
	kTypeIndex  = "oi/"  // oi/{conn}/{type}/{entity}
	kMember     = "om/"  // om/{entity}/{conn}
	kEdge       = "e/"   // e/{conn}/{from}/{type}/{to}
	kLineage    = "l/"   // l/{entity}/{nanos}/{run}/{edge type}
	kCheckpoint = "ck/"  // ck/{conn}/{kind}/{stream}
	kRun        = "r/"   // r/{run}
	kRunTime    = "rt/"  // rt/{nanos}/{run}
	kRunConn    = "rn/"  // rn/{conn}/{nanos}/{run}
	kRunActive  = "ra/"  // ra/{conn}/{kind}/{run}
	kManifest   = "pm/"  // pm/{run}/{entity}
	kStaged     = "del/" // del/{run}/{entity}
	kSweep      = "sw/"  // sw/{run}/{entity}
	kReceipt    = "rc/"  // rc/{receipt}
	kTape       = "tp/"  // tp/{run}
	kSecret     = "s/"   // s/{conn}/{name}
	kKey        = "k/"   // k/{name}
)

// tenantRoot is the first segment of every key the store writes.
const tenantRoot = "t/"

const (
	maxIDLen     = 63  // tenant and connection ids, as the regexp in doc.go
	maxNameLen   = 128 // types, streams, kinds, run/receipt ids, secret and key names
	maxDigestLen = 256
	entityIDLen  = 36 // canonical UUID text
	maxCursorLen = 1024
	maxValueShow = 80 // longest value quoted in a ValidationError
)

// validID reports whether s matches ^[a-z0-9][a-z0-9_-]{0,62}$. It is
// written out by hand because it runs for every call; FuzzValidID checks
// it against the regexp.
func validID(s string) bool {
	if len(s) == 0 || len(s) > maxIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// validName reports whether s matches ^[A-Za-z0-9][A-Za-z0-9._:-]*$ with
// at most max bytes. A name never contains '/', so it is exactly one key
// segment, and never needs escaping in JSON, so the hand-built index
// values in page.go stay valid JSON.
func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == ':' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// validEntityID reports whether s is a canonical lower-case UUID, the
// form EntityID returns.
func validEntityID(s string) bool {
	if len(s) != entityIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		}
	}
	return true
}

func invalid(field, value, reason string) error {
	if len(value) > maxValueShow {
		value = value[:maxValueShow] + "…"
	}
	return &ValidationError{Field: field, Value: value, Reason: reason}
}

func checkID(field, v string) error {
	if validID(v) {
		return nil
	}
	return invalid(field, v, "must match ^[a-z0-9][a-z0-9_-]{0,62}$")
}

func checkName(field, v string) error {
	if validName(v, maxNameLen) {
		return nil
	}
	return invalid(field, v, "must be 1-128 characters of [A-Za-z0-9._:-], starting with a letter or digit")
}

func checkEntity(field, v string) error {
	if validEntityID(v) {
		return nil
	}
	return invalid(field, v, "must be a lower-case UUID as returned by EntityID")
}

func checkDigest(field, v string) error {
	if validName(v, maxDigestLen) {
		return nil
	}
	return invalid(field, v, "must be 1-256 characters of [A-Za-z0-9._:-]")
}

// checkTime refuses times whose Unix nanoseconds do not fit the
// fixed-width decimal used in time-ordered keys.
func checkTime(field string, t time.Time) error {
	if t.IsZero() {
		return invalid(field, "", "must be set")
	}
	if t.Before(minKeyTime) || t.After(maxKeyTime) {
		return invalid(field, t.String(), "must be between 1970 and 2262")
	}
	return nil
}

var (
	minKeyTime = time.Unix(0, 0)
	maxKeyTime = time.Unix(0, 1<<63-1)
)

// nanosLen is the width of the zero-padded decimal Unix nanoseconds in
// time-ordered keys (int64 max has 19 digits), so byte order is time order.
const nanosLen = 19

func appendNanos(b []byte, t time.Time) []byte {
	var tmp [nanosLen]byte
	d := strconv.AppendInt(tmp[:0], t.UnixNano(), 10)
	for i := len(d); i < nanosLen; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

func nanosString(t time.Time) string {
	return string(appendNanos(make([]byte, 0, nanosLen), t))
}

// keyLen is the length of prefix+kind+segs joined by '/'.
func keyLen(prefix []byte, kind string, segs []string) int {
	n := len(prefix) + len(kind)
	for _, s := range segs {
		n += len(s) + 1
	}
	if len(segs) > 0 {
		n--
	}
	return n
}

func appendKey(b, prefix []byte, kind string, segs []string) []byte {
	b = append(b, prefix...)
	b = append(b, kind...)
	for i, s := range segs {
		if i > 0 {
			b = append(b, '/')
		}
		b = append(b, s...)
	}
	return b
}

// key builds t/{tenant}/{kind}{segs joined by '/'}. Callers validate every
// segment first; key itself never sees outside input unvalidated.
func (t *Tenant) key(kind string, segs ...string) []byte {
	return appendKey(make([]byte, 0, keyLen(t.prefix, kind, segs)), t.prefix, kind, segs)
}

// prefixOf is key with a trailing '/', the prefix of every key below it.
func (t *Tenant) prefixOf(kind string, segs ...string) []byte {
	n := keyLen(t.prefix, kind, segs)
	if len(segs) > 0 {
		n++
	}
	b := appendKey(make([]byte, 0, n), t.prefix, kind, segs)
	if len(segs) > 0 {
		b = append(b, '/')
	}
	return b
}

// arena hands out sub-slices of large chunks, so the ~2,500 keys and
// values of a page cost a few allocations instead of thousands. Badger
// keeps references to keys and values until the transaction ends, so a
// slice is never reused; a full chunk is simply left to the GC once the
// transaction drops its references.
type arena struct {
	cur  []byte
	last []byte // the bytes of the last Write
}

const arenaChunk = 64 << 10

func (a *arena) alloc(n int) []byte {
	if cap(a.cur)-len(a.cur) < n {
		if n > arenaChunk/4 {
			return make([]byte, n)
		}
		a.cur = make([]byte, 0, arenaChunk)
	}
	s := len(a.cur)
	a.cur = a.cur[:s+n]
	return a.cur[s : s+n : s+n]
}

// Write copies p into the arena; json.Encoder writes each value in one
// call, so last is exactly one encoded value (with its trailing newline).
func (a *arena) Write(p []byte) (int, error) {
	b := a.alloc(len(p))
	copy(b, p)
	a.last = b
	return len(p), nil
}

func (a *arena) key(prefix []byte, kind string, segs ...string) []byte {
	return appendKey(a.alloc(keyLen(prefix, kind, segs))[:0], prefix, kind, segs)
}

// quoted returns s as a JSON string. Only names and digests reach it,
// which never need escaping (see validName).
func (a *arena) quoted(s string) []byte {
	b := a.alloc(len(s) + 2)[:0]
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// unquote is the inverse of quoted, with a JSON fallback for values this
// package did not write itself.
func unquote(v []byte) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		inner := v[1 : len(v)-1]
		plain := true
		for _, c := range inner {
			if c == '\\' || c == '"' || c < 0x20 {
				plain = false
				break
			}
		}
		if plain {
			return string(inner), nil
		}
	}
	var s string
	err := unmarshal(v, &s)
	return s, err
}
