// Package awskms wraps key material with the AWS KMS API (Encrypt and
// Decrypt of a symmetric ENCRYPT_DECRYPT key) through aws-sdk-go-v2.
//
// The caller's additional authenticated data becomes the KMS encryption
// context, which AWS binds to the ciphertext the same way (Decrypt with
// another context fails) and records in CloudTrail, so an audit shows
// which tenant's data key was unwrapped. A UTF-8 AAD is the value of the
// context key "sluice:aad"; any other AAD is base64 under
// "sluice:aad:base64" (the two keys cannot collide). An empty AAD is no
// context.
//
// [New] resolves the configured key (id, ARN or alias) to its ARN with
// DescribeKey, so [KMS.KeyID] names the key itself, not an alias that a
// later rotation may point elsewhere, and Decrypt asks AWS to refuse a
// ciphertext of any other key.
package awskms
