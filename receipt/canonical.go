package receipt

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// maxNesting matches the nesting limit of github.com/gowebpki/jcs, so that
// every document jcs canonicalises is one this scanner accepts.
const maxNesting = 10000

// member is one name/value pair of a canonical JSON object.
type member struct {
	key   []byte // the name as written, without quotes (canonical escaping)
	value []byte // the canonical JSON value
	esc   bool   // key holds an escape sequence, so its text is not its value
}

// canonical reports whether data is RFC 8785 canonical JSON exactly as
// github.com/gowebpki/jcs writes it (jcs.Transform(data) == data), without
// building a tree. It is the cheap check that lets ObjectDigest hash values
// as they are; FuzzCanonical holds it to jcs.Transform in both directions.
func canonical(data []byte) bool {
	s := scanner{data: data}
	return s.value(nil) && s.pos == len(data)
}

// canonicalMembers appends the members of data to dst if data is a
// canonical JSON object, and reports whether it was.
func canonicalMembers(data []byte, dst []member) ([]member, bool) {
	if len(data) == 0 || data[0] != '{' {
		return dst, false
	}
	s := scanner{data: data}
	if !s.object(&dst) || s.pos != len(data) {
		return dst, false
	}
	return dst, true
}

// canonicalise returns data if it is canonical, else jcs.Transform(data).
func canonicalise(data []byte) ([]byte, error) {
	if canonical(data) {
		return data, nil
	}
	return jcs.Transform(data)
}

// scanner walks canonical JSON. Each method starts at the first byte of
// its token, leaves pos just after it, and reports false at the first byte
// that jcs would not have written.
type scanner struct {
	data  []byte
	pos   int
	depth int
}

func (s *scanner) value(top *[]member) bool {
	if s.pos >= len(s.data) {
		return false
	}
	switch s.data[s.pos] {
	case '{':
		return s.object(top)
	case '[':
		return s.array()
	case '"':
		_, _, ok := s.str()
		return ok
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		return s.number()
	}
}

func (s *scanner) literal(lit string) bool {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(lit)) {
		return false
	}
	s.pos += len(lit)
	return true
}

// object scans an object; if dst is not nil its members are appended.
func (s *scanner) object(dst *[]member) bool {
	if s.depth++; s.depth > maxNesting {
		return false
	}
	defer func() { s.depth-- }()
	s.pos++ // '{'
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return true
	}
	var prev []byte
	var prevPlain bool
	for first := true; ; first = false {
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return false
		}
		start := s.pos + 1
		plain, esc, ok := s.str()
		if !ok {
			return false
		}
		key := s.data[start : s.pos-1]
		if !first && !keyLess(prev, prevPlain, key, plain) {
			return false // out of order or duplicate
		}
		prev, prevPlain = key, plain
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return false
		}
		s.pos++
		vstart := s.pos
		if !s.value(nil) {
			return false
		}
		if dst != nil {
			*dst = append(*dst, member{key: key, value: s.data[vstart:s.pos], esc: esc})
		}
		if s.pos >= len(s.data) {
			return false
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case '}':
			s.pos++
			return true
		default:
			return false
		}
	}
}

func (s *scanner) array() bool {
	if s.depth++; s.depth > maxNesting {
		return false
	}
	defer func() { s.depth-- }()
	s.pos++ // '['
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return true
	}
	for {
		if !s.value(nil) || s.pos >= len(s.data) {
			return false
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
		case ']':
			s.pos++
			return true
		default:
			return false
		}
	}
}

// str scans a string. plain reports that its bytes compare in UTF-16 order
// (no escape and no code point from U+E000 up, where UTF-8 and UTF-16
// orders part); esc reports that it holds an escape sequence.
func (s *scanner) str() (plain, esc, ok bool) {
	plain = true
	s.pos++ // '"'
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return plain, esc, true
		case c == '\\':
			if !s.escape() {
				return false, false, false
			}
			plain, esc = false, true
		case c < 0x20:
			return false, false, false
		case c < utf8.RuneSelf:
			s.pos++
		default:
			r, size := utf8.DecodeRune(s.data[s.pos:])
			if r == utf8.RuneError && size <= 1 {
				return false, false, false
			}
			if r >= 0xE000 {
				plain = false
			}
			s.pos += size
		}
	}
	return false, false, false
}

