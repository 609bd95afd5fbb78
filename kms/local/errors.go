package local

import (
	"errors"
	"fmt"
)

// Sentinels for key files Open refuses. Ciphertext failures match
// kms.ErrDecrypt or kms.ErrWrongKey.
var (
	// ErrInsecure: the key file is readable or writable by group or
	// others, or its folder is writable by them.
	ErrInsecure = errors.New("local kms: key file or folder is open to group or others")
	// ErrKeyFile: the key file is not a regular file of exactly 32 bytes.
	ErrKeyFile = errors.New("local kms: malformed key file")
)

// KeyFileError says which file Open refused and why. It matches its Err
// (ErrInsecure, ErrKeyFile, kms.ErrInvalid or an fs error).
type KeyFileError struct {
	Path   string
	Reason string
	Err    error
}

func (e *KeyFileError) Error() string {
	return fmt.Sprintf("local kms: key file %s: %s: %v", e.Path, e.Reason, e.Err)
}

// Unwrap returns the cause.
func (e *KeyFileError) Unwrap() error { return e.Err }
