package jsonfast

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

var validityCases = []string{
	``, ` `, `null`, `true`, `false`, `nul`, `tru`, `0`, `-0`, `01`, `-`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1E-7`,
	`12345678901234567890123`, `"x"`, `"`, `"\u00e9"`, `"\u00g9"`, `"\x"`, `"a\"b"`, "\"a\x01\"", "\"\xff\"",
	`[]`, `[1,]`, `[,1]`, `[1 2]`, ` [ 1 , [ 2 ] ] `, `{}`, `{"a":1}`, `{"a":1,}`, `{"a" 1}`, `{1:1}`,
	`{"a":{"b":[true,false,null]}}`, `{"a":1}x`, `1 2`, "\t\n\r 1 \t", `"\/\b\f\n\r\t\\"`,
	strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001),
}

func TestValidMatchesEncodingJSON(t *testing.T) {
	for _, c := range validityCases {
		if got, want := Valid([]byte(c)), json.Valid([]byte(c)); got != want {
			name := c
			if len(name) > 40 {
				name = name[:40] + "…"
			}
			t.Errorf("Valid(%q) = %v, json.Valid says %v", name, got, want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, c := range validityCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if got, want := Valid(data), json.Valid(data); got != want {
			t.Fatalf("Valid(%q) = %v, json.Valid says %v", data, got, want)
		}
	})
}

var responseCases = []struct {
	doc  string
	fast bool // the fast path handles it
}{
	{`{"status":200,"headers":{"Content-Type":"application/json"},"body":"eyJvayI6dHJ1ZX0="}`, true},
	{`{"status":0,"error":"host not allowed","error_type":"denied_host"}`, true},
	{` { "status" : 404 , "body" : "" , "headers" : { } } `, true},
	{`{"status":200,"body":null,"headers":null,"extra":[1,{"x":"y"}]}`, true},
	{`{}`, true},
	{`{"status":2e2}`, false},
	{`{"status":200.5}`, false},
	{`{"Status":200}`, false},
	{`{"status":200,"status":201}`, false},
	{`{"body":"not base64!"}`, false},
	{`{"error":"caf\u00e9"}`, false},
	{`{"error":"café"}`, false},
	{`{"headers":{"a":null}}`, false},
	{`{"status":200`, false},
	{`{"status":200}x`, false},
	{`[]`, false},
	{`{"status":99999999999999999999}`, false},
}

func decodeBoth(t *testing.T, doc []byte) {
	var fast, slow protocol.HTTPResponse
	ok := DecodeHTTPResponse(doc, &fast)
	err := json.Unmarshal(doc, &slow)
	if !ok {
		if !reflect.DeepEqual(fast, protocol.HTTPResponse{}) {
			t.Fatalf("a refused document changed the response: %+v", fast)
		}
		return
	}
	if err != nil {
		t.Fatalf("fast path accepted %q, encoding/json refuses it: %v", doc, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("decoded %q differently\nfast %#v\njson %#v", doc, fast, slow)
	}
}

func TestDecodeHTTPResponse(t *testing.T) {
	for _, c := range responseCases {
		var r protocol.HTTPResponse
		if got := DecodeHTTPResponse([]byte(c.doc), &r); got != c.fast {
			t.Errorf("DecodeHTTPResponse(%s) handled = %v, want %v", c.doc, got, c.fast)
		}
		decodeBoth(t, []byte(c.doc))
	}
	// What a host actually writes.
	want := protocol.HTTPResponse{Status: 429, Headers: map[string]string{"Retry-After": "1"}, Body: []byte(strings.Repeat("x", 1000))}
	doc, _ := json.Marshal(want)
	var got protocol.HTTPResponse
	if !DecodeHTTPResponse(doc, &got) || !reflect.DeepEqual(got, want) {
		t.Fatalf("round trip: %+v", got)
	}
}

func FuzzDecodeHTTPResponse(f *testing.F) {
	for _, c := range responseCases {
		f.Add([]byte(c.doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) { decodeBoth(t, doc) })
}

func hostPage() []byte {
	body := `{"data":[` + strings.Repeat(`{"id":"u-0000001","email":"ada@example.test","name":"Ada","status":"active"},`, 999) + `{"id":"u-1"}],"has_more":false}`
	doc, _ := json.Marshal(protocol.HTTPResponse{Status: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: []byte(body)})
	return doc
}

func BenchmarkDecodeHTTPResponseFast(b *testing.B) {
	doc := hostPage()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		var r protocol.HTTPResponse
		if !DecodeHTTPResponse(doc, &r) {
			b.Fatal("fell back")
		}
	}
}

func BenchmarkDecodeHTTPResponseEncodingJSON(b *testing.B) {
	doc := hostPage()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		var r protocol.HTTPResponse
		if err := json.Unmarshal(doc, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValid(b *testing.B) {
	doc := hostPage()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		Valid(doc)
	}
}

func BenchmarkValidEncodingJSON(b *testing.B) {
	doc := hostPage()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		json.Valid(doc)
	}
}
