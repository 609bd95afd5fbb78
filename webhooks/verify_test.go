package webhooks_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/webhooks"
)

const refSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestVerifierAgreesWithTheReferenceLibrary(t *testing.T) {
	key, err := webhooks.ParseSecret(refSecret)
	must(t, err)
	ref, err := standardwebhooks.NewWebhook(refSecret)
	must(t, err)
	now := time.Now()
	var v webhooks.Verifier
	for i, body := range [][]byte{[]byte(`{}`), []byte(`{"a":[1,2,3],"s":"ü ✓"}`), bytes.Repeat([]byte("x"), 10000)} {
		id := fmt.Sprintf("msg_%d", i)
		sig, err := ref.Sign(id, now, body)
		must(t, err)
		if err := v.Verify([][]byte{key}, id, fmt.Sprint(now.Unix()), sig, body, now); err != nil {
			t.Errorf("reference signature refused: %v", err)
		}
		// And the other way: our Sign verifies with the library.
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
		h.Set("webhook-signature", webhooks.Sign([][]byte{key}, id, now, body))
		if err := ref.Verify(body, h); err != nil {
			t.Errorf("our signature refused by the library: %v", err)
		}
	}
}

func TestVerifierRefusals(t *testing.T) {
	key, _ := webhooks.ParseSecret(refSecret)
	other := bytes.Repeat([]byte{7}, 32)
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	good := webhooks.Sign([][]byte{key}, "m1", now, body)
	ts := fmt.Sprint(now.Unix())
	cases := []struct {
		name              string
		keys              [][]byte
		id, ts, sig, want string
		body              []byte
	}{
		{"ok", [][]byte{key}, "m1", ts, good, "", body},
		{"ok with a second key", [][]byte{other, key}, "m1", ts, good, "", body},
		{"ok among other signatures", [][]byte{key}, "m1", ts, "v1a,xyz v1,AAAA " + good, "", body},
		{"no id", [][]byte{key}, "", ts, good, "webhook-id", body},
		{"long id", [][]byte{key}, strings.Repeat("i", 300), ts, good, "webhook-id", body},
		{"no timestamp", [][]byte{key}, "m1", "", good, "webhook-timestamp", body},
		{"signed timestamp", [][]byte{key}, "m1", "+" + ts, good, "webhook-timestamp", body},
		{"stale", [][]byte{key}, "m1", fmt.Sprint(now.Add(-301 * time.Second).Unix()), good, "webhook-timestamp", body},
		{"future", [][]byte{key}, "m1", fmt.Sprint(now.Add(301 * time.Second).Unix()), good, "webhook-timestamp", body},
		{"no signature", [][]byte{key}, "m1", ts, "", "webhook-signature", body},
		{"wrong key", [][]byte{other}, "m1", ts, good, "webhook-signature", body},
		{"no keys", nil, "m1", ts, good, "webhook-signature", body},
		{"tampered", [][]byte{key}, "m1", ts, good, "webhook-signature", []byte(`{"id":"evt_2"}`)},
		{"truncated signature", [][]byte{key}, "m1", ts, good[:len(good)-2], "webhook-signature", body},
		{"too many signatures", [][]byte{key}, "m1", ts, strings.Repeat(good+" ", 17), "webhook-signature", body},
	}
	for _, c := range cases {
		err := webhooks.Verifier{}.Verify(c.keys, c.id, c.ts, c.sig, c.body, now)
		var se *webhooks.SignatureError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (!errors.As(err, &se) || se.Header != c.want || !errors.Is(err, webhooks.ErrSignature)):
			t.Errorf("%s: err = %v, want a SignatureError on %s", c.name, err, c.want)
		}
	}
}

