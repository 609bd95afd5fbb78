package kmstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/kms"
)

// KMS is what Conformance exercises: the methods every backend has.
type KMS interface {
	Encrypt(ctx context.Context, plaintext, aad []byte) ([]byte, error)
	Decrypt(ctx context.Context, ciphertext, aad []byte) ([]byte, error)
	KeyID() string
}

// Conformance checks that k round-trips, binds its AAD, refuses tampered
// and truncated ciphertexts, and refuses a ciphertext of other (a backend
// of the same kind holding another key), each with kms.ErrDecrypt or
// kms.ErrWrongKey. No error may contain the plaintext.
func Conformance(t *testing.T, k, other KMS) {
	t.Helper()
	ctx := context.Background()
	plain := []byte("conformance-plaintext-0123456789abcdef") // 38 bytes, > a data key
	aad := []byte("sluice/tenant-dek/v1|acme")

	if k.KeyID() == "" || k.KeyID() == other.KeyID() {
		t.Fatalf("KeyID %q must be non-empty and differ from the other key's %q", k.KeyID(), other.KeyID())
	}

	t.Run("round trip", func(t *testing.T) {
		for name, c := range map[string]struct{ plain, aad []byte }{
			"text aad":   {plain, aad},
			"binary aad": {plain, []byte{0xff, 0x00, 0xfe, 'x'}},
			"no aad":     {plain, nil},
			"one byte":   {[]byte{7}, aad},
		} {
			ct, err := k.Encrypt(ctx, c.plain, c.aad)
			if err != nil {
				t.Fatalf("%s: Encrypt: %v", name, err)
			}
			if bytes.Contains(ct, c.plain) && len(c.plain) > 1 {
				t.Errorf("%s: ciphertext contains the plaintext", name)
			}
			got, err := k.Decrypt(ctx, ct, c.aad)
			if err != nil {
				t.Fatalf("%s: Decrypt: %v", name, err)
			}
			if !bytes.Equal(got, c.plain) {
				t.Errorf("%s: Decrypt = %q, want %q", name, got, c.plain)
			}
		}
	})

	ct, err := k.Encrypt(ctx, plain, aad)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}

	t.Run("randomised", func(t *testing.T) {
		again, err := k.Encrypt(ctx, plain, aad)
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		if bytes.Equal(again, ct) {
			t.Error("two encryptions of the same plaintext are equal")
		}
	})

	t.Run("wrong aad", func(t *testing.T) {
		for name, bad := range map[string][]byte{
			"other tenant": []byte("sluice/tenant-dek/v1|globex"),
			"prefix":       aad[:len(aad)-1],
			"empty":        nil,
			"binary":       append(bytes.Clone(aad), 0xff),
		} {
			mustFail(t, name, plain, kms.ErrDecrypt)(k.Decrypt(ctx, ct, bad))
		}
	})

	t.Run("tampered", func(t *testing.T) {
		// The head (format and key metadata) and the sealed tail: the
		// last byte of the tag and the byte before a 16-byte tag. The
		// middle is left alone: local-kms ignores the key ARN inside its
		// blob when Decrypt names the key, so flipping it changes
		// nothing there (real AWS KMS blobs are opaque to us).
		for _, i := range []int{0, len(ct) - 17, len(ct) - 1} {
			bad := bytes.Clone(ct)
			bad[i] ^= 0x01
			refused(t, fmt.Sprintf("byte %d flipped", i), plain)(k.Decrypt(ctx, bad, aad))
		}
		mustFail(t, "truncated", plain, kms.ErrDecrypt)(k.Decrypt(ctx, ct[:len(ct)-1], aad))
		mustFail(t, "empty", plain, kms.ErrDecrypt)(k.Decrypt(ctx, nil, aad))
	})

	t.Run("other key", func(t *testing.T) {
		// AWS KMS answers IncorrectKeyException (kms.ErrWrongKey);
		// local-kms answers InvalidCiphertextException (kms.ErrDecrypt).
		refused(t, "other key's ciphertext", plain)(other.Decrypt(ctx, ct, aad))
	})
}

// mustFail returns a checker of a Decrypt result that must be an error
// matching want and not containing plain.
func mustFail(t *testing.T, name string, plain []byte, want error) func([]byte, error) {
	t.Helper()
	return func(got []byte, err error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", name, err, want)
		}
		if got != nil {
			t.Errorf("%s: returned %d bytes with the error", name, len(got))
		}
		noPlain(t, err, plain)
	}
}

// refused is mustFail for either refusal: kms.ErrDecrypt or
// kms.ErrWrongKey (a flipped byte may name another key).
func refused(t *testing.T, name string, plain []byte) func([]byte, error) {
	t.Helper()
	return func(got []byte, err error) {
		t.Helper()
		if !errors.Is(err, kms.ErrDecrypt) && !errors.Is(err, kms.ErrWrongKey) {
			t.Errorf("%s: err = %v, want kms.ErrDecrypt or kms.ErrWrongKey", name, err)
		}
		if got != nil {
			t.Errorf("%s: returned %d bytes with the error", name, len(got))
		}
		noPlain(t, err, plain)
	}
}

func noPlain(t *testing.T, err error, plain []byte) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), string(plain)) {
		t.Errorf("error contains the plaintext: %v", err)
	}
}
