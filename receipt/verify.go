package receipt

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gowebpki/jcs"
	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// MaxEnvelopeSize bounds the envelopes Verify reads.
const MaxEnvelopeSize = 16 << 20

// maxSignatures bounds the signatures Verify checks on one envelope.
const maxSignatures = 16

// Verified is an envelope whose signature checked out.
type Verified struct {
	KeyID         string    // the trusted key that signed it
	PredicateType string    // the statement's predicateType
	Statement     []byte    // the exact payload bytes that were verified
	Subject       []Subject // the statement's subjects
	Predicate     []byte    // the predicate JSON, a sub-slice of Statement
}

// Verify checks a DSSE envelope against the trusted keys and returns what
// it signs. It accepts only envelopes a Signer writes:
//
//   - payloadType "application/vnd.in-toto+json", fields payloadType,
//     payload and signatures each once, nothing else (ErrMalformed);
//   - payload and signatures in standard padded base64, decoded strictly,
//     so no two encodings of one byte string are accepted;
//   - at least one signature by a key in keys (ErrUnknownKey), and every
//     signature by a key in keys valid (ErrBadSignature; an envelope with
//     no signature is ErrBadSignature too); signatures naming other keys
//     are ignored;
//   - a payload that is RFC 8785 canonical JSON and an in-toto Statement
//     v1 (ErrMalformed).
//
// The signature is checked before the payload is parsed at all.
func Verify(envelope []byte, keys KeySet) (*Verified, error) {
	if len(envelope) > MaxEnvelopeSize {
		return nil, malformed("envelope", "%d bytes, more than %d", len(envelope), MaxEnvelopeSize)
	}
	env, err := parseEnvelope(envelope)
	if err != nil {
		return nil, &MalformedError{What: "envelope", Err: err}
	}
	if env.PayloadType != PayloadType {
		return nil, malformed("envelope", "payloadType %s, want %q", clip(env.PayloadType), PayloadType)
	}
	if len(env.Signatures) == 0 {
		return nil, &SignatureError{Reason: "envelope carries no signature"}
	}
	body, err := decodeBase64(env.Payload)
	if err != nil {
		return nil, &MalformedError{What: "envelope payload", Err: err}
	}
	pae := dsse.PAE(env.PayloadType, body)
	var keyID string
	var verified bool
	var unknown []string
	for _, sig := range env.Signatures {
		pub, ok := keys.Lookup(sig.KeyID)
		if !ok {
			unknown = append(unknown, sig.KeyID)
			continue
		}
		raw, err := decodeBase64(sig.Sig)
		if err != nil || len(raw) != ed25519.SignatureSize {
			return nil, &SignatureError{KeyID: sig.KeyID, Reason: "not a base64 Ed25519 signature"}
		}
		if !ed25519.Verify(pub, pae, raw) {
			return nil, &SignatureError{KeyID: sig.KeyID, Reason: "does not verify"}
		}
		if !verified {
			keyID, verified = sig.KeyID, true
		}
	}
	if !verified {
		return nil, &UnknownKeyError{KeyIDs: unknown}
	}
	v, err := parseStatement(body)
	if err != nil {
		return nil, err
	}
	v.KeyID = keyID
	return v, nil
}

// Ingest decodes the predicate of an ingest receipt from the verified
// bytes and checks that the subject is the payload manifest it names.
func (v *Verified) Ingest() (Ingest, error) {
	var p Ingest
	if v.PredicateType != PredicateIngest {
		return p, malformed("predicate", "type %s is not %q", clip(v.PredicateType), PredicateIngest)
	}
	if err := json.Unmarshal(v.Predicate, &p); err != nil {
		return Ingest{}, &MalformedError{What: "ingest predicate", Err: err}
	}
	want := manifestSubject(p.RunID, p.Payload.Root)
	if len(v.Subject) != 1 || v.Subject[0].Name != want.Name ||
		len(v.Subject[0].Digest) != 1 || v.Subject[0].Digest["sha256"] != p.Payload.Root {
		return Ingest{}, malformed("ingest receipt", "subject is not the payload manifest %s", want.Name)
	}
	return p, nil
}

// decodeBase64 decodes standard padded base64 strictly. The decoder skips
// CR and LF even in strict mode, so those are refused first.
func decodeBase64(s string) ([]byte, error) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("line break in base64")
	}
	return base64.StdEncoding.Strict().DecodeString(s)
}