func TestParseSecret(t *testing.T) {
	for _, bad := range []string{"whsec_", "whsec_!!!", "whsec_" + strings.Repeat("A", 12), "whsec_" + strings.Repeat("A", 120)} {
		if _, err := webhooks.ParseSecret(bad); !errors.Is(err, webhooks.ErrInvalid) {
			t.Errorf("ParseSecret(%q) = %v", bad, err)
		}
	}
	key := bytes.Repeat([]byte{1}, 32)
	got, err := webhooks.ParseSecret(webhooks.FormatSecret(key))
	if err != nil || !bytes.Equal(got, key) {
		t.Fatalf("round trip: %v", err)
	}
}

// FuzzVerify: any headers and body; never a panic, and an accepted
// delivery is exactly one whose signature the key makes.
func FuzzVerify(f *testing.F) {
	key, _ := webhooks.ParseSecret(refSecret)
	now := time.Unix(1_700_000_000, 0)
	body := []byte(`{"id":"evt_1"}`)
	f.Add("m1", fmt.Sprint(now.Unix()), webhooks.Sign([][]byte{key}, "m1", now, body), body)
	f.Add("m1", "1700000000", "v1,"+strings.Repeat("A", 44), []byte(`{}`))
	f.Add("", "", "", []byte(nil))
	f.Add("m", "99999999999999999999", "v1, v1,,, v2,x", []byte("{"))
	f.Fuzz(func(t *testing.T, id, ts, sig string, body []byte) {
		err := webhooks.Verifier{}.Verify([][]byte{key}, id, ts, sig, body, now)
		if err == nil {
			want := webhooks.Sign([][]byte{key}, id, time.Unix(mustInt(t, ts), 0), body)
			if !strings.Contains(sig, want[3:]) {
				t.Fatalf("accepted a signature the key did not make: %q", sig)
			}
			return
		}
		if !errors.Is(err, webhooks.ErrSignature) {
			t.Fatalf("error %v is not ErrSignature", err)
		}
	})
}

func mustInt(t *testing.T, s string) int64 {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("accepted timestamp %q: %v", s, err)
	}
	return n
}

// FuzzIntake drives the whole intake handler (API, verifier, store) with
// arbitrary headers and bodies: every answer is one of the documented
// statuses, never a 5xx, and only correctly signed JSON is stored.
func FuzzIntake(f *testing.F) {
	r := newRig(f, rigOptions{})
	ep, err := r.svc.RotateEndpoint(f.Context(), r.tenant, "dir")
	if err != nil {
		f.Fatal(err)
	}
	key, _ := webhooks.ParseSecret(ep.Secret)
	srv, err := api.New(api.Config{Store: r.db, Webhooks: r.svc, Registerer: prometheus.NewRegistry()})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	now := time.Now()
	body := userEvent("evt_1", "u1", "Ada", "2025-01-02T10:00:00Z")
	f.Add(ep.Hook, "m1", fmt.Sprint(now.Unix()), webhooks.Sign([][]byte{key}, "m1", now, body), body, true)
	f.Add(ep.Hook, "m2", "x", "v1,abc", []byte("{"), false)
	f.Add("hk/../x", "", "", "", []byte{}, false)
	f.Fuzz(func(t *testing.T, hook, id, ts, sig string, body []byte, sign bool) {
		if sign {
			ts = fmt.Sprint(time.Now().Unix())
			sig = webhooks.Sign([][]byte{key}, id, time.Now(), body)
		}
		req := httptest.NewRequest(http.MethodPost, "/v1/hooks/x", bytes.NewReader(body))
		req.URL.Path = "/v1/hooks/" + hook
		for k, v := range map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig} {
			if validHeader(v) {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 202, 400, 401, 404, 405, 413, 429:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if rec.Code == 202 && (hook != ep.Hook || !sign && !strings.Contains(sig, webhooks.Sign([][]byte{key}, id, time.Unix(mustInt(t, ts), 0), body)[3:])) {
			t.Fatalf("accepted an unsigned delivery")
		}
	})
}

func validHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] == 0x7f {
			return false
		}
	}
	return true
}
