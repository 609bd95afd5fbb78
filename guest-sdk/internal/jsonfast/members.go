package jsonfast

import "encoding/json"

// walkObject validates obj as one JSON object and calls fn for each
// member, in order, with its quoted key token and its raw value (both
// subslices of obj).
func walkObject(obj []byte, fn func(key, val []byte)) error {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return ErrNotObject
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return trailing(obj, i+1, ErrNotObject)
	}
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
		fn(key, obj[i:end:end])
		i = skipSpace(obj, end)
		if i >= len(obj) {
			return ErrNotObject
		}
		if obj[i] == '}' {
			return trailing(obj, i+1, ErrNotObject)
		}
		if obj[i] != ',' {
			return ErrNotObject
		}
		i = skipSpace(obj, i+1)
	}
}

// Members validates obj as one JSON object and sets out[k] to the raw
// value of the top-level member named keys[k] (exact, case-sensitive
// match; the last one wins if repeated), leaving it nil when absent.
// Values are subslices of obj.
func Members(obj []byte, keys []string, out []json.RawMessage) error {
	return walkObject(obj, func(key, val []byte) {
		if k := keyIndex(key, keys); k >= 0 {
			out[k] = val
		}
	})
}

// Scalars validates obj as one JSON object and, for each keys[k] that
// names a top-level member (exact, case-sensitive match; the last one
// wins if repeated), sets out[k] to its value: a string's decoded text,
// a number's literal text (ids are often numbers), "" for null. found[k]
// reports whether the member was present. A member of another type
// (object, array, boolean) is a *MemberError, reported once the whole
// object proved valid.
func Scalars(obj []byte, keys []string, out []string, found []bool) error {
	var memberErr error
	err := walkObject(obj, func(key, val []byte) {
		k := keyIndex(key, keys)
		if k < 0 {
			return
		}
		v, err := scalar(val)
		if err != nil && memberErr == nil {
			memberErr = &MemberError{Key: keys[k], Err: err}
		}
		out[k], found[k] = v, true
	})
	if err != nil {
		return err
	}
	return memberErr
}

// Elements validates arr as one JSON array and returns its elements as
// subslices of it.
func Elements(arr []byte) ([]json.RawMessage, error) {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return nil, ErrNotArray
	}
	var out []json.RawMessage
	i = skipSpace(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return out, trailing(arr, i+1, ErrNotArray)
	}
	for {
		end, ok := skipValue(arr, i, 1)
		if !ok {
			return nil, ErrNotArray
		}
		out = append(out, arr[i:end:end])
		i = skipSpace(arr, end)
		if i >= len(arr) {
			return nil, ErrNotArray
		}
		if arr[i] == ']' {
			if err := trailing(arr, i+1, ErrNotArray); err != nil {
				return nil, err
			}
			return out, nil
		}
		if arr[i] != ',' {
			return nil, ErrNotArray
		}
		i = skipSpace(arr, i+1)
	}
}

func trailing(data []byte, i int, err error) error {
	if skipSpace(data, i) != len(data) {
		return err
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
