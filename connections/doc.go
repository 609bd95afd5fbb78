// Package connections manages tenants' connections to connectors: what
// each connection is granted (scopes ⊆ the manifest's), its config, its
// credentials (kept in the secrets store, never in the record), and the
// authorization that makes it usable.
//
// # Lifecycle
//
// [Manager.Create] stores a connection as pending and its credentials as
// secrets, then authorizes it. For api_key and oauth2_client_credentials
// that happens at once: the engine builds the credential, the connector's
// authorize() names the remote account, and the connection becomes
// active. If that fails nothing remains: the record and its secrets are
// removed and the error says why. For oauth2_authorization_code the
// connection stays pending until the tenant admin consents:
// [Manager.StartOAuth] returns the provider's authorization URL (with a
// random, single-use state bound to the tenant and connection, valid for
// ten minutes, and a PKCE S256 challenge whose verifier never leaves the
// server), and [Manager.CompleteOAuth] exchanges the code the provider
// sent back, stores the tokens as secrets and authorizes.
//
//	pending ──authorize ok──▶ active ──Disable──▶ disabled
//	   │                        │  ▲                  │
//	   └──fails──▶ error ◀──────┘  └────Authorize─────┘
//
// A connection that was authorized before and fails later (a re-authorize,
// a refresh token the provider no longer accepts) moves to error with the
// reason; [Manager.Authorize] retries.
//
// # Tenancy binding
//
// The remote account authorize() returns is bound to one tenant per
// connector, in a platform index kept in the same transaction as the
// connection records: a second tenant authorizing the same account gets
// [ErrConflict] and learns nothing about the first.
//
// # Tokens
//
// [Manager.Connection] builds the engine's view of a connection with its
// credentials. For the authorization-code kind the access token is shared
// by every view of one connection and refreshed with the refresh token a
// minute before it expires, one refresh at a time: concurrent runs that
// find it stale wait for the one refresh and use its result, and the new
// tokens are stored before anyone uses them.
package connections
