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

func (s *Server) handleListMemberships(w http.ResponseWriter, r *http.Request) {
	total := s.data.users * membershipsPerUser
	q, err := parseListQuery(membershipsResource, r.URL.RawQuery, total)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	get := func(pos int) (Membership, bool) {
		i, k := pos/membershipsPerUser, pos%membershipsPerUser
		if k >= s.data.memberships(i) {
			return Membership{}, false
		}
		if u, ok := s.mutated[i]; ok && u.DeletedAt != nil {
			return Membership{}, false
		}
		return s.data.membership(i, k), true
	}
	s.mu.RLock()
	page := collectPage(membershipsResource, q, q.start, total, nil, get)
	s.mu.RUnlock()
	writeJSON(w, http.StatusOK, page)
}
