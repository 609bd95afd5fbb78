package jsonfast

import (
	"encoding/json"
	"errors"
	"reflect"
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

func FuzzMembersAndElements(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":1},2,"x",null],"next":"c","more":true}`))
	f.Add([]byte(`[1, [2], {"a":[]}]`))
	f.Add([]byte(`{"data":[1,]}`))
	keys := []string{"data", "next", "more"}
	f.Fuzz(func(t *testing.T, doc []byte) {
		out := make([]json.RawMessage, len(keys))
		err := Members(doc, keys, out)
		var m map[string]json.RawMessage
		isObject := json.Unmarshal(doc, &m) == nil && m != nil
		if (err == nil) != isObject {
			t.Fatalf("Members(%q) err = %v, encoding/json says object=%v", doc, err, isObject)
		}
		if err == nil {
			for k, key := range keys {
				if !jsonEqual(t, out[k], m[key]) {
					t.Fatalf("Members(%q)[%s] = %q, encoding/json says %q", doc, key, out[k], m[key])
				}
			}
		}
		elems, err := Elements(doc)
		var a []json.RawMessage
		isArray := json.Unmarshal(doc, &a) == nil && a != nil
		if (err == nil) != isArray {
			t.Fatalf("Elements(%q) err = %v, encoding/json says array=%v", doc, err, isArray)
		}
		if err == nil {
			if len(elems) != len(a) {
				t.Fatalf("Elements(%q) = %d elements, encoding/json says %d", doc, len(elems), len(a))
			}
			for i := range a {
				if !jsonEqual(t, elems[i], a[i]) {
					t.Fatalf("element %d = %q, encoding/json says %q", i, elems[i], a[i])
				}
			}
		}
	})
}

// jsonEqual compares two raw values by their decoded value; nil equals
// only nil (an absent member).
func jsonEqual(t *testing.T, a, b []byte) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("raw value %q does not decode: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(va, vb)
}
