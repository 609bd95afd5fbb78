// Package kms holds what Sluice's key-management backends share: the
// errors a caller branches on whichever backend wrapped a key.
//
// A KMS here wraps small key material (a tenant's data key) under a key
// that never leaves the KMS, with additional authenticated data (AAD)
// that binds the ciphertext to its purpose: the same AAD must be given
// to decrypt. The backends are concrete types in subpackages:
//
//   - [github.com/sluicehq/sluice/kms/local]: a 32-byte key file under the
//     data folder (the default), AES-256-GCM.
//   - [github.com/sluicehq/sluice/kms/awskms]: the AWS KMS API, with the
//     AAD carried as the encryption context.
//
// Following the project's style there is no KMS interface in this
// package: each consumer declares the methods it needs (see
// [github.com/sluicehq/sluice/secrets.KMS]), and both backends provide
//
//	Encrypt(ctx context.Context, plaintext, aad []byte) ([]byte, error)
//	Decrypt(ctx context.Context, ciphertext, aad []byte) ([]byte, error)
//	KeyID() string
//
// KeyID names the wrapping key stably (a fingerprint or an ARN), so a
// consumer can store it beside a ciphertext and, after a key rotation,
// pick the backend that can still decrypt it.
package kms
