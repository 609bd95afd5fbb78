package sandbox

import (
	"fmt"
	"math"
	"time"
)

// Limits and defaults of Config.
const (
	MinUsers            = 10
	MaxUsers            = 1_000_000
	DefaultUsers        = 100
	DefaultClientID     = "sandbox-client"
	DefaultClientSecret = "sandbox-secret"
	DefaultAPIKey       = "sandbox-api-key"
	DefaultTokenTTL     = time.Hour

	maxRateLimit = 1_000_000 // keeps the derived burst an int
)

// Config describes one sandbox tenant. The zero value is a valid 100-user
// tenant with seed 1, default credentials and no rate limit.
type Config struct {
	// Users is the number of users, MinUsers..MaxUsers. Zero means DefaultUsers.
	Users int
	// Seed selects the data set. Zero means 1. The same Seed and Users
	// always produce byte-identical data.
	Seed int64
	// AccountID is the remote account id the tenant binds to. Empty means
	// "acct-" followed by 12 hex digits derived from Seed.
	AccountID string
	// ClientID and ClientSecret are the OAuth2 client credentials. Empty
	// means DefaultClientID and DefaultClientSecret.
	ClientID, ClientSecret string
	// APIKey is accepted as a bearer credential with every scope. Empty
	// means DefaultAPIKey.
	APIKey string
	// TokenTTL is the lifetime of an access token. Zero means DefaultTokenTTL.
	TokenTTL time.Duration
	// RateLimit is the number of requests per second each credential may
	// make to /api/v1 (a token bucket; an OAuth2 client's tokens share
	// one bucket). Zero means unlimited.
	RateLimit float64
	// RateBurst is the bucket size. Zero means max(1, ceil(RateLimit)).
	RateBurst int
	// Compliance sets what the compliance endpoints report. The zero
	// value is a compliant tenant; each field makes one check fail.
	Compliance Compliance
	// Clock is the time source for token expiry, rate limiting, mutation
	// stamps and Stats. Nil means time.Now. Injected latency always uses
	// real time, since it is the client who measures it.
	Clock func() time.Time
}

// Validate reports the first out-of-range field as a *FieldError wrapping
// ErrInvalidConfig. Zero values are valid.
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Err: ErrInvalidConfig, Field: field, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.Users != 0 && (c.Users < MinUsers || c.Users > MaxUsers):
		return bad("Users", "%d is outside %d..%d", c.Users, MinUsers, MaxUsers)
	case c.TokenTTL < 0:
		return bad("TokenTTL", "%v is negative", c.TokenTTL)
	case c.TokenTTL != 0 && c.TokenTTL < time.Second:
		return bad("TokenTTL", "%v is shorter than the one-second resolution of expires_in", c.TokenTTL)
	case math.IsNaN(c.RateLimit) || c.RateLimit < 0 || c.RateLimit > maxRateLimit:
		return bad("RateLimit", "%v is outside 0..%g", c.RateLimit, float64(maxRateLimit))
	case c.RateBurst < 0:
		return bad("RateBurst", "%d is negative", c.RateBurst)
	}
	return nil
}

// withDefaults fills the zero values in. Out-of-range values are clamped
// so the data set stays bounded even for a config that failed Validate.
func (c Config) withDefaults() Config {
	if c.Users == 0 {
		c.Users = DefaultUsers
	}
	c.Users = min(max(c.Users, MinUsers), MaxUsers)
	if c.Seed == 0 {
		c.Seed = 1
	}
	if c.AccountID == "" {
		c.AccountID = fmt.Sprintf("acct-%012x", seedHash(c.Seed, saltAccount, 0)>>16)
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = DefaultClientSecret
	}
	if c.APIKey == "" {
		c.APIKey = DefaultAPIKey
	}
	if c.TokenTTL <= 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.RateLimit > 0 && c.RateBurst == 0 {
		c.RateBurst = max(1, int(math.Ceil(c.RateLimit)))
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return c
}
