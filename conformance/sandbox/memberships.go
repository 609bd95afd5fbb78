package sandbox

import (
	"net/http"
	"time"
)

// Membership says a user belongs to a group.
type Membership struct {
	UserID    string    `json:"user_id"`
	GroupID   string    `json:"group_id"`
	Role      string    `json:"role"` // "member" or "owner"
	CreatedAt time.Time `json:"created_at"`
}

var membershipsResource = resource{name: "memberships"}

// memberships returns how many groups user i is in: 1..3, and never more
// than there are groups.
func (d *dataset) memberships(i int) int {
	return min(1+d.pick(saltMemberCount, i, membershipsPerUser), d.groups)
}

// memberGroup returns the k-th group of user i. The groups of one user
// are distinct: g0 + k*step mod G with 0 < step < G and 2*step != G.
func (d *dataset) memberGroup(i, k int) int {
	g := d.groups
	h := d.hash(saltMemberGroup, i)
	first := int(h % uint64(g))
	if k == 0 || g == 1 {
		return first
	}
	step := 1 + int(h>>32%uint64(g-1))
	if 2*step == g {
		step = 1
	}
	return (first + k*step) % g
}

func (d *dataset) membership(i, k int) Membership {
	j := d.memberGroup(i, k)
	role := "member"
	if d.pick(saltMemberRole, i*membershipsPerUser+k, 10) == 0 {
		role = "owner"
	}
	joined := max(d.userCreated(i), d.groupCreated(j))
	joined = min(joined+int64(d.hash(saltMemberCreated, i*membershipsPerUser+k)%(30*day)), dataEnd)
	return Membership{
		UserID:    formatID("u-", i+1, 7),
		GroupID:   formatID("g-", j+1, 5),
		Role:      role,
		CreatedAt: unixUTC(joined),
	}
}

// Positions: users*membershipsPerUser generated slots, then the
// memberships added through the API in the order added. Removed ones
// keep their position and are skipped, so cursors never move.
func (s *Server) handleListMemberships(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	generated := s.data.users * membershipsPerUser
	total := generated + len(s.writes.extra)
	q, err := parseListQuery(membershipsResource, r.URL.RawQuery, total)
	if err != nil {
		s.mu.RUnlock()
		writeQueryError(w, err)
		return
	}
	deleted := func(i int) bool {
		u, ok := s.mutated[i]
		return ok && u.DeletedAt != nil
	}
	get := func(pos int) (Membership, bool) {
		if pos >= generated {
			e := s.writes.extra[pos-generated]
			return e.Membership, !e.removed && !deleted(e.key.user)
		}
		i, k := pos/membershipsPerUser, pos%membershipsPerUser
		if k >= s.data.memberships(i) || deleted(i) || s.writes.removed[memberKey{i, s.data.memberGroup(i, k)}] {
			return Membership{}, false
		}
		return s.data.membership(i, k), true
	}
	page := collectPage(membershipsResource, q, q.start, total, nil, get)
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, page)
}
