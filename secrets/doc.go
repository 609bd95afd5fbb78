// Package secrets keeps connection secrets (API keys, OAuth client
// secrets and tokens) encrypted at rest with envelope encryption.
//
// # Keys
//
// Each tenant has one data key (DEK): 32 random bytes, made on the
// tenant's first secret, wrapped by the KMS with the additional data
// "sluice/tenant-dek/v1|{tenant}" and stored as the tenant key record
// "dek" (store.Tenant.PutKey). The KMS sees only data keys, never a
// secret, and one tenant's wrapped DEK copied to another tenant does not
// unwrap. Unwrapped DEKs are cached in memory, at most Config.CacheSize
// tenants, least recently used first out.
//
// Each secret is sealed with AES-256-GCM under its tenant's DEK, with
// additional data binding it to its tenant, connection and name: a
// sealed blob copied to another tenant, connection or name does not
// open ([ErrSealed]). The blob is stored with store.Tenant.PutSecret.
//
// # Write-only
//
// There is no method that returns one secret's value: [Vault.Put],
// [Vault.Rotate] and [Vault.Delete] write, [Vault.Names] lists names, and
// only [Vault.Open] returns values, all of one connection at once, for
// the engine to build its credentials (which keep raw secrets out of the
// sandbox). Values never appear in an error or a log line: errors name
// the tenant, connection and secret name only.
//
// # Formats
//
// DEK record (JSON): {"v":1,"id":"<16 hex>","kms":"<KMS key id>","wrapped":"<base64>"}.
// "id" names the DEK in every blob sealed under it; "kms" is the KeyID of
// the KMS that wrapped it, so after a KMS key rotation the vault picks
// the KMS that can unwrap it.
//
// Sealed secret (binary):
//
//	offset  size  field
//	0       1     format version, 1
//	1       8     DEK id
//	9       12    AES-GCM nonce, random
//	21      n+16  AES-256-GCM ciphertext and tag
//
// The GCM additional data is the 9-byte header, then "sluice/secret/v1"
// and the tenant, connection and name, each preceded by its length as a
// uvarint (so no choice of names makes two bindings equal).
//
// # KMS key rotation
//
// Rotating the KMS key rewraps each DEK; sealed secrets are untouched.
// Start the vault with the new KMS as Config.KMS and the old one in
// Config.Retired, call [Vault.RewrapAll] (or [Vault.RewrapDEK] per
// tenant), then drop the old KMS from Retired. [Vault.Rotate] replaces a
// secret's value.
//
// # One vault per store
//
// The vault serialises the creation of a tenant's DEK in memory. Two
// vaults over the same store could both create a first DEK for a new
// tenant and one would be lost with the secret sealed under it, so a
// process makes one Vault per store and shares it.
package secrets