// escape accepts exactly the escapes jcs writes: the two-character ones,
// and \u00xx (lower-case hex) for the other control characters.
func (s *scanner) escape() bool {
	if s.pos+1 >= len(s.data) {
		return false
	}
	switch s.data[s.pos+1] {
	case '"', '\\', 'b', 'f', 'n', 'r', 't':
		s.pos += 2
		return true
	case 'u':
		if s.pos+6 > len(s.data) {
			return false
		}
		h := s.data[s.pos+2 : s.pos+6]
		if h[0] != '0' || h[1] != '0' || (h[2] != '0' && h[2] != '1') {
			return false
		}
		lo := lowerHex(h[3])
		if lo < 0 {
			return false
		}
		c := int(h[2]-'0')<<4 | lo
		if c == '\b' || c == '\t' || c == '\n' || c == '\f' || c == '\r' {
			return false
		}
		s.pos += 6
		return true
	}
	return false
}

func lowerHex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	}
	return -1
}

// maxExactDigits is how many decimal digits an integer may have and still
// be written by ES6 number formatting exactly as it is (10^15 < 2^53).
const maxExactDigits = 15

// number scans a number in the RFC 8259 grammar and accepts it only if it
// is written as ES6 would write its IEEE double value.
func (s *scanner) number() bool {
	start := s.pos
	d := s.data
	if s.pos < len(d) && d[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(d) && d[s.pos] == '0':
		s.pos++
	case s.pos < len(d) && '1' <= d[s.pos] && d[s.pos] <= '9':
		s.digits()
	default:
		return false
	}
	intEnd := s.pos
	if s.pos < len(d) && d[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return false
		}
	}
	if s.pos < len(d) && (d[s.pos] == 'e' || d[s.pos] == 'E') {
		s.pos++
		if s.pos < len(d) && (d[s.pos] == '+' || d[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return false
		}
	}
	text := d[start:s.pos]
	if intEnd == s.pos { // an integer
		digits := text
		if digits[0] == '-' {
			digits = digits[1:]
		}
		if len(digits) <= maxExactDigits {
			return string(text) != "-0"
		}
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return false
	}
	var buf [32]byte
	return bytes.Equal(appendES6Number(buf[:0], f), text)
}

// appendES6Number appends f as ES6 (and so RFC 8785) writes it; it is
// jcs.NumberToJSON without the allocations. f must be finite.
func appendES6Number(dst []byte, f float64) []byte {
	if f == 0 { // 0 and -0
		return append(dst, '0')
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	if f < 1e21 && f >= 1e-6 {
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'e', -1, 64)
	// Go writes at least two exponent digits ("1e+09"); ES6 writes "1e+9".
	if e := bytes.IndexByte(dst[start:], 'e'); e >= 0 && dst[start+e+2] == '0' {
		dst = append(dst[:start+e+2], dst[start+e+3:]...)
	}
	return dst
}

func (s *scanner) digits() int {
	n := 0
	for s.pos < len(s.data) && '0' <= s.data[s.pos] && s.data[s.pos] <= '9' {
		s.pos++
		n++
	}
	return n
}

// keyLess reports whether canonical key a sorts strictly before key b in
// the UTF-16 code unit order RFC 8785 uses.
func keyLess(a []byte, aPlain bool, b []byte, bPlain bool) bool {
	if aPlain && bPlain {
		return bytes.Compare(a, b) < 0
	}
	return compareUTF16(string(unescape(nil, a)), string(unescape(nil, b))) < 0
}

// compareUTF16 compares two valid UTF-8 strings by their UTF-16 code units.
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			if ua, ub := utf16Unit(ra), utf16Unit(rb); ua != ub {
				return ua - ub
			}
			// Two supplementary code points under one high surrogate:
			// their low surrogates sort as the code points do.
			return int(ra) - int(rb)
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// utf16Unit returns the first UTF-16 code unit of r, which decides the
// order of two different code points.
func utf16Unit(r rune) int {
	if hi, _ := utf16.EncodeRune(r); hi != utf8.RuneError {
		return int(hi)
	}
	return int(r)
}

// unescape appends the value of canonical string text key to dst.
func unescape(dst, key []byte) []byte {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c != '\\' || i+1 >= len(key) {
			dst = append(dst, c)
			continue
		}
		i++
		switch key[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u': // \u00xx, checked by the scanner
			if i+4 < len(key) {
				dst = append(dst, byte(lowerHex(key[i+3])<<4|lowerHex(key[i+4])))
				i += 4
			}
		default: // '"' and '\\'
			dst = append(dst, key[i])
		}
	}
	return dst
}

// appendString appends s as a JCS string. s must be valid UTF-8.
func appendString(dst []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			if c < 0x20 {
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			} else {
				dst = append(dst, c)
			}
		}
	}
	return append(dst, '"')
}
