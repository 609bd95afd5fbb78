package jsonfast

import "encoding/json"

// Scalars validates obj as one JSON object and, for each keys[k] that
// names a top-level member (exact, case-sensitive match; the last one
// wins if repeated), sets out[k] to its value: a string's decoded text,
// a number's literal text (ids are often numbers), "" for null. found[k]
// reports whether the member was present. A member of another type
// (object, array, boolean) is an error naming the key.
func Scalars(obj []byte, keys []string, out []string, found []bool) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return ErrNotObject
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return trailing(obj, i+1)
	}
	var memberErr error
	for {
		if i >= len(obj) || obj[i] != '"' {
			return ErrNotObject
		}
		keyEnd, ok := skipString(obj, i)
		if !ok {
			return ErrNotObject
		}
		key := obj[i:keyEnd]
		i = skipSpace(obj, keyEnd)
		if i >= len(obj) || obj[i] != ':' {
			return ErrNotObject
		}
		i = skipSpace(obj, i+1)
		end, ok := skipValue(obj, i, 1)
		if !ok {
			return ErrNotObject
		}
		if k := keyIndex(key, keys); k >= 0 {
			v, err := scalar(obj[i:end])
			if err != nil && memberErr == nil {
				// Reported once the whole object proved valid.
				memberErr = &MemberError{Key: keys[k], Err: err}
			}
			out[k], found[k] = v, true
		}
		i = skipSpace(obj, end)
		if i >= len(obj) {
			return ErrNotObject
		}
		if obj[i] == '}' {
			if err := trailing(obj, i+1); err != nil {
				return err
			}
			return memberErr
		}
		if obj[i] != ',' {
			return ErrNotObject
		}
		i = skipSpace(obj, i+1)
	}
}

func trailing(obj []byte, i int) error {
	if skipSpace(obj, i) != len(obj) {
		return ErrNotObject
	}
	return nil
}

// keyIndex returns the index in keys of the quoted key token, or -1.
func keyIndex(token []byte, keys []string) int {
	raw := token[1 : len(token)-1]
	for k, want := range keys {
		if string(raw) == want {
			return k
		}
	}
	// An escaped key can still spell a wanted name.
	for _, c := range raw {
		if c == '\\' {
			var s string
			if json.Unmarshal(token, &s) == nil {
				for k, want := range keys {
					if s == want {
						return k
					}
				}
			}
			break
		}
	}
	return -1
}

// scalar returns the text of a string, number or null token.
func scalar(tok []byte) (string, error) {
	switch c := tok[0]; {
	case c == '"':
		if b, _, ok := plainBytes(tok, 0); ok {
			return string(b), nil
		}
		var s string
		err := json.Unmarshal(tok, &s)
		return s, err
	case c == 'n':
		return "", nil
	case c == '-' || (c >= '0' && c <= '9'):
		return string(tok), nil
	}
	return "", ErrNotScalar
}
