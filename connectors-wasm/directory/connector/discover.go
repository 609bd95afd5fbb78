package connector

import (
	"encoding/json"

	"github.com/sluicehq/sluice/guest-sdk/protocol"
)

// Identity of the connector; connector.json must say the same.
const (
	ID      = "directory"
	Version = "1.0.0"
)

// Scopes the tenant grants, object and edge type names.
const (
	ScopeUsers      = "users:read"
	ScopeGroups     = "groups:read"
	ScopeUsersWrite = "users:write"
	// ScopeGroupsWrite is the scope of group membership changes.
	ScopeGroupsWrite = "groups:write"
	ScopeCompliance  = "compliance:read"

	TypeUser     = "user"
	TypeGroup    = "group"
	EdgeMemberOf = "member_of"

	StreamUsers       = "users"
	StreamGroups      = "groups"
	StreamMemberships = "memberships"
)

// userSchema declares every field the remote serves, phone and the
// tombstone's deleted_at included. Optional text fields accept null, as
// a real directory may leave them empty.
const userSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Directory user",
  "type": "object",
  "required": ["id", "email", "name", "status", "created_at", "updated_at"],
  "properties": {
    "id": {"type": "string", "minLength": 1},
    "email": {"type": "string"},
    "name": {"type": "string"},
    "department": {"type": ["string", "null"]},
    "title": {"type": ["string", "null"]},
    "status": {"type": "string"},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"},
    "mfa_enrolled": {"type": "boolean"},
    "is_admin": {"type": "boolean"},
    "last_login_at": {"type": ["string", "null"], "format": "date-time"},
    "phone": {"type": ["string", "null"]},
    "deleted_at": {"type": ["string", "null"], "format": "date-time"}
  }
}`

const groupSchema = `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "Directory group",
  "type": "object",
  "required": ["id", "name", "created_at", "updated_at"],
  "properties": {
    "id": {"type": "string", "minLength": 1},
    "name": {"type": "string"},
    "description": {"type": ["string", "null"]},
    "created_at": {"type": "string", "format": "date-time"},
    "updated_at": {"type": "string", "format": "date-time"}
  }
}`

// Discovery returns what discover() answers. It is a fresh value on
// every call so callers may modify it.
func Discovery() protocol.DiscoverResponse {
	none := protocol.FieldPolicy{PII: protocol.PIINone}
	return protocol.DiscoverResponse{
		ID:      ID,
		Version: Version,
		Types:   []string{protocol.TypeIngestPull, protocol.TypeIngestPush, protocol.TypeAction, protocol.TypeVerify},
		Scopes: []protocol.Scope{
			{Name: ScopeUsers, Reason: "Read directory users (identity, department, title, status, MFA enrolment, admin flag, last login) to keep an inventory of accounts."},
			{Name: ScopeGroups, Reason: "Read directory groups and, with users:read, group memberships to know who has which access."},
			{Name: ScopeUsersWrite, Reason: "Create users and deactivate them (actions create_user and deactivate_user), for joiner and leaver workflows an admin approves."},
			{Name: ScopeGroupsWrite, Reason: "Add users to groups and remove them (actions grant_group and revoke_group), for access grants with an expiry."},
			{Name: ScopeCompliance, Reason: "Read the tenant's MFA enforcement, admin sign-in activity and password policy (read-only) to evidence access controls."},
		},
		Streams: []protocol.Stream{
			{Name: StreamUsers, ObjectTypes: []string{TypeUser}, Scopes: []string{ScopeUsers}, Backfill: true},
			{Name: StreamGroups, ObjectTypes: []string{TypeGroup}, Scopes: []string{ScopeGroups}},
			{Name: StreamMemberships, EdgeTypes: []string{EdgeMemberOf}, Scopes: []string{ScopeUsers, ScopeGroups}},
		},
		ObjectTypes: []protocol.ObjectType{
			{
				Name:   TypeUser,
				Schema: json.RawMessage(userSchema),
				// phone is declared in the schema but not allowed: the
				// host drops it (see the package documentation).
				Fields: map[string]protocol.FieldPolicy{
					"id":            {PII: protocol.PIIIdentifier},
					"email":         {PII: protocol.PIIContact},
					"name":          {PII: protocol.PIIIdentifier},
					"department":    none,
					"title":         none,
					"status":        none,
					"created_at":    none,
					"updated_at":    none,
					"mfa_enrolled":  none,
					"is_admin":      none,
					"last_login_at": none,
					"deleted_at":    none,
				},
			},
			{
				Name:   TypeGroup,
				Schema: json.RawMessage(groupSchema),
				Fields: map[string]protocol.FieldPolicy{
					"id":          none,
					"name":        none,
					"description": none,
					"created_at":  none,
					"updated_at":  none,
				},
			},
		},
		EdgeTypes: []protocol.EdgeType{{Name: EdgeMemberOf, From: TypeUser, To: TypeGroup}},
		Actions:   actions(),
		Checks:    checks(),
	}
}
