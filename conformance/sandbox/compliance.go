package sandbox

import (
	"net/http"
	"sync"
	"time"
)

// The compliance endpoints: the tenant-level security facts the example
// connector's verify checks read. Each is read-only (scope
// compliance:read) and each has a Config knob that makes its check fail,
// so tests can see both outcomes.

// Compliance sets what the compliance endpoints report. The zero value
// is a compliant tenant: MFA enforced, admins who signed in within the
// last day, DefaultPasswordPolicy.
type Compliance struct {
	// MFANotEnforced reports that the tenant does not require MFA.
	MFANotEnforced bool
	// StaleAdmins reports each admin's last sign-in as the user's
	// last_login_at (years old in the generated data). Otherwise an admin
	// whose last_login_at was never set through UpdateUser is reported as
	// signed in within the day before Config.Clock(), as an active
	// tenant's admins are; a last_login_at set through UpdateUser is
	// always reported as set, so a test can make one admin stale.
	StaleAdmins bool
	// PasswordPolicy replaces DefaultPasswordPolicy when not nil.
	PasswordPolicy *PasswordPolicy
}

// PasswordPolicy is the tenant's password policy, as
// GET /api/v1/compliance/password-policy serves it.
type PasswordPolicy struct {
	MinLength        int  `json:"min_length"`
	RequireUppercase bool `json:"require_uppercase"`
	RequireLowercase bool `json:"require_lowercase"`
	RequireNumber    bool `json:"require_number"`
	RequireSymbol    bool `json:"require_symbol"`
	// MaxAgeDays is how long a password lasts; 0: it does not expire.
	MaxAgeDays int `json:"max_age_days"`
	// HistoryCount is how many previous passwords cannot be reused.
	HistoryCount int `json:"history_count"`
	// LockoutThreshold is the failed sign-ins before a lockout; 0: never.
	LockoutThreshold int `json:"lockout_threshold"`
}

// DefaultPasswordPolicy is the policy of a compliant tenant.
var DefaultPasswordPolicy = PasswordPolicy{
	MinLength: 14, RequireUppercase: true, RequireLowercase: true, RequireNumber: true, RequireSymbol: true,
	HistoryCount: 10, LockoutThreshold: 5,
}

// MFAReport is the body of GET /api/v1/compliance/mfa. Counts cover
// active users (not suspended, not deleted).
type MFAReport struct {
	Enforced    bool      `json:"enforced"`
	ActiveUsers int       `json:"active_users"`
	Enrolled    int       `json:"enrolled"`
	NotEnrolled int       `json:"not_enrolled"`
	AsOf        time.Time `json:"as_of"`
}

// AdminLogin is one admin of GET /api/v1/compliance/admins.
type AdminLogin struct {
	ID          string    `json:"id"`
	Email       string    `json:"email"`
	Name        string    `json:"name"`
	Status      string    `json:"status"`
	LastLoginAt time.Time `json:"last_login_at"`
}

// AdminReport is the body of GET /api/v1/compliance/admins: every admin
// who is not deleted, by id. AsOf is the sandbox's now, so a check can
// judge staleness without a clock of its own.
type AdminReport struct {
	AsOf time.Time    `json:"as_of"`
	Data []AdminLogin `json:"data"`
}

type complianceState struct {
	mu sync.RWMutex
	c  Compliance
}

func newComplianceState(c Compliance) complianceState { return complianceState{c: c} }

func (cs *complianceState) get() Compliance {
	cs.mu.RLock()
	defer cs.mu.RUnlock()
	return cs.c
}

// SetCompliance replaces what the compliance endpoints report.
func (s *Server) SetCompliance(c Compliance) {
	s.compliance.mu.Lock()
	s.compliance.c = c
	s.compliance.mu.Unlock()
}

// PasswordPolicy returns the policy the API serves.
func (s *Server) PasswordPolicy() PasswordPolicy {
	if p := s.compliance.get().PasswordPolicy; p != nil {
		return *p
	}
	return DefaultPasswordPolicy
}

// generated user flags without building the whole record: the same
// draws as dataset.user.
func (d *dataset) userFlags(i int) (active, mfa, admin bool) {
	flags := d.hash(saltUserFlags, i)
	return d.pick(saltUserStatus, i, 100) >= 8, flags%100 < 75, flags>>8%100 < 2
}

// MFA returns the report GET /api/v1/compliance/mfa serves.
func (s *Server) MFA() MFAReport {
	r := MFAReport{Enforced: !s.compliance.get().MFANotEnforced, AsOf: s.now()}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.userCount() {
		active, mfa := false, false
		if u, ok := s.mutated[i]; ok {
			active, mfa = u.Status == StatusActive, u.MFAEnrolled
		} else {
			active, mfa, _ = s.data.userFlags(i)
		}
		if active {
			r.ActiveUsers++
			if mfa {
				r.Enrolled++
			}
		}
	}
	r.NotEnrolled = r.ActiveUsers - r.Enrolled
	return r
}

// Admins returns the report GET /api/v1/compliance/admins serves.
func (s *Server) Admins() AdminReport {
	stale := s.compliance.get().StaleAdmins
	r := AdminReport{AsOf: s.now(), Data: []AdminLogin{}}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.userCount() {
		u, mutated := s.mutated[i]
		if !mutated {
			if _, _, admin := s.data.userFlags(i); !admin {
				continue
			}
			u = s.data.user(i)
		}
		if !u.IsAdmin || u.DeletedAt != nil {
			continue
		}
		login := u.LastLoginAt
		unset := login.Equal(u.CreatedAt) // a created user's
		if i < s.data.users {
			unset = login.Equal(s.data.user(i).LastLoginAt)
		}
		if !stale && unset && login.Before(r.AsOf.Add(-24*time.Hour)) {
			// An active tenant's admin signed in some time yesterday.
			login = r.AsOf.Add(-time.Duration(s.data.hash(saltUserLogin, i)%day) * time.Second)
		}
		r.Data = append(r.Data, AdminLogin{ID: u.ID, Email: u.Email, Name: u.Name, Status: u.Status, LastLoginAt: login})
	}
	return r
}

// now is Config.Clock() to the second, in UTC.
func (s *Server) now() time.Time { return s.cfg.Clock().UTC().Truncate(time.Second) }

func (s *Server) handlePasswordPolicy(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.PasswordPolicy())
}

func (s *Server) handleMFA(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.MFA())
}

func (s *Server) handleAdmins(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.Admins())
}
