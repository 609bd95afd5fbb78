package tape

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Bounds Parse enforces. A tape is outside input (a reviewer's file, a
// download), so it is bounded before it is trusted.
const (
	// MaxSize caps the bytes of a tape: a page's responses are capped by
	// the host (8 MiB each by default), and a long run belongs in several
	// tapes, not one huge file.
	MaxSize = 256 << 20
	// MaxCalls caps the calls of one tape.
	MaxCalls = 100_000
)

// Parse reads a tape strictly: exactly one JSON object, no field the
// format does not define, Version == FormatVersion, hex digests and
// seeds, an export name on every call. Errors match ErrInvalid and, for
// a field, are a *FormatError naming it.
func Parse(b []byte) (*Tape, error) {
	if len(b) > MaxSize {
		return nil, &FormatError{Reason: fmt.Sprintf("%d bytes, more than %d", len(b), MaxSize)}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var t Tape
	if err := dec.Decode(&t); err != nil {
		return nil, &FormatError{Reason: "not a tape JSON object: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &FormatError{Reason: "trailing data after the JSON object"}
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Validate checks a decoded tape as Parse does.
func (t *Tape) Validate() error {
	if t.Version < MinVersion || t.Version > FormatVersion {
		return &FormatError{Field: "version", Reason: fmt.Sprintf("%d is not a supported version (want %d to %d)", t.Version, MinVersion, FormatVersion)}
	}
	if t.Version < 2 && (len(t.Fields) > 0 || t.minimised()) {
		return &FormatError{Field: "version", Reason: "version 1 tapes have no fields, minimised values or refused types"}
	}
	if t.Seed != "" {
		if err := checkSeed("seed", t.Seed); err != nil {
			return err
		}
	}
	if len(t.Manifest) > 0 && !json.Valid(t.Manifest) {
		return &FormatError{Field: "manifest", Reason: "not JSON"}
	}
	if len(t.Calls) > MaxCalls {
		return &FormatError{Field: "calls", Reason: fmt.Sprintf("%d calls, more than %d", len(t.Calls), MaxCalls)}
	}
	for i := range t.Calls {
		if err := t.Calls[i].validate(fmt.Sprintf("calls[%d]", i)); err != nil {
			return err
		}
	}
	return nil
}

func (t *Tape) minimised() bool {
	for i := range t.Calls {
		if t.Calls[i].Minimised != 0 || len(t.Calls[i].Refused) > 0 {
			return true
		}
	}
	return false
}

func (c *Call) validate(at string) error {
	if c.Minimised < 0 {
		return &FormatError{Field: at + ".minimised", Reason: "must not be negative"}
	}
	for i, t := range c.Refused {
		if t == "" || len(t) > 128 {
			return &FormatError{Field: fmt.Sprintf("%s.refused[%d]", at, i), Reason: "must be a type name of 1-128 bytes"}
		}
	}
	if c.Export == "" || len(c.Export) > 64 {
		return &FormatError{Field: at + ".export", Reason: "must be an export name of 1-64 bytes"}
	}
	if c.Seed != "" {
		if err := checkSeed(at+".seed", c.Seed); err != nil {
			return err
		}
	}
	if c.Output != "" {
		if err := checkDigest(at+".output", c.Output); err != nil {
			return err
		}
	}
	for j, d := range c.Emits {
		if err := checkDigest(fmt.Sprintf("%s.emits[%d]", at, j), d); err != nil {
			return err
		}
	}
	for j, d := range c.Logs {
		if err := checkDigest(fmt.Sprintf("%s.logs[%d]", at, j), d); err != nil {
			return err
		}
	}
	for j, ex := range c.Exchanges {
		if ex.Request.Method == "" {
			return &FormatError{Field: fmt.Sprintf("%s.exchanges[%d].request.method", at, j), Reason: "required"}
		}
	}
	return nil
}

// checkDigest accepts a SHA-256 as 64 lower-case hex digits.
func checkDigest(field, s string) error {
	if len(s) != 64 || !lowerHex(s) {
		return &FormatError{Field: field, Reason: "must be a SHA-256 as 64 lower-case hex digits"}
	}
	return nil
}

// checkSeed accepts a 32-byte seed as 64 hex digits.
func checkSeed(field, s string) error {
	if len(s) != 64 || !lowerHex(s) {
		return &FormatError{Field: field, Reason: "must be 32 bytes as 64 lower-case hex digits"}
	}
	return nil
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// DecodeSeed returns the 32 bytes of a seed Parse accepted.
func DecodeSeed(s string) ([32]byte, error) {
	var out [32]byte
	if err := checkSeed("seed", s); err != nil {
		return out, err
	}
	_, err := hex.Decode(out[:], []byte(s))
	return out, err
}
