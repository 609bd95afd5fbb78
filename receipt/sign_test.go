package receipt_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sluicehq/sluice/receipt"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func signSample(t *testing.T, k receipt.Key) []byte {
	t.Helper()
	env, err := receipt.NewSigner(k).SignIngest(context.Background(), sampleIngest(t))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func TestSignIngestRoundTrip(t *testing.T) {
	k := seededKey(t, "signer")
	env := signSample(t, k)

	v, err := receipt.Verify(env, keySet(t, k))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if v.KeyID != k.ID || v.PredicateType != receipt.PredicateIngest {
		t.Errorf("KeyID, PredicateType = %q, %q; want %q, %q", v.KeyID, v.PredicateType, k.ID, receipt.PredicateIngest)
	}
	got, err := v.Ingest()
	if err != nil {
		t.Fatalf("Ingest: %v", err)
	}
	if want := sampleIngest(t); !reflect.DeepEqual(got, want) {
		t.Errorf("Ingest() =\n%+v\nwant\n%+v", got, want)
	}
	wantSubject := []receipt.Subject{{
		Name:   "payload-manifest/" + got.RunID,
		Digest: map[string]string{"sha256": got.Payload.Root},
	}}
	if !reflect.DeepEqual(v.Subject, wantSubject) {
		t.Errorf("Subject = %+v, want %+v", v.Subject, wantSubject)
	}

	// The independent path accepts the same envelope and the same bytes.
	body, err := verifyIndependently(env, k.Public())
	if err != nil {
		t.Fatalf("independent verification: %v", err)
	}
	if !bytes.Equal(body, v.Statement) {
		t.Error("Verified.Statement differs from the payload the independent verifier checked")
	}
	if !bytes.Contains(v.Statement, v.Predicate) {
		t.Error("Verified.Predicate is not part of Verified.Statement")
	}
}

