package receipt

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gowebpki/jcs"
)

// canonicalCases are inputs on both sides of every rule the scanner
// checks; want is what jcs.Transform(data) == data says.
var canonicalCases = []struct {
	data string
	want bool
}{
	{`{}`, true},
	{`[]`, true},
	{`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, true},
	{`{"b":1,"a":2}`, false},    // unsorted
	{`{"a":1,"a":2}`, false},    // duplicate
	{`{"a": 1}`, false},         // whitespace
	{` {}`, false},              // leading whitespace
	{`{}` + "\n", false},        // trailing whitespace
	{`{"a":1}x`, false},         // trailing data
	{`{"a":1,}`, false},         // trailing comma
	{`[1,]`, false},             // trailing comma
	{`{"a"1}`, false},           // missing colon
	{`"\u001f"`, true},          // control escape
	{`"\u001F"`, false},         // upper-case hex
	{`"\u0041"`, false},         // needless escape
	{`"\u000a"`, false},         // \n has a short form
	{`"\n\t\r\b\f\"\\"`, true},  // short forms
	{`"\/"`, false},             // escaped solidus
	{"\"\x01\"", false},         // raw control character
	{"\"\x7f\"", true},          // DEL is not escaped
	{"\"\xff\"", false},         // invalid UTF-8
	{"\"\xed\xa0\x80\"", false}, // UTF-8 encoded surrogate
	{"\"\u2028\"", true},        // line separator is not escaped
	{`0`, true},                 // zero
	{`-0`, false},               // negative zero
	{`0.0`, false},              // trailing fraction
	{`1.5`, true},
	{`1.50`, false}, // trailing zero
	{`01`, false},   // leading zero
	{`1E3`, false},  // exponent form of an integer
	{`1000`, true},
	{`1e+21`, true},                 // exponent from 1e21 up
	{`1e21`, false},                 // exponent needs its sign
	{`1e+021`, false},               // exponent zero-padded
	{`100000000000000000000`, true}, // 1e20 is written out
	{`123456789012345678`, false},   // not exact as a double
	{`123456789012345680`, true},    // its double, written by ES6
	{`1e-7`, true},                  // small numbers in exponent form
	{`0.000001`, true},              // 1e-6 is written out
	{`1e400`, false},                // out of range
	{`-`, false},
	{`1.`, false},
	{`.5`, false},
	{`tru`, false},
	{`nul`, false},
	{`{"é":1,"z":2}`, false}, // é (U+00E9) sorts after z
	{`{"z":1,"é":2}`, true},
	{`{"😀":1,"ﬀ":2}`, true},  // U+1F600 (D83D…) sorts before U+FB00 in UTF-16
	{`{"ﬀ":1,"😀":2}`, false}, // though not in UTF-8 byte order
	{`{"\n":1,"a":2}`, true}, // escaped names sort by value
	{`{"a":2,"\n":1}`, false},
	{`{"\u0000":1,"\u0001":2}`, true},
	{`{"😀":1,"😁":2}`, true}, // same high surrogate
	{`{"😁":1,"😀":2}`, false},
	{``, false},
}

func TestCanonical(t *testing.T) {
	for _, c := range canonicalCases {
		if got := canonical([]byte(c.data)); got != c.want {
			t.Errorf("canonical(%q) = %v, want %v", c.data, got, c.want)
		}
		out, err := jcs.Transform([]byte(c.data))
		if jcsSays := err == nil && bytes.Equal(out, []byte(c.data)); jcsSays != c.want {
			t.Errorf("test case %q disagrees with jcs.Transform (%q, %v)", c.data, out, err)
		}
	}
}

func TestCanonicalNestingLimit(t *testing.T) {
	deep := func(n int) []byte {
		return append(bytes.Repeat([]byte("["), n), bytes.Repeat([]byte("]"), n)...)
	}
	if !canonical(deep(maxNesting)) {
		t.Error("nesting at the limit refused")
	}
	if canonical(deep(maxNesting + 1)) {
		t.Error("nesting past the limit accepted")
	}
}

func TestAppendES6NumberMatchesJCS(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	values := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e21, 1e-6, 1e-7, 9.999999999999999e20,
		math.MaxFloat64, math.SmallestNonzeroFloat64, 1 << 53, 123456789012345680, 5e-324, 1e100, 1.5e-300}
	for range 20000 {
		values = append(values, math.Float64frombits(r.Uint64()))
	}
	for _, f := range values {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		want, err := jcs.NumberToJSON(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendES6Number(nil, f); string(got) != want {
			t.Fatalf("appendES6Number(%v) = %s, jcs %s", f, got, want)
		}
	}
}

func TestCompareUTF16(t *testing.T) {
	tests := []struct {
		a, b string
		want int // sign
	}{
		{"a", "b", -1},
		{"a", "a", 0},
		{"a", "ab", -1},
		{"", "a", -1},
		{"\uFB00", "\U0001F600", 1},
		{"\U0001F600", "\U0001F601", -1},
		{"\uE000", "\uD7FF", 1},
	}
	for _, tt := range tests {
		got := compareUTF16(tt.a, tt.b)
		if (got < 0) != (tt.want < 0) || (got == 0) != (tt.want == 0) {
			t.Errorf("compareUTF16(%q, %q) = %d, want sign %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzCanonical holds the scanner to jcs.Transform: it must accept exactly
// the documents jcs leaves unchanged. Accepting more would let
// ObjectDigest hash a non-canonical value as it is; accepting less only
// costs a slower path, but is still a bug.
func FuzzCanonical(f *testing.F) {
	for _, c := range canonicalCases {
		f.Add([]byte(c.data))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := jcs.Transform(data)
		jcsSays := err == nil && bytes.Equal(out, data)
		if got := canonical(data); got != jcsSays {
			t.Fatalf("canonical(%q) = %v; jcs.Transform = %q, %v", data, got, out, err)
		}
		if err == nil && !canonical(out) {
			t.Fatalf("canonical refuses jcs output %q", out)
		}
	})
}
