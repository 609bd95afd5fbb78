package sandbox

import (
	"sort"
	"time"
)

// The data set's own calendar. Records are created across it and nothing
// in the generated data is later than dataEnd.
var (
	dataStart = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	dataEnd   = time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
)

const (
	day = 24 * 60 * 60
	// maxAge bounds updated_at - created_at of generated records. It is
	// what lets an updated_since scan start near the right index instead
	// of at zero: a record created before since-maxAge cannot match.
	maxAge = 400 * day
	// membershipsPerUser is the stride of the membership position space:
	// position = user index*membershipsPerUser + k.
	membershipsPerUser = 3
)

// Salts keep the hash streams of different fields independent.
const (
	saltAccount uint64 = iota + 1
	saltUserCreated
	saltUserUpdated
	saltUserFirst
	saltUserLast
	saltUserDept
	saltUserTitle
	saltUserStatus
	saltUserFlags
	saltUserLogin
	saltUserPhone
	saltGroupCreated
	saltGroupUpdated
	saltGroupName
	saltMemberCount
	saltMemberGroup
	saltMemberRole
	saltMemberCreated
	saltFaults
)

// mix64 is the SplitMix64 finaliser: a cheap, well-distributed bijection.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// dataset generates every record from (seed, index); it holds no records.
type dataset struct {
	seed      uint64
	users     int
	groups    int
	userSlot  int64 // seconds of the calendar per user
	groupSlot int64 // seconds of the calendar per group
}

func newDataset(seed int64, users int) dataset {
	groups := max(1, users/20)
	span := dataEnd - dataStart + 1
	return dataset{
		seed:      uint64(seed),
		users:     users,
		groups:    groups,
		userSlot:  span / int64(users),
		groupSlot: span / int64(groups),
	}
}

// seedHash returns the value of field salt for record i of seed's data.
func seedHash(seed int64, salt uint64, i int) uint64 {
	return mix64(mix64(uint64(seed)^salt*0x9e3779b97f4a7c15) + uint64(i))
}

// hash returns the value of field salt for record i.
func (d *dataset) hash(salt uint64, i int) uint64 { return seedHash(int64(d.seed), salt, i) }

// pick returns a value in [0, n) for field salt of record i.
func (d *dataset) pick(salt uint64, i, n int) int {
	return int(d.hash(salt, i) % uint64(n))
}

// spread places record i of a series strictly after record i-1: the slot
// start plus a jitter smaller than the slot.
func (d *dataset) spread(salt uint64, i int, slot int64) int64 {
	return dataStart + int64(i)*slot + int64(d.hash(salt, i)%uint64(slot))
}

// aged returns a timestamp in [from, min(from+maxAge, dataEnd)]; about a
// third of records were never touched after from.
func (d *dataset) aged(salt uint64, i int, from int64) int64 {
	h := d.hash(salt, i)
	if h%3 == 0 {
		return from
	}
	return min(from+int64(h>>2%maxAge), dataEnd)
}

func (d *dataset) userCreated(i int) int64  { return d.spread(saltUserCreated, i, d.userSlot) }
func (d *dataset) groupCreated(j int) int64 { return d.spread(saltGroupCreated, j, d.groupSlot) }

func (d *dataset) userUpdated(i int) int64 {
	return d.aged(saltUserUpdated, i, d.userCreated(i))
}

func (d *dataset) groupUpdated(j int) int64 {
	return d.aged(saltGroupUpdated, j, d.groupCreated(j))
}

// firstCreatedAtOrAfter returns the first index in [0, n) whose
// created(i) >= t, or n; created must grow strictly with i.
func firstCreatedAtOrAfter(n int, created func(int) int64, t int64) int {
	return sort.Search(n, func(i int) bool { return created(i) >= t })
}

// updatedScanStart is the first index that can hold a record with
// updated_at > since: any earlier record was created at or before
// since-maxAge and has updated_at <= since.
func updatedScanStart(n int, created func(int) int64, since int64) int {
	return firstCreatedAtOrAfter(n, created, since-maxAge+1)
}

func unixUTC(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

// Account is the tenant the credentials belong to.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

func (s *Server) account() Account {
	h := s.data.hash(saltAccount, 0)
	return Account{
		ID:        s.cfg.AccountID,
		Name:      companyWords[h%uint64(len(companyWords))] + " " + companySuffixes[h>>32%uint64(len(companySuffixes))],
		CreatedAt: unixUTC(dataStart - int64(h>>40%(365*day))),
	}
}