func TestStatementIsInTotoV1(t *testing.T) {
	k := seededKey(t, "signer")
	v, err := receipt.Verify(signSample(t, k), keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	// Parse with the in-toto protobuf definition and its validator.
	var st intoto.Statement
	if err := protojson.Unmarshal(v.Statement, &st); err != nil {
		t.Fatalf("protojson: %v", err)
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("in-toto Validate: %v", err)
	}
	if st.GetType() != "https://in-toto.io/Statement/v1" {
		t.Errorf("_type = %q", st.GetType())
	}
	if n := st.GetPredicate().GetFields()["counts"].GetStructValue().GetFields()["read"].GetNumberValue(); n != 3 {
		t.Errorf("predicate.counts.read = %v, want 3", n)
	}
	// The payload is canonical: no whitespace, keys sorted.
	if !bytes.HasPrefix(v.Statement, []byte(`{"_type":"https://in-toto.io/Statement/v1","predicate":{"connection":`)) {
		t.Errorf("statement does not start canonically: %.80s", v.Statement)
	}
}

func TestGoldenIngestReceipt(t *testing.T) {
	env := signSample(t, seededKey(t, "golden"))
	path := filepath.Join("testdata", "ingest-receipt.golden.json")
	if *update {
		if err := os.WriteFile(path, env, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(env, want) {
		t.Errorf("envelope differs from %s (run go test -update if the change is intended):\ngot  %s\nwant %s", path, env, want)
	}
	// A stored receipt keeps verifying.
	v, err := receipt.Verify(want, keySet(t, seededKey(t, "golden")))
	if err != nil {
		t.Fatalf("golden does not verify: %v", err)
	}
	if _, err := v.Ingest(); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyRejectsEveryByteChange changes each byte of an envelope in a
// few ways; no change may verify.
func TestVerifyRejectsEveryByteChange(t *testing.T) {
	k := seededKey(t, "signer")
	env := signSample(t, k)
	keys := keySet(t, k)
	for i := range env {
		for _, flip := range []byte{0x01, 0x20, 0x04} {
			mutated := bytes.Clone(env)
			mutated[i] ^= flip
			if _, err := receipt.Verify(mutated, keys); err == nil {
				t.Fatalf("byte %d ^ %#x (%q → %q) verified", i, flip, env[i], mutated[i])
			}
		}
	}
}

// mutateField rewrites one string field of the envelope JSON.
func mutateField(t *testing.T, env []byte, edit func(e *envelopeJSON)) []byte {
	t.Helper()
	var e envelopeJSON
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	edit(&e)
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type envelopeJSON struct {
	PayloadType string          `json:"payloadType"`
	Payload     string          `json:"payload"`
	Signatures  []signatureJSON `json:"signatures"`
}

type signatureJSON struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// flipBase64 flips one bit of the byte at the middle of a base64 string.
func flipBase64(s string) string {
	raw, _ := base64.StdEncoding.DecodeString(s)
	raw[len(raw)/2] ^= 0x01
	return base64.StdEncoding.EncodeToString(raw)
}

// signRaw signs payload under payloadType by hand, as a foreign or buggy
// signer would.
func signRaw(k receipt.Key, payloadType string, payload []byte) []byte {
	pae := []byte("DSSEv1 " + strconv.Itoa(len(payloadType)) + " " + payloadType + " " + strconv.Itoa(len(payload)) + " ")
	pae = append(pae, payload...)
	out, _ := json.Marshal(envelopeJSON{
		PayloadType: payloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []signatureJSON{{KeyID: k.ID, Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(k.Private, pae))}},
	})
	return out
}

func TestVerifyRejects(t *testing.T) {
	k := seededKey(t, "signer")
	other := seededKey(t, "other")
	env := signSample(t, k)
	keys := keySet(t, k)
	statement, err := verifyIndependently(env, k.Public())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		envelope []byte
		keys     receipt.KeySet
		want     error
	}{
		{"payload bit flipped", mutateField(t, env, func(e *envelopeJSON) { e.Payload = flipBase64(e.Payload) }), keys, receipt.ErrBadSignature},
		{"signature bit flipped", mutateField(t, env, func(e *envelopeJSON) { e.Signatures[0].Sig = flipBase64(e.Signatures[0].Sig) }), keys, receipt.ErrBadSignature},
		{"payloadType changed", mutateField(t, env, func(e *envelopeJSON) { e.PayloadType = "application/vnd.in-toto+jsoN" }), keys, receipt.ErrMalformed},
		{"payloadType changed and re-signed", signRaw(k, "application/json", statement), keys, receipt.ErrMalformed},
		{"no signatures", mutateField(t, env, func(e *envelopeJSON) { e.Signatures = []signatureJSON{} }), keys, receipt.ErrBadSignature},
		{"signatures null", mutateField(t, env, func(e *envelopeJSON) { e.Signatures = nil }), keys, receipt.ErrMalformed},
		{"signed by another key", signSample(t, other), keys, receipt.ErrUnknownKey},
		{"another key claims our id", mutateField(t, signSample(t, other), func(e *envelopeJSON) { e.Signatures[0].KeyID = k.ID }), keys, receipt.ErrBadSignature},
		{"empty key set", env, receipt.KeySet{}, receipt.ErrUnknownKey},
		{"nil key set", env, nil, receipt.ErrUnknownKey},
		{"no key id", mutateField(t, env, func(e *envelopeJSON) { e.Signatures[0].KeyID = "" }), keys, receipt.ErrUnknownKey},
		{"good and bad signature by trusted keys", mutateField(t, env, func(e *envelopeJSON) {
			e.Signatures = append(e.Signatures, signatureJSON{KeyID: other.ID, Sig: e.Signatures[0].Sig})
		}), keySet(t, k, other), receipt.ErrBadSignature},
		{"signature not base64", mutateField(t, env, func(e *envelopeJSON) { e.Signatures[0].Sig = "!!" }), keys, receipt.ErrBadSignature},
		{"signature truncated", mutateField(t, env, func(e *envelopeJSON) { e.Signatures[0].Sig = e.Signatures[0].Sig[:44] }), keys, receipt.ErrBadSignature},
		{"signature with line break", mutateField(t, env, func(e *envelopeJSON) { s := e.Signatures[0].Sig; e.Signatures[0].Sig = s[:40] + "\n" + s[40:] }), keys, receipt.ErrBadSignature},
		{"payload URL-safe base64", mutateField(t, env, func(e *envelopeJSON) {
			e.Payload = base64.URLEncoding.EncodeToString([]byte(strings.Repeat("\xfb\xff", 30)))
		}), keys, receipt.ErrMalformed},
		{"payload not canonical", signRaw(k, receipt.PayloadType, append([]byte(" "), statement...)), keys, receipt.ErrMalformed},
		{"payload keys reordered", signRaw(k, receipt.PayloadType, reorderTopLevel(t, statement)), keys, receipt.ErrMalformed},
		{"payload not a statement", signRaw(k, receipt.PayloadType, []byte(`{"a":1}`)), keys, receipt.ErrMalformed},
		{"statement v0.1", signRaw(k, receipt.PayloadType, bytes.Replace(statement, []byte("Statement/v1"), []byte("Statement/v0.1"), 1)), keys, receipt.ErrMalformed},
		{"subject without digest", signRaw(k, receipt.PayloadType, []byte(`{"_type":"https://in-toto.io/Statement/v1","predicate":{},"predicateType":"x","subject":[{"name":"a"}]}`)), keys, receipt.ErrMalformed},
		{"bad subject digest", signRaw(k, receipt.PayloadType, []byte(`{"_type":"https://in-toto.io/Statement/v1","predicate":{},"predicateType":"x","subject":[{"digest":{"sha256":"abc"},"name":"a"}]}`)), keys, receipt.ErrMalformed},
		{"predicate not an object", signRaw(k, receipt.PayloadType, []byte(`{"_type":"https://in-toto.io/Statement/v1","predicate":[],"predicateType":"x","subject":[{"digest":{"sha256":"`+strings.Repeat("ab", 32)+`"},"name":"a"}]}`)), keys, receipt.ErrMalformed},
		{"duplicate envelope field", []byte(strings.Replace(string(env), `{"payloadType"`, `{"payload":"e30=","payloadType"`, 1)), keys, receipt.ErrMalformed},
		{"field name in other case", []byte(strings.Replace(string(env), `"payloadType"`, `"PayloadType"`, 1)), keys, receipt.ErrMalformed},
		{"unknown envelope field", []byte(strings.Replace(string(env), `{"payloadType"`, `{"x":"y","payloadType"`, 1)), keys, receipt.ErrMalformed},
		{"trailing data", append(bytes.Clone(env), []byte(`{}`)...), keys, receipt.ErrMalformed},
		{"not JSON", []byte("not json"), keys, receipt.ErrMalformed},
		{"empty", nil, keys, receipt.ErrMalformed},
		{"too large", bytes.Repeat([]byte(" "), receipt.MaxEnvelopeSize+1), keys, receipt.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := receipt.Verify(tt.envelope, tt.keys)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, %v; want error %v", v, err, tt.want)
			}
		})
	}
}

// reorderTopLevel moves the statement's "subject" member to the front:
// the same JSON value, no longer canonical.
func reorderTopLevel(t *testing.T, statement []byte) []byte {
	t.Helper()
	i := bytes.Index(statement, []byte(`,"subject":`))
	if i < 0 {
		t.Fatal("no subject in statement")
	}
	subject := statement[i+1 : len(statement)-1]
	out := append([]byte("{"), subject...)
	out = append(out, ',')
	out = append(out, statement[1:i]...)
	return append(out, '}')
}

func TestVerifyAcceptsExtraUnknownSignature(t *testing.T) {
	k := seededKey(t, "signer")
	env := mutateField(t, signSample(t, k), func(e *envelopeJSON) {
		e.Signatures = append([]signatureJSON{{KeyID: "ed25519:ffffffffffffffff", Sig: "AAAA"}}, e.Signatures...)
	})
	v, err := receipt.Verify(env, keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyID != k.ID {
		t.Errorf("KeyID = %q, want %q", v.KeyID, k.ID)
	}
}

func TestUnknownKeyErrorNamesKeys(t *testing.T) {
	other := seededKey(t, "other")
	_, err := receipt.Verify(signSample(t, other), keySet(t, seededKey(t, "signer")))
	var uk *receipt.UnknownKeyError
	if !errors.As(err, &uk) || len(uk.KeyIDs) != 1 || uk.KeyIDs[0] != other.ID {
		t.Fatalf("error = %v, want an UnknownKeyError naming %s", err, other.ID)
	}
}

func TestSignIngestRejectsInvalidPredicate(t *testing.T) {
	s := receipt.NewSigner(seededKey(t, "signer"))
	tests := []struct {
		field string
		edit  func(p *receipt.Ingest)
	}{
		{"run_id", func(p *receipt.Ingest) { p.RunID = "" }},
		{"receipt_id", func(p *receipt.Ingest) { p.ReceiptID = "" }},
		{"tenant_id", func(p *receipt.Ingest) { p.TenantID = "" }},
		{"kind", func(p *receipt.Ingest) { p.Kind = "stream" }},
		{"status", func(p *receipt.Ingest) { p.Status = "ok" }},
		{"started_at", func(p *receipt.Ingest) { p.StartedAt = "yesterday" }},
		{"started_at", func(p *receipt.Ingest) { p.StartedAt = "2026-03-01T13:00:00+01:00" }},
		{"finished_at", func(p *receipt.Ingest) { p.FinishedAt = "2026-03-01T11:59:59Z" }},
		{"payload.root", func(p *receipt.Ingest) { p.Payload.Root = "abc" }},
		{"payload.root", func(p *receipt.Ingest) { p.Payload.Root = strings.ToUpper(p.Payload.Root) }},
		{"payload.algorithm", func(p *receipt.Ingest) { p.Payload.Algorithm = "sha1" }},
		{"payload.object_digest", func(p *receipt.Ingest) { p.Payload.ObjectDigest = "v0" }},
		{"counts.read", func(p *receipt.Ingest) { p.Counts.Read = -1 }},
		{"counts.created", func(p *receipt.Ingest) { p.Counts.Created = 1<<53 + 1 }},
		{"errors[0].count", func(p *receipt.Ingest) { p.Errors[0].Count = -2 }},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			p := sampleIngest(t)
			tt.edit(&p)
			_, err := s.SignIngest(context.Background(), p)
			var pe *receipt.PredicateError
			if !errors.As(err, &pe) || !errors.Is(err, receipt.ErrInvalidPredicate) || pe.Field != tt.field {
				t.Fatalf("SignIngest = %v; want a PredicateError for %s", err, tt.field)
			}
		})
	}
}

