package hostfns

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestScrubberForms(t *testing.T) {
	const secret = "p@ss/word+with?chars<&>"
	s := NewScrubber(secret)
	forms := map[string]string{
		"raw":            secret,
		"base64":         base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64 raw":     base64.RawStdEncoding.EncodeToString([]byte(secret)),
		"base64 url":     base64.URLEncoding.EncodeToString([]byte(secret)),
		"base64 url raw": base64.RawURLEncoding.EncodeToString([]byte(secret)),
		"query escaped":  url.QueryEscape(secret),
		"path escaped":   url.PathEscape(secret),
		"json html":      `p@ss/word+with?chars\u003c\u0026\u003e`,
	}
	for name, f := range forms {
		in := "before " + f + " after"
		got := s.String(in)
		if got != "before [REDACTED] after" {
			t.Errorf("%s: %q → %q", name, in, got)
		}
		if b := s.Bytes([]byte(in)); string(b) != got {
			t.Errorf("%s: Bytes %q, String %q", name, b, got)
		}
	}
}

func TestScrubberIgnoresShortValues(t *testing.T) {
	s := NewScrubber("12345", "", "abcde", "123456")
	if got := s.String("id 12345 code abcde pin 123456"); got != "id 12345 code abcde pin [REDACTED]" {
		t.Fatalf("got %q", got)
	}
	if v := s.Values(); len(v) != 1 || v[0] != "123456" {
		t.Fatalf("Values %v", v)
	}
}

func TestScrubberNilAndEmpty(t *testing.T) {
	var s *Scrubber
	if s.String("abcdefgh") != "abcdefgh" || string(s.Bytes([]byte("x"))) != "x" || s.Values() != nil {
		t.Fatal("nil scrubber changed its input")
	}
	s.Add("abcdefgh") // no panic
	e := NewScrubber()
	in := []byte("nothing secret here")
	if out := e.Bytes(in); &out[0] != &in[0] {
		t.Fatal("Bytes copied an input with nothing to scrub")
	}
}

func TestScrubberAddConcurrently(t *testing.T) {
	s := NewScrubber("first-secret")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				s.Add(fmt.Sprintf("secret-%d-%d", i, j))
				_ = s.String("x first-secret y")
			}
		}()
	}
	wg.Wait()
	if n := len(s.Values()); n != 401 {
		t.Fatalf("%d values, want 401", n)
	}
	if got := s.String("a secret-7-49 b first-secret"); got != "a [REDACTED] b [REDACTED]" {
		t.Fatalf("got %q", got)
	}
}

func TestScrubberOverlappingSecrets(t *testing.T) {
	s := NewScrubber("abcdef", "abcdefghij")
	if got := s.String("xabcdefghijx abcdefx"); got != "x[REDACTED]x [REDACTED]x" {
		t.Fatalf("got %q", got)
	}
}

func TestScrubberCut(t *testing.T) {
	s := NewScrubber("SECRETVALUE")
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"hello SECRETVALUE", 100, "hello SECRETVALUE"}, // short enough: untouched
		{"hello SECRETVALUE", 10, "hello "},             // "SECR" would survive scrubbing
		{"hello SECRETVALUE", 6, "hello "},
		{"hello world", 8, "hello wo"},
		{"héllo", 2, "h"}, // never splits a rune
	}
	for _, tc := range cases {
		if got := s.cut(tc.in, tc.n); got != tc.want {
			t.Errorf("cut(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func ExampleScrubber() {
	s := NewScrubber("sk_live_4f9a8b7c6d5e", "short")
	fmt.Println(s.String(`{"key":"sk_live_4f9a8b7c6d5e","b64":"c2tfbGl2ZV80ZjlhOGI3YzZkNWU=","pin":"short"}`))
	// Output: {"key":"[REDACTED]","b64":"[REDACTED]","pin":"short"}
}

func TestScrubberLongSecretsFirst(t *testing.T) {
	// The raw base64 form is a prefix of the padded one: the padded form
	// must win, leaving no stray "=".
	s := NewScrubber("abcdefg")
	enc := base64.StdEncoding.EncodeToString([]byte("abcdefg"))
	if !strings.HasSuffix(enc, "=") {
		t.Fatal("test needs a padded encoding")
	}
	if got := s.String(enc + "!"); got != "[REDACTED]!" {
		t.Fatalf("got %q", got)
	}
}
