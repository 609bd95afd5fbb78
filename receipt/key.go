package receipt

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// keyIDPrefix names the algorithm in every key id.
const keyIDPrefix = "ed25519:"

// pemType is the PEM block type of a PKCS #8 private key.
const pemType = "PRIVATE KEY"

// maxKeyFileSize bounds how much of a key file is read; a PEM Ed25519 key
// is about 120 bytes.
const maxKeyFileSize = 64 << 10

// Key is an Ed25519 signing key and its id.
type Key struct {
	ID      string // KeyID of the public key
	Private ed25519.PrivateKey
}

// Public returns the public half of k.
func (k Key) Public() ed25519.PublicKey {
	return k.Private.Public().(ed25519.PublicKey)
}

// KeyID is "ed25519:" followed by the first 16 hex digits of the SHA-256
// of the 32-byte public key. It names a key; it proves nothing, and a
// verifier still checks the signature with the key it found by id.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return keyIDPrefix + hex.EncodeToString(sum[:8])
}

// GenerateKey makes a new key from rand, or from crypto/rand if rand is nil.
func GenerateKey(rand io.Reader) (Key, error) {
	_, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return Key{}, fmt.Errorf("receipt: generate key: %w", err)
	}
	return keyFromPrivate(priv)
}

// KeyFromSeed derives the key of an RFC 8032 32-byte seed.
func KeyFromSeed(seed []byte) (Key, error) {
	if len(seed) != ed25519.SeedSize {
		return Key{}, fmt.Errorf("%w: seed is %d bytes, want %d", ErrInvalidKey, len(seed), ed25519.SeedSize)
	}
	return keyFromPrivate(ed25519.NewKeyFromSeed(seed))
}

func keyFromPrivate(priv ed25519.PrivateKey) (Key, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return Key{}, fmt.Errorf("%w: private key is %d bytes, want %d", ErrInvalidKey, len(priv), ed25519.PrivateKeySize)
	}
	k := Key{Private: priv}
	k.ID = KeyID(k.Public())
	return k, nil
}

// MarshalKey encodes k as a PEM PKCS #8 private key.
func MarshalKey(k Key) ([]byte, error) {
	if len(k.Private) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: private key is %d bytes, want %d", ErrInvalidKey, len(k.Private), ed25519.PrivateKeySize)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Private)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), nil
}

// ParseKey decodes a PEM PKCS #8 Ed25519 private key written by MarshalKey.
func ParseKey(data []byte) (Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return Key{}, fmt.Errorf("%w: no PEM block", ErrInvalidKey)
	}
	if block.Type != pemType {
		return Key{}, fmt.Errorf("%w: PEM block is %q, want %q", ErrInvalidKey, block.Type, pemType)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return Key{}, fmt.Errorf("%w: %w", ErrInvalidKey, err)
	}
	priv, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return Key{}, fmt.Errorf("%w: key is %T, want Ed25519", ErrInvalidKey, parsed)
	}
	return keyFromPrivate(priv)
}

// LoadOrCreateKey reads the key at path, or, if there is none, generates
// one from rand (crypto/rand if nil) and writes it there: the directory is
// created with mode 0700 and the file with 0600. The file appears whole or
// not at all, and if another process creates it first, its key is loaded.
// An existing file readable by group or others is refused
// (ErrInsecureKeyFile), as ssh refuses one.
func LoadOrCreateKey(path string, rand io.Reader) (Key, error) {
	k, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return k, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Key{}, fmt.Errorf("receipt: key directory: %w", err)
	}
	if k, err = GenerateKey(rand); err != nil {
		return Key{}, err
	}
	data, err := MarshalKey(k)
	if err != nil {
		return Key{}, err
	}
	created, err := writeNewFile(dir, path, data)
	if err != nil {
		return Key{}, err
	}
	if !created {
		return loadKey(path)
	}
	return k, nil
}

func loadKey(path string) (Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return Key{}, fmt.Errorf("receipt: key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return Key{}, fmt.Errorf("receipt: key file: %w", err)
	}
	// Windows has no Unix permission bits to check.
	if runtime.GOOS != "windows" && info.Mode().Perm()&0o077 != 0 {
		return Key{}, fmt.Errorf("%w: %s has mode %04o, want 0600", ErrInsecureKeyFile, path, info.Mode().Perm())
	}
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize))
	if err != nil {
		return Key{}, fmt.Errorf("receipt: key file: %w", err)
	}
	k, err := ParseKey(data)
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// writeNewFile writes data to a 0600 temporary file in dir and hard-links
// it to path, so that path never holds a partial key and an existing file
// is never replaced. It reports false if path already existed.
func writeNewFile(dir, path string, data []byte) (created bool, err error) {
	tmp, err := os.CreateTemp(dir, ".receipt-key-*")
	if err != nil {
		return false, fmt.Errorf("receipt: key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, fmt.Errorf("receipt: key file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, fmt.Errorf("receipt: key file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, fmt.Errorf("receipt: key file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return false, fmt.Errorf("receipt: key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		return false, fmt.Errorf("receipt: key file: %w", err)
	}
	// Make the new directory entry durable; failure here is not fatal on
	// file systems that cannot sync a directory.
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return true, nil
}

// KeySet maps key ids to the Ed25519 public keys a verifier trusts. Make it
// with NewKeySet or make(KeySet). Fill it before sharing it: concurrent
// Lookups are safe, an Add concurrent with anything else is not.
type KeySet map[string]ed25519.PublicKey

// NewKeySet returns a KeySet holding pubs.
func NewKeySet(pubs ...ed25519.PublicKey) (KeySet, error) {
	s := make(KeySet, len(pubs))
	for _, pub := range pubs {
		if _, err := s.Add(pub); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Add trusts pub and returns its key id.
func (s KeySet) Add(pub ed25519.PublicKey) (string, error) {
	if s == nil {
		return "", fmt.Errorf("%w: Add on a nil KeySet", ErrInvalidKey)
	}
	if len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: public key is %d bytes, want %d", ErrInvalidKey, len(pub), ed25519.PublicKeySize)
	}
	id := KeyID(pub)
	if old, ok := s[id]; ok && !old.Equal(pub) {
		return "", fmt.Errorf("%w: two keys share id %s", ErrInvalidKey, id)
	}
	s[id] = append(ed25519.PublicKey(nil), pub...)
	return id, nil
}

// Lookup returns the trusted key with the given id.
func (s KeySet) Lookup(id string) (ed25519.PublicKey, bool) {
	pub, ok := s[id]
	return pub, ok
}
