// Package keyring keeps the keys that sign Sluice's receipts: one active
// Ed25519 key and the retired keys before it, as platform records of the
// store (store/signingkeys.go). Private keys are stored only wrapped by
// the KMS (kms/local or kms/awskms), each ciphertext bound to its key id
// as additional authenticated data, so a wrapped key copied onto another
// record does not unwrap.
//
// [Ring.Signer] returns a *receipt.Signer that follows the keyring: each
// signature is made with whatever key is active at that moment, so after
// [Ring.Rotate] the engine signs with the new key without a restart.
// Retired keys stay in the keyring, so receipts they signed keep
// verifying ([Ring.KeySet]).
//
// [Ring.Init] makes the first key, importing a legacy key file
// (DIR/keys/signing.pem) when there is one and then deleting the file, so
// the private key is never left in the clear.
package keyring
