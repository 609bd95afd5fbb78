package awskms

import (
	"context"
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/sluicehq/sluice/kms"
)

// maxPlaintext is AWS KMS's Encrypt limit.
const maxPlaintext = 4096

// Encryption-context keys carrying the AAD (see the package doc).
const (
	contextKey    = "sluice:aad"
	contextKeyB64 = "sluice:aad:base64"
)

// Config selects the key and how to reach AWS.
type Config struct {
	// KeyID is the symmetric KMS key: a key id, key ARN, alias name
	// ("alias/sluice") or alias ARN. Required.
	KeyID string
	// Region is the AWS region; empty takes the SDK's default (AWS_REGION,
	// the shared config file).
	Region string
	// Endpoint replaces the KMS endpoint URL (a VPC endpoint, or a local
	// KMS-compatible server in tests); empty is AWS's endpoint for Region.
	Endpoint string
	// Credentials signs the requests; nil takes the SDK's default chain
	// (environment, shared files, web identity, instance role).
	Credentials aws.CredentialsProvider
}

// KMS wraps data with one AWS KMS key. It is safe for concurrent use.
type KMS struct {
	client *awskms.Client
	arn    string
}

// New loads the SDK configuration and resolves cfg.KeyID to its ARN,
// checking the key can encrypt and decrypt; it fails at start-up, not at
// the first secret, when the key or the credentials are wrong.
func New(ctx context.Context, cfg Config) (*KMS, error) {
	if cfg.KeyID == "" {
		return nil, fmt.Errorf("awskms: config.KeyID is empty: %w", kms.ErrInvalid)
	}
	var opts []func(*config.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(cfg.Endpoint))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("awskms: load AWS config: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, fmt.Errorf("awskms: no region: set config.Region or AWS_REGION: %w", kms.ErrInvalid)
	}
	k := &KMS{client: awskms.NewFromConfig(awsCfg)}
	out, err := k.client.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(cfg.KeyID)})
	if err != nil {
		return nil, &OpError{Op: "DescribeKey", KeyID: cfg.KeyID, Err: err}
	}
	if err := usable(out.KeyMetadata); err != nil {
		return nil, &OpError{Op: "DescribeKey", KeyID: cfg.KeyID, Err: err}
	}
	k.arn = aws.ToString(out.KeyMetadata.Arn)
	return k, nil
}

// usable refuses a key that cannot wrap data keys.
func usable(m *types.KeyMetadata) error {
	switch {
	case m == nil || aws.ToString(m.Arn) == "":
		return fmt.Errorf("no key metadata in the answer: %w", ErrKeyUnusable)
	case !m.Enabled:
		return fmt.Errorf("key state %s: %w", m.KeyState, ErrKeyUnusable)
	case m.KeyUsage != types.KeyUsageTypeEncryptDecrypt:
		return fmt.Errorf("key usage %s: %w", m.KeyUsage, ErrKeyUnusable)
	case m.KeySpec != "" && m.KeySpec != types.KeySpecSymmetricDefault:
		return fmt.Errorf("key spec %s: %w", m.KeySpec, ErrKeyUnusable)
	}
	return nil
}

// KeyID is the key's ARN.
func (k *KMS) KeyID() string { return k.arn }

// Encrypt wraps plaintext (at most 4096 bytes) with aad as the
// encryption context.
func (k *KMS) Encrypt(ctx context.Context, plaintext, aad []byte) ([]byte, error) {
	if len(plaintext) > maxPlaintext {
		return nil, fmt.Errorf("awskms: plaintext of %d bytes exceeds %d: %w", len(plaintext), maxPlaintext, kms.ErrInvalid)
	}
	out, err := k.client.Encrypt(ctx, &awskms.EncryptInput{
		KeyId:             aws.String(k.arn),
		Plaintext:         plaintext,
		EncryptionContext: encryptionContext(aad),
	})
	if err != nil {
		return nil, &OpError{Op: "Encrypt", KeyID: k.arn, Err: err}
	}
	return out.CiphertextBlob, nil
}

// Decrypt unwraps a ciphertext of this key made with the same aad.
func (k *KMS) Decrypt(ctx context.Context, ciphertext, aad []byte) ([]byte, error) {
	if len(ciphertext) == 0 {
		return nil, &OpError{Op: "Decrypt", KeyID: k.arn, Err: fmt.Errorf("empty ciphertext: %w", kms.ErrDecrypt)}
	}
	out, err := k.client.Decrypt(ctx, &awskms.DecryptInput{
		KeyId:             aws.String(k.arn),
		CiphertextBlob:    ciphertext,
		EncryptionContext: encryptionContext(aad),
	})
	if err != nil {
		return nil, &OpError{Op: "Decrypt", KeyID: k.arn, Err: err}
	}
	// KeyId already made AWS refuse another key's ciphertext; check the
	// answer too, so a misbehaving endpoint cannot slip one through.
	if got := aws.ToString(out.KeyId); got != k.arn {
		return nil, &OpError{Op: "Decrypt", KeyID: k.arn, Err: fmt.Errorf("answer names key %q: %w", got, kms.ErrWrongKey)}
	}
	return out.Plaintext, nil
}

// encryptionContext carries aad as a KMS encryption context.
func encryptionContext(aad []byte) map[string]string {
	switch {
	case len(aad) == 0:
		return nil
	case utf8.Valid(aad):
		return map[string]string{contextKey: string(aad)}
	default:
		return map[string]string{contextKeyB64: base64.StdEncoding.EncodeToString(aad)}
	}
}
