package webhooks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Standard Webhooks headers.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret: "whsec_" and the key in
// standard base64.
const SecretPrefix = "whsec_"

// Bounds of what the verifier reads. A sender sends one signature per
// active secret; more than a handful is an attack on the verifier's time.
const (
	maxWebhookID     = 256
	maxTimestampLen  = 19
	maxSignatureLen  = 4096
	maxSignatures    = 16
	minKeyBytes      = 24
	maxKeyBytes      = 64
	signatureB64Len  = 44 // base64 of a SHA-256 HMAC
	signatureVersion = "v1,"
)

// DefaultTolerance is how far a webhook-timestamp may be from the
// receiver's clock, either way (the Standard Webhooks value).
const DefaultTolerance = 5 * time.Minute

// ParseSecret returns the key of a whsec_ secret (the prefix is
// optional, as in the reference libraries).
func ParseSecret(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
	if err != nil {
		return nil, fmt.Errorf("%w: secret is not base64", ErrInvalid)
	}
	if len(key) < minKeyBytes || len(key) > maxKeyBytes {
		return nil, fmt.Errorf("%w: secret key is %d bytes, want %d to %d", ErrInvalid, len(key), minKeyBytes, maxKeyBytes)
	}
	return key, nil
}

// FormatSecret is the whsec_ form of a key.
func FormatSecret(key []byte) string {
	return SecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Verifier checks Standard Webhooks signatures: HMAC-SHA256 over
// "{webhook-id}.{webhook-timestamp}.{body}", base64, sent as "v1,{sig}"
// in a space-separated webhook-signature header. Comparisons are
// constant-time (hmac.Equal). The zero value uses DefaultTolerance.
type Verifier struct {
	// Tolerance bounds |now - webhook-timestamp|; 0 means DefaultTolerance.
	Tolerance time.Duration
}

// Verify checks one delivery against every active key; any key and any
// one of the signatures may match. The error is a *SignatureError.
func (v Verifier) Verify(keys [][]byte, id, timestamp, signature string, body []byte, now time.Time) error {
	switch {
	case id == "":
		return &SignatureError{Header: HeaderID, Reason: "missing"}
	case len(id) > maxWebhookID:
		return &SignatureError{Header: HeaderID, Reason: fmt.Sprintf("longer than %d bytes", maxWebhookID)}
	case timestamp == "":
		return &SignatureError{Header: HeaderTimestamp, Reason: "missing"}
	case signature == "":
		return &SignatureError{Header: HeaderSignature, Reason: "missing"}
	case len(signature) > maxSignatureLen:
		return &SignatureError{Header: HeaderSignature, Reason: fmt.Sprintf("longer than %d bytes", maxSignatureLen)}
	}
	ts, err := parseTimestamp(timestamp)
	if err != nil {
		return err
	}
	tol := v.Tolerance
	if tol <= 0 {
		tol = DefaultTolerance
	}
	sent := time.Unix(ts, 0)
	switch {
	case now.Sub(sent) > tol:
		return &SignatureError{Header: HeaderTimestamp, Reason: fmt.Sprintf("older than the %s tolerance", tol)}
	case sent.Sub(now) > tol:
		return &SignatureError{Header: HeaderTimestamp, Reason: fmt.Sprintf("more than %s in the future", tol)}
	}
	if len(keys) == 0 {
		return &SignatureError{Header: HeaderSignature, Reason: "the endpoint has no active secret"}
	}
	// Decode the offered signatures first: their count bounds the work.
	var offered [maxSignatures][sha256.Size]byte
	n := 0
	for field := range strings.FieldsSeq(signature) {
		if !strings.HasPrefix(field, signatureVersion) {
			continue // another scheme (v1a, …): not ours to check
		}
		if n == maxSignatures {
			return &SignatureError{Header: HeaderSignature, Reason: fmt.Sprintf("more than %d v1 signatures", maxSignatures)}
		}
		b64 := field[len(signatureVersion):]
		if len(b64) != signatureB64Len {
			continue
		}
		// 44 characters decode to up to 33 bytes: decode into room for
		// them, then keep only a well-formed 32-byte MAC.
		var raw [sha256.Size + 1]byte
		if k, err := base64.StdEncoding.Decode(raw[:], []byte(b64)); err != nil || k != sha256.Size {
			continue
		}
		copy(offered[n][:], raw[:sha256.Size])
		n++
	}
	if n == 0 {
		return &SignatureError{Header: HeaderSignature, Reason: "no well-formed v1 signature"}
	}
	tsText := strconv.FormatInt(ts, 10)
	var sum [sha256.Size]byte
	matched := false
	for _, key := range keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write([]byte(tsText))
		mac.Write([]byte{'.'})
		mac.Write(body)
		mac.Sum(sum[:0])
		for i := range n {
			// No early exit: the time taken does not depend on which
			// signature or key matched.
			if hmac.Equal(sum[:], offered[i][:]) {
				matched = true
			}
		}
	}
	if !matched {
		return &SignatureError{Header: HeaderSignature, Reason: "no signature matches an active secret"}
	}
	return nil
}

// parseTimestamp reads integer Unix seconds: decimal digits only.
func parseTimestamp(s string) (int64, error) {
	if len(s) > maxTimestampLen {
		return 0, &SignatureError{Header: HeaderTimestamp, Reason: "not integer Unix seconds"}
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, &SignatureError{Header: HeaderTimestamp, Reason: "not integer Unix seconds"}
		}
	}
	ts, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, &SignatureError{Header: HeaderTimestamp, Reason: "not integer Unix seconds"}
	}
	return ts, nil
}

// Sign returns the webhook-signature value of one delivery signed with
// each key, as a Standard Webhooks sender (and this package's tests and
// load generator) sends it.
func Sign(keys [][]byte, id string, ts time.Time, body []byte) string {
	parts := make([]string, len(keys))
	tsText := strconv.FormatInt(ts.Unix(), 10)
	for i, key := range keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id + "." + tsText + "."))
		mac.Write(body)
		parts[i] = "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
	}
	return strings.Join(parts, " ")
}
