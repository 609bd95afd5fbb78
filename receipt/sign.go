package receipt

import (
	"bytes"
	"context"
	"crypto/ed25519"
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

// PayloadType is the DSSE payload type of every receipt.
const PayloadType = "application/vnd.in-toto+json"

// Subject is one subject of an in-toto statement: a name and its digests
// (algorithm → lower-case hex).
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// statement is the JSON shape of an in-toto Statement v1. It is built as a
// plain struct rather than through protojson, whose output is not stable
// and whose Struct predicate would turn every number into a double.
type statement struct {
	Type          string          `json:"_type"`
	Subject       []Subject       `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Signer signs receipts with one Ed25519 key. It is safe for concurrent
// use.
type Signer struct {
	key  Key
	env  *dsse.EnvelopeSigner
	self KeySet // the signer's own public key, to check each envelope
	err  error  // why the key is unusable, reported by every Sign
	// follow, if set, picks the Signer each call uses (NewFollowingSigner).
	follow func() (*Signer, error)
}

// NewFollowingSigner returns a Signer that asks current for the Signer
// of each call, so whoever holds it signs with the active key of a
// keyring after a rotation without being rebuilt (see package keyring).
func NewFollowingSigner(current func() (*Signer, error)) *Signer {
	return &Signer{follow: current}
}

// NewSigner returns a Signer for k. An unusable key (wrong length, or an
// ID that is not KeyID of its public key) makes every Sign fail; an empty
// ID is filled in.
func NewSigner(k Key) *Signer {
	s := &Signer{key: k}
	if len(k.Private) != ed25519.PrivateKeySize {
		s.err = fmt.Errorf("%w: private key is %d bytes, want %d", ErrInvalidKey, len(k.Private), ed25519.PrivateKeySize)
		return s
	}
	id := KeyID(k.Public())
	if k.ID != "" && k.ID != id {
		s.err = fmt.Errorf("%w: key id %q does not match its public key (%s)", ErrInvalidKey, k.ID, id)
		return s
	}
	s.key.ID = id
	s.self = KeySet{id: k.Public()}
	s.env, s.err = dsse.NewEnvelopeSigner(dsseSigner{s.key})
	return s
}

// KeyID returns the id of the signing key.
func (s *Signer) KeyID() string {
	if s.follow != nil {
		if cur, err := s.follow(); err == nil && cur != nil {
			return cur.KeyID()
		}
		return ""
	}
	return s.key.ID
}

// SignIngest signs an ingest receipt whose subject is the payload
// manifest of p ("payload-manifest/{run id}", sha256 = p.Payload.Root),
// and returns the DSSE envelope JSON. p is checked first (an error
// matching ErrInvalidPredicate says which field is wrong).
func (s *Signer) SignIngest(ctx context.Context, p Ingest) ([]byte, error) {
	if err := p.normalize(); err != nil {
		return nil, err
	}
	return s.Sign(ctx, PredicateIngest, []Subject{manifestSubject(p.RunID, p.Payload.Root)}, p)
}

// Sign wraps predicate (anything that marshals to a JSON object) in an
// in-toto Statement v1 with the given type and subjects, serialises it as
// RFC 8785 canonical JSON, signs it as a DSSE envelope and returns the
// envelope JSON. Before returning, the envelope is verified with the
// signer's public key, so what leaves is what verifies.
func (s *Signer) Sign(ctx context.Context, predicateType string, subject []Subject, predicate any) (_ []byte, err error) {
	if s.follow != nil {
		cur, err := s.follow()
		if err != nil {
			return nil, fmt.Errorf("receipt: signing key: %w", err)
		}
		return cur.Sign(ctx, predicateType, subject, predicate)
	}
	ctx, span := s.startSign(ctx, predicateType)
	defer func() { endSign(span, err) }()
	if s.err != nil {
		return nil, s.err
	}
	if s.env == nil {
		return nil, fmt.Errorf("%w: Signer has no key; use NewSigner", ErrInvalidKey)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if predicateType == "" {
		return nil, &PredicateError{Reason: "no predicate type"}
	}
	if err := checkSubjects(subject); err != nil {
		return nil, &PredicateError{Field: "subject", Reason: err.Error()}
	}
	raw, err := json.Marshal(predicate)
	if err != nil {
		return nil, &PredicateError{Reason: err.Error()}
	}
	if raw[0] != '{' {
		return nil, &PredicateError{Reason: "does not marshal to a JSON object"}
	}
	if err := checkExactNumbers(raw); err != nil {
		return nil, err
	}
	body, err := json.Marshal(statement{
		Type:          intoto.StatementTypeUri,
		Subject:       subject,
		PredicateType: predicateType,
		Predicate:     raw,
	})
	if err != nil {
		return nil, &PredicateError{Reason: err.Error()}
	}
	if body, err = jcs.Transform(body); err != nil {
		return nil, fmt.Errorf("receipt: canonicalise statement: %w", err)
	}
	env, err := s.env.SignPayload(ctx, PayloadType, body)
	if err != nil {
		return nil, fmt.Errorf("receipt: sign: %w", err)
	}
	out, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("receipt: encode envelope: %w", err)
	}
	if _, err := Verify(out, s.self); err != nil {
		return nil, fmt.Errorf("receipt: signed envelope does not verify: %w", err)
	}
	return out, nil
}

// checkSubjects applies the in-toto rules for v1 subjects.
func checkSubjects(subject []Subject) error {
	if len(subject) == 0 {
		return errors.New("a statement needs at least one subject")
	}
	for _, sub := range subject {
		if len(sub.Digest) == 0 {
			return fmt.Errorf("subject %q has no digest", sub.Name)
		}
		rd := intoto.ResourceDescriptor{Name: sub.Name, Digest: sub.Digest}
		if err := rd.Validate(); err != nil {
			return fmt.Errorf("subject %q: %w", sub.Name, err)
		}
	}
	return nil
}

// checkExactNumbers refuses an integer that RFC 8785, whose numbers are
// IEEE doubles, would silently round.
func checkExactNumbers(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return &PredicateError{Reason: err.Error()}
		}
		n, ok := tok.(json.Number)
		if !ok || strings.ContainsAny(string(n), ".eE") {
			continue
		}
		if v, err := strconv.ParseInt(string(n), 10, 64); err != nil || v > maxSafeInteger || v < -maxSafeInteger {
			return &PredicateError{Reason: fmt.Sprintf("integer %s is not exact as an RFC 8785 number (above 2^53); put it in a string", n)}
		}
	}
}

// dsseSigner adapts a Key to dsse.Signer.
type dsseSigner struct{ key Key }

func (d dsseSigner) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ed25519.Sign(d.key.Private, data), nil
}

func (d dsseSigner) KeyID() (string, error) { return d.key.ID, nil }
