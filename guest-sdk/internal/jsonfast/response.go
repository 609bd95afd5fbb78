package jsonfast

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// DecodeHTTPResponse decodes a sluice_http answer into r exactly as
// json.Unmarshal would, without scanning the (large, base64) body byte
// by byte twice. It handles the documents a host writes with
// encoding/json: plain ASCII keys and strings without escapes, an integer
// status, headers as an object of strings. On anything else (escapes,
// non-ASCII text, repeated or case-folded keys, invalid JSON) it returns
// false and leaves r alone: the caller falls back to json.Unmarshal,
// which then decides.
func DecodeHTTPResponse(data []byte, r *protocol.HTTPResponse) bool {
	var out protocol.HTTPResponse
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		i++
	} else {
		seen := map[string]bool{}
		for {
			key, next, ok := plainString(data, i)
			if !ok || seen[key] {
				return false
			}
			seen[key] = true
			i = skipSpace(data, next)
			if i >= len(data) || data[i] != ':' {
				return false
			}
			if i, ok = responseField(data, skipSpace(data, i+1), key, &out); !ok {
				return false
			}
			i = skipSpace(data, i)
			if i >= len(data) {
				return false
			}
			if data[i] == '}' {
				i++
				break
			}
			if data[i] != ',' {
				return false
			}
			i = skipSpace(data, i+1)
		}
	}
	if skipSpace(data, i) != len(data) {
		return false
	}
	*r = out
	return true
}

var responseKeys = []string{"status", "headers", "body", "error", "error_type"}

// responseField decodes the value at data[i] of the member named key.
func responseField(data []byte, i int, key string, out *protocol.HTTPResponse) (int, bool) {
	if end, ok := skipLiteral(data, i, "null"); ok {
		return end, true // json.Unmarshal leaves the field as it is
	}
	switch key {
	case "status":
		end, ok := skipNumber(data, i)
		if !ok {
			return i, false
		}
		n, err := strconv.ParseInt(string(data[i:end]), 10, strconv.IntSize)
		if err != nil {
			return i, false
		}
		out.Status = int(n)
		return end, true
	case "headers":
		return stringMap(data, i, &out.Headers)
	case "body":
		s, end, ok := plainBytes(data, i)
		if !ok {
			return i, false
		}
		b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(b, s)
		if err != nil {
			return i, false
		}
		out.Body = b[:n]
		return end, true
	case "error":
		s, end, ok := plainString(data, i)
		out.Error = s
		return end, ok
	case "error_type":
		s, end, ok := plainString(data, i)
		out.ErrorType = s
		return end, ok
	}
	for _, k := range responseKeys {
		if strings.EqualFold(k, key) {
			return i, false // json.Unmarshal would match it case-insensitively
		}
	}
	return skipValue(data, i, 1) // unknown members are ignored
}

// stringMap decodes an object whose values are all plain strings.
func stringMap(data []byte, i int, m *map[string]string) (int, bool) {
	if i >= len(data) || data[i] != '{' {
		return i, false
	}
	out := map[string]string{}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		*m = out
		return i + 1, true
	}
	for {
		k, next, ok := plainString(data, i)
		if !ok {
			return i, false
		}
		i = skipSpace(data, next)
		if i >= len(data) || data[i] != ':' {
			return i, false
		}
		v, next, ok := plainString(data, skipSpace(data, i+1))
		if !ok {
			return i, false
		}
		out[k] = v
		i = skipSpace(data, next)
		if i >= len(data) {
			return i, false
		}
		switch data[i] {
		case '}':
			*m = out
			return i + 1, true
		case ',':
			i = skipSpace(data, i+1)
		default:
			return i, false
		}
	}
}

// plainBytes returns the contents of the string at data[i] when it is
// printable ASCII without escapes, the one case where its bytes are its
// value, and the index just past it.
func plainBytes(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != '"' {
		return nil, i, false
	}
	for j := i + 1; j < len(data); j++ {
		switch c := data[j]; {
		case c == '"':
			return data[i+1 : j], j + 1, true
		case c < 0x20 || c == '\\' || c >= 0x80:
			return nil, i, false
		}
	}
	return nil, i, false
}

func plainString(data []byte, i int) (string, int, bool) {
	b, end, ok := plainBytes(data, i)
	return string(b), end, ok
}
