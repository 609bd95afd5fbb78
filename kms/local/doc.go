// Package local is Sluice's default KMS: one 32-byte AES-256 key in a
// file under the data folder, readable by its owner only.
//
// It is as safe as the file: anyone who can read the key file and the
// store can read every secret. It exists so that a single server needs
// no cloud account; put the key file on another disk than the store, or
// use [github.com/sluicehq/sluice/kms/awskms], where that matters.
//
// # Key file
//
// [Open] creates the file (mode 0600, its folder 0700) with 32 random
// bytes if it does not exist, atomically: a crash never leaves half a key
// behind. It refuses a file that is not exactly 32 bytes, is not a
// regular file, or is readable or writable by group or others, and a
// folder that group or others can write (they could swap the key).
//
// # Ciphertext format
//
//	offset  size  field
//	0       1     format version, 1
//	1       8     key fingerprint: the first 8 bytes of
//	              SHA-256("sluice/kms/local/key-id/v1" || key)
//	9       12    AES-GCM nonce, random
//	21      n+16  AES-256-GCM ciphertext and tag
//
// The AES-GCM additional data is the 9-byte header followed by the
// caller's AAD, so neither the header nor the AAD can change without the
// tag failing. The fingerprint makes the format rotation-ready: after a
// new key file is made, a ciphertext names the key that made it, and
// decrypting it with the other key is [kms.ErrWrongKey], not a vague
// failure. [KMS.KeyID] is "local:" and the fingerprint in hex.
package local
