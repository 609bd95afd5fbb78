package store

// Platform is the handle of platform-wide records that belong to no
// tenant: the connector registry (partners' modules and manifests) and API
// keys. Its keys live under p/, a root no tenant key can take (tenant
// keys start with t/), so the rule "only a tenant handle reads tenant
// data" still holds: a Platform handle cannot reach t/.
type Platform struct {
	t *Tenant // a tenant-shaped handle over the p/ root, for the helpers
}

// platformRoot is the first segment of every platform key.
const platformRoot = "p/"

// Platform returns the platform handle.
func (db *DB) Platform() *Platform {
	return &Platform{t: &Tenant{db: db, id: "", prefix: []byte(platformRoot)}}
}
