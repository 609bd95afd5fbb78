package jsonfast

import (
	"encoding/json"
	"errors"
	"testing"
)

var scalarKeys = []string{"id", "created_at", "n"}

var scalarCases = []struct {
	obj     string
	want    []string
	found   []bool
	wantErr error
}{
	{`{"id":"u-1","created_at":"2024-01-01T00:00:00Z","other":{"id":"nested"}}`, []string{"u-1", "2024-01-01T00:00:00Z", ""}, []bool{true, true, false}, nil},
	{` { "n" : -12.5e3 , "id" : 42 } `, []string{"42", "", "-12.5e3"}, []bool{true, false, true}, nil},
	{`{"id":null}`, []string{"", "", ""}, []bool{true, false, false}, nil},
	{`{"id":"caf\u00e9 \"x\""}`, []string{`café "x"`, "", ""}, []bool{true, false, false}, nil},
	{`{"i\u0064":"escaped key"}`, []string{"escaped key", "", ""}, []bool{true, false, false}, nil},
	{`{"id":"a","id":"b"}`, []string{"b", "", ""}, []bool{true, false, false}, nil},
	{`{"ID":"case matters"}`, []string{"", "", ""}, []bool{false, false, false}, nil},
	{`{}`, []string{"", "", ""}, []bool{false, false, false}, nil},
	{`{"id":[1]}`, nil, nil, ErrNotScalar},
	{`{"id":true}`, nil, nil, ErrNotScalar},
	{`[]`, nil, nil, ErrNotObject},
	{`{"id":"x"`, nil, nil, ErrNotObject},
	{`{"id":"x"} {}`, nil, nil, ErrNotObject},
	{`{"id":01}`, nil, nil, ErrNotObject},
	{``, nil, nil, ErrNotObject},
}

func TestScalars(t *testing.T) {
	for _, c := range scalarCases {
		out, found := make([]string, len(scalarKeys)), make([]bool, len(scalarKeys))
		err := Scalars([]byte(c.obj), scalarKeys, out, found)
		if !errors.Is(err, c.wantErr) {
			t.Errorf("Scalars(%s) err = %v, want %v", c.obj, err, c.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		for k := range scalarKeys {
			if out[k] != c.want[k] || found[k] != c.found[k] {
				t.Errorf("Scalars(%s)[%s] = %q/%v, want %q/%v", c.obj, scalarKeys[k], out[k], found[k], c.want[k], c.found[k])
			}
		}
	}
}

func FuzzScalars(f *testing.F) {
	for _, c := range scalarCases {
		f.Add([]byte(c.obj))
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		out, found := make([]string, len(scalarKeys)), make([]bool, len(scalarKeys))
		err := Scalars(obj, scalarKeys, out, found)
		var m map[string]json.RawMessage
		isObject := json.Unmarshal(obj, &m) == nil && m != nil
		if errors.Is(err, ErrNotObject) != !isObject {
			t.Fatalf("Scalars(%q) err = %v, but encoding/json says object=%v", obj, err, isObject)
		}
		var me *MemberError
		if errors.As(err, &me) {
			if _, ok := m[me.Key]; !ok {
				t.Fatalf("MemberError for absent key %q in %q", me.Key, obj)
			}
			return
		}
		if err != nil {
			return
		}
		for k, key := range scalarKeys {
			raw, ok := m[key]
			if ok != found[k] {
				t.Fatalf("%q: found[%s] = %v, encoding/json says %v", obj, key, found[k], ok)
			}
			if !ok {
				continue
			}
			var want string
			switch raw[0] {
			case '"':
				if err := json.Unmarshal(raw, &want); err != nil {
					t.Fatal(err)
				}
			case 'n':
			default:
				want = string(raw)
			}
			if out[k] != want {
				t.Fatalf("%q: %s = %q, encoding/json says %q", obj, key, out[k], want)
			}
		}
	})
}