func TestSignIngestFillsPayloadDefaults(t *testing.T) {
	k := seededKey(t, "signer")
	p := sampleIngest(t)
	p.Payload.Algorithm, p.Payload.ObjectDigest = "", ""
	env, err := receipt.NewSigner(k).SignIngest(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := receipt.Verify(env, keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Ingest()
	if err != nil {
		t.Fatal(err)
	}
	if got.Payload.Algorithm != receipt.AlgorithmRFC6962 || got.Payload.ObjectDigest != receipt.ObjectDigestV1 {
		t.Errorf("payload = %+v, want the defaults written out", got.Payload)
	}
}

func TestSign(t *testing.T) {
	k := seededKey(t, "signer")
	s := receipt.NewSigner(k)
	ctx := context.Background()
	digest := map[string]string{"sha256": strings.Repeat("0f", 32)}
	subject := []receipt.Subject{{Name: "thing", Digest: digest}}

	t.Run("custom predicate round trip", func(t *testing.T) {
		type action struct {
			Action string `json:"action"`
			Big    string `json:"big"`
			N      int64  `json:"n"`
		}
		in := action{Action: "close-deal", Big: "18446744073709551615", N: 1 << 53}
		env, err := s.Sign(ctx, "https://sluice.dev/attestations/test/v1", subject, in)
		if err != nil {
			t.Fatal(err)
		}
		v, err := receipt.Verify(env, keySet(t, k))
		if err != nil {
			t.Fatal(err)
		}
		var out action
		if err := json.Unmarshal(v.Predicate, &out); err != nil || out != in {
			t.Fatalf("predicate = %+v, %v; want %+v", out, err, in)
		}
		if _, err := v.Ingest(); !errors.Is(err, receipt.ErrMalformed) {
			t.Errorf("Ingest() of another predicate type = %v, want ErrMalformed", err)
		}
	})

	bad := []struct {
		name          string
		predicateType string
		subject       []receipt.Subject
		predicate     any
		want          error
	}{
		{"integer above 2^53", "t", subject, map[string]uint64{"n": 1<<53 + 1}, receipt.ErrInvalidPredicate},
		{"negative integer below -2^53", "t", subject, map[string]int64{"n": -(1<<53 + 1)}, receipt.ErrInvalidPredicate},
		{"predicate not an object", "t", subject, []int{1}, receipt.ErrInvalidPredicate},
		{"nil predicate", "t", subject, nil, receipt.ErrInvalidPredicate},
		{"unmarshalable predicate", "t", subject, map[string]any{"f": func() {}}, receipt.ErrInvalidPredicate},
		{"no predicate type", "", subject, map[string]int{}, receipt.ErrInvalidPredicate},
		{"no subject", "t", nil, map[string]int{}, receipt.ErrInvalidPredicate},
		{"subject without digest", "t", []receipt.Subject{{Name: "x"}}, map[string]int{}, receipt.ErrInvalidPredicate},
		{"subject digest not hex", "t", []receipt.Subject{{Name: "x", Digest: map[string]string{"sha256": "zz"}}}, map[string]int{}, receipt.ErrInvalidPredicate},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := s.Sign(ctx, tt.predicateType, tt.subject, tt.predicate); !errors.Is(err, tt.want) {
				t.Fatalf("Sign = %v, want %v", err, tt.want)
			}
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Sign(cctx, "t", subject, map[string]int{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sign = %v, want context.Canceled", err)
		}
	})
}

func TestNewSignerRejectsBadKeys(t *testing.T) {
	good := seededKey(t, "signer")
	tests := []struct {
		name string
		key  receipt.Key
	}{
		{"zero key", receipt.Key{}},
		{"short key", receipt.Key{ID: good.ID, Private: good.Private[:32]}},
		{"wrong id", receipt.Key{ID: "ed25519:0000000000000000", Private: good.Private}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := receipt.NewSigner(tt.key).SignIngest(context.Background(), sampleIngest(t))
			if !errors.Is(err, receipt.ErrInvalidKey) {
				t.Fatalf("SignIngest = %v, want ErrInvalidKey", err)
			}
		})
	}
	t.Run("empty id is filled in", func(t *testing.T) {
		s := receipt.NewSigner(receipt.Key{Private: good.Private})
		if s.KeyID() != good.ID {
			t.Fatalf("KeyID = %q, want %q", s.KeyID(), good.ID)
		}
	})
}

func TestIngestRejectsMismatchedSubject(t *testing.T) {
	// A receipt-shaped predicate signed under a subject that is not its
	// manifest must not decode as an ingest receipt.
	k := seededKey(t, "signer")
	p := sampleIngest(t)
	env, err := receipt.NewSigner(k).Sign(context.Background(), receipt.PredicateIngest,
		[]receipt.Subject{{Name: "payload-manifest/other-run", Digest: map[string]string{"sha256": p.Payload.Root}}}, p)
	if err != nil {
		t.Fatal(err)
	}
	v, err := receipt.Verify(env, keySet(t, k))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Ingest(); !errors.Is(err, receipt.ErrMalformed) {
		t.Fatalf("Ingest = %v, want ErrMalformed", err)
	}
}
