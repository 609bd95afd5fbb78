package hostfns

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/gowebpki/jcs"
)

// canonicalCorpus exercises the parts of RFC 8785 that differ from
// encoding/json: key order by UTF-16 code units, string escapes, and
// ECMAScript number formatting.
var canonicalCorpus = []string{
	`{}`, `[]`, `null`, `true`, `"x"`, `0`, `-0`, `1.0`, `1e2`, `1E-7`, `123456789012345678901234567890`,
	`0.1`, `1e21`, `1e20`, `-1.5e-300`, `5e-324`, `1.7976931348623157e308`, `12345678901234567`,
	`{"b":1,"a":2,"aa":3,"A":4,"":5}`,
	`{"\u20ac":1,"\ud83d\ude00":2,"\ufb33":3,"z":4,"é":5}`, // U+1F600 sorts before U+FB33 in UTF-16
	`{"s":"\u0000\u001f\b\t\n\f\r\"\\/<>&\u2028\u2029\u007f\u0080"}`,
	`[1,[2,[3,{"x":[{}]}]],"a\u00e9\u4e2d\ud83d\ude00"]`,
	`{"numbers":[1,2.50,-3e0,4.0e+2,1e-5,1e-6,1e-7,100000000000000000000,1e22]}`,
}

func TestCanonicalMatchesJCS(t *testing.T) {
	for _, in := range canonicalCorpus {
		checkCanonical(t, []byte(in))
	}
}

func checkCanonical(t *testing.T, in []byte) {
	t.Helper()
	want, err := jcs.Transform(in)
	if err != nil {
		return // not I-JSON (duplicate keys, lone surrogates…): out of scope
	}
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: encoding/json refused what jcs accepted: %v", in, err)
	}
	got, err := appendCanonical(nil, v)
	if err != nil {
		t.Fatalf("%s: %v", in, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s\n got %s\nwant %s", in, got, want)
	}
}

// FuzzCanonical pins appendCanonical to jcs.Transform on every input both
// accept.
func FuzzCanonical(f *testing.F) {
	for _, in := range canonicalCorpus {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			return
		}
		checkCanonical(t, in)
	})
}

func TestCompareUTF16(t *testing.T) {
	cases := []struct {
		a, b string
		want int // sign
	}{
		{"a", "b", -1}, {"b", "a", 1}, {"a", "a", 0}, {"a", "aa", -1}, {"", "a", -1},
		{"\U0001F600", "\uFB33", -1}, // surrogate D83D < FB33
		{"\U0001F600", "\u00e9", 1},
		{"\U0001F600", "\U0001F601", -1},
		{"\uE000", "\U00010000", 1},
		{"\uD7FF", "\U00010000", -1},
	}
	for _, tc := range cases {
		got := compareUTF16(tc.a, tc.b)
		if (got < 0) != (tc.want < 0) || (got > 0) != (tc.want > 0) {
			t.Errorf("compareUTF16(%q, %q) = %d, want sign %d", tc.a, tc.b, got, tc.want)
		}
	}
}