// parseStatement checks that body is a canonical in-toto Statement v1 and
// splits it without copying.
func parseStatement(body []byte) (*Verified, error) {
	if canon, err := jcs.Transform(body); err != nil || !bytes.Equal(canon, body) {
		return nil, malformed("statement", "not RFC 8785 canonical JSON")
	}
	members, ok := canonicalMembers(body, nil)
	if !ok {
		return nil, malformed("statement", "not a JSON object")
	}
	v := &Verified{Statement: body}
	var typ string
	for _, m := range members {
		var err error
		switch string(m.key) {
		case "_type":
			err = json.Unmarshal(m.value, &typ)
		case "predicateType":
			err = json.Unmarshal(m.value, &v.PredicateType)
		case "predicate":
			if m.value[0] != '{' {
				err = errors.New("predicate is not an object")
			}
			v.Predicate = m.value
		case "subject":
			v.Subject, err = parseSubjects(m.value)
		default:
			err = fmt.Errorf("unknown field %s", clip(string(m.key)))
		}
		if err != nil {
			return nil, &MalformedError{What: "statement", Err: err}
		}
	}
	switch {
	case typ != intoto.StatementTypeUri:
		return nil, malformed("statement", "_type %s, want %q", clip(typ), intoto.StatementTypeUri)
	case v.PredicateType == "":
		return nil, malformed("statement", "no predicateType")
	case v.Predicate == nil:
		return nil, malformed("statement", "no predicate")
	case v.Subject == nil:
		return nil, malformed("statement", "no subject")
	}
	return v, nil
}

func parseSubjects(raw []byte) ([]Subject, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	subjects := make([]Subject, 0, len(items))
	for _, item := range items {
		members, ok := canonicalMembers(item, nil)
		if !ok {
			return nil, errors.New("subject is not an object")
		}
		var sub Subject
		for _, m := range members {
			var err error
			switch string(m.key) {
			case "name":
				err = json.Unmarshal(m.value, &sub.Name)
			case "digest":
				err = json.Unmarshal(m.value, &sub.Digest)
			default:
				err = fmt.Errorf("unknown field %s", clip(string(m.key)))
			}
			if err != nil {
				return nil, fmt.Errorf("subject: %w", err)
			}
		}
		subjects = append(subjects, sub)
	}
	if err := checkSubjects(subjects); err != nil {
		return nil, err
	}
	return subjects, nil
}

// parseEnvelope reads a DSSE envelope field by field, refusing duplicate,
// unknown or wrongly cased names (encoding/json would take the last of a
// duplicate and match names case-insensitively) and trailing data.
func parseEnvelope(data []byte) (dsse.Envelope, error) {
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	err := readObject(dec, func(key string) (err error) {
		switch key {
		case "payloadType":
			env.PayloadType, err = readString(dec)
		case "payload":
			env.Payload, err = readString(dec)
		case "signatures":
			env.Signatures, err = readSignatures(dec)
		default:
			err = fmt.Errorf("unknown field %s", clip(key))
		}
		return err
	}, "payloadType", "payload", "signatures")
	if err != nil {
		return env, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return env, errors.New("data after the envelope")
	}
	return env, nil
}

func readSignatures(dec *json.Decoder) ([]dsse.Signature, error) {
	if err := readDelim(dec, '['); err != nil {
		return nil, err
	}
	var sigs []dsse.Signature
	for dec.More() {
		if len(sigs) == maxSignatures {
			return nil, fmt.Errorf("more than %d signatures", maxSignatures)
		}
		var sig dsse.Signature
		err := readObject(dec, func(key string) (err error) {
			switch key {
			case "keyid":
				sig.KeyID, err = readString(dec)
			case "sig":
				sig.Sig, err = readString(dec)
			default:
				err = fmt.Errorf("unknown signature field %s", clip(key))
			}
			return err
		}, "sig")
		if err != nil {
			return nil, err
		}
		sigs = append(sigs, sig)
	}
	return sigs, readDelim(dec, ']')
}

// readObject reads one object, calling field for each name with the
// decoder at its value; every name in required must appear.
func readObject(dec *json.Decoder, field func(key string) error, required ...string) error {
	if err := readDelim(dec, '{'); err != nil {
		return err
	}
	seen := make(map[string]bool, len(required))
	for dec.More() {
		key, err := readString(dec)
		if err != nil {
			return err
		}
		if seen[key] {
			return fmt.Errorf("duplicate field %s", clip(key))
		}
		seen[key] = true
		if err := field(key); err != nil {
			return err
		}
	}
	for _, r := range required {
		if !seen[r] {
			return fmt.Errorf("missing field %q", r)
		}
	}
	return readDelim(dec, '}')
}

func readDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("want %q, got %s", want, clip(fmt.Sprint(tok)))
	}
	return nil
}

func readString(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("want a string, got %s", clip(fmt.Sprint(tok)))
	}
	return s, nil
}

// maxQuoted bounds how much of an input string an error message quotes,
// so that a hostile envelope cannot write its content into logs.
const maxQuoted = 64

// clip quotes s for an error message, cut to maxQuoted bytes.
func clip(s string) string {
	if len(s) > maxQuoted {
		return fmt.Sprintf("%q (cut from %d bytes)", s[:maxQuoted], len(s))
	}
	return strconv.Quote(s)
}
