package receipt_test

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/gowebpki/jcs"

	"github.com/sluicehq/sluice/receipt"
)

// verifyIndependently checks an envelope without the dsse library or the
// package's verifier: the PAE is built by hand from the DSSE protocol
// ("DSSEv1" SP len(type) SP type SP len(body) SP body) and the signature
// checked with the standard library. It returns the signed payload.
func verifyIndependently(envelope []byte, pub ed25519.PublicKey) ([]byte, error) {
	var env struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, err
	}
	body, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, err
	}
	if len(env.Signatures) == 0 {
		return nil, errors.New("no signatures")
	}
	pae := fmt.Appendf(nil, "DSSEv1 %d %s %d ", len(env.PayloadType), env.PayloadType, len(body))
	pae = append(pae, body...)
	for _, s := range env.Signatures {
		sig, err := base64.StdEncoding.DecodeString(s.Sig)
		if err != nil {
			return nil, err
		}
		if len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, pae, sig) {
			return body, nil
		}
	}
	return nil, errors.New("no signature verifies")
}

// seededKey derives a fixed key from a label, so that signatures (Ed25519
// is deterministic) and goldens are stable.
func seededKey(t testing.TB, label string) receipt.Key {
	t.Helper()
	seed := sha256.Sum256([]byte(label))
	k, err := receipt.KeyFromSeed(seed[:])
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keySet(t testing.TB, keys ...receipt.Key) receipt.KeySet {
	t.Helper()
	s := make(receipt.KeySet)
	for _, k := range keys {
		if _, err := s.Add(k.Public()); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

var testSaltKey = []byte("tenant-acme salt key, 32 bytes!!")

// sampleObjects are the emitted objects of the sample run, by entity id.
var sampleObjects = []struct {
	id   string
	data string
}{
	{"0b7c1a6e-0000-5000-8000-000000000001", `{"amount":1250.5,"email":"ada@example.test","name":"Ada Lovelace","tags":["vip","eu"]}`},
	{"0b7c1a6e-0000-5000-8000-000000000002", `{"amount":0,"email":"alan@example.test","name":"Alan Turing","tags":[]}`},
	{"0b7c1a6e-0000-5000-8000-000000000003", `{"amount":-3,"email":null,"name":"Grace \"Amazing\" Hopper","tags":["us"]}`},
}

// samplePayload builds the payload manifest of sampleObjects.
func samplePayload(t testing.TB) *receipt.PayloadBuilder {
	t.Helper()
	b := receipt.NewPayloadBuilder()
	for _, o := range sampleObjects {
		d, err := receipt.ObjectDigest(testSaltKey, o.id, []byte(o.data))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Add(o.id, d); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func sampleIngest(t testing.TB) receipt.Ingest {
	t.Helper()
	policy := sha256.Sum256([]byte("policy inputs"))
	return receipt.Ingest{
		ReceiptID:        "rcpt-01J0000000000000000000000",
		RunID:            "run-01J0000000000000000000000",
		Kind:             receipt.KindSync,
		TenantID:         "tenant-acme",
		ConnectorID:      "com.example.crm",
		ConnectorVersion: "1.4.2",
		ModuleDigest:     "sha256:" + hex.EncodeToString(make([]byte, 32)),
		Connection:       "conn-crm-prod",
		Source:           receipt.Source{System: "example-crm", AccountID: "acct-42", BaseURL: "https://api.example-crm.test"},
		Scopes:           []string{"contacts:read", "deals:read"},
		CursorIn:         map[string]string{"contacts": "c-100"},
		CursorOut:        map[string]string{"contacts": "c-250"},
		StartedAt:        "2026-03-01T12:00:00Z",
		FinishedAt:       "2026-03-01T12:00:07.25Z",
		Counts:           receipt.Counts{Read: 3, Created: 2, Updated: 1, Errors: 1},
		Errors:           []receipt.ErrorSummary{{Type: "schema", Message: "field amount: not a number", Count: 1}},
		Policy:           receipt.PolicyRef{ID: "dec-3b1f0c2a9d8e7f60a1b2c3d4e5f60718", Rule: "tenant ingest policy (CEL): allow", Digest: "sha256:" + hex.EncodeToString(policy[:])},
		Payload:          samplePayload(t).Ref(),
		CorrelationID:    "corr-7f3a",
		Status:           receipt.StatusSucceeded,
	}
}

// referenceObjectDigest is the object digest written the slow, obvious
// way, from the package documentation alone.
func referenceObjectDigest(saltKey []byte, entityID string, data []byte) ([32]byte, map[string][32]byte, error) {
	canon, err := jcs.Transform(data)
	if err != nil {
		return [32]byte{}, nil, err
	}
	if canon[0] != '{' {
		return [32]byte{}, nil, errors.New("not an object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(canon, &fields); err != nil {
		return [32]byte{}, nil, err
	}
	digests := make(map[string][32]byte, len(fields))
	hexes := make(map[string]string, len(fields))
	for name, value := range fields {
		mac := hmac.New(sha256.New, saltKey)
		mac.Write([]byte(entityID + "\x00" + name))
		salt := mac.Sum(nil)[:16]
		msg := append(append(append([]byte{}, salt...), 0), name...)
		msg = append(append(msg, 0), value...)
		d := sha256.Sum256(msg)
		digests[name] = d
		hexes[name] = hex.EncodeToString(d[:])
	}
	obj, err := json.Marshal(map[string]any{"entity_id": entityID, "fields": hexes})
	if err != nil {
		return [32]byte{}, nil, err
	}
	if obj, err = jcs.Transform(obj); err != nil {
		return [32]byte{}, nil, err
	}
	return sha256.Sum256(obj), digests, nil
}
