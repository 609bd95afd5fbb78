package store

import (
	"crypto/sha1"
	"encoding/hex"

	"github.com/google/uuid"
)

// entityNamespace is the UUIDv5 namespace of entity ids. It is part of
// the persisted format: changing it changes every entity id.
var entityNamespace = uuid.UUID{
	0xa2, 0x3c, 0x8e, 0xd3, 0x11, 0xb2, 0x41, 0x71,
	0x8d, 0xb1, 0x93, 0x9b, 0x09, 0xd8, 0xc6, 0x88,
} // a23c8ed3-11b2-4171-8db1-939b09d8c688

// EntityID derives the deterministic entity id of a remote object: a
// version-5 UUID (SHA-1) over a fixed namespace and tenant, connector,
// object type and source id joined by 0x00. The same remote object always
// maps to the same entity; the tenant is part of the hash, so two tenants
// never share an id. Tenant, connector and type never contain 0x00 (they
// are validated names), so the join is unambiguous.
func EntityID(tenant, connector, objectType, sourceID string) string {
	b := make([]byte, 0, len(tenant)+len(connector)+len(objectType)+len(sourceID)+3)
	b = append(b, tenant...)
	b = append(b, 0)
	b = append(b, connector...)
	b = append(b, 0)
	b = append(b, objectType...)
	b = append(b, 0)
	b = append(b, sourceID...)
	return uuid.NewSHA1(entityNamespace, b).String()
}

// entityIDMatches reports whether id == EntityID(tenant, connector,
// objectType, sourceID) without allocating (scratch is reused across
// calls): CommitPage checks it for every object. FuzzEntityIDMatches
// keeps it equal to EntityID.
func entityIDMatches(scratch *[]byte, id, tenant, connector, objectType, sourceID string) bool {
	if len(id) != entityIDLen {
		return false
	}
	b := append((*scratch)[:0], entityNamespace[:]...)
	b = append(b, tenant...)
	b = append(b, 0)
	b = append(b, connector...)
	b = append(b, 0)
	b = append(b, objectType...)
	b = append(b, 0)
	b = append(b, sourceID...)
	*scratch = b
	sum := sha1.Sum(b)
	sum[6] = (sum[6] & 0x0f) | 0x50 // version 5
	sum[8] = (sum[8] & 0x3f) | 0x80 // RFC 4122 variant
	var text [entityIDLen]byte
	hex.Encode(text[0:8], sum[0:4])
	text[8] = '-'
	hex.Encode(text[9:13], sum[4:6])
	text[13] = '-'
	hex.Encode(text[14:18], sum[6:8])
	text[18] = '-'
	hex.Encode(text[19:23], sum[8:10])
	text[23] = '-'
	hex.Encode(text[24:], sum[10:16])
	return string(text[:]) == id
}
