package hostfns

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/gowebpki/jcs"
)

// appendCanonical appends the RFC 8785 (JCS) serialisation of a value
// decoded by encoding/json with UseNumber. It writes straight from the
// tree the emitter already decoded for schema validation, so the hot path
// parses an object's data once instead of once more inside jcs.Transform;
// numbers still go through jcs.NumberToJSON, and tests pin the output to
// jcs.Transform byte for byte.
func appendCanonical(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return appendJCSString(dst, x), nil
	case json.Number:
		return appendJCSNumber(dst, string(x))
	case float64:
		s, err := jcs.NumberToJSON(x)
		if err != nil {
			return nil, err
		}
		return append(dst, s...), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendCanonical(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, compareUTF16)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJCSString(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendCanonical(dst, x[k]); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("unsupported JSON value %T", v)
}

var errNumberRange = errors.New("number out of the IEEE 754 double range")

func appendJCSNumber(dst []byte, s string) ([]byte, error) {
	// Fast path: small integers print as themselves (no exponent, no
	// fraction, no leading zero or sign quirks to normalise).
	if len(s) <= 15 && isPlainInt(s) {
		return append(dst, s...), nil
	}
	f, err := strconv.ParseFloat(s, 64)
	switch {
	case err == nil:
	case errors.Is(err, strconv.ErrRange) && !math.IsInf(f, 0):
		// Underflow: the nearest double (0 or a subnormal) is what an
		// RFC 8785 implementation prints too.
	case errors.Is(err, strconv.ErrRange):
		return nil, fmt.Errorf("%s: %w", truncateUTF8(s, 32), errNumberRange)
	default:
		return nil, err
	}
	out, err := jcs.NumberToJSON(f)
	if err != nil {
		return nil, err
	}
	return append(dst, out...), nil
}

// isPlainInt reports an integer literal as JCS would print it: optional
// minus, no leading zeros, not "-0".
func isPlainInt(s string) bool {
	if s == "" || s == "-" {
		return false
	}
	d := s
	if d[0] == '-' {
		d = d[1:]
	}
	if d[0] == '0' {
		return len(s) == 1 // "0" yes, "-0" and "01" no
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return true
}

const hexDigits = "0123456789abcdef"

// appendJCSString writes s as RFC 8785 §3.2.2.2 says: only '"', '\\' and
// control characters are escaped (short forms where JSON has them, else
// \u00xx in lower case); everything else, "<", "/" and U+2028 included,
// is written as is. s is valid UTF-8 (encoding/json replaced bad bytes).
func appendJCSString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts object keys. UTF-8 byte order equals code point order, which
// differs from UTF-16 order only between a supplementary character
// (surrogate pair, D800–DBFF first) and a BMP character at E000–FFFF.
func compareUTF16(a, b string) int {
	for len(a) > 0 && len(b) > 0 {
		if a[0] < utf8.RuneSelf && b[0] < utf8.RuneSelf {
			if a[0] != b[0] {
				return int(a[0]) - int(b[0])
			}
			a, b = a[1:], b[1:]
			continue
		}
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			return int(utf16Key(ra)) - int(utf16Key(rb))
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) - len(b)
}

// utf16Key maps a rune to a value that orders like its UTF-16 encoding
// when compared with a different rune: supplementary characters sort
// between U+D7FF and U+E000 (where their lead surrogates are), and among
// themselves by code point.
func utf16Key(r rune) int64 {
	if r >= 0x10000 {
		return 0xD800<<16 + int64(r) // above every key of a rune < U+D800, below U+E000's
	}
	return int64(r) << 16
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case []any:
		return "an array"
	}
	return "an object"
}
