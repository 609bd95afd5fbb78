package local

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/kms"
)

const (
	keySize     = 32 // AES-256
	fpSize      = 8
	nonceSize   = 12
	tagSize     = 16
	version1    = 1
	headerSize  = 1 + fpSize
	minCipher   = headerSize + nonceSize + tagSize
	keyIDPrefix = "local:"
	fpDomain    = "sluice/kms/local/key-id/v1"
)

// KMS encrypts with the key of one key file. It is safe for concurrent
// use and holds no file open.
type KMS struct {
	fp    [fpSize]byte
	keyID string
	aead  cipher.AEAD
}

// Open loads the key file at path, creating it (and its folder) if it
// does not exist. See the package documentation for what it refuses.
func Open(path string) (*KMS, error) {
	if path == "" {
		return nil, &KeyFileError{Path: path, Reason: "no path given", Err: kms.ErrInvalid}
	}
	path = filepath.Clean(path)
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	key, err := readKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKey(path); err != nil {
			return nil, err
		}
		key, err = readKey(path)
	}
	if err != nil {
		return nil, err
	}
	return newKMS(key)
}

// newKMS builds the cipher for a 32-byte key.
func newKMS(key []byte) (*KMS, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("local kms: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("local kms: %w", err)
	}
	k := &KMS{aead: aead}
	sum := sha256.Sum256(append([]byte(fpDomain), key...))
	copy(k.fp[:], sum[:fpSize])
	k.keyID = keyIDPrefix + hex.EncodeToString(k.fp[:])
	return k, nil
}

// KeyID is "local:" followed by the key's 16-hex-digit fingerprint.
func (k *KMS) KeyID() string { return k.keyID }

// Encrypt seals plaintext bound to aad (which may be empty).
func (k *KMS) Encrypt(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("local kms: nonce: %w", err)
	}
	return k.seal(nonce, plaintext, aad), nil
}

// seal builds a ciphertext with the given nonce.
func (k *KMS) seal(nonce, plaintext, aad []byte) []byte {
	out := make([]byte, headerSize, minCipher+len(plaintext))
	out[0] = version1
	copy(out[1:], k.fp[:])
	out = append(out, nonce...)
	return k.aead.Seal(out, nonce, plaintext, additional(out[:headerSize], aad))
}

// Decrypt opens a ciphertext made by Encrypt with the same aad. A
// ciphertext of another key is kms.ErrWrongKey; a tampered or malformed
// one, or another aad, is kms.ErrDecrypt.
func (k *KMS) Decrypt(ctx context.Context, ciphertext, aad []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := parse(ciphertext)
	if err != nil {
		return nil, err
	}
	if c.fp != k.fp {
		return nil, fmt.Errorf("local kms: ciphertext of key %s%x, this is %s: %w",
			keyIDPrefix, c.fp, k.keyID, kms.ErrWrongKey)
	}
	pt, err := k.aead.Open(nil, c.nonce, c.sealed, additional(c.header, aad))
	if err != nil {
		return nil, fmt.Errorf("local kms: %w", kms.ErrDecrypt)
	}
	return pt, nil
}

// additional is the GCM additional data: header, then the caller's AAD.
// The header has a fixed size, so the split is unambiguous.
func additional(header, aad []byte) []byte {
	return append(bytes.Clone(header), aad...)
}

// ciphertext is a parsed ciphertext; its slices alias the input.
type ciphertext struct {
	header []byte
	fp     [fpSize]byte
	nonce  []byte
	sealed []byte // ciphertext and tag
}

// parse splits a ciphertext into its fields without decrypting it.
func parse(b []byte) (ciphertext, error) {
	var c ciphertext
	if len(b) < minCipher {
		return c, fmt.Errorf("local kms: ciphertext of %d bytes is shorter than %d: %w", len(b), minCipher, kms.ErrDecrypt)
	}
	if b[0] != version1 {
		return c, fmt.Errorf("local kms: unknown ciphertext format version %d: %w", b[0], kms.ErrDecrypt)
	}
	c.header = b[:headerSize]
	copy(c.fp[:], b[1:headerSize])
	c.nonce = b[headerSize : headerSize+nonceSize]
	c.sealed = b[headerSize+nonceSize:]
	return c, nil
}

// ensureDir makes dir (0700) if missing and refuses one that group or
// others can write.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return &KeyFileError{Path: dir, Reason: "create folder", Err: err}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return &KeyFileError{Path: dir, Reason: "stat folder", Err: err}
	}
	if !fi.IsDir() {
		return &KeyFileError{Path: dir, Reason: "not a folder", Err: ErrKeyFile}
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return &KeyFileError{Path: dir, Reason: fmt.Sprintf("folder mode %04o lets group or others write", perm), Err: ErrInsecure}
	}
	return nil
}

// readKey reads and checks an existing key file. A missing file is an
// error matching fs.ErrNotExist.
func readKey(path string) ([]byte, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		return nil, &KeyFileError{Path: path, Reason: "stat", Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &KeyFileError{Path: path, Reason: "not a regular file (" + fi.Mode().Type().String() + ")", Err: ErrKeyFile}
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, &KeyFileError{Path: path, Reason: fmt.Sprintf("mode %04o lets group or others in; chmod 600 it", perm), Err: ErrInsecure}
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, &KeyFileError{Path: path, Reason: "read", Err: err}
	}
	if len(key) != keySize {
		return nil, &KeyFileError{Path: path, Reason: fmt.Sprintf("%d bytes, want %d", len(key), keySize), Err: ErrKeyFile}
	}
	return key, nil
}

// createKey writes a new random key to a temporary file and links it
// into place, so the key file appears whole or not at all, and a
// concurrent Open that won the race keeps its key (link never replaces).
func createKey(path string) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".kms-key-*") // mode 0600
	if err != nil {
		return &KeyFileError{Path: path, Reason: "create", Err: err}
	}
	defer os.Remove(tmp.Name())
	key := make([]byte, keySize)
	_, err = rand.Read(key)
	if err == nil {
		_, err = tmp.Write(key)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return &KeyFileError{Path: path, Reason: "write", Err: err}
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return &KeyFileError{Path: path, Reason: "link into place", Err: err}
	}
	return syncDir(dir)
}

// syncDir makes the new directory entry durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return &KeyFileError{Path: dir, Reason: "open folder", Err: err}
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return &KeyFileError{Path: dir, Reason: "sync folder", Err: err}
	}
	return nil
}
