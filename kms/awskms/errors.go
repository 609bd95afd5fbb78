package awskms

import (
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/sluicehq/sluice/kms"
)

// ErrKeyUnusable: the configured key exists but cannot wrap data keys
// (disabled, asymmetric, or not for ENCRYPT_DECRYPT).
var ErrKeyUnusable = errors.New("awskms: key cannot encrypt and decrypt")

// OpError is a failed KMS call: which operation on which key. It matches
// kms.ErrDecrypt or kms.ErrWrongKey where AWS said so, and always the
// SDK's own error (errors.As to a smithy.APIError).
type OpError struct {
	Op    string // "DescribeKey", "Encrypt", "Decrypt"
	KeyID string
	Err   error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("awskms: %s with key %s: %v", e.Op, e.KeyID, e.Err)
}

// Unwrap returns the kms sentinel, if AWS's answer maps to one, and the
// SDK error.
func (e *OpError) Unwrap() []error {
	var (
		badCipher *types.InvalidCiphertextException
		wrongKey  *types.IncorrectKeyException
	)
	switch {
	case errors.As(e.Err, &badCipher):
		return []error{kms.ErrDecrypt, e.Err}
	case errors.As(e.Err, &wrongKey):
		return []error{kms.ErrWrongKey, e.Err}
	}
	return []error{e.Err}
}
