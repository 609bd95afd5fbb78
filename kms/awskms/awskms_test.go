package awskms_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssdk "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/sluicehq/sluice/kms"
	"github.com/sluicehq/sluice/kms/awskms"
	"github.com/sluicehq/sluice/kms/kmstest"
)

func TestConformance(t *testing.T) {
	s := kmstest.StartLocalKMS(t)
	kmstest.Conformance(t, s.NewKey(t), s.NewKey(t))
}

func TestNewResolvesKeyToARN(t *testing.T) {
	s := kmstest.StartLocalKMS(t)
	ctx := context.Background()
	id := s.CreateKey(t)
	if _, err := s.Client().CreateAlias(ctx, &awssdk.CreateAliasInput{
		AliasName: aws.String("alias/sluice-test"), TargetKeyId: aws.String(id),
	}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	want := "arn:aws:kms:us-east-1:111122223333:key/" + id
	for _, ref := range []string{id, want, "alias/sluice-test"} {
		if got := s.KMS(t, ref).KeyID(); got != want {
			t.Errorf("New(%s).KeyID() = %q, want %q", ref, got, want)
		}
	}
	// A ciphertext made through the alias opens through the key id.
	ct, err := s.KMS(t, "alias/sluice-test").Encrypt(ctx, []byte("dek"), []byte("aad"))
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := s.KMS(t, id).Decrypt(ctx, ct, []byte("aad")); err != nil || string(pt) != "dek" {
		t.Errorf("Decrypt = %q, %v", pt, err)
	}
}

func TestNewRefuses(t *testing.T) {
	s := kmstest.StartLocalKMS(t)
	ctx := context.Background()
	disabled := s.CreateKey(t)
	if _, err := s.Client().DisableKey(ctx, &awssdk.DisableKeyInput{KeyId: aws.String(disabled)}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	signing, err := s.Client().CreateKey(ctx, &awssdk.CreateKeyInput{
		KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify,
	})
	if err != nil {
		t.Fatalf("CreateKey(signing): %v", err)
	}
	base := s.Config("")
	with := func(f func(*awskms.Config)) awskms.Config { c := base; f(&c); return c }
	for name, c := range map[string]struct {
		cfg  awskms.Config
		want func(error) bool
	}{
		"no key id": {base, is(kms.ErrInvalid)},
		"no region": {with(func(c *awskms.Config) { c.KeyID, c.Region = disabled, "" }), is(kms.ErrInvalid)},
		"unknown key": {with(func(c *awskms.Config) { c.KeyID = "00000000-0000-0000-0000-000000000000" }), func(err error) bool {
			var nf *types.NotFoundException
			return errors.As(err, &nf)
		}},
		"disabled key": {with(func(c *awskms.Config) { c.KeyID = disabled }), is(awskms.ErrKeyUnusable)},
		"signing key":  {with(func(c *awskms.Config) { c.KeyID = aws.ToString(signing.KeyMetadata.KeyId) }), is(awskms.ErrKeyUnusable)},
	} {
		t.Run(name, func(t *testing.T) {
			k, err := awskms.New(ctx, c.cfg)
			if k != nil || !c.want(err) {
				t.Errorf("New = %v, %v", k, err)
			}
		})
	}
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func TestEncryptRefusesLargePlaintext(t *testing.T) {
	s := kmstest.StartLocalKMS(t)
	k := s.NewKey(t)
	if _, err := k.Encrypt(context.Background(), make([]byte, 4097), nil); !errors.Is(err, kms.ErrInvalid) {
		t.Errorf("Encrypt(4097 bytes) = %v, want kms.ErrInvalid", err)
	}
}

// The AAD travels as the encryption context, which the server checks: a
// ciphertext made with a UTF-8 AAD does not open under the base64 form
// of the same bytes, nor the other way round.
func TestEncryptionContextForms(t *testing.T) {
	s := kmstest.StartLocalKMS(t)
	k := s.NewKey(t)
	ctx := context.Background()
	text := []byte("sluice/tenant-dek/v1|acme")
	ct, err := k.Encrypt(ctx, []byte("dek"), text)
	if err != nil {
		t.Fatal(err)
	}
	// Same context sent directly through the SDK opens it: the context is
	// exactly {"sluice:aad": aad}.
	out, err := s.Client().Decrypt(ctx, &awssdk.DecryptInput{
		CiphertextBlob:    ct,
		EncryptionContext: map[string]string{"sluice:aad": string(text)},
	})
	if err != nil || string(out.Plaintext) != "dek" {
		t.Errorf("Decrypt with the documented context = %v", err)
	}
	_, err = s.Client().Decrypt(ctx, &awssdk.DecryptInput{
		CiphertextBlob:    ct,
		EncryptionContext: map[string]string{"sluice:aad:base64": "c2x1aWNlL3RlbmFudC1kZWsvdjF8YWNtZQ=="},
	})
	if err == nil || !strings.Contains(err.Error(), "InvalidCiphertext") {
		t.Errorf("Decrypt with the base64 form = %v, want InvalidCiphertextException", err)
	}
}

func TestOpErrorMapsAWSErrors(t *testing.T) {
	for name, c := range map[string]struct {
		err      error
		decrypt  bool
		wrongKey bool
	}{
		"invalid ciphertext": {&types.InvalidCiphertextException{}, true, false},
		"incorrect key":      {&types.IncorrectKeyException{}, false, true},
		"not found":          {&types.NotFoundException{}, false, false},
	} {
		err := error(&awskms.OpError{Op: "Decrypt", KeyID: "k", Err: c.err})
		if errors.Is(err, kms.ErrDecrypt) != c.decrypt || errors.Is(err, kms.ErrWrongKey) != c.wrongKey {
			t.Errorf("%s: Is(ErrDecrypt)=%v Is(ErrWrongKey)=%v", name, errors.Is(err, kms.ErrDecrypt), errors.Is(err, kms.ErrWrongKey))
		}
		if !errors.Is(err, c.err) {
			t.Errorf("%s: the SDK error is not kept", name)
		}
	}
}
