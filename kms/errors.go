package kms

import "errors"

// Sentinels every backend's errors match (errors.Is), so a caller can
// branch without knowing the backend.
var (
	// ErrDecrypt: a ciphertext did not authenticate: it was tampered
	// with, truncated, or decrypted with another AAD than it was made
	// with. Nothing of the plaintext is returned.
	ErrDecrypt = errors.New("kms: ciphertext does not authenticate (tampered, malformed or wrong AAD)")
	// ErrWrongKey: a ciphertext was made under another key than the one
	// this backend holds (after a rotation, use the old backend).
	ErrWrongKey = errors.New("kms: ciphertext was made under another key")
	// ErrInvalid: a configuration or argument was refused before any
	// cryptography ran.
	ErrInvalid = errors.New("kms: invalid argument")
)
