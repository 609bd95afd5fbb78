package keyring

import "errors"

// Sentinels callers branch on with errors.Is.
var (
	// ErrNoKey: the keyring is empty; call Ring.Init first.
	ErrNoKey = errors.New("keyring: no active signing key")
	// ErrUnwrap: the KMS could not unwrap a stored private key, or the
	// unwrapped key does not match its public key.
	ErrUnwrap = errors.New("keyring: cannot unwrap signing key")
	// ErrOtherKMS: the keyring's keys are wrapped by another KMS key than
	// the one this Ring was given.
	ErrOtherKMS = errors.New("keyring: keys are wrapped by another KMS key")
	// ErrConfig: the Config is unusable.
	ErrConfig = errors.New("keyring: bad config")
)
