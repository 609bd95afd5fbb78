package sandbox

import (
	"net/http"
	"strconv"
	"time"
)

// Group is one directory group.
type Group struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

var groupsResource = resource{name: "groups", filters: filterUpdatedSince}

func (d *dataset) group(j int) Group {
	h := d.hash(saltGroupName, j)
	name := groupAdjectives[h%uint64(len(groupAdjectives))] + " " +
		groupKinds[h>>16%uint64(len(groupKinds))] + " " + strconv.Itoa(j+1)
	created := d.groupCreated(j)
	return Group{
		ID:          formatID("g-", j+1, 5),
		Name:        name,
		Description: "Members of the " + name + ".",
		CreatedAt:   unixUTC(created),
		UpdatedAt:   unixUTC(d.aged(saltGroupUpdated, j, created)),
	}
}

func (s *Server) handleListGroups(w http.ResponseWriter, r *http.Request) {
	n := s.data.groups
	q, err := parseListQuery(groupsResource, r.URL.RawQuery, n)
	if err != nil {
		writeQueryError(w, err)
		return
	}
	start := q.start
	get := func(j int) (Group, bool) { return s.data.group(j), true }
	if q.has(filterUpdatedSince) {
		start = max(start, updatedScanStart(n, s.data.groupCreated, q.updatedSince))
		get = func(j int) (Group, bool) {
			if s.data.groupUpdated(j) <= q.updatedSince {
				return Group{}, false
			}
			return s.data.group(j), true
		}
	}
	writeJSON(w, http.StatusOK, collectPage(groupsResource, q, start, n, nil, get))
}
